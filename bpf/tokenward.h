/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Event records shared by the BPF sensors and the userspace controller.
 * Kernel and userspace both include this file, so it uses only fixed-width
 * types and no kernel or libc headers. Every record starts with
 * struct tw_hdr; `type` says which struct follows.
 */
#ifndef TOKENWARD_H
#define TOKENWARD_H

#define TW_COMM_LEN     16
#define TW_PATH_MAX     4096   /* resolved path bytes kept per event */
#define TW_PATH_DEPTH   32     /* dentry components walked before giving up */
#define TW_EXEC_ARGS_MAX 16384 /* argv bytes kept per exec */
#define TW_EXEC_ENV_MAX  16384 /* envp bytes kept per exec */
#define TW_CAP_CHUNK     16384  /* content bytes per record; longer captures are chunked */
#define TW_CAP_DEFAULT   (4u << 20)  /* content bytes captured per write/send by default */
#define TW_CAP_LIMIT     (16u << 20) /* largest --capture-bytes */
/* A capture longer than one chunk takes at most this share of the ring's
 * free room, so as much stays free for other records: what it would take
 * beyond that is cut (TW_DROP_CAP_RING), before the first chunk goes out. */
#define TW_CAP_RING_SHARE_SHIFT 1 /* half of what is free */
#define TW_SUN_PATH_MAX  108

enum tw_event_type {
	TW_EV_EXEC = 1,
	TW_EV_FILE_WRITE,  /* struct tw_io_event: write to a regular file */
	TW_EV_SOCK_SEND,   /* struct tw_io_event + struct tw_sock_info: send on a socket */
	TW_EV_CONNECT,     /* struct tw_conn_event */
	TW_EV_FILE_PATH,   /* struct tw_path_event: the path behind a file_id, sent once per open file */
	TW_EV_FORK,        /* struct tw_fork_event: a new process (not thread) */
	TW_EV_EXIT,        /* struct tw_exit_event: a whole process is gone */
	TW_EV_FILE_TAIL,   /* struct tw_tail_event: a file is being appended to; read it back */
	TW_EV_SOCK_BATCH,  /* struct tw_batch_event: a stream socket's small sends go to a slot */
	TW_EV_TLS_BIND,    /* struct tw_tls_bind_event: TLS plaintexts copied earlier belong to a socket */
	TW_EV_MAP_NEW,     /* struct tw_map_event: a process mapped executable (or exec'd) a file
			    * userspace has not examined for TLS functions; on the tls_ctl ring,
			    * taken by monitor.c, never ingested */
};

/* Which syscall produced an io event. */
enum tw_syscall {
	TW_SC_WRITE = 1,
	TW_SC_PWRITE64,
	TW_SC_WRITEV,
	TW_SC_PWRITEV,
	TW_SC_PWRITEV2,
	TW_SC_SENDTO,
	TW_SC_SENDMSG,
	TW_SC_SENDMMSG,
	/* TLS plaintext, from uprobes (bpf/tls.bpf.c); keep these last */
	TW_SC_SSL_WRITE,    /* OpenSSL's (or BoringSSL's) SSL_write/SSL_write_ex */
	TW_SC_GNUTLS_SEND,  /* GnuTLS's gnutls_record_send */
	TW_SC_GO_TLS_WRITE, /* Go's crypto/tls.(*Conn).Write */
	TW_SC_MAX,
};
#define TW_SC_TLS_FIRST TW_SC_SSL_WRITE

