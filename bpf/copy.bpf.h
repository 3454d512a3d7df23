/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The chunked copy: a write's or send's bytes, straight from user memory
 * into the per-CPU scratch record after its header, sent with
 * bpf_ringbuf_output at their real size in chunks of TW_CAP_CHUNK bytes.
 * One bpf_loop walks iovecs and chunks together, so a vectored write is
 * captured as one contiguous byte stream and a token spanning two iovecs
 * is intact in userspace. Used by tw_capture_record (capture.bpf.c), which
 * owns the record: its header is filled before the copy starts, and every
 * chunk repeats it with its own chunk_off, data_len and TW_F_LAST_CHUNK.
 */
#ifndef TW_COPY_BPF_H
#define TW_COPY_BPF_H

#include "common.bpf.h"
#include "io.bpf.h"

/* State of one capture, walked by bpf_loop. It lives in a map value, not
 * on the stack: the verifier tracks stack scalars exactly, so a loop body
 * that advances them never reaches a state it has seen and verification
 * explodes; map values are just "some u32" and converge at once. */
struct tw_copy {
	__u64 uptr;            /* next user byte of the current segment */
	__u64 seg_left;        /* bytes left in the current segment */
	__u64 iov;             /* user iovec array, 0 for a single buffer */
	__u64 iovcnt;
	__u64 iov_i;
	__u32 want;            /* bytes still to capture */
	__u32 fill;            /* bytes in the chunk being built */
	__u32 base;            /* offset of data[] in the record */
	__u32 chunk_off;       /* capture offset of that chunk */
	__u32 sent;            /* chunks emitted so far */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_copy);
} copy_state SEC(".maps") __weak;

/* bpf_loop() takes only a stack pointer as context; pointers kept in a
 * map value would lose their type, so they travel here. */
struct tw_copy_ctx {
	struct tw_copy *c;
	struct tw_io_event *e; /* the scratch record: base bytes of header, then data */
};

static long tw_copy_step(__u64 i, void *vctx)
{
	struct tw_copy *c = ((struct tw_copy_ctx *)vctx)->c;
	struct tw_io_event *e = ((struct tw_copy_ctx *)vctx)->e;
	__u32 fill, base;
	__u64 n;

	if (c->want && c->seg_left == 0) {
		struct iovec v;

		if (!c->iov || c->iov_i >= c->iovcnt ||
		    bpf_probe_read_user(&v, sizeof(v), (void *)(c->iov + c->iov_i * sizeof(v)))) {
			/* iovecs shorter than the return value, or unreadable */
			e->hdr.flags |= TW_F_READ_FAIL;
			tw_count_drop(TW_DROP_READ_FAIL);
			c->want = 0;
		} else {
			c->iov_i++;
			c->uptr = (__u64)v.iov_base;
			c->seg_left = v.iov_len;
			return 0;
		}
	}
	fill = c->fill;
	base = c->base;
	if (fill >= TW_CAP_CHUNK || base > TW_IO_BASE_MAX)
		return 1;
	if (c->want) {
		n = c->seg_left;
		if (n > c->want)
			n = c->want;
		if (n > TW_CAP_CHUNK - fill)
			n = TW_CAP_CHUNK - fill;
		barrier_var(n);
		if (n > TW_CAP_CHUNK)
			return 1;
		if (bpf_probe_read_user((char *)e + base + fill, n, (void *)c->uptr)) {
			e->hdr.flags |= TW_F_READ_FAIL;
			tw_count_drop(TW_DROP_READ_FAIL);
			c->want = 0;
		} else {
			fill += n;
			c->fill = fill;
			c->uptr += n;
			c->seg_left -= n;
			c->want -= n;
		}
	}
	if (fill < TW_CAP_CHUNK && c->want)
		return 0;
	/* the chunk is full or the capture is complete: send it */
	e->chunk_off = c->chunk_off;
	e->data_len = fill;
	if (!c->want)
		e->hdr.flags |= TW_F_LAST_CHUNK;
	if (fill > TW_CAP_CHUNK)
		return 1;
	tw_emit_as(e, base + fill, c->sent ? TW_DROP_CHUNK_LOST : TW_DROP_RINGBUF_FULL);
	c->sent++;
	c->chunk_off += fill;
	c->fill = 0;
	return c->want ? 0 : 1;
}

/* Fast path, most writes: one buffer that fits one record. One read, one
 * output, no loop. @wake: a full batch's seal, the reader takes it at once. */
static __always_inline int tw_copy_one(struct tw_io_event *e, __u32 base, __u64 n, __u64 ubuf,
				       bool wake)
{
	barrier_var(n);
	if (base > TW_IO_BASE_MAX || n > TW_CAP_CHUNK)
		return 0;
	e->chunk_off = 0;
	e->data_len = n;
	e->hdr.flags |= TW_F_LAST_CHUNK;
	if (bpf_probe_read_user((char *)e + base, n, (void *)ubuf)) {
		e->hdr.flags |= TW_F_READ_FAIL;
		tw_count_drop(TW_DROP_READ_FAIL);
		e->data_len = n = 0;
	}
	tw_emit_flags(e, base + n, TW_DROP_RINGBUF_FULL, wake);
	return 0;
}

/* Everything else: @want bytes from the buffer @buf or the @iovcnt
 * iovecs at @iov, chunk by chunk, the data of each after @base bytes of
 * header. */
static __always_inline int tw_copy_chunks(struct tw_copy *c, struct tw_io_event *e, __u32 base,
					  __u32 want, __u64 buf, __u64 iov, __u64 iovcnt)
{
	struct tw_copy_ctx lctx;

	c->base = base;
	c->want = want;
	c->uptr = buf;
	c->seg_left = buf ? want : 0;
	c->iov = iov;
	c->iovcnt = iovcnt;
	c->iov_i = 0;
	c->fill = 0;
	c->chunk_off = 0;
	c->sent = 0;
	lctx.c = c;
	lctx.e = e;
	/* each step loads an iovec or copies up to the end of one iovec or
	 * one chunk: at most two per iovec, one per chunk, and the last */
	bpf_loop(2 * TW_IOV_MAX + TW_CAP_LIMIT / TW_CAP_CHUNK + 2, tw_copy_step, &lctx, 0);
	return 0;
}

#endif /* TW_COPY_BPF_H */
