// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Exec sensor. sched_process_exec fires after the new image is mapped, so
 * argv and envp are read from the new mm (arg_start..arg_end,
 * env_start..env_end) and only successful execs are reported.
 */
#include "common.bpf.h"
#include "path.bpf.h"
#include "unsettled.bpf.h"

static __always_inline __u32 tw_read_user_block(char *dst, __u64 start, __u64 end,
						__u32 max, __u32 *full_len,
						__u32 *flags, __u32 trunc_flag)
{
	__u64 len = end > start ? end - start : 0;

	*full_len = len > 0xffffffff ? 0xffffffff : (__u32)len;
	if (len > max) {
		len = max;
		*flags |= trunc_flag;
		tw_count_drop(TW_DROP_ARGS_TRUNC);
	}
	if (len == 0)
		return 0;
	if (bpf_probe_read_user(dst, len & (2 * max - 1), (const void *)start)) {
		*flags |= TW_F_READ_FAIL;
		tw_count_drop(TW_DROP_READ_FAIL);
		return 0;
	}
	return len;
}

SEC("tp/sched/sched_process_exec")
int tw_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct tw_exec_event *e;
	struct mm_struct *mm;
	struct file *exe;
	__u32 off, n;

	if (!tw_wanted())
		return 0;
	e = tw_scratch_get();
	if (!e)
		return 0;
	tw_fill_hdr(&e->hdr, TW_EV_EXEC);

	mm = BPF_CORE_READ(task, mm);
	exe = BPF_CORE_READ(mm, exe_file);
	/* An executable never examined (a new Go program, a copy of node):
	 * unsettled until userspace, woken by this record, has read its maps
	 * (bpf/tokenward.h "The first run of a TLS library new to the
	 * monitor"). The kernel mapped it itself, so mmap.bpf.c saw nothing. */
	if (tw_tls_first_on) {
		struct tw_file_key k;

		if (!tw_file_known(BPF_CORE_READ(exe, f_inode), &k)) {
			tw_unsettle(bpf_get_current_pid_tgid() >> 32, bpf_ktime_get_ns());
			tw_map_new(&k); /* its probes race its first SSL_write */
		}
	}
	e->path_len = tw_read_path(&exe->f_path, e->data, &e->hdr.flags);
	if (e->hdr.flags & TW_F_PATH_TRUNC)
		tw_count_drop(TW_DROP_PATH_TRUNC);

	off = e->path_len & (TW_PATH_MAX - 1);
	n = tw_read_user_block(e->data + off, BPF_CORE_READ(mm, arg_start),
			       BPF_CORE_READ(mm, arg_end), TW_EXEC_ARGS_MAX,
			       &e->args_full_len, &e->hdr.flags, TW_F_ARGS_TRUNC);
	e->args_len = n;
	off += n & (2 * TW_EXEC_ARGS_MAX - 1);
	if (off > TW_PATH_MAX + TW_EXEC_ARGS_MAX)
		return 0;
	n = tw_read_user_block(e->data + off, BPF_CORE_READ(mm, env_start),
			       BPF_CORE_READ(mm, env_end), TW_EXEC_ENV_MAX,
			       &e->env_full_len, &e->hdr.flags, TW_F_ENV_TRUNC);
	e->env_len = n;
	off += n & (2 * TW_EXEC_ENV_MAX - 1);
	if (off > TW_EXEC_DATA_MAX)
		return 0;
	tw_emit(e, sizeof(*e) + off);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