/* Flags on any event: something was cut or could not be read. */
enum tw_event_flags {
	TW_F_PATH_TRUNC  = 1u << 0, /* path longer than TW_PATH_MAX or deeper than TW_PATH_DEPTH */
	TW_F_ARGS_TRUNC  = 1u << 1, /* argv longer than TW_EXEC_ARGS_MAX */
	TW_F_ENV_TRUNC   = 1u << 2, /* envp longer than TW_EXEC_ENV_MAX */
	TW_F_READ_FAIL   = 1u << 3, /* a bpf_probe_read_* failed; content incomplete */
	TW_F_CAP_TRUNC   = 1u << 4, /* io: the syscall wrote more than was captured */
	TW_F_LAST_CHUNK  = 1u << 5, /* io: the last record of this capture */
	TW_F_PATH_SENT   = 1u << 6, /* io: a TW_EV_FILE_PATH for file_id was emitted just before */
	TW_F_PEER_ARG    = 1u << 7, /* io/connect: peer taken from the syscall's sockaddr */
	TW_F_PAGE_CACHE  = 1u << 8, /* io: bytes read back from the file by userspace (file tail) */
	TW_F_BATCHED     = 1u << 9, /* io: bytes taken from a send batch slot by userspace */
	TW_F_TLS_EARLY   = 1u << 10, /* io: TLS plaintext copied at the library call; no socket
				      * yet (fd, file_id, sock zero): a TW_EV_TLS_BIND names it */
};

/* Why an event was dropped or cut; indexes the per-CPU `drops` map. */
enum tw_drop_reason {
	TW_DROP_RINGBUF_FULL = 0, /* ring buffer full: an exec, connect or capture event lost */
	TW_DROP_READ_FAIL,        /* user or kernel memory unreadable */
	TW_DROP_PATH_TRUNC,       /* path cut */
	TW_DROP_ARGS_TRUNC,       /* exec argv/envp cut */
	TW_DROP_CAP_TRUNC,        /* a write/send longer than the capture window */
	TW_DROP_CHUNK_LOST,       /* a later chunk of a capture lost (ring buffer full): capture cut */
	TW_DROP_META_LOST,        /* a path, fork or exit record lost (ring buffer full) */
	TW_DROP_TLS_UNSENT,       /* a TLS plaintext whose ciphertext the thread never sent in time */
	TW_DROP_CAP_RING,         /* a long capture cut to leave the ring room for other records */
	TW_DROP_TLS_UNPROBED,     /* a TLS application-data record sent, no plaintext noted, by a process
				   * whose new executable mappings userspace had not yet read: its TLS
				   * library may not have been probed yet (a first run's miss) */
	TW_DROP_MAX,
};

struct tw_hdr {
	unsigned int type;
	unsigned int flags;
	unsigned long long ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	unsigned int pid;  /* thread id */
	unsigned int tgid; /* process id */
	unsigned int ppid; /* parent's tgid */
	unsigned int uid;
	unsigned long long cgroup_id;
	unsigned long long start_boot_ns; /* process start: tells a reused pid apart */
	char comm[TW_COMM_LEN];
};

/*
 * Exec: emitted from sched_process_exec, after the new image is in place,
 * so a failed execve() never produces one. data[] holds, back to back:
 * the resolved exe path (path_len bytes, NUL-terminated), argv
 * (args_len bytes, NUL-separated), then envp (env_len bytes).
 */
struct tw_exec_event {
	struct tw_hdr hdr;
	unsigned int path_len;
	unsigned int args_len;
	unsigned int env_len;
	unsigned int args_full_len; /* argv length before cutting */
	unsigned int env_full_len;  /* envp length before cutting */
	unsigned int pad;
	char data[];
};

#define TW_EXEC_DATA_MAX (TW_PATH_MAX + TW_EXEC_ARGS_MAX + TW_EXEC_ENV_MAX)

/* A socket address as the sensors see it; port in host order. */
struct tw_addr {
	unsigned short family; /* AF_INET, AF_INET6, AF_UNIX; 0 when unknown */
	unsigned short port;
	unsigned int len;      /* AF_UNIX: bytes of sun_path (abstract names start with NUL) */
	union {
		unsigned char in6[16]; /* AF_INET: the first 4 bytes */
		char sun_path[TW_SUN_PATH_MAX];
	};
};

struct tw_sock_info {
	unsigned short family;
	unsigned short sock_type; /* SOCK_STREAM, SOCK_DGRAM, ... */
	unsigned short protocol;  /* IPPROTO_TCP, IPPROTO_UDP, 0 for unix */
	unsigned short pad;
	struct tw_addr local;
	struct tw_addr peer;      /* from the socket, or the syscall's sockaddr (TW_F_PEER_ARG) */
};

