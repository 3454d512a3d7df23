// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * New executable mappings, for the TLS sensor's first run (bpf/tokenward.h
 * "The first run of a TLS library new to the monitor"): mmap() with
 * PROT_EXEC of a file, as the dynamic loader maps a shared library (at
 * start, or at dlopen), seen at the syscall's exit, when the mapping is in
 * /proc/PID/maps for userspace to read and the fd is still open. (The
 * kernel maps an executable itself at exec: exec.bpf.c looks at that
 * one.) A file userspace has examined costs one hash lookup; any other
 * marks the process unsettled and wakes userspace with a TW_EV_MAP_NEW
 * on the tls_ctl ring.
 * (fexit of vm_mmap_pgoff would see both, but this kernel has neither
 * fentry nor kprobes: tracepoints only.)
 */
#include "unsettled.bpf.h"
#include "fd.bpf.h"

#define TW_PROT_EXEC     0x4
#define TW_MAP_ANONYMOUS 0x20

SEC("tp/syscalls/sys_exit_mmap")
int tw_mmap_exec(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task;
	struct tw_file_key k;
	struct pt_regs *regs;
	struct file *file;

	if (!tw_tls_first_on || (ctx->ret < 0 && ctx->ret > -4096))
		return 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!(PT_REGS_PARM3_SYSCALL(regs) & TW_PROT_EXEC) ||
	    (PT_REGS_PARM4_SYSCALL(regs) & TW_MAP_ANONYMOUS) || !tw_wanted_task(task))
		return 0;
	file = tw_fd_file((int)PT_REGS_PARM5_SYSCALL(regs));
	if (!file || tw_file_known(BPF_CORE_READ(file, f_inode), &k))
		return 0;
	tw_unsettle(task->tgid, bpf_ktime_get_ns());
	tw_map_new(&k); /* at once: the process is on its way to its first SSL_write */
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
