// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The path record of an open file, verified once (bpf/fd.bpf.h has the
 * fd cache and classes). No program lives here.
 */
#include "fd.bpf.h"
#include "path.bpf.h"

__noinline int tw_send_path(__u64 file, __u64 file_id)
{
	struct file *f = (struct file *)file;
	struct tw_path_event *pe;
	__u64 key = file, *seen;
	__u32 n;

	if (tw_path_cache) {
		seen = bpf_map_lookup_elem(&path_seen, &key);
		if (seen && *seen == file_id)
			return 0;
	}
	pe = tw_scratch_get();
	if (!pe)
		return -1;
	tw_fill_hdr(&pe->hdr, TW_EV_FILE_PATH);
	pe->file_id = file_id;
	pe->pad = 0;
	n = tw_read_path(&f->f_path, pe->path, &pe->hdr.flags);
	if (pe->hdr.flags & TW_F_PATH_TRUNC)
		tw_count_drop(TW_DROP_PATH_TRUNC);
	pe->path_len = n;
	if (n > TW_PATH_MAX)
		return -1;
	if (tw_emit_as(pe, sizeof(*pe) + n, TW_DROP_META_LOST))
		return -1;
	if (tw_path_cache)
		bpf_map_update_elem(&path_seen, &key, &file_id, BPF_ANY);
	return TW_F_PATH_SENT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
