/*
 * Records to captures: reassembly of chunked writes, the file-path cache,
 * per-stream tails, and the process table updates every record carries.
 * See capture.h for the contract.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include "sensors/capture.h"
#include "sensors/event.h"

#define WAYS 4           /* set-associative caches: 4 slots per set */
#define MAX_PENDING 32   /* chunked captures in flight at once */
#define MAX_HELD 64      /* early TLS copies waiting for their bind */
#define HELD_BYTES_MAX (16u << 20) /* ... and their bytes: any process can make them */
#define TLS_HOLD_NS 1000000000ull /* of record time: well past TW_TLS_NOTE_TTL_NS */
#define IO_HEAD_MAX (sizeof(struct tw_io_event) + sizeof(struct tw_sock_info))

struct path_slot {
	uint64_t file_id;
	uint64_t stamp; /* 0: empty */
	char *path;
	int trunc;
};

struct stream_slot {
	uint64_t file_id;
	uint64_t start_ns;
	uint64_t stamp; /* 0: empty */
	uint32_t tgid;
	int fd;
	size_t tail_len;
	unsigned char *tail;
};

struct pending {
	int used;
	int progressed;    /* a chunk arrived since the last capture_flush() */
	int lost;          /* a chunk went missing: stop appending */
	size_t have;
	unsigned char *buf;
	unsigned char head[IO_HEAD_MAX]; /* the first chunk's fixed part */
};

/* An early TLS copy (TW_F_TLS_EARLY), whole, waiting for its bind. */
struct held {
	int used;
	int incomplete;
	size_t len;
	unsigned char *buf;
	unsigned char head[IO_HEAD_MAX];
};

struct capture_ctx {
	struct capture_opts opts;
	capture_fn fn;
	conn_fn cfn;
	void *ctx;
	uint64_t clock;    /* stamps for least-recently-used eviction */
	struct path_slot *paths;
	struct stream_slot *streams;
	struct pending pend[MAX_PENDING];
	int npending;
	struct held held[MAX_HELD];
	size_t held_bytes;
	uint64_t newest_ns;  /* the latest record time seen: the clock of held copies */
	unsigned char *work; /* carry + data */
	size_t work_size;
	size_t keep_hint;    /* set by the callback through capture_keep_tail() */
	struct capture_stats st;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

struct capture_ctx *capture_new(const struct capture_opts *opts, capture_fn fn, conn_fn cfn,
				void *ctx)
{
	struct capture_ctx *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return NULL;
	if (opts)
		cc->opts = *opts;
	if (!cc->opts.max_streams || (cc->opts.max_streams & (cc->opts.max_streams - 1)))
		cc->opts.max_streams = 4096;
	if (!cc->opts.path_slots || (cc->opts.path_slots & (cc->opts.path_slots - 1)))
		cc->opts.path_slots = 65536;
	if (cc->opts.max_streams < WAYS)
		cc->opts.max_streams = WAYS;
	if (cc->opts.path_slots < WAYS)
		cc->opts.path_slots = WAYS;
	cc->fn = fn;
	cc->cfn = cfn;
	cc->ctx = ctx;
	cc->work_size = cc->opts.stream_tail + TW_CAP_LIMIT;
	cc->paths = calloc(cc->opts.path_slots, sizeof(*cc->paths));
	cc->streams = calloc(cc->opts.max_streams, sizeof(*cc->streams));
	cc->work = malloc(cc->work_size);
	if (!cc->paths || !cc->streams || !cc->work) {
		capture_free(cc);
		return NULL;
	}
	return cc;
}

void capture_free(struct capture_ctx *cc)
{
	if (!cc)
		return;
	if (cc->paths)
		for (size_t i = 0; i < cc->opts.path_slots; i++)
			free(cc->paths[i].path);
	if (cc->streams)
		for (size_t i = 0; i < cc->opts.max_streams; i++)
			free(cc->streams[i].tail);
	for (int i = 0; i < MAX_PENDING; i++)
		free(cc->pend[i].buf);
	for (int i = 0; i < MAX_HELD; i++)
		free(cc->held[i].buf);
	free(cc->paths);
	free(cc->streams);
	free(cc->work);
	free(cc);
}

void capture_get_stats(const struct capture_ctx *cc, struct capture_stats *out)
{
	*out = cc->st;
}

socklen_t capture_sockaddr(const struct tw_addr *a, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	switch (a->family) {
	case AF_INET: {
		struct sockaddr_in *s = (struct sockaddr_in *)out;
		s->sin_family = AF_INET;
		s->sin_port = htons(a->port);
		memcpy(&s->sin_addr, a->in6, 4);
		return sizeof(*s);
	}
	case AF_INET6: {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)out;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(a->port);
		memcpy(&s->sin6_addr, a->in6, 16);
		return sizeof(*s);
	}
	case AF_UNIX: {
		struct sockaddr_un *s = (struct sockaddr_un *)out;
		size_t n = a->len < sizeof(s->sun_path) ? a->len : sizeof(s->sun_path);
		s->sun_family = AF_UNIX;
		memcpy(s->sun_path, a->sun_path, n);
		return offsetof(struct sockaddr_un, sun_path) + n;
	}
	default:
		out->ss_family = a->family;
		return 0;
	}
}

