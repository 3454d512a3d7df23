// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * connect() sensor: reported at exit when it succeeded or is in progress
 * (non-blocking sockets), with the destination the caller asked for and
 * the local address the kernel bound.
 */
#include "io.bpf.h"
#include "fd.bpf.h"
#include "sock.bpf.h"

#define TW_EINPROGRESS 115

SEC("tp/syscalls/sys_exit_connect")
int tw_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct tw_sock_ident id = {};
	struct tw_conn_event *e;
	struct pt_regs *regs;
	struct file *file;
	struct inode *ino;
	__u64 uaddr;
	__u32 alen;

	if ((ctx->ret != 0 && ctx->ret != -TW_EINPROGRESS) || !tw_wanted())
		return 0;
	regs = tw_user_regs();
	e = tw_scratch_get();
	if (!e)
		return 0;
	e->fd = PT_REGS_PARM1_SYSCALL(regs);
	uaddr = PT_REGS_PARM2_SYSCALL(regs);
	alen = PT_REGS_PARM3_SYSCALL(regs);
	file = tw_fd_file(e->fd);
	if (!file)
		return 0;
	ino = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(ino, i_mode) & TW_S_IFMT) != TW_S_IFSOCK)
		return 0;
	tw_fill_hdr(&e->hdr, TW_EV_CONNECT);
	e->ret = ctx->ret;
	tw_sock_describe(&e->sock, tw_sock_ident((__u64)file, &id) ? NULL : &id);
	/* AF_UNSPEC dissolves an association: nothing to report */
	if (tw_user_addr(uaddr, alen, &e->sock.peer))
		return 0;
	e->hdr.flags |= TW_F_PEER_ARG;
	tw_emit(e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
