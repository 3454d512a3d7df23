// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The benchmark floor: empty programs on exactly the hooks tokenward's
 * sensors use. Whatever this costs is the price of the hooks themselves
 * (syscall tracepoints put every syscall on the slow path); tokenward's
 * overhead is judged against it. Kept outside bpf/ so it is never linked
 * into tokenward.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EMPTY_TP(name, tp) \
	SEC("tp/" tp) int name(void *ctx) { return 0; }

EMPTY_TP(f_write, "syscalls/sys_exit_write")
EMPTY_TP(f_pwrite64, "syscalls/sys_exit_pwrite64")
EMPTY_TP(f_writev, "syscalls/sys_exit_writev")
EMPTY_TP(f_pwritev, "syscalls/sys_exit_pwritev")
EMPTY_TP(f_pwritev2, "syscalls/sys_exit_pwritev2")
EMPTY_TP(f_sendto, "syscalls/sys_exit_sendto")
EMPTY_TP(f_sendmsg, "syscalls/sys_exit_sendmsg")
EMPTY_TP(f_sendmmsg, "syscalls/sys_exit_sendmmsg")
EMPTY_TP(f_connect, "syscalls/sys_exit_connect")
EMPTY_TP(f_exec, "sched/sched_process_exec")

SEC("tp_btf/sched_process_fork")
int BPF_PROG(f_fork, struct task_struct *parent, struct task_struct *child) { return 0; }

SEC("tp_btf/sched_process_exit")
int BPF_PROG(f_exit, struct task_struct *p) { return 0; }

/* An empty entry uprobe: floor.c attaches it to each FILE:FUNCTION it is
 * given, the TLS write functions tokenward probes (tools/bench-tls.sh). */
SEC("uprobe")
int f_tls(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