/* ---- file paths, by file id ---- */

static struct path_slot *path_find(struct capture_ctx *cc, uint64_t file_id)
{
	size_t set = (mix64(file_id) & (cc->opts.path_slots - 1)) & ~(size_t)(WAYS - 1);

	for (int w = 0; w < WAYS; w++) {
		struct path_slot *s = &cc->paths[set + w];
		if (s->stamp && s->file_id == file_id) {
			s->stamp = ++cc->clock;
			return s;
		}
	}
	return NULL;
}

static void path_put(struct capture_ctx *cc, uint64_t file_id, const char *path, size_t n,
		     int trunc)
{
	size_t set = (mix64(file_id) & (cc->opts.path_slots - 1)) & ~(size_t)(WAYS - 1);
	struct path_slot *victim = NULL;
	char *copy = strndup(path, n);

	if (!copy)
		return;
	for (int w = 0; w < WAYS; w++) {
		struct path_slot *s = &cc->paths[set + w];
		if (s->stamp && s->file_id == file_id) {
			victim = s;
			break;
		}
		if (!victim || s->stamp < victim->stamp)
			victim = s;
	}
	free(victim->path);
	victim->file_id = file_id;
	victim->path = copy;
	victim->trunc = trunc;
	victim->stamp = ++cc->clock;
}

/* ---- per-stream tails ---- */

static struct stream_slot *stream_get(struct capture_ctx *cc, const struct tw_io_event *e)
{
	uint64_t h = mix64(e->file_id ^ ((uint64_t)e->hdr.tgid << 32 | (uint32_t)e->fd));
	size_t set = (h & (cc->opts.max_streams - 1)) & ~(size_t)(WAYS - 1);
	struct stream_slot *victim = NULL;

	for (int w = 0; w < WAYS; w++) {
		struct stream_slot *s = &cc->streams[set + w];
		if (s->stamp && s->file_id == e->file_id && s->tgid == e->hdr.tgid &&
		    s->fd == e->fd && s->start_ns == e->hdr.start_boot_ns) {
			s->stamp = ++cc->clock;
			return s;
		}
		if (!victim || s->stamp < victim->stamp)
			victim = s;
	}
	if (!victim->tail && !(victim->tail = malloc(cc->opts.stream_tail)))
		return NULL;
	victim->file_id = e->file_id;
	victim->tgid = e->hdr.tgid;
	victim->fd = e->fd;
	victim->start_ns = e->hdr.start_boot_ns;
	victim->tail_len = 0;
	victim->stamp = ++cc->clock;
	return victim;
}

