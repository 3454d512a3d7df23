/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Socket identity: who a socket is (struct tw_sock_ident, read once per
 * socket and kept in the fd cache, bpf/fd.bpf.h) and where it talks now
 * (struct tw_sock_info, read on every record that describes it).
 *
 * The inline pieces are what the fast paths in write.bpf.c and the send
 * batches need; tw_sock_describe(), which fills a whole struct
 * tw_sock_info, is a global function in sock.bpf.c, so the verifier
 * checks it once per program instead of once per path that reaches it.
 */
#ifndef TW_SOCK_BPF_H
#define TW_SOCK_BPF_H

#include "common.bpf.h"

#define TW_AF_UNIX   1
#define TW_AF_INET   2
#define TW_AF_INET6  10
#define TW_SOCK_STREAM 1

/* What never changes for the life of a socket: its struct sock, type,
 * family and protocol (IPV6_ADDRFORM can turn an
 * AF_INET6 socket into AF_INET: the inet family is re-read with the
 * addresses). Read once per socket when the fd cache holds it. */
struct tw_sock_ident {
	__u64 sk;
	__u64 ino;        /* the socket inode's number: never reused by a new socket soon */
	__u16 sock_type;
	__u16 family;
	__u16 protocol;
	__u16 pad;
};

/*
 * Read a kernel struct from its start up to the end of a field at @end_off
 * of @end_size bytes, in ONE bpf_probe_read_kernel(): several fields then
 * cost one helper call instead of one each (~30 ns a call here). Offsets
 * come from CO-RE relocations, constants the verifier knows. Returns the
 * bytes, or NULL when the prefix does not fit TW_PEEK_MAX or cannot be
 * read.
 *
 * The bytes live in a per-CPU buffer, not on the stack: 128 bytes in each
 * of the capture path's frames put the sendmsg program's call chain over
 * the verifier's 512-byte combined stack on kernels that give tracepoint
 * programs no private stack (6.18.44 here). The buffer is the caller's
 * until its next tw_peek(): no caller holds one across another peek or a
 * call that may peek. Tracepoint programs run on one CPU, unpreempted
 * (the scratch record relies on the same, bpf/common.bpf.h).
 */
#define TW_PEEK_MAX 128
struct tw_peek_buf {
	char b[TW_PEEK_MAX];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_peek_buf);
} peek_buf SEC(".maps") __weak;

static __always_inline char *tw_peek(const void *obj, __u32 end_off, __u32 end_size)
{
	__u32 zero = 0, n = end_off + end_size;
	struct tw_peek_buf *p;

	if (!obj || n > TW_PEEK_MAX || !(p = bpf_map_lookup_elem(&peek_buf, &zero)) ||
	    bpf_probe_read_kernel(p->b, n, obj))
		return NULL;
	return p->b;
}

#define TW_FOFF(type, field) ((__u32)bpf_core_field_offset(type, field))
#define TW_AT(buf, type, field, ctype) (*(ctype *)((char *)(buf) + TW_FOFF(type, field)))
/* The end of both addresses in struct sock_common: one peek reads them. */
#define TW_SKC_ADDRS_END                                                        \
	(TW_FOFF(struct sock_common, skc_v6_rcv_saddr) >                        \
		 TW_FOFF(struct sock_common, skc_v6_daddr) ?                    \
	 TW_FOFF(struct sock_common, skc_v6_rcv_saddr) :                        \
	 TW_FOFF(struct sock_common, skc_v6_daddr))

/* The identity of the socket open as @file (a struct file *). */
static __always_inline int tw_sock_ident(__u64 file, struct tw_sock_ident *id)
{
	struct file *f = (struct file *)file;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk;
	char *buf;

	if (!(buf = tw_peek(sock, TW_FOFF(struct socket, sk), 8)))
		return -1;
	sk = TW_AT(buf, struct socket, sk, struct sock *);
	if (!sk)
		return -1;
	id->sk = (__u64)sk;
	id->sock_type = TW_AT(buf, struct socket, type, short);
	id->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	id->protocol = BPF_CORE_READ(sk, sk_protocol);
	id->ino = BPF_CORE_READ(f, f_inode, i_ino);
	id->pad = 0;
	return 0;
}

