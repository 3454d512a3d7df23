// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * File-write sensor: write, pwrite64, writev, pwritev, pwritev2. The same
 * calls on a socket are reported as sends (tw_capture classifies the fd).
 */
#include "io.bpf.h"

static __always_inline int tw_write_exit(long ret, __u16 syscall, bool vectored)
{
	struct tw_io_args a = {};
	struct pt_regs *regs;

	if (ret <= 0 || !tw_wanted())
		return 0;
	regs = tw_user_regs();
	a.fd = PT_REGS_PARM1_SYSCALL(regs);
	if (vectored) {
		a.iov = PT_REGS_PARM2_SYSCALL(regs);
		a.iovcnt = PT_REGS_PARM3_SYSCALL(regs);
	} else {
		a.buf = PT_REGS_PARM2_SYSCALL(regs);
	}
	a.ret = ret;
	a.syscall = syscall;
	return tw_capture_io(&a);
}

SEC("tp/syscalls/sys_exit_write")
int tw_write(struct trace_event_raw_sys_exit *ctx)
{
	return tw_write_exit(ctx->ret, TW_SC_WRITE, false);
}

SEC("tp/syscalls/sys_exit_pwrite64")
int tw_pwrite64(struct trace_event_raw_sys_exit *ctx)
{
	return tw_write_exit(ctx->ret, TW_SC_PWRITE64, false);
}

SEC("tp/syscalls/sys_exit_writev")
int tw_writev(struct trace_event_raw_sys_exit *ctx)
{
	return tw_write_exit(ctx->ret, TW_SC_WRITEV, true);
}

SEC("tp/syscalls/sys_exit_pwritev")
int tw_pwritev(struct trace_event_raw_sys_exit *ctx)
{
	return tw_write_exit(ctx->ret, TW_SC_PWRITEV, true);
}

SEC("tp/syscalls/sys_exit_pwritev2")
int tw_pwritev2(struct trace_event_raw_sys_exit *ctx)
{
	return tw_write_exit(ctx->ret, TW_SC_PWRITEV2, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
