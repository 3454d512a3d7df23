// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * TLS plaintext sensor: uprobes on OpenSSL's SSL_write and SSL_write_ex.
 * At entry the plaintext buffer is noted on the thread; the first socket
 * send the thread makes inside the call (the ciphertext) captures the
 * plaintext too, as a second capture on that socket (tw_capture_io,
 * io.bpf.h), so it carries the real peer, and the stream's SNI from its
 * ClientHello. The
 * note is cleared at return, so a write into a memory BIO, which makes no
 * syscall, never attaches its plaintext to a later send.
 *
 * Attached by user/sensors/monitor.c to libssl when one is found; the section has
 * no target so the skeleton does not auto-attach it.
 */
#include "fd.bpf.h"

static __always_inline int tw_tls_note(const void *buf, long num)
{
	struct tw_fd_cache *fc;

	if (num <= 0 || !tw_wanted())
		return 0;
	fc = bpf_task_storage_get(&fd_cache, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (fc) {
		fc->tls_buf = (__u64)buf;
		fc->tls_len = num > 0x7fffffff ? 0x7fffffff : (__u32)num;
	}
	return 0;
}

static __always_inline int tw_tls_clear(void)
{
	struct tw_fd_cache *fc = bpf_task_storage_get(&fd_cache, bpf_get_current_task_btf(), 0, 0);

	if (fc)
		fc->tls_buf = 0;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(tw_ssl_write, void *ssl, const void *buf, int num)
{
	return tw_tls_note(buf, num);
}

SEC("uretprobe")
int BPF_KRETPROBE(tw_ssl_write_ret)
{
	return tw_tls_clear();
}

SEC("uprobe")
int BPF_KPROBE(tw_ssl_write_ex, void *ssl, const void *buf, unsigned long num)
{
	return tw_tls_note(buf, (long)num);
}

SEC("uretprobe")
int BPF_KRETPROBE(tw_ssl_write_ex_ret)
{
	return tw_tls_clear();
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
