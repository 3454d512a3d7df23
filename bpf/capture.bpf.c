// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The capture path of every write and send (bpf/io.bpf.h has the map of
 * it). Its functions are global, so the verifier checks each once per
 * program that calls it, whatever state the caller was in; programs that
 * inlined all of this were checked up to 80k instructions each. No program
 * lives here: write.bpf.c and send.bpf.c call tw_capture.
 *
 * Regular files and sockets are captured; pipes, ttys and character
 * devices only when tw_cap_other is set, since a token piped between two
 * processes is the use of it, not its exposure, and those are the
 * noisiest fds on a host.
 */
#include "io.bpf.h"
#include "fd.bpf.h"
#include "sock.bpf.h"
#include "sockbatch.bpf.h"
#include "copy.bpf.h"
#include "unsettled.bpf.h"

/*
 * How much of a @want-byte capture, in chunks of TW_CAP_CHUNK after @base
 * bytes of header, the ring can take: at most half of its free room
 * (TW_CAP_RING_SHARE_SHIFT), so one huge write never starves the other
 * CPUs' records, nor this thread's next ones, and a capture of a few
 * hundred KiB still fits a ring that is mostly full. Decided once, before
 * the first chunk, so the capture that goes out is whole up to its cap_len
 * and flagged cut (TW_F_CAP_TRUNC, counted TW_DROP_CAP_RING) beyond it.
 * Captures of one chunk are not limited here: the ring's own full check
 * counts those.
 */
static __always_inline __u32 tw_capture_ring_room(struct tw_io_event *e, __u32 base, __u32 want)
{
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	__u64 used = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 per = TW_CAP_CHUNK + base + 8; /* 8: the ring's record header */
	__u64 room = used < size ? (size - used) >> TW_CAP_RING_SHARE_SHIFT : 0;
	__u64 chunks = (want + TW_CAP_CHUNK - 1) / TW_CAP_CHUNK;

	if (chunks * per <= room)
		return want;
	e->hdr.flags |= TW_F_CAP_TRUNC;
	tw_count_drop(TW_DROP_CAP_RING);
	return (__u32)(room / per) * TW_CAP_CHUNK;
}

/* The bytes of a @ret-byte call that are captured: the capture window,
 * then the ring's room; e->cap_len set, a cut flagged and counted. */
static __always_inline __u32 tw_capture_window(struct tw_io_event *e, __u32 base, __s64 ret)
{
	__u32 want = ret > tw_cap_max ? tw_cap_max : ret;

	if ((__u64)ret > want) {
		e->hdr.flags |= TW_F_CAP_TRUNC;
		tw_count_drop(TW_DROP_CAP_TRUNC);
	}
	if (want > TW_CAP_CHUNK)
		want = tw_capture_ring_room(e, base, want);
	e->cap_len = want;
	return want;
}

/*
 * The record of one capture: header, the socket for a send, then the
 * bytes, in one record or in chunks. @id is the socket's identity from
 * the fd cache, or NULL: then it is read from a->file.
 */
__noinline int tw_capture_record(const struct tw_io_args *a, const struct tw_sock_ident *id)
{
	struct tw_sock_ident own = {};
	struct tw_sock_info *si;
	struct tw_io_event *e;
	struct tw_copy *c;
	__u32 zero = 0, base, want;

	if (!a || !(c = bpf_map_lookup_elem(&copy_state, &zero)) || !(e = tw_scratch_get()))
		return 0;
	tw_fill_hdr(&e->hdr, a->type);
	e->hdr.flags = a->flags;
	e->file_id = a->file_id;
	e->total_len = a->ret;
	e->fd = a->fd;
	e->syscall = a->syscall;
	e->msg_index = a->msg_index;
	e->batch_slot = a->sealed & ~TW_BATCH_SEALED_FULL;
	base = sizeof(*e);
	if (a->type == TW_EV_SOCK_SEND) {
		si = (struct tw_sock_info *)(e + 1);
		if (!id && !tw_sock_ident(a->file, &own))
			id = &own;
		tw_sock_describe(si, id);
		if (a->addr && si->sock_type != TW_SOCK_STREAM &&
		    !tw_user_addr(a->addr, a->addrlen, &si->peer))
			e->hdr.flags |= TW_F_PEER_ARG;
		base += sizeof(*si);
	}
	want = tw_capture_window(e, base, a->ret);
	if (a->buf && want <= TW_CAP_CHUNK)
		return tw_copy_one(e, base, want, a->buf, a->sealed & TW_BATCH_SEALED_FULL);
	return tw_copy_chunks(c, e, base, want, a->buf, a->iov, a->iovcnt);
}

