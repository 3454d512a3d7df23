/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Capture for writes and sends, shared by write.bpf.c and send.bpf.c.
 *
 * Every program runs at syscall EXIT: the return value says how many bytes
 * really went out (failed calls cost nothing more), and the user pages were
 * just touched by the kernel's own copy, so bpf_probe_read_user (which
 * cannot fault pages in) finds them resident. The arguments are read back
 * from the task's saved user registers, so no enter/exit map is needed.
 *
 * Content is copied straight from user memory into a per-CPU scratch
 * record and sent with bpf_ringbuf_output at its real size, in chunks of
 * TW_CAP_CHUNK bytes. One bpf_loop walks iovecs and chunks together, so a
 * vectored write is captured as one contiguous byte stream and a token
 * spanning two iovecs is intact in userspace.
 */
#ifndef TW_IO_BPF_H
#define TW_IO_BPF_H

#include "common.bpf.h"
#include "path.bpf.h"

#define TW_S_IFMT    00170000
#define TW_S_IFSOCK  0140000
#define TW_S_IFREG   0100000
#define TW_S_IFIFO   0010000
#define TW_S_IFCHR   0020000
#define TW_AF_UNIX   1
#define TW_AF_INET   2
#define TW_AF_INET6  10
#define TW_SOCK_STREAM 1

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

/* Open files whose path userspace already has: struct file -> file_id.
 * An entry is added only after the path record made it into the ring, so
 * a lost path record is simply sent again on the next write. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} path_seen SEC(".maps") __weak;

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
 * Per-thread cache of what the last writes' fds were: the open file, its
 * inode, its class and whether its path has been sent. A hit (same file
 * and inode behind the fd as last time) skips reading the inode's mode and
 * the path_seen lookup: on a log writer that is a hash lookup and a probe
 * read per write. Task storage is found from the task itself, no hashing.
 * TW_FDC_WAYS slots indexed by fd, so an event loop writing to a few
 * dozen sockets keeps them all (16 slots let redis-benchmark's 20 clients
 * collide: 722 -> 668 ns per send with 32, no better with 64; 1.5 KiB per
 * thread). The file+inode check makes a recycled struct file (close, then
 * open of something else) a miss, as path_seen does.
 */
#define TW_FDC_WAYS 32
struct tw_fd_slot {
	__u64 file;
	__u64 ino;
	__u64 file_id;
	__u32 type;    /* TW_EV_FILE_WRITE, TW_EV_SOCK_SEND, or 0: not captured */
	__u16 path_ok; /* the path record for file_id is in the ring or was before */
	__u16 tail_ok; /* a regular file on a local filesystem: may be tailed */
	struct tw_sock_ident sock; /* sockets: sock.sk == 0 when unknown */
};
struct tw_fd_cache {
	struct tw_fd_slot slot[TW_FDC_WAYS];
	/* TLS: the plaintext buffer of the SSL_write this thread is inside
	 * (bpf/tls.bpf.c), taken by the first send on a socket it makes. */
	__u64 tls_buf;
	__u32 tls_len;
	__u32 tls_pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tw_fd_cache);
} fd_cache SEC(".maps") __weak;

/* What one write/send handed to the kernel. */
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
			 * out: it may (tail_file, tail_file_id set) */
	__u16 pad;
	__u64 tail_file;
	__u64 tail_file_id;
	__u32 tls_len;  /* out: plaintext of an SSL_write behind this send */
	__u64 tls_buf;
};

static __always_inline struct pt_regs *tw_user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

static __always_inline struct file *tw_fd_file(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || !fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	/* bpf_rdonly_cast() would make the file's fields direct loads too,
	 * but bpftool 7.1 cannot link kfunc externs across objects. */
	return f;
}

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

/*
 * Read a kernel struct from its start up to the end of a field at @end_off
 * of @end_size bytes, in ONE bpf_probe_read_kernel(): several fields then
 * cost one helper call instead of one each (~30 ns a call here). Offsets
 * come from CO-RE relocations, constants the verifier knows; @buf holds
 * TW_PEEK_MAX bytes. Returns 0, or -1 when the prefix does not fit or
 * cannot be read.
 */
