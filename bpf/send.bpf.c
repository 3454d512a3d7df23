// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Socket-send sensor: sendmsg and sendmmsg. write/writev on a socket, and
 * sendto (which send() is on Linux), arrive through write.bpf.c, which
 * holds the send-batch fast path.
 */
#include "io.bpf.h"

/* The fields of a user msghdr a send needs, which lead the struct: one
 * read of 32 bytes, not of all 56, as the sendmmsg chain is among the
 * deepest stacks under the verifier's 512 (tools/bpf-stack.py). The
 * layout is the syscall's ABI (struct user_msghdr), so no CO-RE:
 * vmlinux.h's copy is relocatable, its offsets no constants to assert. */
struct tw_msghdr_head {
	__u64 name;
	__u32 namelen;
	__u32 pad;
	__u64 iov;
	__u64 iovlen;
};

/* Fill the iovec and address fields of @a from a user msghdr. */
static __always_inline int tw_msghdr_args(struct tw_io_args *a, __u64 umsg)
{
	struct tw_msghdr_head m;

	if (bpf_probe_read_user(&m, sizeof(m), (void *)umsg)) {
		tw_count_drop(TW_DROP_READ_FAIL);
		return -1;
	}
	a->iov = m.iov;
	a->iovcnt = m.iovlen;
	a->addr = m.name;
	a->addrlen = m.namelen;
	return 0;
}

SEC("tp/syscalls/sys_exit_sendmsg")
int tw_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct tw_io_args a = {};
	struct pt_regs *regs;

	if (ctx->ret <= 0 || !tw_wanted())
		return 0;
	regs = tw_user_regs();
	a.fd = PT_REGS_PARM1_SYSCALL(regs);
	if (tw_msghdr_args(&a, PT_REGS_PARM2_SYSCALL(regs)))
		return 0;
	a.ret = ctx->ret;
	a.syscall = TW_SC_SENDMSG;
	return tw_capture_io(&a);
}

struct tw_mmsg_ctx {
	__u64 vec;  /* user struct mmsghdr array */
	__u32 n;    /* messages sent: the syscall's return */
	int fd;
};

static long tw_mmsg_step(__u64 i, void *vctx)
{
	struct tw_mmsg_ctx *m = vctx;
	struct tw_io_args a = {};
	__u64 um = m->vec + i * sizeof(struct mmsghdr);
	__u32 sent = 0;

	if (i >= m->n)
		return 1;
	if (tw_msghdr_args(&a, um) ||
	    bpf_probe_read_user(&sent, sizeof(sent), (void *)(um + offsetof(struct mmsghdr, msg_len))))
		return 0;
	a.fd = m->fd;
	a.ret = sent;
	a.syscall = TW_SC_SENDMMSG;
	a.msg_index = i;
	/* tw_capture_io, not tw_capture: the message that takes an SSL_write's
	 * plaintext note must also capture it (issue 14). */
	tw_capture_io(&a);
	return 0;
}

SEC("tp/syscalls/sys_exit_sendmmsg")
int tw_sendmmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct tw_mmsg_ctx m = {};
	struct pt_regs *regs;

	if (ctx->ret <= 0 || !tw_wanted())
		return 0;
	regs = tw_user_regs();
	m.fd = PT_REGS_PARM1_SYSCALL(regs);
	m.vec = PT_REGS_PARM2_SYSCALL(regs);
	m.n = ctx->ret;
	bpf_loop(TW_MMSG_MAX, tw_mmsg_step, &m, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