/* A send on a stream socket may go to its send batch instead of the
 * ring: 1 when it did. The socket's identity is read once into the fd
 * cache. */
static __always_inline int tw_capture_batched(struct tw_io_args *a, struct tw_fd_slot *slot)
{
	if (!slot)
		return 0;
	if (!slot->sock.sk)
		tw_sock_ident(a->file, &slot->sock);
	return tw_batch_on && slot->sock.sk && slot->sock.sock_type == TW_SOCK_STREAM &&
	       tw_batch_send(a, &slot->sock);
}

/* A file's path goes out before its first record (and sets
 * TW_F_PATH_SENT on it). 0, or -1 when it could not be sent: then no file
 * tail may start, userspace may need the path to reopen the file. */
static __always_inline int tw_capture_path(struct tw_io_args *a, struct tw_fd_slot *slot)
{
	int r;

	if (slot && slot->path_ok)
		return 0;
	r = tw_send_path(a->file, a->file_id);
	if (r > 0)
		a->flags = r;
	if (r >= 0 && slot && tw_path_cache)
		slot->path_ok = 1;
	return r < 0 ? -1 : 0;
}

/* Whether a send's bytes begin with a TLS application_data record
 * header (type 23, version 3.x: SSL 3 to TLS 1.3, whose records all say
 * 3.1 to 3.3). A handshake record does not take a note: node calls
 * SSL_write before the handshake is done, and again when it is. One small
 * read, made only while the thread has TLS plaintext waiting. */
static __always_inline bool tw_tls_record_start(const struct tw_io_args *a)
{
	unsigned char h[3] = {};
	__u64 p = a->buf;

	if (a->ret < 5)
		return false;
	if (!p && a->iov && a->iovcnt &&
	    bpf_probe_read_user(&p, sizeof(p), (void *)a->iov)) /* iov[0].iov_base */
		return false;
	if (!p || bpf_probe_read_user(h, sizeof(h), (void *)p))
		return false;
	return h[0] == 0x17 && h[1] == 3 && h[2] <= 4;
}

/* A send with no note pending, by a process whose new mappings userspace
 * has not read yet (bpf/tokenward.h "The first run of a TLS library new
 * to the monitor"): if it is TLS application data that could hold a
 * token, its plaintext went through a library perhaps not probed yet,
 * and the miss is counted. A quiet host pays one load: no process is
 * unsettled. */
static __always_inline void tw_capture_unprobed(const struct tw_io_args *a)
{
	struct tw_unsettled *u;
	__u32 tgid;

	if (!tw_unsettled_n || a->ret < TW_TLS_UNPROBED_MIN || a->ret == TW_TLS13_FINISHED_256 ||
	    a->ret == TW_TLS13_FINISHED_384)
		return;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (!(u = bpf_map_lookup_elem(&tls_unsettled, &tgid)))
		return;
	if (u->grace_until && bpf_ktime_get_ns() > u->grace_until) {
		tw_unsettled_forget(tgid); /* settled, and the last straggler's time is over */
		return;
	}
	if (!tw_tls_record_start(a))
		return;
	__sync_fetch_and_add(&u->unseen, 1);
	tw_count_drop(TW_DROP_TLS_UNPROBED);
}

/* A send of TLS ciphertext takes the plaintexts the thread noted
 * (bpf/tokenward.h "TLS plaintext"); tw_capture_bind names their copies
 * next. Notes that cannot belong to this send (too old, or for another
 * fd) are counted. With no note pending, the send may be a first run's
 * (tw_capture_unprobed). */
static __always_inline void tw_capture_take_tls(struct tw_io_args *a, struct tw_fd_cache *fc)
{
	__u64 now;
	__u32 k = 0;

	if (!fc || a->syscall >= TW_SC_TLS_FIRST)
		return;
	if (!fc->tls_n) {
		tw_capture_unprobed(a);
		return;
	}
	if (!tw_tls_record_start(a))
		return;
	now = bpf_ktime_get_ns();
	for (__u32 i = 0; i < TW_TLS_NOTES; i++) {
		struct tw_tls_note *n = &fc->tls[(fc->tls_head + i) & (TW_TLS_NOTES - 1)];

		if (i >= fc->tls_n)
			break;
		if (now - n->ts > TW_TLS_NOTE_TTL_NS || (n->fd >= 0 && n->fd != a->fd)) {
			tw_count_drop(TW_DROP_TLS_UNSENT);
			continue;
		}
		a->tls_ts[k & (TW_TLS_NOTES - 1)] = n->copy_ts;
		k++;
	}
	a->tls_n = k;
	fc->tls_n = 0;
}