#define TW_PEEK_MAX 128
static __always_inline int tw_peek(void *buf, const void *obj, __u32 end_off, __u32 end_size)
{
	__u32 n = end_off + end_size;

	if (!obj || n > TW_PEEK_MAX || bpf_probe_read_kernel(buf, n, obj))
		return -1;
	return 0;
}

#define TW_FOFF(type, field) ((__u32)bpf_core_field_offset(type, field))
#define TW_AT(buf, type, field, ctype) (*(ctype *)((char *)(buf) + TW_FOFF(type, field)))

static __always_inline int tw_sock_ident(struct file *file, struct tw_sock_ident *id)
{
	struct socket *sock = BPF_CORE_READ(file, private_data);
	char buf[TW_PEEK_MAX];
	struct sock *sk;

	if (tw_peek(buf, sock, TW_FOFF(struct socket, sk), 8))
		return -1;
	sk = TW_AT(buf, struct socket, sk, struct sock *);
	if (!sk)
		return -1;
	id->sk = (__u64)sk;
	id->sock_type = TW_AT(buf, struct socket, type, short);
	id->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	id->protocol = BPF_CORE_READ(sk, sk_protocol);
	id->ino = BPF_CORE_READ(file, f_inode, i_ino);
	id->pad = 0;
	return 0;
}

/* Local and peer address as the socket knows them now (a datagram socket
 * may be reconnected, a TCP one disconnected with AF_UNSPEC: never
 * cached). The sock_common prefix, both addresses and both ports, is read
 * in one call. */
static __always_inline void tw_sock_fill_id(const struct tw_sock_ident *id,
					    struct tw_sock_info *si)
{
	struct sock *sk = (struct sock *)id->sk;
	struct tw_addr *l = &si->local, *p = &si->peer;
	char buf[TW_PEEK_MAX];

	__builtin_memset(si, 0, sizeof(*si));
	si->sock_type = id->sock_type;
	si->family = id->family;
	si->protocol = id->protocol;
	l->family = p->family = si->family;
	if (si->family == TW_AF_INET || si->family == TW_AF_INET6) {
		if (tw_peek(buf, sk, TW_FOFF(struct sock_common, skc_v6_rcv_saddr) >
				     TW_FOFF(struct sock_common, skc_v6_daddr) ?
				     TW_FOFF(struct sock_common, skc_v6_rcv_saddr) :
				     TW_FOFF(struct sock_common, skc_v6_daddr), 16))
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
	} else if (si->family == TW_AF_UNIX) {
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);

		tw_unix_addr(sk, l);
		if (peer)
			tw_unix_addr(peer, p);
	}
}

static __always_inline void tw_sock_fill(struct file *file, struct tw_sock_info *si)
{
	struct tw_sock_ident id = {};

	if (tw_sock_ident(file, &id)) {
		__builtin_memset(si, 0, sizeof(*si));
		return;
	}
	tw_sock_fill_id(&id, si);
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
	char buf[TW_PEEK_MAX];
	__u64 *d, *l;

	if (id->family == TW_AF_UNIX)
		return (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer) | 1;
	if (tw_peek(buf, sk, TW_FOFF(struct sock_common, skc_v6_rcv_saddr) >
			     TW_FOFF(struct sock_common, skc_v6_daddr) ?
			     TW_FOFF(struct sock_common, skc_v6_rcv_saddr) :
			     TW_FOFF(struct sock_common, skc_v6_daddr), 16))
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

/* State of one capture, walked by bpf_loop. It lives in a map value, not
 * on the stack: the verifier tracks stack scalars exactly, so a loop body
 * that advances them never reaches a state it has seen and verification
 * explodes; map values are just "some u32" and converge at once. */
struct tw_copy {
	__u64 uptr;            /* next user byte of the current segment */
	__u64 seg_left;        /* bytes left in the current segment */
	__u64 iov;             /* user iovec array, 0 for a single buffer */
	__u64 iovcnt;
	__u64 iov_i;
	__u32 want;            /* bytes still to capture */
	__u32 fill;            /* bytes in the chunk being built */
	__u32 base;            /* offset of data[] in the record */
	__u32 chunk_off;       /* capture offset of that chunk */
	__u32 sent;            /* chunks emitted so far */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_copy);
} copy_state SEC(".maps") __weak;

/* bpf_loop() takes only a stack pointer as context; pointers kept in a
 * map value would lose their type, so they travel here. */