/* The sock behind a socket's inode now: struct socket sits just before
 * its inode in struct socket_alloc, so this is one read. A socket closed
 * and another opened can reuse the same file and inode (both slab
 * objects), so a cached sock is only good while this still matches. */
static __always_inline __u64 tw_inode_sk(struct inode *ino)
{
	__u64 sk = 0;
	char *sock = (char *)ino - TW_FOFF(struct socket_alloc, vfs_inode);

	bpf_probe_read_kernel(&sk, sizeof(sk), sock + TW_FOFF(struct socket, sk));
	return sk;
}

/* What a send batch's notice told userspace about the socket, as a hash:
 * both addresses and ports (inet), or the peer (unix). A batch is only
 * appended to while this is unchanged (a socket reconnected, or another
 * socket in the same recycled memory, opens a new batch). One read. */
static __always_inline __u64 tw_digest_inet(__u16 family, __u32 daddr, __u32 saddr, __u16 dport,
					     __u16 num, __u64 d0, __u64 d1, __u64 l0, __u64 l1)
{
	__u64 h = daddr | (__u64)saddr << 32;

	h ^= ((__u64)dport << 16 | num | (__u64)family << 32) * 0x9E3779B97F4A7C15ull;
	if (family == TW_AF_INET6)
		h ^= (d0 * 31 + d1) ^ ((l0 * 37 + l1) << 1);
	return h | 1; /* 0 means unreadable */
}

static __always_inline __u64 tw_sock_digest(const struct tw_sock_ident *id)
{
	struct sock *sk = (struct sock *)id->sk;
	__u64 *d, *l;
	char *buf;

	if (id->family == TW_AF_UNIX)
		return (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer) | 1;
	if (!(buf = tw_peek(sk, TW_SKC_ADDRS_END, 16)))
		return 0;
	d = (__u64 *)(buf + TW_FOFF(struct sock_common, skc_v6_daddr));
	l = (__u64 *)(buf + TW_FOFF(struct sock_common, skc_v6_rcv_saddr));
	return tw_digest_inet(TW_AT(buf, struct sock_common, skc_family, __u16),
			      TW_AT(buf, struct sock_common, skc_daddr, __u32),
			      TW_AT(buf, struct sock_common, skc_rcv_saddr, __u32),
			      TW_AT(buf, struct sock_common, skc_dport, __u16),
			      TW_AT(buf, struct sock_common, skc_num, __u16), d[0], d[1], l[0], l[1]);
}

/* A sockaddr the caller passed (sendto, sendmsg, connect). Returns 0 when
 * it was read and of a family we describe. */
static __always_inline int tw_user_addr(__u64 uaddr, __u32 alen, struct tw_addr *a)
{
	unsigned char sa[24];
	__u16 fam = 0;
	__u64 n;

	if (!uaddr || alen < 2 || bpf_probe_read_user(&fam, sizeof(fam), (void *)uaddr))
		return -1;
	a->family = fam;
	a->port = 0;
	a->len = 0;
	if (fam == TW_AF_INET || fam == TW_AF_INET6) {
		__builtin_memset(a->in6, 0, sizeof(a->in6));
		if (bpf_probe_read_user(sa, sizeof(sa), (void *)uaddr))
			return -1;
		a->port = (sa[2] << 8) | sa[3];
		if (fam == TW_AF_INET)
			__builtin_memcpy(a->in6, sa + 4, 4);
		else
			__builtin_memcpy(a->in6, sa + 8, 16);
		return 0;
	}
	if (fam == TW_AF_UNIX) {
		n = (__u64)alen - 2;
		if (n > TW_SUN_PATH_MAX)
			n = TW_SUN_PATH_MAX;
		barrier_var(n);
		if (n <= TW_SUN_PATH_MAX &&
		    !bpf_probe_read_user(a->sun_path, n, (void *)(uaddr + 2)))
			a->len = n;
		return 0;
	}
	return -1;
}

/*
 * Fill @si from @id: type, family and protocol from the identity, both
 * addresses as the socket knows them now (sock.bpf.c). @id may be NULL
 * (no identity: @si is zeroed). Global: verified once per program.
 */
extern int tw_sock_describe(struct tw_sock_info *si, const struct tw_sock_ident *id);

#endif /* TW_SOCK_BPF_H */