/*
 * A write or send, emitted at syscall exit so only bytes actually written
 * are reported. One syscall's capture may span several records (chunks of
 * at most TW_CAP_CHUNK bytes) sharing hdr.ts_boot_ns, hdr.pid and
 * msg_index; chunk_off places data[] in the capture and the last carries
 * TW_F_LAST_CHUNK. For TW_EV_SOCK_SEND a struct tw_sock_info sits between
 * the fixed part and data[].
 */
struct tw_io_event {
	struct tw_hdr hdr;
	unsigned long long file_id;   /* the open file behind fd; keys TW_EV_FILE_PATH */
	unsigned long long total_len; /* the syscall's return: bytes written or sent */
	unsigned int cap_len;         /* bytes captured for the whole syscall */
	unsigned int chunk_off;       /* where data[] starts in the capture */
	unsigned int data_len;        /* bytes in data[] */
	int fd;
	unsigned short syscall;       /* enum tw_syscall */
	unsigned short msg_index;     /* sendmmsg: which message; else 0 */
	unsigned int batch_slot;      /* slot + 1 when this send sealed a batch (its bytes come first) */
};

struct tw_path_event {
	struct tw_hdr hdr;
	unsigned long long file_id;
	unsigned int path_len; /* bytes of path[] including the NUL */
	unsigned int pad;
	char path[];
};

/* connect(): emitted at exit when it succeeded or is in progress. */
struct tw_conn_event {
	struct tw_hdr hdr;
	int fd;
	int ret;                 /* 0 or -EINPROGRESS */
	struct tw_sock_info sock;
};

/* fork: hdr is the parent; the child is a new thread group. */
struct tw_fork_event {
	struct tw_hdr hdr;
	unsigned int child_tgid;
	unsigned int pad;
	unsigned long long child_start_boot_ns;
};

struct tw_exit_event {
	struct tw_hdr hdr;
	int exit_code;
	unsigned int pad;
};

/*
 * File tails. Sequential writes to a regular file (write/writev at the
 * file position) are not copied by the kernel one by one: the first write
 * claims a slot in the shared, mmapped `tail_slots` array and sends one
 * struct tw_tail_event; every write after it that starts exactly where the
 * last ended only moves the slot's end offset (one compare-and-swap).
 * Userspace, a few milliseconds later, takes the range with its own
 * compare-and-swap and reads those bytes back from the page cache. Writes
 * that do not continue the range are captured the usual way.
 *
 * A slot's `word`: TW_TAIL_PEND | tag | end offset while a range waits to
 * be read; TW_TAIL_BUSY while the kernel is claiming it; 0 when free.
 * Only the kernel sets PEND or BUSY; only userspace clears PEND.
 */
#define TW_TAIL_SLOT_BITS 14
#define TW_TAIL_SLOTS     (1u << TW_TAIL_SLOT_BITS)
#define TW_TAIL_PEND      (1ull << 63)
#define TW_TAIL_BUSY      (1ull << 62)
#define TW_TAIL_TAG_SHIFT 48
#define TW_TAIL_TAG_MASK  (0x3fffull << TW_TAIL_TAG_SHIFT)
#define TW_TAIL_POS_MASK  ((1ull << TW_TAIL_TAG_SHIFT) - 1)

struct tw_tail_slot {
	unsigned long long word;
	unsigned long long ino;
	unsigned int dev;   /* kernel dev_t of the file's superblock */
	unsigned int tgid;  /* the writing process */
	unsigned long long pad;
};

/* A process began a run of sequential writes to a file. hdr is the first
 * writer; the bytes are [start, the slot's end offset) of the file. */
struct tw_tail_event {
	struct tw_hdr hdr;
	unsigned long long file_id;
	unsigned long long start;   /* file offset of the first byte of the run */
	unsigned long long end;     /* offset after the claiming write */
	unsigned long long ino;
	unsigned long long tag;     /* the slot word's tag bits for this run */
	unsigned int dev;           /* kernel dev_t: major << 20 | minor */
	unsigned int slot;          /* index in tail_slots */
	int fd;
	unsigned short syscall;     /* the claiming write's enum tw_syscall */
	unsigned short pad;
};