struct tw_copy_ctx {
	struct tw_copy *c;
	struct tw_io_event *e; /* the scratch record: base bytes of header, then data */
};

static long tw_copy_step(__u64 i, void *vctx)
{
	struct tw_copy *c = ((struct tw_copy_ctx *)vctx)->c;
	struct tw_io_event *e = ((struct tw_copy_ctx *)vctx)->e;
	__u32 fill, base;
	__u64 n;

	if (c->want && c->seg_left == 0) {
		struct iovec v;

		if (!c->iov || c->iov_i >= c->iovcnt ||
		    bpf_probe_read_user(&v, sizeof(v), (void *)(c->iov + c->iov_i * sizeof(v)))) {
			/* iovecs shorter than the return value, or unreadable */
			e->hdr.flags |= TW_F_READ_FAIL;
			tw_count_drop(TW_DROP_READ_FAIL);
			c->want = 0;
		} else {
			c->iov_i++;
			c->uptr = (__u64)v.iov_base;
			c->seg_left = v.iov_len;
			return 0;
		}
	}
	fill = c->fill;
	base = c->base;
	if (fill >= TW_CAP_CHUNK || base > TW_IO_BASE_MAX)
		return 1;
	if (c->want) {
		n = c->seg_left;
		if (n > c->want)
			n = c->want;
		if (n > TW_CAP_CHUNK - fill)
			n = TW_CAP_CHUNK - fill;
		barrier_var(n);
		if (n > TW_CAP_CHUNK)
			return 1;
		if (bpf_probe_read_user((char *)e + base + fill, n, (void *)c->uptr)) {
			e->hdr.flags |= TW_F_READ_FAIL;
			tw_count_drop(TW_DROP_READ_FAIL);
			c->want = 0;
		} else {
			fill += n;
			c->fill = fill;
			c->uptr += n;
			c->seg_left -= n;
			c->want -= n;
		}
	}
	if (fill < TW_CAP_CHUNK && c->want)
		return 0;
	/* the chunk is full or the capture is complete: send it */
	e->chunk_off = c->chunk_off;
	e->data_len = fill;
	if (!c->want)
		e->hdr.flags |= TW_F_LAST_CHUNK;
	if (fill > TW_CAP_CHUNK)
		return 1;
	tw_emit_as(e, base + fill, c->sent ? TW_DROP_CHUNK_LOST : TW_DROP_RINGBUF_FULL);
	c->sent++;
	c->chunk_off += fill;
	c->fill = 0;
	return c->want ? 0 : 1;
}

static __always_inline __u64 tw_file_id(struct file *f, struct inode *ino)
{
	return ((__u64)f * 0x9E3779B97F4A7C15ull) ^ (__u64)ino ^ tw_id_key;
}

/* Send the path of an open file once; later writes refer to its file_id.
 * Returns TW_F_PATH_SENT when a path record went out just now, 0 when
 * userspace already has it, -1 when it could not be sent. */
static __always_inline int tw_send_path(struct file *f, __u64 file_id)
{
	struct tw_path_event *pe;
	__u64 key = (__u64)f, *seen;
	__u32 n;

	if (tw_path_cache) {
		seen = bpf_map_lookup_elem(&path_seen, &key);
		if (seen && *seen == file_id)
			return 0;
	}
	pe = tw_scratch_get();
	if (!pe)
		return -1;
	tw_fill_hdr(&pe->hdr, TW_EV_FILE_PATH);
	pe->file_id = file_id;
	pe->pad = 0;
	n = tw_read_path(&f->f_path, pe->path, &pe->hdr.flags);
	if (pe->hdr.flags & TW_F_PATH_TRUNC)
		tw_count_drop(TW_DROP_PATH_TRUNC);
	pe->path_len = n;
	if (n > TW_PATH_MAX)
		return -1;
	if (tw_emit_as(pe, sizeof(*pe) + n, TW_DROP_META_LOST))
		return -1;
	if (tw_path_cache)
		bpf_map_update_elem(&path_seen, &key, &file_id, BPF_ANY);
	return TW_F_PATH_SENT;
}

/* ---- file tails (bpf/tokenward.h explains the protocol) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_TAIL_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tw_tail_slot);
} tail_slots SEC(".maps") __weak;

/* Filesystems whose reads return what was written: tailing a file on
 * procfs, sysfs, FUSE or NFS would read something else, so writes there
 * are always copied. */
