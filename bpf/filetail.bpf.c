// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * File tails: opening a run (bpf/filetail.bpf.h has the slots and the
 * fast path that extends one). No program lives here.
 */
#include "filetail.bpf.h"

/* The notice of a run on the file, [end, end) so far. */
static __always_inline int tw_tail_notice(__u64 file_id, __u64 end, __u64 inum, __u32 dev,
					  __u64 h, __u32 idx, int fd, __u32 syscall)
{
	struct tw_tail_event *n = tw_scratch_get();

	if (!n)
		return -1;
	tw_fill_hdr(&n->hdr, TW_EV_FILE_TAIL);
	n->file_id = file_id;
	n->start = end;
	n->end = end;
	n->ino = inum;
	n->tag = TW_TAIL_TAG(h);
	n->dev = dev;
	n->slot = idx;
	n->fd = fd;
	n->syscall = syscall;
	n->pad = 0;
	return tw_emit_as(n, sizeof(*n), TW_DROP_META_LOST);
}

/*
 * Take the slot (BUSY keeps extenders and other claimers out while its
 * fields are written), send the notice, then publish the run, empty so
 * far: [end, end). The claiming write itself is copied so that a file
 * written once and then renamed or deleted, the common way of writing a
 * config or credentials file, never depends on reading it back.
 */
__noinline int tw_tail_claim(__u64 file, __u64 file_id, int fd, __u32 syscall)
{
	struct file *f = (struct file *)file;
	struct tw_tail_slot *s;
	__u64 h, w, end, inum;
	__u32 idx, dev, tgid = bpf_get_current_pid_tgid() >> 32;

	end = BPF_CORE_READ(f, f_pos);
	inum = BPF_CORE_READ(f, f_inode, i_ino);
	dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	if (end > TW_TAIL_POS_MASK)
		return 0;
	s = tw_tail_slot(inum, dev, tgid, &h, &idx);
	if (!s)
		return 0;
	w = s->word;
	if (w & (TW_TAIL_PEND | TW_TAIL_BUSY))
		return 0; /* another run holds the slot: this file is copied meanwhile */
	if (__sync_val_compare_and_swap(&s->word, w, TW_TAIL_BUSY) != w)
		return 0;
	s->ino = inum;
	s->dev = dev;
	s->tgid = tgid;
	/* No notice, no run: later writes are copied, as before. */
	if (tw_tail_notice(file_id, end, inum, dev, h, idx, fd, syscall)) {
		__sync_lock_test_and_set(&s->word, 0);
		return 0;
	}
	__sync_lock_test_and_set(&s->word, TW_TAIL_PEND | TW_TAIL_TAG(h) | end);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