/*
 * Send batches. Small sends on a stream socket (TCP, unix stream) are not
 * sent through the ring one by one: the first claims a slot in the shared,
 * mmapped `batch_slots` array and sends one struct tw_batch_event (who
 * sends, on which socket, to whom); it and every small send after it on
 * that socket by the same process are appended to the slot's data with a
 * compare-and-swap. Userspace takes the bytes every few milliseconds with
 * its own compare-and-swap, and frees a batch that has gone idle.
 *
 * A slot's `word`: TW_BATCH_PEND | tag | len while the batch is open, with
 * len bytes in data[] not yet taken; TW_BATCH_BUSY | tag | len while the
 * kernel writes data[len..] or fills a claimed slot; TW_BATCH_SEAL | tag |
 * len when a send on the socket could not be appended (too large, the slot
 * full, over 8 iovecs, TLS) and went through the ring instead: that record
 * carries batch_slot, and userspace takes the sealed bytes before it, so
 * the socket's bytes stay in order. 0 when free. Only the kernel sets
 * PEND, BUSY or SEAL; only userspace frees a slot or empties it.
 */
#define TW_BATCH_SLOT_BITS 10
#define TW_BATCH_SLOTS     (1u << TW_BATCH_SLOT_BITS)
#define TW_BATCH_BYTES     4096 /* bytes a batch holds before sends spill to the ring */
#define TW_BATCH_SEND_MAX  1024 /* larger sends always go through the ring */
#define TW_BATCH_PEND      (1ull << 63)
#define TW_BATCH_BUSY      (1ull << 62)
#define TW_BATCH_SEAL      (1ull << 61)
#define TW_BATCH_STATE     (TW_BATCH_PEND | TW_BATCH_BUSY | TW_BATCH_SEAL)
#define TW_BATCH_TAG_SHIFT 32
#define TW_BATCH_TAG_MASK  (0x1fffffffull << TW_BATCH_TAG_SHIFT)
#define TW_BATCH_LEN_MASK  0xffffffffull

struct tw_batch_slot {
	unsigned long long word;
	unsigned long long file_id; /* the socket's open file, as the notice says */
	unsigned long long sock_ino;/* kernel only: the socket inode's number, the batch's key */
	unsigned int tgid;          /* the sending process */
	unsigned int pad;
	unsigned long long digest;  /* kernel only: the socket's addresses when the batch opened */
	/* room for one largest send past the fill limit keeps the kernel's
	 * bounds check a constant */
	unsigned char data[TW_BATCH_BYTES + TW_BATCH_SEND_MAX];
};

/* A process began a batch of sends on a stream socket: hdr is the sender
 * of the first, sock the socket as it was then. The bytes follow in the
 * slot. */
struct tw_batch_event {
	struct tw_hdr hdr;
	unsigned long long file_id;
	unsigned long long tag;     /* the slot word's tag bits for this batch */
	unsigned int slot;          /* index in batch_slots */
	int fd;
	unsigned short syscall;     /* the first send's enum tw_syscall */
	unsigned short pad[3];
	struct tw_sock_info sock;
};

/*
 * TLS plaintext (bpf/tls.bpf.c, bpf/capture.bpf.c). A uprobe at the entry
 * of a TLS library's write function (SSL_write, SSL_write_ex,
 * gnutls_record_send, Go's crypto/tls.(*Conn).Write) copies the plaintext
 * into the ring right there, as a TW_EV_SOCK_SEND capture flagged
 * TW_F_TLS_EARLY (chunked like any capture, up to the capture window): the
 * bytes are the ones the caller passed, even when it reuses the buffer
 * before the ciphertext goes out (node does). It also notes the copy
 * (its hdr.ts_boot_ns), the time and the fd when the library says (Go)
 * in the calling thread's fd cache (task storage; at most TW_TLS_NOTES
 * pending, the oldest overwritten and counted). There is no return probe.
 *
 * The thread's next send on a socket whose bytes begin with a TLS
 * application_data record header (the ciphertext, whether sent inside the
 * call, as OpenSSL's socket BIO does, or just after it, as node's memory
 * BIO and asyncio do) takes every note younger than TW_TLS_NOTE_TTL_NS
 * (and, for a note with an fd, only on that fd) and sends one
 * TW_EV_TLS_BIND naming the copies and the socket: its fd, file id, peer,
 * local address. That ciphertext send is not captured itself. A note no
 * such send takes in time is counted (TW_DROP_TLS_UNSENT) when the next
 * note or send finds it. The same buffer and length noted twice in a row
 * within the TTL is one note and one copy (a wrapper calling the function
 * it wraps; node retrying an SSL_write the handshake held back).
 *
 * Who owns what: only the owning thread reads or writes its notes, from
 * those two points. Userspace (user/sensors/capture.c) holds each early
 * copy, keyed by thread and ts_boot_ns, until its bind arrives, then
 * delivers it as a send on that socket; a copy no bind names within a
 * second of records is dropped and counted (tls_unbound), and a bind
 * naming a copy it does not hold is counted (tls_bind_missed): the copy
 * was lost to a full ring, counted there too.
 */