#define TW_MAGIC_EXT4     0xEF53
#define TW_MAGIC_TMPFS    0x01021994
#define TW_MAGIC_XFS      0x58465342
#define TW_MAGIC_BTRFS    0x9123683E
#define TW_MAGIC_F2FS     0xF2F52010
#define TW_MAGIC_OVERLAY  0x794c7630

static __always_inline int tw_tail_fs_ok(unsigned long magic)
{
	return magic == TW_MAGIC_EXT4 || magic == TW_MAGIC_TMPFS || magic == TW_MAGIC_XFS ||
	       magic == TW_MAGIC_BTRFS || magic == TW_MAGIC_F2FS || magic == TW_MAGIC_OVERLAY;
}

/* Slot index and tag from the file and the writing process. */
static __always_inline __u64 tw_tail_hash(__u64 ino, __u32 dev, __u32 tgid)
{
	return (ino ^ ((__u64)dev << 32) ^ ((__u64)tgid << 14)) * 0x9E3779B97F4A7C15ull;
}
#define TW_TAIL_IDX(h) ((__u32)((h) >> (64 - TW_TAIL_SLOT_BITS)))
#define TW_TAIL_TAG(h) (((h) << TW_TAIL_TAG_SHIFT) & TW_TAIL_TAG_MASK)

/* The slot of this process's run on the file; *h is its hash (the tag). */
static __always_inline struct tw_tail_slot *tw_tail_slot(__u64 ino, __u32 dev, __u32 tgid,
							   __u64 *h, __u32 *idx)
{
	*h = tw_tail_hash(ino, dev, tgid);
	*idx = TW_TAIL_IDX(*h);
	return bpf_map_lookup_elem(&tail_slots, idx);
}

/*
 * The fast path: a write of @ret bytes that ended at file offset @end and
 * continues this process's pending run on the file. One array lookup (the
 * verifier inlines it) and one compare-and-swap; nothing is copied and no
 * record is sent. Returns 1 when the run now covers the write.
 */
static __always_inline int tw_tail_extend(__u64 ino, __u32 dev, __u32 tgid, __u64 end, __u64 ret)
{
	struct tw_tail_slot *s;
	__u64 h, w;
	__u32 idx;

	if (end < ret || end > TW_TAIL_POS_MASK || ret > tw_cap_max)
		return 0;
	s = tw_tail_slot(ino, dev, tgid, &h, &idx);
	if (!s)
		return 0;
	w = TW_TAIL_PEND | TW_TAIL_TAG(h) | (end - ret);
	if (s->word != w || s->ino != ino || s->dev != dev || s->tgid != tgid)
		return 0;
	return __sync_val_compare_and_swap(&s->word, w, TW_TAIL_PEND | TW_TAIL_TAG(h) | end) == w;
}

/*
 * Start a run after this write (which the caller has copied as usual):
 * take the slot (BUSY keeps extenders and other claimers out while its
 * fields are written), send the notice, then publish the run, empty so
 * far: [end, end). The claiming write itself is copied so that a file
 * written once and then renamed or deleted, the common way of writing a
 * config or credentials file, never depends on reading it back.
 */
static __always_inline void tw_tail_claim(const struct tw_io_args *a)
{
	struct tw_tail_event *n;
	struct tw_tail_slot *s;
	struct file *file = (struct file *)a->tail_file;
	__u64 h, w, end, inum;
	__u32 idx, dev, tgid = bpf_get_current_pid_tgid() >> 32;

	end = BPF_CORE_READ(file, f_pos);
	inum = BPF_CORE_READ(file, f_inode, i_ino);
	dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	if (end > TW_TAIL_POS_MASK)
		return;
	s = tw_tail_slot(inum, dev, tgid, &h, &idx);
	if (!s)
		return;
	w = s->word;
	if (w & (TW_TAIL_PEND | TW_TAIL_BUSY))
		return; /* another run holds the slot: this file is copied meanwhile */
	if (__sync_val_compare_and_swap(&s->word, w, TW_TAIL_BUSY) != w)
		return;
	s->ino = inum;
	s->dev = dev;
	s->tgid = tgid;
	n = tw_scratch_get();
	if (!n) {
		__sync_lock_test_and_set(&s->word, 0);
		return;
	}
	tw_fill_hdr(&n->hdr, TW_EV_FILE_TAIL);
	n->file_id = a->tail_file_id;
	n->start = end;
	n->end = end;
	n->ino = inum;
	n->tag = TW_TAIL_TAG(h);
	n->dev = dev;
	n->slot = idx;
	n->fd = a->fd;
	n->syscall = a->syscall;
	n->pad = 0;
	/* No notice, no run: later writes are copied, as before. */
	if (tw_emit_as(n, sizeof(*n), TW_DROP_META_LOST)) {
		__sync_lock_test_and_set(&s->word, 0);
		return;
	}
	__sync_lock_test_and_set(&s->word, TW_TAIL_PEND | TW_TAIL_TAG(h) | end);
}