/* ---- early TLS copies, held until their bind ---- */

static int deliver_io(struct capture_ctx *cc, const struct tw_io_event *e,
		      const unsigned char *data, size_t len, int incomplete);
static size_t io_head_len(const struct tw_io_event *e);

static void held_drop(struct capture_ctx *cc, struct held *h)
{
	cc->held_bytes -= h->len;
	free(h->buf);
	h->buf = NULL;
	h->used = 0;
	cc->st.tls_unbound++;
}

/* Drop the copies older than TLS_HOLD_NS of record time (all: every one). */
static void held_expire(struct capture_ctx *cc, int all)
{
	for (int i = 0; i < MAX_HELD; i++) {
		struct held *h = &cc->held[i];
		const struct tw_hdr *hd = (const void *)h->head;

		if (h->used && (all || hd->ts_boot_ns + TLS_HOLD_NS < cc->newest_ns))
			held_drop(cc, h);
	}
}

/* The oldest held copy, or NULL; *freep: a free slot, when there is one. */
static struct held *held_oldest(struct capture_ctx *cc, struct held **freep)
{
	struct held *oldest = NULL;

	*freep = NULL;
	for (int i = 0; i < MAX_HELD; i++) {
		const struct tw_hdr *hd = (const void *)cc->held[i].head;

		if (!cc->held[i].used)
			*freep = &cc->held[i];
		else if (!oldest || hd->ts_boot_ns < ((const struct tw_hdr *)oldest->head)->ts_boot_ns)
			oldest = &cc->held[i];
	}
	return oldest;
}

/* Keep a whole early copy; the oldest give way when the table or its byte
 * budget is full (each counted unbound). */
static int held_put(struct capture_ctx *cc, const struct tw_io_event *e, const unsigned char *data,
		    size_t len, int incomplete)
{
	struct held *h, *oldest;

	if (len > HELD_BYTES_MAX)
		len = HELD_BYTES_MAX, incomplete = 1;
	while ((oldest = held_oldest(cc, &h)) && (!h || cc->held_bytes + len > HELD_BYTES_MAX))
		held_drop(cc, oldest);
	h->buf = malloc(len ? len : 1);
	if (!h->buf) {
		cc->st.tls_unbound++;
		return 0;
	}
	memcpy(h->buf, data, len);
	memcpy(h->head, e, io_head_len(e));
	h->len = len;
	cc->held_bytes += len;
	h->incomplete = incomplete;
	h->used = 1;
	cc->st.tls_held++;
	return 0;
}

/* A bind: each copy it names becomes a send on its socket, in order. */
static int held_bind(struct capture_ctx *cc, const struct tw_tls_bind_event *b)
{
	unsigned char head[IO_HEAD_MAX];
	struct tw_io_event *e = (struct tw_io_event *)head;
	int r;

	proctable_note_hdr(&b->hdr);
	for (unsigned i = 0; i < b->n; i++) {
		struct held *h = NULL;

		for (int k = 0; k < MAX_HELD && !h; k++) {
			const struct tw_hdr *hd = (const void *)cc->held[k].head;

			if (cc->held[k].used && hd->pid == b->hdr.pid && hd->ts_boot_ns == b->ts[i])
				h = &cc->held[k];
		}
		if (!h) {
			cc->st.tls_bind_missed++;
			continue;
		}
		memcpy(head, h->head, sizeof(head));
		e->hdr.flags &= ~TW_F_TLS_EARLY;
		e->fd = b->fd;
		e->file_id = b->file_id;
		memcpy(e + 1, &b->sock, sizeof(b->sock));
		h->used = 0;
		cc->held_bytes -= h->len;
		cc->st.tls_bound++;
		r = deliver_io(cc, e, h->buf, h->len, h->incomplete);
		free(h->buf);
		h->buf = NULL;
		if (r)
			return r;
	}
	return 0;
}

