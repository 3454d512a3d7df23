// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * TLS plaintext sensor: entry uprobes on the write functions of the TLS
 * libraries agents use. No return probes: a return probe costs as much
 * again as the entry, and it would end the note before node's or
 * asyncio's ciphertext, which is sent just after the call returns.
 *
 *   OpenSSL, BoringSSL  SSL_write, SSL_write_ex   noted on the thread
 *   GnuTLS              gnutls_record_send        noted on the thread
 *   Go crypto/tls       (*Conn).Write             noted with the fd behind the
 *                                                 Conn, taken only on that fd
 *
 * A note (bpf/tokenward.h "TLS plaintext notes") is taken by the thread's
 * next send of TLS ciphertext on a socket (tw_capture, capture.bpf.c),
 * which captures the plaintext on that socket: the real peer, and the
 * stream's SNI from its ClientHello.
 *
 * Attached per file by user/sensors/tlsattach.c (every file any process
 * maps that defines these functions); the sections have no target, so the
 * skeleton does not auto-attach them.
 */
#include "io.bpf.h"
#include "fd.bpf.h"

/* Go's internal register ABI (Go 1.17+): integer arguments in RAX, RBX,
 * RCX, RDI, ... on amd64 and R0, R1, R2, ... on arm64 (internal/abi).
 * (*Conn).Write(b []byte): receiver, then b's pointer, length, capacity. */
#if defined(__TARGET_ARCH_x86)
#define TW_GO_ARG1(r) ((r)->ax)
#define TW_GO_ARG2(r) ((r)->bx)
#define TW_GO_ARG3(r) ((r)->cx)
#elif defined(__TARGET_ARCH_arm64)
#define TW_GO_ARG1(r) (((const struct user_pt_regs *)(r))->regs[0])
#define TW_GO_ARG2(r) (((const struct user_pt_regs *)(r))->regs[1])
#define TW_GO_ARG3(r) (((const struct user_pt_regs *)(r))->regs[2])
#endif

/* Note @num bytes at @buf on the calling thread, for its next send of
 * TLS ciphertext (on @fd only, when it is known: >= 0). The same buffer noted twice in a row (a wrapper and the
 * function it calls, e.g. GnuTLS's OpenSSL layer) is one note. */