/* ---- send batches (bpf/tokenward.h explains the protocol) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TW_BATCH_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tw_batch_slot);
} batch_slots SEC(".maps") __weak;

/* Kernel-side mark on a sealing send: the batch was full (bpf only). */
#define TW_BATCH_SEALED_FULL (1u << 31)

/* Slot and tag from the socket's inode number and the sending process.
 * The inode number, not the file id: a socket closed and another opened in
 * the same memory gets the same file id, but a new inode number; and it
 * is a plain field the fast path in write.bpf.c can load directly. */
static __always_inline struct tw_batch_slot *tw_batch_slot(__u64 sock_ino, __u32 tgid, __u64 *tag,
							     __u32 *idx)
{
	__u64 h = (sock_ino ^ ((__u64)tgid << 32)) * 0x9E3779B97F4A7C15ull;

	*idx = (__u32)(h >> (64 - TW_BATCH_SLOT_BITS));
	*tag = (h << TW_BATCH_TAG_SHIFT) & TW_BATCH_TAG_MASK;
	return bpf_map_lookup_elem(&batch_slots, idx);
}

/* Copy @n user bytes to the slot's data at @off; 0 when they are there. */
static __always_inline int tw_batch_copy(struct tw_batch_slot *s, __u64 off, __u64 n, __u64 ubuf)
{
	barrier_var(off);
	barrier_var(n);
	if (off > TW_BATCH_BYTES || n > TW_BATCH_SEND_MAX)
		return -1;
	return bpf_probe_read_user(s->data + off, n, (void *)ubuf) ? -1 : 0;
}

/* The iovec walk of a vectored send's copy into a batch, in a map value
 * for the same reason as struct tw_copy: offsets kept on the stack are
 * tracked exactly, so each unrolled iovec multiplied the verifier's
 * states (40k of tw_write's 80k instructions). */
struct tw_batch_walk {
	__u64 iov;
	__u64 iovcnt;
	__u64 off;  /* where the next iovec's bytes go in the slot's data */
	__u64 left; /* bytes still to copy */
	__u32 fail;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_batch_walk);
} batch_walk SEC(".maps") __weak;

struct tw_batch_walk_ctx {
	struct tw_batch_walk *w;
	struct tw_batch_slot *s;
};

static long tw_batch_iov_step(__u64 i, void *vctx)
{
	struct tw_batch_walk *w = ((struct tw_batch_walk_ctx *)vctx)->w;
	struct tw_batch_slot *s = ((struct tw_batch_walk_ctx *)vctx)->s;
	struct iovec v;
	__u64 k;

	if (!w->left)
		return 1;
	if (i >= w->iovcnt ||
	    bpf_probe_read_user(&v, sizeof(v), (void *)(w->iov + i * sizeof(v)))) {
		w->fail = 1;
		return 1;
	}
	k = v.iov_len < w->left ? v.iov_len : w->left;
	if (k && tw_batch_copy(s, w->off, k, (__u64)v.iov_base)) {
		w->fail = 1;
		return 1;
	}
	w->off += k;
	w->left -= k;
	return 0;
}

/* Copy a send's @n bytes to the slot's data at @off: from one buffer
 * (@ubuf), or from at most TW_BATCH_IOV_MAX iovecs (@iov, @iovcnt; the
 * vectored writev and sendmsg). 0 when all @n are there. */
