// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * File-write sensor: write, pwrite64, writev, pwritev, pwritev2. The same
 * calls on a socket are reported as sends (tw_capture classifies the fd).
 */
#include "io.bpf.h"

/* Only this object may call it: libbpf 1.1's linker fails on a kfunc
 * extern used by more than one object (docs/SENSORS.md). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/*
 * A write at the file position that continues this process's pending run
 * on the file (bpf/tokenward.h, "File tails") costs only this: the open
 * file, its inode number, device and position as direct loads through BTF
 * pointers (bpf_rdonly_cast lets the fd table's slot be read without a
 * helper call), then tw_tail_extend's lookup and compare-and-swap. It is
 * most writes of a log writer; anything else falls through to the copy.
 */
static __always_inline int tw_write_tail(struct task_struct *task, int fd, long ret)
{
	struct fdtable *fdt = task->files->fdt;
	struct kiocb *slot;
	struct inode *ino;
	struct file *f;

	if (!tw_tail_on || (unsigned int)fd >= fdt->max_fds)
		return 0;
	/* struct kiocb starts with a struct file *: a typed view of fd[fd] */
	slot = bpf_rdonly_cast(fdt->fd + fd, bpf_core_type_id_kernel(struct kiocb));
	f = slot->ki_filp;
	if (!f)
		return 0;
	ino = f->f_inode;
	if ((ino->i_mode & TW_S_IFMT) != TW_S_IFREG)
		return 0; /* sockets, pipes, ttys: straight to the copy */
	return tw_tail_extend(ino->i_ino, ino->i_sb->s_dev, task->tgid, f->f_pos, ret);
}

/* Everything else is copied (bpf/io.bpf.h). Kept out of line so that the
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
	if ((syscall == TW_SC_WRITE || syscall == TW_SC_WRITEV) && tw_write_tail(task, fd, ret))
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
