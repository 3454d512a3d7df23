/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * File tails, the kernel's side (bpf/tokenward.h, "File tails", has the
 * protocol). Who moves a slot's word:
 *  - tw_tail_claim (filetail.bpf.c): 0 -> BUSY -> PEND|tag|end, after the
 *    claiming write was copied and the notice is in the ring; back to 0
 *    when the notice cannot be sent;
 *  - tw_tail_extend (write.bpf.c's fast path): PEND|tag|end ->
 *    PEND|tag|end', for a write that starts where the run ends;
 *  - userspace (user/sensors/filetail.c): takes the range and clears PEND.
 */
#ifndef TW_FILETAIL_BPF_H
#define TW_FILETAIL_BPF_H

#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_TAIL_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tw_tail_slot);
} tail_slots SEC(".maps") __weak;

/* Filesystems whose reads return what was written: tailing a file on
 * procfs, sysfs, FUSE or NFS would read something else, so writes there
 * are always copied. */
#define TW_MAGIC_EXT4     0xEF53
#define TW_MAGIC_TMPFS    0x01021994
#define TW_MAGIC_XFS      0x58465342
#define TW_MAGIC_BTRFS    0x9123683E
#define TW_MAGIC_F2FS     0xF2F52010
#define TW_MAGIC_OVERLAY  0x794c7630

static __always_inline int tw_tail_fs_ok(unsigned long magic)
{
	return magic == TW_MAGIC_EXT4 || magic == TW_MAGIC_TMPFS || magic == TW_MAGIC_XFS ||
	       magic == TW_MAGIC_BTRFS || magic == TW_MAGIC_F2FS || magic == TW_MAGIC_OVERLAY;
}

/* Slot index and tag from the file and the writing process. */
static __always_inline __u64 tw_tail_hash(__u64 ino, __u32 dev, __u32 tgid)
{
	return (ino ^ ((__u64)dev << 32) ^ ((__u64)tgid << 14)) * 0x9E3779B97F4A7C15ull;
}
#define TW_TAIL_IDX(h) ((__u32)((h) >> (64 - TW_TAIL_SLOT_BITS)))
#define TW_TAIL_TAG(h) (((h) << TW_TAIL_TAG_SHIFT) & TW_TAIL_TAG_MASK)

/* The slot of this process's run on the file; *h is its hash (the tag). */
static __always_inline struct tw_tail_slot *tw_tail_slot(__u64 ino, __u32 dev, __u32 tgid,
							   __u64 *h, __u32 *idx)
{
	*h = tw_tail_hash(ino, dev, tgid);
	*idx = TW_TAIL_IDX(*h);
	return bpf_map_lookup_elem(&tail_slots, idx);
}

/*
 * The fast path: a write of @ret bytes that ended at file offset @end and
 * continues this process's pending run on the file. One array lookup (the
 * verifier inlines it) and one compare-and-swap; nothing is copied and no
 * record is sent. Returns 1 when the run now covers the write.
 */
static __always_inline int tw_tail_extend(__u64 ino, __u32 dev, __u32 tgid, __u64 end, __u64 ret)
{
	struct tw_tail_slot *s;
	__u64 h, w;
	__u32 idx;

	if (end < ret || end > TW_TAIL_POS_MASK || ret > tw_cap_max)
		return 0;
	s = tw_tail_slot(ino, dev, tgid, &h, &idx);
	if (!s)
		return 0;
	w = TW_TAIL_PEND | TW_TAIL_TAG(h) | (end - ret);
	if (s->word != w || s->ino != ino || s->dev != dev || s->tgid != tgid)
		return 0;
	return __sync_val_compare_and_swap(&s->word, w, TW_TAIL_PEND | TW_TAIL_TAG(h) | end) == w;
}

/*
 * Start a run on @file (a struct file *, id @file_id) after the write
 * that @fd's @syscall just made, which the caller has copied as usual.
 * Global (filetail.bpf.c): verified once per program.
 */
extern int tw_tail_claim(__u64 file, __u64 file_id, int fd, __u32 syscall);

#endif /* TW_FILETAIL_BPF_H */