#define TW_BATCH_IOV_MAX 8
static __always_inline int tw_batch_copy_io(struct tw_batch_slot *s, __u64 off, __u64 n,
					    __u64 ubuf, __u64 iov, __u64 iovcnt)
{
	struct tw_batch_walk_ctx lctx;
	struct tw_batch_walk *w;
	__u32 zero = 0;

	if (ubuf)
		return tw_batch_copy(s, off, n, ubuf);
	w = bpf_map_lookup_elem(&batch_walk, &zero);
	if (!w)
		return -1;
	w->iov = iov;
	w->iovcnt = iovcnt;
	w->off = off;
	w->left = n;
	w->fail = 0;
	lctx.w = w;
	lctx.s = s;
	bpf_loop(TW_BATCH_IOV_MAX, tw_batch_iov_step, &lctx, 0);
	return w->fail || w->left ? -1 : 0;
}

/*
 * Append @n user bytes to this process's open batch on the socket, whose
 * slot word was @w: only when the batch is ours, open, has room, and the
 * socket's addresses are still those of its notice. 1 when appended.
 */
static __always_inline int tw_batch_append(struct tw_batch_slot *s, __u64 w, __u64 tag,
					   __u64 sock_ino, __u32 tgid, __u64 digest,
					   __u64 ubuf, __u64 iov, __u64 iovcnt, __u64 n)
{
	__u64 len = w & TW_BATCH_LEN_MASK;

	if ((w & (TW_BATCH_STATE | TW_BATCH_TAG_MASK)) != (TW_BATCH_PEND | tag) ||
	    s->sock_ino != sock_ino || s->tgid != tgid || len + n > TW_BATCH_BYTES ||
	    digest != s->digest ||
	    __sync_val_compare_and_swap(&s->word, w, TW_BATCH_BUSY | tag | len) != w)
		return 0;
	if (tw_batch_copy_io(s, len, n, ubuf, iov, iovcnt)) {
		__sync_lock_test_and_set(&s->word, w); /* the ring path counts the bad buffer */
		return 0;
	}
	__sync_lock_test_and_set(&s->word, TW_BATCH_PEND | tag | (len + n));
	return 1;
}

/* Open a batch with this send: the slot was free. */
static __always_inline int tw_batch_claim(struct tw_io_args *a, struct tw_batch_slot *s, __u32 idx,
					  __u64 tag, __u64 file_id, __u32 tgid,
					  const struct tw_sock_ident *id)
{
	struct tw_batch_event *n;
	__u64 len = a->ret, digest = tw_sock_digest(id);

	if (!digest || __sync_val_compare_and_swap(&s->word, 0, TW_BATCH_BUSY | tag) != 0)
		return 0;
	s->file_id = file_id;
	s->sock_ino = id->ino;
	s->tgid = tgid;
	s->digest = digest;
	n = tw_scratch_get();
	if (!n || tw_batch_copy_io(s, 0, len, a->buf, a->iov, a->iovcnt)) {
		__sync_lock_test_and_set(&s->word, 0);
		return 0; /* copied through the ring, which counts a bad buffer */
	}
	tw_fill_hdr(&n->hdr, TW_EV_SOCK_BATCH);
	n->file_id = file_id;
	n->tag = tag;
	n->slot = idx;
	n->fd = a->fd;
	n->syscall = a->syscall;
	n->pad[0] = n->pad[1] = n->pad[2] = 0;
	tw_sock_fill_id(id, &n->sock);
	/* No notice, no batch: the send was not captured, like any record
	 * the full ring refuses, and is counted the same way. */
	if (tw_emit(n, sizeof(*n))) {
		__sync_lock_test_and_set(&s->word, 0);
		return 1;
	}
	__sync_lock_test_and_set(&s->word, TW_BATCH_PEND | tag | len);
	return 1;
}

/*
 * A small send on a stream socket: append it to the process's batch on
 * the socket, or open one. Returns 1 when the bytes are in a slot (or
 * counted lost), 0 when they go through the ring as a record of their own;
 * then *sealed is set (slot + 1) if this send sealed the open batch, whose
 * bytes userspace must take first.
 */
