// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Process table sensors: a new process (fork) and a finished one (exit),
 * so userspace knows parents and start times without racing /proc. Exec
 * (exe changes) comes from exec.bpf.c. Threads are not processes here:
 * only clones that start a new thread group, and exits that end one.
 */
#include "unsettled.bpf.h"

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tw_fork, struct task_struct *parent, struct task_struct *child)
{
	struct tw_fork_event e;

	if (child->pid != child->tgid || !tw_wanted())
		return 0;
	tw_fill_hdr(&e.hdr, TW_EV_FORK);
	e.child_tgid = child->tgid;
	e.pad = 0;
	e.child_start_boot_ns = child->start_boottime;
	tw_emit_as(&e, sizeof(e), TW_DROP_META_LOST);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tw_exit, struct task_struct *p, bool group_dead)
{
	struct tw_exit_event e;

	if (!group_dead)
		return 0;
	tw_unsettled_forget(p->tgid); /* whatever the cgroup: it may have moved */
	if (!tw_wanted())
		return 0;
	tw_fill_hdr(&e.hdr, TW_EV_EXIT);
	e.exit_code = p->exit_code;
	e.pad = 0;
	tw_emit_as(&e, sizeof(e), TW_DROP_META_LOST);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
