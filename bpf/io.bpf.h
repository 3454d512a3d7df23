/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The capture path's interface: what a write or send program hands over
 * (struct tw_io_args) and the call that captures it. The path itself is
 * verified once per program, as global functions, each in the file of
 * its concern:
 *
 *   tw_capture (capture.bpf.c)     what the fd is (fd.bpf.h), then one of:
 *     tw_batch_send (sockbatch.bpf.c)  a small send into a send batch
 *     tw_send_path (fd.bpf.c)          a file's path record, once
 *     tw_capture_record (capture.bpf.c) the record: header, socket
 *         (tw_sock_describe, sock.bpf.c), bytes (copy.bpf.h)
 *   tw_tail_claim (filetail.bpf.c) a file tail opened after the copy
 *
 * Every program runs at syscall EXIT: the return value says how many bytes
 * really went out (failed calls cost nothing more), and the user pages were
 * just touched by the kernel's own copy, so bpf_probe_read_user (which
 * cannot fault pages in) finds them resident. The arguments are read back
 * from the task's saved user registers, so no enter/exit map is needed.
 */
#ifndef TW_IO_BPF_H
#define TW_IO_BPF_H

#include "common.bpf.h"
#include "filetail.bpf.h"

/* Syscall arguments from the saved user registers. The registers come
 * from bpf_task_pt_regs() as a BTF pointer, so these are direct loads.
 * libbpf 1.1 stops at the fifth argument. */
#if defined(__TARGET_ARCH_x86)
#define TW_PT_REGS_PARM6_SYSCALL(x) ((x)->r9)
#elif defined(__TARGET_ARCH_arm64)
#define TW_PT_REGS_PARM6_SYSCALL(x) (((const struct user_pt_regs *)(x))->regs[5])
#endif

#define TW_IO_BASE_MAX (sizeof(struct tw_io_event) + sizeof(struct tw_sock_info))
#define TW_IOV_MAX     1024 /* UIO_MAXIOV */
#define TW_MMSG_MAX    1024 /* UIO_MAXIOV bounds sendmmsg's vlen too */

/* Kernel-side mark on a sealing send: the batch was full (bpf only). */
#define TW_BATCH_SEALED_FULL (1u << 31)

/* What one write/send handed to the kernel (set by the program), then
 * what tw_capture's steps found out about it (set by them, in order). */
struct tw_io_args {
	__u64 buf;      /* single buffer, or 0 when iov is used */
	__u64 iov;      /* user struct iovec array */
	__u64 iovcnt;
	__s64 ret;      /* bytes written or sent */
	__u64 addr;     /* user sockaddr of sendto/sendmsg, or 0 */
	__u32 addrlen;
	int fd;
	__u16 syscall;
	__u16 msg_index;
	__u16 tail;     /* in: a write at the file position, may start a file tail;
			 * out: it may (file, file_id are the file's) */
	__u16 pad;
	/* set by tw_capture */
	__u64 file;     /* the struct file behind fd */
	__u64 file_id;
	__u32 type;     /* TW_EV_FILE_WRITE or TW_EV_SOCK_SEND */
	__u32 flags;    /* the record's first flags (TW_F_PATH_SENT) */
	__u32 sealed;   /* slot + 1 of the send batch this send sealed, | TW_BATCH_SEALED_FULL */
	__u32 tls_n;    /* out: TLS plaintexts behind this send: their early copies' ts */
	__u64 tls_ts[TW_TLS_NOTES];
};

static __always_inline struct pt_regs *tw_user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* Capture one write or send (capture.bpf.c). */
extern int tw_capture(struct tw_io_args *a);

/* Copy @len bytes of TLS plaintext at @buf, as the library call @sc got
 * them, into the ring now (bpf/tokenward.h "TLS plaintext"); returns the
 * copy's hdr.ts_boot_ns for the note. @fd: the connection's, or -1. */
extern __u64 tw_tls_copy(__u64 buf, __u32 len, __u32 sc, int fd);

/* Capture a write or send (a send of TLS ciphertext binds the plaintexts
 * copied before it instead); then open a file tail when it may start one. */
static __always_inline int tw_capture_io(struct tw_io_args *a)
{
	tw_capture(a);
	if (a->tail)
		tw_tail_claim(a->file, a->file_id, a->fd, a->syscall);
	return 0;
}

/* The return value of the syscall that is exiting. */
#define TW_RET(ctx) ((ctx)->ret)

#endif /* TW_IO_BPF_H */