static __always_inline int tw_batch_send(struct tw_io_args *a, __u64 file_id,
					 const struct tw_sock_ident *id, __u32 *sealed)
{
	struct tw_batch_slot *s;
	__u32 idx, tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 tag, w, len, n = a->ret;
	int small = (a->buf || (a->iov && a->iovcnt <= TW_BATCH_IOV_MAX &&
				a->syscall != TW_SC_SENDMMSG)) &&
		    !a->tls_buf && n <= TW_BATCH_SEND_MAX && a->syscall != TW_SC_SSL_WRITE;

	s = tw_batch_slot(id->ino, tgid, &tag, &idx);
	if (!s)
		return 0;
	w = s->word;
	if (w == 0)
		return small ? tw_batch_claim(a, s, idx, tag, file_id, tgid, id) : 0;
	if ((w & (TW_BATCH_STATE | TW_BATCH_TAG_MASK)) != (TW_BATCH_PEND | tag) ||
	    s->sock_ino != id->ino || s->tgid != tgid)
		return 0; /* another socket's batch, or ours sealed or being written */
	len = w & TW_BATCH_LEN_MASK;
	if (small && tw_batch_append(s, w, tag, id->ino, tgid, tw_sock_digest(id), a->buf, a->iov,
				     a->iovcnt, n))
		return 1;
	/* Through the ring: seal what is pending so it is read first. A full
	 * batch wakes the reader: until it takes the sealed bytes, every send
	 * on the socket goes through the ring one by one. */
	if (__sync_val_compare_and_swap(&s->word, w, TW_BATCH_SEAL | tag | len) == w)
		*sealed = (idx + 1) | (len + n > TW_BATCH_BYTES ? TW_BATCH_SEALED_FULL : 0);
	return 0;
}

/*
 * Capture one write or send. Regular files and sockets are captured;
 * pipes, ttys and character devices only when tw_cap_other is set, since a
 * token piped between two processes is the use of it, not its exposure,
 * and those are the noisiest fds on a host.
 */