/* ---- delivery ---- */

static int deliver_io(struct capture_ctx *cc, const struct tw_io_event *e,
		      const unsigned char *data, size_t len, int incomplete)
{
	struct capture c = { 0 };
	struct stream_slot *s = NULL;
	char fdpath[4096];
	int r;

	if (e->hdr.type == TW_EV_SOCK_SEND && (e->hdr.flags & TW_F_TLS_EARLY))
		return held_put(cc, e, data, len, incomplete);
	c.kind = e->hdr.type == TW_EV_FILE_WRITE ? CAP_FILE_WRITE : CAP_SOCK_SEND;
	c.hdr = &e->hdr;
	c.proc = proctable_note_hdr(&e->hdr);
	c.fd = e->fd;
	c.syscall = e->syscall;
	c.total_len = e->total_len;
	c.read_failed = (e->hdr.flags & TW_F_READ_FAIL) != 0;
	c.read_back = (e->hdr.flags & TW_F_PAGE_CACHE) != 0;
	c.batched = (e->hdr.flags & TW_F_BATCHED) != 0;
	if (c.kind == CAP_FILE_WRITE) {
		struct path_slot *p = path_find(cc, e->file_id);
		if (p) {
			c.path = p->path;
			c.path_truncated = p->trunc;
		} else {
			/* The path record was lost or evicted: ask /proc, which
			 * may race with a close; cache what it says. */
			char link[64];
			ssize_t n;

			cc->st.path_misses++;
			snprintf(link, sizeof(link), "/proc/%u/fd/%d", e->hdr.tgid, e->fd);
			n = readlink(link, fdpath, sizeof(fdpath) - 1);
			if (n > 0) {
				fdpath[n] = 0;
				c.path = fdpath;
				path_put(cc, e->file_id, fdpath, n, 0);
			}
		}
	} else {
		const struct tw_sock_info *si = (const void *)(e + 1);
		c.family = si->family;
		c.sock_type = si->sock_type;
		c.protocol = si->protocol;
		c.peer_from_call = (e->hdr.flags & TW_F_PEER_ARG) != 0;
		capture_sockaddr(&si->local, &c.local);
		capture_sockaddr(&si->peer, &c.peer);
	}
	c.truncated = incomplete || len < e->total_len;
	if (e->hdr.flags & TW_F_CAP_TRUNC)
		cc->st.truncated++;
	if (incomplete)
		cc->st.incomplete++;

	/* Streams: files and stream sockets. Datagrams stand alone. */
	if (cc->opts.stream_tail && (c.kind == CAP_FILE_WRITE || c.sock_type == SOCK_STREAM))
		s = stream_get(cc, e);
	if (s && s->tail_len && s->tail_len + len <= cc->work_size) {
		memcpy(cc->work, s->tail, s->tail_len);
		memcpy(cc->work + s->tail_len, data, len);
		c.carry = s->tail_len;
		c.data = cc->work;
		c.len = s->tail_len + len;
	} else {
		c.data = data;
		c.len = len;
	}
	cc->st.captures[c.kind]++;
	cc->keep_hint = SIZE_MAX;
	r = cc->fn ? cc->fn(cc->ctx, &c) : 0;
	if (s) {
		/* A cut capture is not followed by the bytes we hold: no seam. */
		if (c.truncated || c.read_failed) {
			s->tail_len = 0;
		} else {
			size_t keep = c.len < cc->opts.stream_tail ? c.len : cc->opts.stream_tail;
			if (cc->keep_hint < keep)
				keep = cc->keep_hint;
			else if (cc->keep_hint != SIZE_MAX && cc->keep_hint > keep && c.len > keep)
				cc->st.carry_cut++;
			memmove(s->tail, c.data + c.len - keep, keep);
			s->tail_len = keep;
		}
	}
	return r;
}

