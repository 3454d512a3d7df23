/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Resolve a struct path to an absolute path string inside the kernel.
 * bpf_d_path() is not allowed from tracepoints, so this walks the dentry
 * chain by hand, crossing mount points through struct mount, the way
 * d_path() does. The walk is bounded (TW_PATH_DEPTH components) and the
 * output is bounded (TW_PATH_MAX bytes); either limit sets TW_F_PATH_TRUNC.
 *
 * Both loops run under bpf_loop(): the verifier checks each callback once
 * instead of once per unrolled iteration, which keeps load time and
 * program size flat as TW_PATH_DEPTH grows.
 */
#ifndef TW_PATH_BPF_H
#define TW_PATH_BPF_H

#include "common.bpf.h"

#define TW_NAME_MAX 256

struct tw_path_walk {
	struct dentry *dentry;
	struct mount *mnt;
	const unsigned char *name[TW_PATH_DEPTH];
	__u32 n;
	__u32 complete;
	/* second phase: writing */
	__u64 off;
	__u32 trunc;
};

/* Leaf-first components are collected here; too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_path_walk);
} path_walk SEC(".maps") __weak;

/* bpf_loop() takes only a stack pointer as context, so pass the map
 * value through one. */
struct tw_path_ctx {
	struct tw_path_walk *w;
	char *out; /* a pointer kept in a map value would lose its type */
};

static long tw_path_step(__u64 i, void *vctx)
{
	struct tw_path_walk *w = ((struct tw_path_ctx *)vctx)->w;
	struct dentry *dentry = w->dentry;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (dentry == mnt_root && mnt != mnt_parent) {
			/* cross from this mount's root to where it is mounted */
			w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			w->mnt = mnt_parent;
			return 0;
		}
		w->complete = 1;
		return 1;
	}
	if (w->n >= TW_PATH_DEPTH)
		return 1;
	w->name[w->n & (TW_PATH_DEPTH - 1)] = BPF_CORE_READ(dentry, d_name.name);
	w->n++;
	w->dentry = parent;
	return 0;
}

static long tw_path_emit(__u64 i, void *vctx)
{
	struct tw_path_walk *w = ((struct tw_path_ctx *)vctx)->w;
	char *out = ((struct tw_path_ctx *)vctx)->out;
	__u32 idx = w->n - 1 - (__u32)i;
	__u64 pos = w->off;
	long len;

	if ((__u32)i >= w->n)
		return 1;
	if (pos > TW_PATH_MAX - TW_NAME_MAX) {
		w->trunc = 1;
		return 1;
	}
	pos &= TW_PATH_MAX - 1;
	out[pos] = '/';
	pos = (pos + 1) & (TW_PATH_MAX - 1);
	len = bpf_probe_read_kernel_str(out + pos, TW_NAME_MAX,
					w->name[idx & (TW_PATH_DEPTH - 1)]);
	w->off = pos + (len > 1 ? len - 1 : 0);
	return 0;
}

/*
 * Write the absolute path of @p into @out, which must have room for
 * TW_PATH_MAX + TW_NAME_MAX bytes. Returns the string length including
 * the NUL (at most TW_PATH_MAX) and ORs TW_F_PATH_TRUNC into *flags when
 * the path was cut.
 */
static __always_inline __u32 tw_read_path(const struct path *p, char *out, __u32 *flags)
{
	struct tw_path_walk *w;
	struct tw_path_ctx lctx;
	struct vfsmount *vfsmnt;
	__u32 zero = 0;
	__u64 off;

	w = bpf_map_lookup_elem(&path_walk, &zero);
	out[0] = 0;
	if (!w)
		return 1;
	w->dentry = BPF_CORE_READ(p, dentry);
	vfsmnt = BPF_CORE_READ(p, mnt);
	if (!w->dentry || !vfsmnt)
		return 1;
	w->mnt = container_of(vfsmnt, struct mount, mnt);
	w->n = 0;
	w->complete = 0;
	w->trunc = 0;
	w->off = 0;
	/* extra iterations allow for mount crossings, which add no component */
	lctx.w = w;
	lctx.out = out;
	bpf_loop(TW_PATH_DEPTH + 16, tw_path_step, &lctx, 0);
	bpf_loop(TW_PATH_DEPTH, tw_path_emit, &lctx, 0);
	if (!w->complete || w->trunc)
		*flags |= TW_F_PATH_TRUNC;
	off = w->off;
	if (off == 0)
		out[off++] = '/';
	barrier_var(off);
	off &= TW_PATH_MAX - 1;
	out[off] = 0;
	return off + 1;
}

#endif /* TW_PATH_BPF_H */