static __noinline int tw_capture(struct tw_io_args *a)
{
	struct tw_io_event *e;
	struct tw_sock_info *si;
	struct tw_copy_ctx lctx;
	struct tw_copy *c;
	struct file *file;
	struct inode *ino;
	struct tw_fd_cache *fc;
	struct tw_fd_slot *slot;
	__u32 mode, type, path_flag = 0, zero = 0, tail = a->tail, sealed = 0;
	__u64 file_id;

	a->tail = 0;
	if (a->ret <= 0)
		return 0;
	c = bpf_map_lookup_elem(&copy_state, &zero);
	if (!c)
		return 0;
	file = tw_fd_file(a->fd);
	if (!file)
		return 0;
	ino = BPF_CORE_READ(file, f_inode);
	fc = bpf_task_storage_get(&fd_cache, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	slot = fc ? &fc->slot[a->fd & (TW_FDC_WAYS - 1)] : NULL;
	if (slot && slot->file == (__u64)file && slot->ino == (__u64)ino) {
		type = slot->type;
		file_id = slot->file_id;
		/* same file and inode, but perhaps a new socket in their memory */
		if (type == TW_EV_SOCK_SEND && slot->sock.sk && slot->sock.sk != tw_inode_sk(ino))
			slot->sock.sk = 0;
	} else {
		__u16 tail_ok = 0;

		mode = BPF_CORE_READ(ino, i_mode) & TW_S_IFMT;
		if (tw_tail_on && mode == TW_S_IFREG)
			tail_ok = tw_tail_fs_ok(BPF_CORE_READ(ino, i_sb, s_magic));
		if (mode == TW_S_IFSOCK)
			type = TW_EV_SOCK_SEND;
		else if (mode == TW_S_IFREG ||
			 (tw_cap_other && (mode == TW_S_IFIFO || mode == TW_S_IFCHR)))
			type = TW_EV_FILE_WRITE;
		else
			type = 0;
		file_id = tw_file_id(file, ino);
		if (slot) {
			slot->file = (__u64)file;
			slot->ino = (__u64)ino;
			slot->file_id = file_id;
			slot->type = type;
			slot->path_ok = 0;
			slot->tail_ok = tail_ok;
			slot->sock.sk = 0;
		}
	}
	if (!type)
		return 0;
	/* Inside SSL_write: the plaintext goes out on this socket; the caller
	 * captures it next, with the same socket's identity. */
	if (type == TW_EV_SOCK_SEND && fc && fc->tls_buf) {
		a->tls_buf = fc->tls_buf;
		a->tls_len = fc->tls_len;
		fc->tls_buf = 0;
	}
	if (type == TW_EV_SOCK_SEND && slot && !slot->sock.sk)
		tw_sock_ident(file, &slot->sock);
	if (type == TW_EV_SOCK_SEND && tw_batch_on && slot && slot->sock.sk &&
	    slot->sock.sock_type == TW_SOCK_STREAM && tw_batch_send(a, file_id, &slot->sock, &sealed))
		return 0;
	if (type == TW_EV_FILE_WRITE && !(slot && slot->path_ok)) {
		int r = tw_send_path(file, file_id);

		if (r > 0)
			path_flag = r;
		if (r >= 0 && slot && tw_path_cache)
			slot->path_ok = 1;
		if (r < 0)
			tail = 0; /* no path, no run: userspace may need it to reopen the file */
	}
	a->tail = 0;
	if (tail && type == TW_EV_FILE_WRITE && slot && slot->tail_ok && a->ret <= tw_cap_max) {
		a->tail = 1;
		a->tail_file = (__u64)file;
		a->tail_file_id = file_id;
	}

	e = tw_scratch_get();
	if (!e)
		return 0;
	tw_fill_hdr(&e->hdr, type);
	e->hdr.flags = path_flag;
	e->file_id = file_id;
	e->total_len = a->ret;
	e->fd = a->fd;
	e->syscall = a->syscall;
	e->msg_index = a->msg_index;
	e->batch_slot = sealed & ~TW_BATCH_SEALED_FULL;
	c->base = sizeof(*e);
	if (type == TW_EV_SOCK_SEND) {
		si = (struct tw_sock_info *)(e + 1);
		if (slot && slot->sock.sk)
			tw_sock_fill_id(&slot->sock, si);
		else
			tw_sock_fill(file, si);
		if (a->addr && si->sock_type != TW_SOCK_STREAM &&
		    !tw_user_addr(a->addr, a->addrlen, &si->peer))
			e->hdr.flags |= TW_F_PEER_ARG;
		c->base += sizeof(*si);
	}
	c->want = a->ret > tw_cap_max ? tw_cap_max : a->ret;
	if ((__u64)a->ret > c->want) {
		e->hdr.flags |= TW_F_CAP_TRUNC;
		tw_count_drop(TW_DROP_CAP_TRUNC);
	}
	e->cap_len = c->want;
	/* Fast path, most writes: one buffer that fits one record. One read,
	 * one output, no loop. */
	if (a->buf && c->want <= TW_CAP_CHUNK) {
		__u32 base = c->base;
		__u64 n = c->want;

		barrier_var(n);
		if (base > TW_IO_BASE_MAX || n > TW_CAP_CHUNK)
			return 0;
		e->chunk_off = 0;
		e->data_len = n;
		e->hdr.flags |= TW_F_LAST_CHUNK;
		if (bpf_probe_read_user((char *)e + base, n, (void *)a->buf)) {
			e->hdr.flags |= TW_F_READ_FAIL;
			tw_count_drop(TW_DROP_READ_FAIL);
			e->data_len = n = 0;
		}
		/* a full batch's seal: the reader takes it at once */
		tw_emit_flags(e, base + n, TW_DROP_RINGBUF_FULL, sealed & TW_BATCH_SEALED_FULL);
		return 0;
	}
	c->uptr = a->buf;
	c->seg_left = a->buf ? c->want : 0;
	c->iov = a->iov;
	c->iovcnt = a->iovcnt;
	c->iov_i = 0;
	c->fill = 0;
	c->chunk_off = 0;
	c->sent = 0;
	lctx.c = c;
	lctx.e = e;
	bpf_loop(TW_IOV_MAX + TW_CAP_LIMIT / TW_CAP_CHUNK + 2, tw_copy_step, &lctx, 0);
	return 0;
}

/* Capture a write or send and, when it carries an SSL_write's ciphertext,
 * the plaintext behind it as a second capture on the same socket. */
static __always_inline int tw_capture_io(struct tw_io_args *a)
{
	tw_capture(a);
	if (a->tail)
		tw_tail_claim(a);
	if (a->tls_buf) {
		struct tw_io_args p = {
			.buf = a->tls_buf, .ret = a->tls_len, .fd = a->fd, .syscall = TW_SC_SSL_WRITE,
		};
		tw_capture(&p);
	}
	return 0;
}

/* The return value of the syscall that is exiting. */
#define TW_RET(ctx) ((ctx)->ret)

#endif /* TW_IO_BPF_H */
