// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Send batches: opening, appending to and sealing a batch from the
 * capture path (bpf/sockbatch.bpf.h has the slots and the append that
 * write.bpf.c's fast path shares). No program lives here.
 */
#include "sockbatch.bpf.h"

/* Open a batch with this send: the slot was free. */
static __always_inline int tw_batch_claim(struct tw_io_args *a, struct tw_batch_slot *s, __u32 idx,
					  __u64 tag, __u32 tgid, const struct tw_sock_ident *id)
{
	struct tw_batch_event *n;
	__u64 len = a->ret, digest = tw_sock_digest(id);

	if (!digest || __sync_val_compare_and_swap(&s->word, 0, TW_BATCH_BUSY | tag) != 0)
		return 0;
	s->file_id = a->file_id;
	s->sock_ino = id->ino;
	s->tgid = tgid;
	s->digest = digest;
	n = tw_scratch_get();
	if (!n || tw_batch_copy_io(s, 0, len, a->buf, a->iov, a->iovcnt)) {
		__sync_lock_test_and_set(&s->word, 0);
		return 0; /* copied through the ring, which counts a bad buffer */
	}
	tw_fill_hdr(&n->hdr, TW_EV_SOCK_BATCH);
	n->file_id = a->file_id;
	n->tag = tag;
	n->slot = idx;
	n->fd = a->fd;
	n->syscall = a->syscall;
	n->pad[0] = n->pad[1] = n->pad[2] = 0;
	tw_sock_describe(&n->sock, id);
	/* No notice, no batch: the send was not captured, like any record
	 * the full ring refuses, and is counted the same way. */
	if (tw_emit(n, sizeof(*n))) {
		__sync_lock_test_and_set(&s->word, 0);
		return 1;
	}
	__sync_lock_test_and_set(&s->word, TW_BATCH_PEND | tag | len);
	return 1;
}

__noinline int tw_batch_send(struct tw_io_args *a, const struct tw_sock_ident *id)
{
	struct tw_batch_slot *s;
	__u32 idx, tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 tag, w, len, n;
	int small;

	if (!a || !id)
		return 0;
	n = a->ret;
	small = (a->buf || (a->iov && a->iovcnt <= TW_BATCH_IOV_MAX &&
				a->syscall != TW_SC_SENDMMSG)) &&
		    !a->tls_n && n <= TW_BATCH_SEND_MAX && a->syscall < TW_SC_TLS_FIRST;

	s = tw_batch_slot(id->ino, tgid, &tag, &idx);
	if (!s)
		return 0;
	w = s->word;
	if (w == 0)
		return small ? tw_batch_claim(a, s, idx, tag, tgid, id) : 0;
	if ((w & (TW_BATCH_STATE | TW_BATCH_TAG_MASK)) != (TW_BATCH_PEND | tag) ||
	    s->sock_ino != id->ino || s->tgid != tgid)
		return 0; /* another socket's batch, or ours sealed or being written */
	len = w & TW_BATCH_LEN_MASK;
	if (small && tw_batch_append(s, w, tag, id->ino, tgid, tw_sock_digest(id), a->buf, a->iov,
				     a->iovcnt, n))
		return 1;
	/* Through the ring: seal what is pending so it is read first. A full
	 * batch wakes the reader: until it takes the sealed bytes, every send
	 * on the socket goes through the ring one by one. */
	if (__sync_val_compare_and_swap(&s->word, w, TW_BATCH_SEAL | tag | len) == w)
		a->sealed = (idx + 1) | (len + n > TW_BATCH_BYTES ? TW_BATCH_SEALED_FULL : 0);
	return 0;
}


char LICENSE[] SEC("license") = "Dual BSD/GPL";
