/*
 * Captures: what a process wrote to a file, sent on a socket, or passed to
 * exec, as whole byte strings ready to search.
 *
 * The sensors send raw records (bpf/tokenward.h); this layer turns them
 * into captures:
 *  - a write or send longer than one record (TW_CAP_CHUNK) arrives as
 *    chunks and is reassembled here; a lost chunk ends the capture early
 *    and marks it truncated;
 *  - a file write carries only a file id; the path the kernel resolved
 *    once per open file is looked up here;
 *  - each stream (a tgid's fd onto a file or a stream socket) keeps the
 *    tail of its previous write, handed back as the first `carry` bytes
 *    of data, so a token split across two write() calls is still whole;
 *  - TLS plaintext copied at the library call arrives before the send
 *    that names its socket: it is held (per thread, a bounded table) and
 *    delivered as a send on that socket when the bind record comes;
 *  - exec records become two captures, argv and envp;
 *  - every record updates the process table (user/sensors/proctable.h).
 *
 * Callbacks run synchronously inside capture_feed(); the pointers in a
 * struct capture are valid only during the callback. Nothing here prints
 * content: captured bytes may hold tokens.
 */
#ifndef TW_CAPTURE_H
#define TW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "sensors/proctable.h"
#include "tokenward.h"

enum capture_kind { CAP_FILE_WRITE, CAP_SOCK_SEND, CAP_EXEC_ARGV, CAP_EXEC_ENV };

struct capture {
	enum capture_kind kind;
	const struct tw_hdr *hdr;          /* identity of the writer */
	const struct proc_info *proc;      /* from the process table; may be NULL */
	int fd;                            /* -1 for exec kinds */
	const char *path;                  /* CAP_FILE_WRITE: resolved path; exe path for exec kinds; may be NULL */
	int path_truncated;
	int family, sock_type;             /* CAP_SOCK_SEND: AF_INET/AF_INET6/AF_UNIX, SOCK_STREAM/DGRAM */
	struct sockaddr_storage local, peer; /* peer from the socket, or from sendto's sockaddr */
	const unsigned char *data; size_t len;  /* captured bytes (for exec kinds: NUL-separated argv or envp) */
	size_t carry;                      /* the first `carry` bytes of data are the previous write's tail on this stream */
	uint64_t total_len;                /* bytes the syscall actually wrote/sent (exec: argv/envp length) */
	int truncated;                     /* total_len > captured */
	/* beyond the shared interface */
	int syscall;                       /* enum tw_syscall; 0 for exec kinds */
	int protocol;                      /* IPPROTO_TCP, IPPROTO_UDP, 0 */
	int peer_from_call;                /* peer came from the syscall's sockaddr */
	int from_sweep;                    /* exec kinds: read from /proc at start, not a live exec */
	int read_failed;                   /* part of the buffer was unreadable */
	int read_back;                     /* CAP_FILE_WRITE: read back from the file (a file tail,
					    * user/sensors/filetail.h): the bytes of one or more sequential
					    * writes, total_len of them */
	int batched;                       /* CAP_SOCK_SEND: taken from a send batch (user/sensors/sockbatch.h):
					    * the bytes of one or more small sends */
};

/* connect(): the destination a process asked for. */
struct conn_event {
	const struct tw_hdr *hdr;
	const struct proc_info *proc;      /* may be NULL */
	int fd;
	int ret;                           /* 0 or -EINPROGRESS */
	int family, sock_type, protocol;
	struct sockaddr_storage local, peer;
};

/* Return non-zero to stop the monitor's poll loop. */
typedef int (*capture_fn)(void *ctx, const struct capture *c);
typedef int (*conn_fn)(void *ctx, const struct conn_event *c);

struct capture_opts {
	size_t stream_tail;  /* bytes of a stream's previous write kept as carry (0: off) */
	size_t max_streams;  /* streams remembered (power of two; 0: 4096) */
	size_t path_slots;   /* file paths remembered (power of two; 0: 65536) */
};
#define CAPTURE_TAIL_DEFAULT 1024

struct capture_stats {
	uint64_t records;      /* records fed */
	uint64_t bad_records;  /* malformed: failed validation */
	uint64_t captures[4];  /* delivered, by enum capture_kind */
	uint64_t connects;
	uint64_t chunked;      /* captures reassembled from more than one record */
	uint64_t incomplete;   /* captures cut because a chunk never arrived */
	uint64_t truncated;    /* captures longer than the capture window */
	uint64_t path_misses;  /* file paths not in the cache: read from /proc instead */
	uint64_t carry_cut;    /* the consumer needed more carry than stream_tail holds: a
				* token longer than that across the seam is not found whole */
	/* TLS plaintext copied at the library call, held until its socket is
	 * named (bpf/tokenward.h "TLS plaintext") */
	uint64_t tls_held;        /* early copies taken in */
	uint64_t tls_bound;       /* delivered as sends on the socket a bind named */
	uint64_t tls_unbound;     /* dropped: no bind named them within TLS_HOLD_NS of records,
				   * or the table was full (never sent, or the bind was lost) */
	uint64_t tls_bind_missed; /* a bind named a copy not held (lost to a full ring) */
};

struct capture_ctx;

struct capture_ctx *capture_new(const struct capture_opts *opts, capture_fn fn, conn_fn cfn,
				void *ctx);
void capture_free(struct capture_ctx *cc);

/* Feed one ring buffer record (any type). Returns the callbacks' non-zero
 * return, or 0. Malformed records are counted and skipped. */
int capture_feed(struct capture_ctx *cc, const void *rec, size_t len);

/* Deliver captures still waiting for chunks, marked truncated: all of
 * them (all != 0, at shutdown), or those that got no chunk since the
 * previous call (call it periodically so a lost last chunk does not hold
 * a capture back). */
int capture_flush(struct capture_ctx *cc, int all);

/* Hand a capture built elsewhere (the /proc sweep) to the callback. */
int capture_deliver(struct capture_ctx *cc, const struct capture *c);

/* During a capture callback: the consumer needs only the last @n bytes of
 * this capture carried into the next one on its stream (default: all of
 * stream_tail). Searching the carry again with every small write is most
 * of a reader's work on chatty sockets; the detector knows how much of it
 * can still matter (detector_tail_need()). */
void capture_keep_tail(struct capture_ctx *cc, size_t n);

/* The path the kernel sent for a file id, or NULL when not cached. */
const char *capture_path(struct capture_ctx *cc, uint64_t file_id);

void capture_get_stats(const struct capture_ctx *cc, struct capture_stats *out);

/* Convert a sensor address to a sockaddr; returns its length (0: none). */
socklen_t capture_sockaddr(const struct tw_addr *a, struct sockaddr_storage *out);

#endif