/* The bind of a TLS ciphertext send: which early copies of the thread's
 * plaintext went out on this socket, and the socket (bpf/tokenward.h
 * "TLS plaintext"). Built in the scratch record; a lost bind is counted as
 * a lost record, and userspace counts the copies it then never binds. */
static __always_inline int tw_capture_bind(struct tw_io_args *a, const struct tw_sock_ident *id)
{
	struct tw_tls_bind_event *b = tw_scratch_get();

	if (!b)
		return 0;
	tw_fill_hdr(&b->hdr, TW_EV_TLS_BIND);
	b->file_id = a->file_id;
	b->fd = a->fd;
	b->syscall = a->syscall;
	b->n = a->tls_n > TW_TLS_NOTES ? TW_TLS_NOTES : a->tls_n;
	b->batch_slot = a->sealed & ~TW_BATCH_SEALED_FULL;
	b->pad = 0;
	for (__u32 i = 0; i < TW_TLS_NOTES; i++)
		b->ts[i] = i < a->tls_n ? a->tls_ts[i] : 0;
	/* the fd cache's identity, read by tw_capture_batched; without a
	 * cache (task storage refused) the bind has no addresses */
	tw_sock_describe(&b->sock, id);
	tw_emit(b, sizeof(*b));
	return 0;
}

/* The early copy of TLS plaintext: a send record with no socket yet
 * (the bind names it), the bytes as tw_capture_record copies them. Global:
 * verified once in each TLS uprobe program (tls.bpf.c), on a stack of its
 * own that stays small (the uprobe's and this one's under 512 bytes). */
__noinline __u64 tw_tls_copy(__u64 buf, __u32 len, __u32 sc, int fd)
{
	struct tw_io_event *e;
	struct tw_copy *c;
	__u32 zero = 0, base = sizeof(*e) + sizeof(struct tw_sock_info), want;

	if (!(c = bpf_map_lookup_elem(&copy_state, &zero)) || !(e = tw_scratch_get()))
		return 0;
	tw_fill_hdr(&e->hdr, TW_EV_SOCK_SEND);
	e->hdr.flags = TW_F_TLS_EARLY;
	e->file_id = 0;
	e->total_len = len;
	e->fd = fd;
	e->syscall = sc;
	e->msg_index = 0;
	e->batch_slot = 0;
	__builtin_memset(e + 1, 0, sizeof(struct tw_sock_info));
	want = tw_capture_window(e, base, len);
	if (want <= TW_CAP_CHUNK)
		tw_copy_one(e, base, want, buf, false);
	else
		tw_copy_chunks(c, e, base, want, buf, 0, 0);
	return e->hdr.ts_boot_ns;
}

/*
 * Capture one write or send: what the fd is; for a send of TLS
 * ciphertext, the bind of the plaintexts copied before it (and nothing
 * else), or its send batch; for a file, its path; then the record. On
 * return a->tail says whether a file tail may start after it.
 */
__noinline int tw_capture(struct tw_io_args *a)
{
	struct tw_fd_slot own = {}, *slot, *cls;
	struct tw_fd_cache *fc;
	__u16 tail;

	if (!a)
		return 0;
	tail = a->tail;
	a->tail = 0;
	if (a->ret <= 0)
		return 0;
	slot = tw_fd_class(a->fd, &fc, &own);
	cls = slot ? slot : &own;
	a->type = cls->type;
	a->file = cls->file;
	a->file_id = cls->file_id;
	if (a->type == TW_EV_SOCK_SEND) {
		/* TLS ciphertext whose plaintext the caller captures next: the
		 * ciphertext itself holds nothing to find, and is not copied */
		tw_capture_take_tls(a, fc);
		/* A TLS ciphertext send is never appended, but it seals the
		 * socket's batch: the handshake's small sends are read before
		 * the bind. (One inlined copy of the batch step for both.) */
		if (tw_capture_batched(a, slot) && !a->tls_n)
			return 0;
		if (a->tls_n)
			return tw_capture_bind(a, slot ? &slot->sock : NULL);
	} else if (a->type == TW_EV_FILE_WRITE) {
		if (tw_capture_path(a, slot))
			tail = 0;
		a->tail = tail && slot && slot->tail_ok && a->ret <= tw_cap_max;
	} else {
		return 0;
	}
	return tw_capture_record(a, slot && slot->sock.sk ? &slot->sock : NULL);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
