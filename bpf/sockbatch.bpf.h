/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Send batches, the kernel's side (bpf/tokenward.h, "Send batches", has
 * the protocol). Who moves a slot's word:
 *  - tw_batch_claim (sockbatch.bpf.c): 0 -> BUSY|tag -> PEND|tag|len,
 *    once the first send's bytes are in the slot and its notice in the
 *    ring; back to 0 when either fails;
 *  - tw_batch_append (here; the capture path and write.bpf.c's fast
 *    path): PEND|tag|len -> BUSY|tag|len -> PEND|tag|len', around the copy
 *    of one small send; back to the old word when the copy fails;
 *  - tw_batch_send (sockbatch.bpf.c): PEND|tag|len -> SEAL|tag|len, for a
 *    send on the socket that cannot be appended and goes through the ring;
 *  - userspace (user/sensors/sockbatch.c): takes the bytes, frees the slot.
 */
#ifndef TW_SOCKBATCH_BPF_H
#define TW_SOCKBATCH_BPF_H

#include "common.bpf.h"
#include "io.bpf.h"
#include "sock.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_BATCH_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tw_batch_slot);
} batch_slots SEC(".maps") __weak;

/* Slot and tag from the socket's inode number and the sending process.
 * The inode number, not the file id: a socket closed and another opened in
 * the same memory gets the same file id, but a new inode number; and it
 * is a plain field the fast path in write.bpf.c can load directly. */
static __always_inline struct tw_batch_slot *tw_batch_slot(__u64 sock_ino, __u32 tgid, __u64 *tag,
							     __u32 *idx)
{
	__u64 h = (sock_ino ^ ((__u64)tgid << 32)) * 0x9E3779B97F4A7C15ull;

	*idx = (__u32)(h >> (64 - TW_BATCH_SLOT_BITS));
	*tag = (h << TW_BATCH_TAG_SHIFT) & TW_BATCH_TAG_MASK;
	return bpf_map_lookup_elem(&batch_slots, idx);
}

/* Copy @n user bytes to the slot's data at @off; 0 when they are there. */
static __always_inline int tw_batch_copy(struct tw_batch_slot *s, __u64 off, __u64 n, __u64 ubuf)
{
	barrier_var(off);
	barrier_var(n);
	if (off > TW_BATCH_BYTES || n > TW_BATCH_SEND_MAX)
		return -1;
	return bpf_probe_read_user(s->data + off, n, (void *)ubuf) ? -1 : 0;
}

/* The iovec walk of a vectored send's copy into a batch, in a map value
 * for the same reason as struct tw_copy: offsets kept on the stack are
 * tracked exactly, so each unrolled iovec multiplied the verifier's
 * states (40k of tw_write's 80k instructions). */
struct tw_batch_walk {
	__u64 iov;
	__u64 iovcnt;
	__u64 off;  /* where the next iovec's bytes go in the slot's data */
	__u64 left; /* bytes still to copy */
	__u32 fail;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_batch_walk);
} batch_walk SEC(".maps") __weak;

struct tw_batch_walk_ctx {
	struct tw_batch_walk *w;
	struct tw_batch_slot *s;
};

static long tw_batch_iov_step(__u64 i, void *vctx)
{
	struct tw_batch_walk *w = ((struct tw_batch_walk_ctx *)vctx)->w;
	struct tw_batch_slot *s = ((struct tw_batch_walk_ctx *)vctx)->s;
	struct iovec v;
	__u64 k;

	if (!w->left)
		return 1;
	if (i >= w->iovcnt ||
	    bpf_probe_read_user(&v, sizeof(v), (void *)(w->iov + i * sizeof(v)))) {
		w->fail = 1;
		return 1;
	}
	k = v.iov_len < w->left ? v.iov_len : w->left;
	if (k && tw_batch_copy(s, w->off, k, (__u64)v.iov_base)) {
		w->fail = 1;
		return 1;
	}
	w->off += k;
	w->left -= k;
	return 0;
}

/* Copy a send's @n bytes to the slot's data at @off: from one buffer
 * (@ubuf), or from at most TW_BATCH_IOV_MAX iovecs (@iov, @iovcnt; the
 * vectored writev and sendmsg). 0 when all @n are there. */
#define TW_BATCH_IOV_MAX 8
static __always_inline int tw_batch_copy_io(struct tw_batch_slot *s, __u64 off, __u64 n,
					    __u64 ubuf, __u64 iov, __u64 iovcnt)
{
	struct tw_batch_walk_ctx lctx;
	struct tw_batch_walk *w;
	__u32 zero = 0;

	if (ubuf || !iov) /* the fast path's single buffer: no walk to verify */
		return tw_batch_copy(s, off, n, ubuf);
	w = bpf_map_lookup_elem(&batch_walk, &zero);
	if (!w)
		return -1;
	w->iov = iov;
	w->iovcnt = iovcnt;
	w->off = off;
	w->left = n;
	w->fail = 0;
	lctx.w = w;
	lctx.s = s;
	bpf_loop(TW_BATCH_IOV_MAX, tw_batch_iov_step, &lctx, 0);
	return w->fail || w->left ? -1 : 0;
}

/*
 * Append @n user bytes to this process's open batch on the socket, whose
 * slot word was @w: only when the batch is ours, open, has room, and the
 * socket's addresses are still those of its notice. 1 when appended.
 */
static __always_inline int tw_batch_append(struct tw_batch_slot *s, __u64 w, __u64 tag,
					   __u64 sock_ino, __u32 tgid, __u64 digest,
					   __u64 ubuf, __u64 iov, __u64 iovcnt, __u64 n)
{
	__u64 len = w & TW_BATCH_LEN_MASK;

	if ((w & (TW_BATCH_STATE | TW_BATCH_TAG_MASK)) != (TW_BATCH_PEND | tag) ||
	    s->sock_ino != sock_ino || s->tgid != tgid || len + n > TW_BATCH_BYTES ||
	    digest != s->digest ||
	    __sync_val_compare_and_swap(&s->word, w, TW_BATCH_BUSY | tag | len) != w)
		return 0;
	if (tw_batch_copy_io(s, len, n, ubuf, iov, iovcnt)) {
		__sync_lock_test_and_set(&s->word, w); /* the ring path counts the bad buffer */
		return 0;
	}
	__sync_lock_test_and_set(&s->word, TW_BATCH_PEND | tag | (len + n));
	return 1;
}

/*
 * A small send on a stream socket (@id, cached in the fd cache): append
 * it to the process's batch on the socket, or open one. Returns 1 when
 * the bytes are in a slot (or counted lost), 0 when they go through the
 * ring as a record of their own; then a->sealed is set (slot + 1) if this
 * send sealed the open batch, whose bytes userspace must take first.
 * Global (sockbatch.bpf.c): verified once per program.
 */
extern int tw_batch_send(struct tw_io_args *a, const struct tw_sock_ident *id);

#endif /* TW_SOCKBATCH_BPF_H */
