// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * File-write sensor: write, pwrite64, writev, pwritev, pwritev2. The same
 * calls on a socket are reported as sends (tw_capture classifies the fd).
 * sendto (which send() is) lives here too, beside write: both take the
 * send-batch fast path below, which needs the kfunc only this object may
 * use. sendmsg and sendmmsg are in send.bpf.c.
 */
#include "io.bpf.h"
#include "unsettled.bpf.h"
#include "fd.bpf.h"
#include "sock.bpf.h"
#include "filetail.bpf.h"
#include "sockbatch.bpf.h"

/* Only this object may call it: libbpf 1.1's linker fails on a kfunc
 * extern used by more than one object (docs/SENSORS.md). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* The open file behind @fd, as a BTF pointer, so that its fields and
 * what they point to are direct loads: struct kiocb starts with a struct
 * file *, a typed view of the fd table's slot. NULL when none. */
static __always_inline struct file *tw_fd_file_btf(struct task_struct *task, int fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct kiocb *slot;

	if ((unsigned int)fd >= fdt->max_fds)
		return NULL;
	slot = bpf_rdonly_cast(fdt->fd + fd, bpf_core_type_id_kernel(struct kiocb));
	return slot->ki_filp;
}

/*
 * A small send on a TCP socket that continues this process's open batch
 * on it (bpf/tokenward.h, "Send batches") costs only this: the file, its
 * inode, the socket and the sock's addresses as direct loads through BTF
 * pointers, the task-storage lookup that says no SSL_write is under way,
 * then tw_batch_append's lookup, compare-and-swap and copy. Opening a
 * batch, sealing one, unix sockets and everything else go through
 * tw_capture.
 */
static __always_inline int tw_write_batch(struct task_struct *task, struct file *f,
					  struct inode *ino, __u64 buf, long ret)
{
	struct tw_batch_slot *s;
	struct tw_fd_cache *fc;
	struct sock_common *sc;
	struct socket *sock;
	__u64 tag, d0, d1, l0, l1;
	__u32 idx, *d6, *l6;
	__u16 fam;

	if (!tw_batch_on || ret > TW_BATCH_SEND_MAX)
		return 0;
	sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	if (sock->type != TW_SOCK_STREAM || !sock->sk)
		return 0;
	sc = &sock->sk->__sk_common;
	fam = sc->skc_family;
	if (fam != TW_AF_INET && fam != TW_AF_INET6)
		return 0;
	fc = bpf_task_storage_get(&fd_cache, task, 0, 0);
	if (fc && fc->tls_n)
		return 0; /* perhaps TLS ciphertext: its plaintext is captured with it */
	if (tw_unsettled_n) {
		__u32 tgid = task->tgid;

		if (bpf_map_lookup_elem(&tls_unsettled, &tgid))
			return 0; /* perhaps TLS through a library not probed yet: counted there */
	}
	s = tw_batch_slot(ino->i_ino, task->tgid, &tag, &idx);
	if (!s)
		return 0;
	d6 = sc->skc_v6_daddr.in6_u.u6_addr32;
	l6 = sc->skc_v6_rcv_saddr.in6_u.u6_addr32;
	d0 = d6[0] | (__u64)d6[1] << 32;
	d1 = d6[2] | (__u64)d6[3] << 32;
	l0 = l6[0] | (__u64)l6[1] << 32;
	l1 = l6[2] | (__u64)l6[3] << 32;
	return tw_batch_append(s, s->word, tag, ino->i_ino, task->tgid,
			       tw_digest_inet(fam, sc->skc_daddr, sc->skc_rcv_saddr, sc->skc_dport,
					      sc->skc_num, d0, d1, l0, l1),
			       buf, 0, 0, ret);
}

/*
 * The fast paths, for a write() or send() whose bytes need no copy of their
 * own (the file and inode loaded once for both):
 *  - a write at the file position that continues this process's pending
 *    run on a regular file (bpf/tokenward.h, "File tails"): the inode
 *    number, device and position as direct loads, then tw_tail_extend's
 *    lookup and compare-and-swap. It is most writes of a log writer;
 *  - a small send continuing a batch on a TCP socket (tw_write_batch).
 * 1 when the write is accounted for; anything else falls through to the
 * copy.
 */
static __always_inline int tw_write_fast(struct task_struct *task, int fd, __u64 buf, long ret,
					 __u16 syscall)
{
	struct inode *ino;
	struct file *f;
	__u32 mode;

	if (!(tw_tail_on || tw_batch_on) || !(f = tw_fd_file_btf(task, fd)))
		return 0;
	ino = f->f_inode;
	mode = ino->i_mode & TW_S_IFMT;
	if (mode == TW_S_IFREG)
		return tw_tail_on && (syscall == TW_SC_WRITE || syscall == TW_SC_WRITEV) &&
		       tw_tail_extend(ino->i_ino, ino->i_sb->s_dev, task->tgid, f->f_pos, ret);
	if (mode == TW_S_IFSOCK && buf)
		return tw_write_batch(task, f, ino, buf, ret);
	return 0; /* pipes, ttys: straight to the copy */
}

/* Everything else is copied (capture.bpf.c). Kept out of line so that the
 * fast path above does not pay for zeroing the argument block. */
static __noinline int tw_write_copy(struct pt_regs *regs, int fd, long ret, __u16 syscall,
				    bool vectored)
{
	struct tw_io_args a = {};

	a.fd = fd;
	a.tail = syscall == TW_SC_WRITE || syscall == TW_SC_WRITEV;
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

static __always_inline int tw_write_exit(long ret, __u16 syscall, bool vectored)
{
	struct task_struct *task;
	struct pt_regs *regs;
	int fd;

	if (ret <= 0)
		return 0;
	task = bpf_get_current_task_btf();
	if (!tw_wanted_task(task))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	fd = PT_REGS_PARM1_SYSCALL(regs);
	if ((syscall == TW_SC_WRITE || syscall == TW_SC_WRITEV) &&
	    tw_write_fast(task, fd, syscall == TW_SC_WRITE ? PT_REGS_PARM2_SYSCALL(regs) : 0, ret,
			  syscall))
		return 0;
	return tw_write_copy(regs, fd, ret, syscall, vectored);
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

SEC("tp/syscalls/sys_exit_sendto")
int tw_sendto(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task;
	struct tw_io_args a = {};
	struct pt_regs *regs;

	if (ctx->ret <= 0)
		return 0;
	task = bpf_get_current_task_btf();
	if (!tw_wanted_task(task))
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	a.fd = PT_REGS_PARM1_SYSCALL(regs);
	a.buf = PT_REGS_PARM2_SYSCALL(regs);
	if (tw_write_fast(task, a.fd, a.buf, ctx->ret, TW_SC_SENDTO))
		return 0;
	a.addr = PT_REGS_PARM5_SYSCALL(regs);
	a.addrlen = TW_PT_REGS_PARM6_SYSCALL(regs);
	a.ret = ctx->ret;
	a.syscall = TW_SC_SENDTO;
	return tw_capture_io(&a);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