#define TW_TLS_NOTES        4
#define TW_TLS_NOTE_TTL_NS  (100 * 1000000ull)

/* The socket a thread's early TLS copies went out on: hdr is the sending
 * thread (hdr.pid matches the copies'), ts[] the copies' hdr.ts_boot_ns. */
struct tw_tls_bind_event {
	struct tw_hdr hdr;
	unsigned long long file_id;   /* the socket's open file */
	int fd;
	unsigned short syscall;       /* the ciphertext send's enum tw_syscall */
	unsigned short n;             /* copies named in ts[] */
	unsigned int batch_slot;      /* slot + 1 when this send sealed a batch (its bytes,
				       * the handshake's, come first), as in tw_io_event */
	unsigned int pad;
	unsigned long long ts[TW_TLS_NOTES];
	struct tw_sock_info sock;
};

/*
 * The first run of a TLS library new to the monitor (bpf/mmap.bpf.c,
 * user/sensors/tlsattach.c). Userspace puts every file it has examined for
 * TLS functions into tls_known (kernel dev_t and inode). An executable
 * mapping of any other file marks its process unsettled (tls_unsettled,
 * by tgid) and sends a TW_EV_MAP_NEW, at which userspace reads the
 * process's maps at once and attaches. When a read found every mapping
 * examined, userspace settles the process: grace_until = now + the note
 * TTL (an SSL_write entered just before its probe went in is still sent
 * within it); after that the entry is deleted by the next send that
 * finds it or by the exit. A send by an unsettled process, with no note
 * pending, that starts a TLS application-data record of at least
 * TW_TLS_UNPROBED_MIN bytes is counted (TW_DROP_TLS_UNPROBED, and unseen):
 * its plaintext may have gone through a library not yet probed.
 */
#define TW_TLS_UNSETTLED_MAX 16384
#define TW_TLS_KNOWN_MAX     16384
/* A TLS 1.3 record of 1 plaintext byte is 23 bytes, an encrypted alert
 * (close_notify) 24: neither can hold a token. A TLS 1.3 client's Finished
 * is a record of type 23 too: 58 bytes (SHA-256 suites) or 74 (SHA-384),
 * sent alone by a stack without the middlebox-compatible CCS before it
 * (GnuTLS): a send of exactly that size is not counted either (it could
 * hold 36 or 52 bytes of plaintext). */
#define TW_TLS_UNPROBED_MIN  40
#define TW_TLS13_FINISHED_256 58
#define TW_TLS13_FINISHED_384 74

struct tw_file_key {
	unsigned long long dev; /* the kernel's dev_t: major << 20 | minor */
	unsigned long long ino;
};

struct tw_unsettled {
	unsigned long long flag_ts;     /* bpf_ktime_get_ns() of the last unknown mapping */
	unsigned long long grace_until; /* 0: unsettled; else settled, counted until then */
	unsigned long long unseen;      /* TLS records counted for this process */
	unsigned long long reported;    /* unseen as userspace last reported it */
};

struct tw_map_event {
	struct tw_hdr hdr;
	struct tw_file_key file;
};

#endif /* TOKENWARD_H */