int capture_deliver(struct capture_ctx *cc, const struct capture *c)
{
	cc->st.captures[c->kind]++;
	return cc->fn ? cc->fn(cc->ctx, c) : 0;
}

static int deliver_exec(struct capture_ctx *cc, const struct tw_exec_event *e)
{
	const char *exe = e->path_len ? e->data : NULL;
	struct capture c = { 0 };
	int r;

	if (exe && !memchr(exe, 0, e->path_len))
		exe = NULL;
	c.hdr = &e->hdr;
	c.proc = proctable_note_exec(&e->hdr, exe);
	c.fd = -1;
	c.path = exe;
	c.path_truncated = (e->hdr.flags & TW_F_PATH_TRUNC) != 0;
	c.read_failed = (e->hdr.flags & TW_F_READ_FAIL) != 0;

	c.kind = CAP_EXEC_ARGV;
	c.data = (const unsigned char *)e->data + e->path_len;
	c.len = e->args_len;
	c.total_len = e->args_full_len;
	c.truncated = (e->hdr.flags & TW_F_ARGS_TRUNC) != 0;
	if ((r = capture_deliver(cc, &c)))
		return r;
	c.kind = CAP_EXEC_ENV;
	c.data = (const unsigned char *)e->data + e->path_len + e->args_len;
	c.len = e->env_len;
	c.total_len = e->env_full_len;
	c.truncated = (e->hdr.flags & TW_F_ENV_TRUNC) != 0;
	return capture_deliver(cc, &c);
}

static int deliver_conn(struct capture_ctx *cc, const struct tw_conn_event *e)
{
	struct conn_event c = { 0 };

	c.hdr = &e->hdr;
	c.proc = proctable_note_hdr(&e->hdr);
	c.fd = e->fd;
	c.ret = e->ret;
	c.family = e->sock.family;
	c.sock_type = e->sock.sock_type;
	c.protocol = e->sock.protocol;
	capture_sockaddr(&e->sock.local, &c.local);
	capture_sockaddr(&e->sock.peer, &c.peer);
	cc->st.connects++;
	return cc->cfn ? cc->cfn(cc->ctx, &c) : 0;
}

/* ---- chunk reassembly ---- */

static size_t io_head_len(const struct tw_io_event *e)
{
	return sizeof(*e) + (e->hdr.type == TW_EV_SOCK_SEND ? sizeof(struct tw_sock_info) : 0);
}

static int pending_deliver(struct capture_ctx *cc, struct pending *p, int incomplete)
{
	const struct tw_io_event *e = (const void *)p->head;
	int r;

	cc->st.chunked++;
	p->used = 0;
	cc->npending--;
	r = deliver_io(cc, e, p->buf, p->have, incomplete || p->lost || p->have < e->cap_len);
	free(p->buf);
	p->buf = NULL;
	return r;
}