static __always_inline int tw_tls_note(__u64 buf, long num, __u16 sc, int fd)
{
	struct tw_fd_cache *fc;
	struct tw_tls_note *n;
	__u32 head, cnt;
	__u64 now;

	if (num <= 0 || !buf)
		return 0;
	fc = bpf_task_storage_get(&fd_cache, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!fc)
		return 0;
	now = bpf_ktime_get_ns();
	head = fc->tls_head & (TW_TLS_NOTES - 1);
	cnt = fc->tls_n > TW_TLS_NOTES ? 0 : fc->tls_n;
	if (cnt) {
		n = &fc->tls[(head + cnt - 1) & (TW_TLS_NOTES - 1)];
		if (n->buf == buf && n->len == (__u32)num && now - n->ts <= TW_TLS_NOTE_TTL_NS)
			return 0;
		if (now - n->ts > TW_TLS_NOTE_TTL_NS) {
			/* even the newest was never sent: none will be */
			for (__u32 i = 0; i < TW_TLS_NOTES && i < cnt; i++)
				tw_count_drop(TW_DROP_TLS_UNSENT);
			cnt = 0;
		}
	}
	if (cnt == TW_TLS_NOTES) {
		tw_count_drop(TW_DROP_TLS_UNSENT); /* the oldest gives way */
		head = (head + 1) & (TW_TLS_NOTES - 1);
		cnt--;
	}
	n = &fc->tls[(head + cnt) & (TW_TLS_NOTES - 1)];
	n->buf = buf;
	n->len = num > 0x7fffffff ? 0x7fffffff : (__u32)num;
	/* the bytes now, before the caller can reuse the buffer */
	n->copy_ts = tw_tls_copy(buf, n->len, sc, fd);
	n->ts = now;
	n->syscall = sc;
	n->fd = fd;
	fc->tls_head = head;
	fc->tls_n = cnt + 1;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(tw_ssl_write, void *ssl, const void *buf, int num)
{
	if (!tw_wanted())
		return 0;
	return tw_tls_note((__u64)buf, num, TW_SC_SSL_WRITE, -1);
}

SEC("uprobe")
int BPF_KPROBE(tw_ssl_write_ex, void *ssl, const void *buf, unsigned long num)
{
	if (!tw_wanted())
		return 0;
	return tw_tls_note((__u64)buf, (long)num, TW_SC_SSL_WRITE, -1);
}

SEC("uprobe")
int BPF_KPROBE(tw_gnutls_send, void *session, const void *buf, unsigned long num)
{
	if (!tw_wanted())
		return 0;
	return tw_tls_note((__u64)buf, (long)num, TW_SC_GNUTLS_SEND, -1);
}

/* Go's netFD, as far as it is read (internal/poll.FD then net.netFD;
 * the same layout from Go 1.9 to today): checked field by field before
 * its fd is believed. */
struct tw_go_netfd {
	__u64 fdmu_state;
	__u32 rsema, wsema;
	__s64 sysfd;       /* poll.FD.Sysfd */
	__u64 pd;
	__u64 iovecs;
	__u32 csema, is_blocking;
	__u8 is_stream, zero_read_eof, is_file, pad[5];
	__s64 family;      /* netFD.family */
	__s64 sotype;      /* netFD.sotype */
};

/*
 * The socket behind a crypto/tls.Conn: Conn.conn is a net.Conn interface
 * (itab, data); for *net.TCPConn and *net.UnixConn data points at a
 * net.conn whose first word is the *netFD. -1 unless every step reads
 * and the netFD looks like a connected stream socket's, and the kernel
 * agrees that fd is a socket: a wrapped or custom net.Conn gives -1.
 * Global: verified once, its frame apart from the program's.
 */
__noinline int tw_go_conn_fd(__u64 conn)
{
	struct tw_go_netfd nfd;
	__u64 iface[2], fdp = 0;
	struct file *f;
	__u32 mode;

	if (bpf_probe_read_user(iface, sizeof(iface), (void *)conn) || !iface[1] ||
	    bpf_probe_read_user(&fdp, sizeof(fdp), (void *)iface[1]) || !fdp ||
	    bpf_probe_read_user(&nfd, sizeof(nfd), (void *)fdp))
		return -1;
	if (!nfd.is_stream || nfd.is_file || nfd.sotype != 1 /* SOCK_STREAM */ ||
	    (nfd.family != 1 && nfd.family != 2 && nfd.family != 10) ||
	    nfd.sysfd < 0 || nfd.sysfd > 0x7fffffff)
		return -1;
	f = tw_fd_file((int)nfd.sysfd);
	if (!f)
		return -1;
	mode = BPF_CORE_READ(f, f_inode, i_mode) & TW_S_IFMT;
	return mode == TW_S_IFSOCK ? (int)nfd.sysfd : -1;
}

/* Go's write syscall runs inside Write, on whichever OS thread the
 * goroutine is on then: the note names the Conn's own fd, and only a send
 * of TLS ciphertext on that fd takes it. (Capturing right here would need
 * the capture path's stack on top of this program's: over the 512 bytes.) */
SEC("uprobe")
int tw_go_tls_write(struct pt_regs *ctx)
{
	long len = (long)TW_GO_ARG3(ctx);

	if (len <= 0 || !tw_wanted())
		return 0;
	return tw_tls_note(TW_GO_ARG2(ctx), len, TW_SC_GO_TLS_WRITE, tw_go_conn_fd(TW_GO_ARG1(ctx)));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
