// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Socket identity, the part verified once: a socket's addresses as a
 * struct tw_sock_info (bpf/sock.bpf.h has the rest). No program lives
 * here; the capture path (capture.bpf.c), send batches (sockbatch.bpf.c)
 * and connect.bpf.c call it.
 */
#include "sock.bpf.h"

static __always_inline void tw_unix_addr(struct sock *sk, struct tw_addr *a)
{
	struct unix_address *ua = BPF_CORE_READ((struct unix_sock *)sk, addr);
	int alen;
	__u64 len;

	a->family = TW_AF_UNIX;
	a->port = 0;
	a->len = 0;
	if (!ua)
		return; /* unbound */
	alen = BPF_CORE_READ(ua, len);
	if (alen <= 2) /* sun_family only: unnamed */
		return;
	len = alen - 2;
	if (len > TW_SUN_PATH_MAX)
		len = TW_SUN_PATH_MAX;
	barrier_var(len);
	if (len <= TW_SUN_PATH_MAX &&
	    !bpf_probe_read_kernel(a->sun_path, len, ua->name[0].sun_path))
		a->len = len;
}

/* Both inet addresses and ports, from one read of the sock_common prefix. */
static __always_inline void tw_inet_addrs(struct sock *sk, struct tw_sock_info *si)
{
	struct tw_addr *l = &si->local, *p = &si->peer;
	char *buf = tw_peek(sk, TW_SKC_ADDRS_END, 16);

	if (!buf)
		return;
	si->family = TW_AT(buf, struct sock_common, skc_family, __u16);
	l->family = p->family = si->family;
	l->port = TW_AT(buf, struct sock_common, skc_num, __u16);
	p->port = bpf_ntohs(TW_AT(buf, struct sock_common, skc_dport, __u16));
	if (si->family == TW_AF_INET) {
		*(__u32 *)l->in6 = TW_AT(buf, struct sock_common, skc_rcv_saddr, __u32);
		*(__u32 *)p->in6 = TW_AT(buf, struct sock_common, skc_daddr, __u32);
	} else if (si->family == TW_AF_INET6) {
		__builtin_memcpy(l->in6, buf + TW_FOFF(struct sock_common, skc_v6_rcv_saddr), 16);
		__builtin_memcpy(p->in6, buf + TW_FOFF(struct sock_common, skc_v6_daddr), 16);
	}
}

/* Local and peer address as the socket knows them now (a datagram socket
 * may be reconnected, a TCP one disconnected with AF_UNSPEC: never
 * cached). */
__noinline int tw_sock_describe(struct tw_sock_info *si, const struct tw_sock_ident *id)
{
	struct sock *sk, *peer;

	if (!si)
		return -1;
	__builtin_memset(si, 0, sizeof(*si));
	if (!id || !id->sk)
		return -1;
	sk = (struct sock *)id->sk;
	si->sock_type = id->sock_type;
	si->family = id->family;
	si->protocol = id->protocol;
	si->local.family = si->peer.family = si->family;
	if (si->family == TW_AF_INET || si->family == TW_AF_INET6) {
		tw_inet_addrs(sk, si);
	} else if (si->family == TW_AF_UNIX) {
		peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
		tw_unix_addr(sk, &si->local);
		if (peer)
			tw_unix_addr(peer, &si->peer);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
