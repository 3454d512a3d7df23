/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What an fd is: the open file behind it, its class (regular file,
 * socket, pipe or tty, or not captured), its file id, whether userspace
 * has its path, and the per-thread cache that keeps all of this between
 * writes. Who owns what:
 *  - the fd cache (fd_cache) is written only by the thread it belongs to,
 *    from the capture path (tw_fd_class below, capture.bpf.c) and, for its
 *    TLS note, from tls.bpf.c;
 *  - path_seen gets an entry only after the path record made it into the
 *    ring (tw_send_path, fd.bpf.c), so a lost record is sent again.
 */
#ifndef TW_FD_BPF_H
#define TW_FD_BPF_H

#include "common.bpf.h"
#include "sock.bpf.h"
#include "filetail.bpf.h"

#define TW_S_IFMT    00170000
#define TW_S_IFSOCK  0140000
#define TW_S_IFREG   0100000
#define TW_S_IFIFO   0010000
#define TW_S_IFCHR   0020000

/* Open files whose path userspace already has: struct file -> file_id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} path_seen SEC(".maps") __weak;

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
struct tw_tls_note {
	__u64 buf;
	__u64 ts;      /* bpf_ktime_get_ns() at the call's entry */
	__u64 copy_ts; /* hdr.ts_boot_ns of the early copy in the ring */
	__u32 len;
	int fd;        /* the connection's fd when the library says (Go); else -1 */
	__u16 syscall; /* the library function: enum tw_syscall */
	__u16 pad[3];
};
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
	/* TLS: plaintexts this thread handed to a TLS library and has not
	 * sent yet (bpf/tokenward.h "TLS plaintext notes"): tls_n of them
	 * from tls[tls_head], a ring of TW_TLS_NOTES. */
	struct tw_tls_note tls[TW_TLS_NOTES];
	__u32 tls_head;
	__u32 tls_n;
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tw_fd_cache);
} fd_cache SEC(".maps") __weak;

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

static __always_inline __u64 tw_file_id(struct file *f, struct inode *ino)
{
	return ((__u64)f * 0x9E3779B97F4A7C15ull) ^ (__u64)ino ^ tw_id_key;
}

/* A cache slot filled for @file, read from its inode: the capture class
 * (regular files and sockets; pipes, ttys and character devices only when
 * tw_cap_other is set) and whether it may be tailed. */
static __always_inline void tw_fd_slot_fill(struct tw_fd_slot *s, struct file *file,
					    struct inode *ino)
{
	__u32 mode = BPF_CORE_READ(ino, i_mode) & TW_S_IFMT;

	s->tail_ok = 0;
	if (tw_tail_on && mode == TW_S_IFREG)
		s->tail_ok = tw_tail_fs_ok(BPF_CORE_READ(ino, i_sb, s_magic));
	if (mode == TW_S_IFSOCK)
		s->type = TW_EV_SOCK_SEND;
	else if (mode == TW_S_IFREG ||
		 (tw_cap_other && (mode == TW_S_IFIFO || mode == TW_S_IFCHR)))
		s->type = TW_EV_FILE_WRITE;
	else
		s->type = 0;
	s->file = (__u64)file;
	s->ino = (__u64)ino;
	s->file_id = tw_file_id(file, ino);
	s->path_ok = 0;
	s->sock.sk = 0;
}

/*
 * What @fd of the current thread is, in *@out: from the thread's cache
 * when the same file and inode are behind it as last time, else read and
 * cached. Returns the cache slot (to note the path and the socket's
 * identity in), or NULL when the thread has no cache; then *@out is all
 * there is. Returns NULL with out->type 0 when there is nothing to capture.
 */
static __always_inline struct tw_fd_slot *tw_fd_class(int fd, struct tw_fd_cache **fcp,
						       struct tw_fd_slot *out)
{
	struct file *file = tw_fd_file(fd);
	struct tw_fd_cache *fc;
	struct tw_fd_slot *slot;
	struct inode *ino;

	*fcp = NULL;
	out->type = 0;
	if (!file)
		return NULL;
	ino = BPF_CORE_READ(file, f_inode);
	fc = bpf_task_storage_get(&fd_cache, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	*fcp = fc;
	if (!fc) {
		tw_fd_slot_fill(out, file, ino);
		return NULL;
	}
	slot = &fc->slot[fd & (TW_FDC_WAYS - 1)];
	if (slot->file == (__u64)file && slot->ino == (__u64)ino) {
		/* same file and inode, but perhaps a new socket in their memory */
		if (slot->type == TW_EV_SOCK_SEND && slot->sock.sk &&
		    slot->sock.sk != tw_inode_sk(ino))
			slot->sock.sk = 0;
	} else {
		tw_fd_slot_fill(slot, file, ino);
	}
	return slot;
}

/* Send the path of an open file (a struct file *) once; later writes refer
 * to its file_id. Returns TW_F_PATH_SENT when a path record went out just
 * now, 0 when userspace already has it, -1 when it could not be sent.
 * Global (fd.bpf.c): the path walk is verified once per program. */
extern int tw_send_path(__u64 file, __u64 file_id);

#endif /* TW_FD_BPF_H */