static int feed_io(struct capture_ctx *cc, const struct tw_io_event *e)
{
	const unsigned char *data = (const unsigned char *)e + io_head_len(e);
	int last = (e->hdr.flags & TW_F_LAST_CHUNK) != 0;
	struct pending *p = NULL, *free_slot = NULL;
	int r = 0;

	/* The common case: one record, nothing of this thread pending. A
	 * file tail's read-back or a send batch is always one record and
	 * arrives out of band (user/sensors/filetail.c, user/sensors/sockbatch.c): it must not
	 * end a capture still taking chunks. */
	if ((e->chunk_off == 0 && last && !cc->npending) ||
	    (e->hdr.flags & (TW_F_PAGE_CACHE | TW_F_BATCHED)))
		return deliver_io(cc, e, data, e->data_len, 0);

	for (int i = 0; i < MAX_PENDING; i++) {
		struct pending *q = &cc->pend[i];
		const struct tw_io_event *h = (const void *)q->head;

		if (!q->used) {
			if (!free_slot)
				free_slot = q;
			continue;
		}
		if (h->hdr.pid != e->hdr.pid)
			continue;
		if (h->hdr.ts_boot_ns == e->hdr.ts_boot_ns && h->msg_index == e->msg_index) {
			p = q;
			continue;
		}
		/* A thread runs one syscall at a time: an older capture of the
		 * same thread will get no more chunks. */
		if ((r = pending_deliver(cc, q, 1)))
			return r;
		if (!free_slot)
			free_slot = q;
	}
	if (!p && e->chunk_off == 0 && last)
		return deliver_io(cc, e, data, e->data_len, 0);
	if (!p) {
		if (e->chunk_off != 0) {
			/* its first chunk was lost (counted in the kernel) */
			cc->st.incomplete++;
			return 0;
		}
		if (!free_slot) { /* every slot busy: make room */
			free_slot = &cc->pend[0];
			if ((r = pending_deliver(cc, free_slot, 1)))
				return r;
		}
		p = free_slot;
		p->buf = malloc(e->cap_len ? e->cap_len : 1);
		if (!p->buf)
			return deliver_io(cc, e, data, e->data_len, 1);
		memcpy(p->head, e, io_head_len(e));
		p->used = 1;
		cc->npending++;
		p->lost = 0;
		p->have = 0;
	}
	p->progressed = 1;
	if (!p->lost) {
		const struct tw_io_event *h = (const void *)p->head;
		if (e->chunk_off != p->have || p->have + e->data_len > h->cap_len)
			p->lost = 1;
		else {
			memcpy(p->buf + p->have, data, e->data_len);
			p->have += e->data_len;
		}
	}
	if (last)
		return pending_deliver(cc, p, 0);
	return 0;
}

int capture_flush(struct capture_ctx *cc, int all)
{
	int r;

	for (int i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &cc->pend[i];
		if (!p->used)
			continue;
		if (all || !p->progressed) {
			if ((r = pending_deliver(cc, p, 1)))
				return r;
		} else {
			p->progressed = 0;
		}
	}
	held_expire(cc, all);
	return 0;
}

int capture_feed(struct capture_ctx *cc, const void *rec, size_t len)
{
	const struct tw_hdr *h = rec;

	cc->st.records++;
	if (event_validate(rec, len)) {
		cc->st.bad_records++;
		return 0;
	}
	if (h->ts_boot_ns > cc->newest_ns)
		cc->newest_ns = h->ts_boot_ns;
	switch (h->type) {
	case TW_EV_EXEC:
		return deliver_exec(cc, rec);
	case TW_EV_FILE_WRITE:
	case TW_EV_SOCK_SEND:
		return feed_io(cc, rec);
	case TW_EV_CONNECT:
		return deliver_conn(cc, rec);
	case TW_EV_FILE_PATH: {
		const struct tw_path_event *p = rec;
		proctable_note_hdr(h);
		path_put(cc, p->file_id, p->path, strnlen(p->path, p->path_len),
			 (h->flags & TW_F_PATH_TRUNC) != 0);
		return 0;
	}
	case TW_EV_FORK:
		proctable_note_fork(rec);
		return 0;
	case TW_EV_EXIT:
		proctable_note_exit(h, h->ts_boot_ns);
		return 0;
	case TW_EV_FILE_TAIL: /* scheduled by user/sensors/filetail.c; its bytes come back as writes */
	case TW_EV_TLS_BIND:
		return held_bind(cc, rec);
	case TW_EV_SOCK_BATCH: /* scheduled by user/sensors/sockbatch.c; its bytes come back as sends */
		proctable_note_hdr(h);
		return 0;
	}
	return 0;
}

void capture_keep_tail(struct capture_ctx *cc, size_t n)
{
	cc->keep_hint = n;
}

const char *capture_path(struct capture_ctx *cc, uint64_t file_id)
{
	struct path_slot *p = path_find(cc, file_id);

	return p ? p->path : NULL;
}
