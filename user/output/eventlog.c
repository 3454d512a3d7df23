/* The event stream of `tokenward run` (see eventlog.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "lib/safefile.h"
#include "output/eventlog.h"
#include "sensors/event.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_HITS_PER_LITERAL 8
#define SINK_BUF_MAX (4u << 20)      /* written out early past this */
#define SINK_WARN_NS 10000000000ull  /* one warning per sink per 10 s */

/*
 * One sink. Lines gather in buf and go out with one write() per flush
 * (the loop flushes every pass), so a failed write is seen, not buried in
 * stdio: the lines it held are counted as lost, a regular file is cut
 * back to its last whole line, and the next flush tries again, so a sink
 * that was full resumes once there is room.
 */
struct sink {
	char *path;           /* owned: the config it came from may be replaced by a reload */
	int fd;
	int regular;
	char *buf;
	size_t len, cap;
	uint64_t lines;       /* lines in buf */
	uint64_t lost;        /* lines never written */
	uint64_t lost_warned; /* lost at the last warning */
	uint64_t warned_ns;
	int broken;           /* a pipe took part of a line: start with a newline */
	uint64_t size;        /* a regular file's size, as far as we wrote it */
	uint64_t max_size;    /* rotate before a write would pass it; 0: never */
	int keep;             /* rotated files kept: PATH.1 .. PATH.keep */
	uint64_t rotations, rotate_failures, retry_at;
};

struct eventlog {
	struct eventlog_opts o;
	struct sink sinks[EVENTLOG_MAX_SINKS];
	int nsinks;
	size_t literal_len[EVENTLOG_MAX_LITERALS];
	size_t literal_max;
	cJSON *exec_hits;    /* hits of the exec record being handled */
	uint64_t lines;
	uint64_t lost_closed; /* lines lost by sinks a reload closed */
	uint64_t rotations_closed, rotate_failures_closed;
};

static int sink_open(struct sink *k, const char *path, char *err, size_t errsz)
{
	char msg[512];
	struct stat st;

	if (!(k->path = strdup(path))) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	/* Never through a link, never into a file with other hard links;
	 * /dev/null is fine. */
	k->fd = strcmp(path, "-") ? safefile_open_append(path, SAFEFILE_DEVICE, 0600, msg, sizeof(msg))
				  : dup(STDOUT_FILENO);
	if (k->fd < 0) {
		int r = strcmp(path, "-") ? k->fd : -errno;

		if (strcmp(path, "-"))
			snprintf(err, errsz, "cannot open events output: %s", msg);
		else
			snprintf(err, errsz, "cannot use standard output: %s", strerror(errno));
		free(k->path);
		k->path = NULL;
		return r;
	}
	k->regular = !fstat(k->fd, &st) && S_ISREG(st.st_mode);
	k->size = k->regular ? (uint64_t)st.st_size : 0;
	return 0;
}

/*
 * Size-based rotation, before a write that would take a regular file
 * past max_size: PATH moves to PATH.1 (older ones up to PATH.keep,
 * safefile_rotate: names only, never through a link) and a new PATH is
 * opened the way every sink is. Called with whole lines in buf, so no
 * line is split across two files and none is lost. A file that cannot
 * be rotated is written on as it is (counted, warned once), and tried
 * again after another max_size/4 bytes.
 */
static void sink_rotate_due(struct sink *k)
{
	struct sink fresh = { 0 };
	char err[512];
	int r;

	if (!k->max_size || !k->regular || !k->size || k->size + k->len <= k->max_size ||
	    k->size < k->retry_at)
		return;
	if ((r = safefile_rotate(k->path, k->keep, err, sizeof(err))) == 0)
		r = sink_open(&fresh, k->path, err, sizeof(err));
	if (r) {
		if (!k->rotate_failures++)
			log_warn("events output %s: cannot rotate: %s; writing on to the file as it is", k->path, err);
		k->retry_at = k->size + k->max_size / 4;
		return;
	}
	free(fresh.path);
	close(k->fd);
	k->fd = fresh.fd;
	k->regular = fresh.regular;
	k->size = fresh.size;
	k->retry_at = 0;
	k->rotations++;
}

int eventlog_open(const struct eventlog_opts *o, struct eventlog **out, char *err, size_t errsz)
{
	struct eventlog *el = calloc(1, sizeof(*el));
	int r;

	*out = NULL;
	if (!el) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	el->o = *o;
	for (int i = 0; i < o->nliterals; i++) {
		el->literal_len[i] = strlen(o->literals[i]);
		if (el->literal_len[i] > el->literal_max)
			el->literal_max = el->literal_len[i];
	}
	for (int i = 0; i < o->npaths; i++) {
		if ((r = sink_open(&el->sinks[i], o->paths[i], err, errsz))) {
			eventlog_close(el);
			return r;
		}
		el->nsinks++;
		el->sinks[i].max_size = o->max_size;
		el->sinks[i].keep = o->keep;
	}
	*out = el;
	return 0;
}

static void sink_lose(struct sink *k, int e)
{
	uint64_t now = util_now_ns(CLOCK_MONOTONIC);

	k->lost += k->lines;
	k->lines = 0;
	k->len = 0;
	if (k->lost > k->lost_warned && (!k->warned_ns || now - k->warned_ns >= SINK_WARN_NS)) {
		log_warn("events output %s: %s: %llu event lines lost (total %llu)", k->path,
			 strerror(e), (unsigned long long)(k->lost - k->lost_warned),
			 (unsigned long long)k->lost);
		k->lost_warned = k->lost;
		k->warned_ns = now;
	}
}

/* Everything in buf, or nothing: a regular file is cut back to where the
 * failed write began, so it holds only whole lines. */
static void sink_flush(struct sink *k)
{
	off_t start = 0;
	size_t done = 0;

	if (!k->len)
		return;
	sink_rotate_due(k);
	if (k->regular)
		start = lseek(k->fd, 0, SEEK_END);
	if (k->broken && !k->regular) {
		if (write(k->fd, "\n", 1) != 1) {
			sink_lose(k, errno);
			return;
		}
		k->broken = 0;
	}
	while (done < k->len) {
		ssize_t w = write(k->fd, k->buf + done, k->len - done);

		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (done && k->regular && start >= 0 && ftruncate(k->fd, start) == 0)
			done = 0;
		k->broken = done > 0;
		k->size += done;
		sink_lose(k, w < 0 ? errno : EIO);
		return;
	}
	k->size += k->len;
	k->len = 0;
	k->lines = 0;
}

static void sink_put(struct sink *k, const char *line, size_t n)
{
	if (k->len + n + 1 > k->cap) {
		size_t cap = k->cap ? k->cap : 65536;
		char *b;

		if (k->len + n + 1 > SINK_BUF_MAX)
			sink_flush(k);
		while (cap < k->len + n + 1)
			cap *= 2;
		if (cap > k->cap) {
			if (!(b = realloc(k->buf, cap))) {
				k->lost++;
				return;
			}
			k->buf = b;
			k->cap = cap;
		}
	}
	memcpy(k->buf + k->len, line, n);
	k->buf[k->len + n] = '\n';
	k->len += n + 1;
	k->lines++;
}

void eventlog_emit(struct eventlog *el, cJSON *o)
{
	char *line = cJSON_PrintUnformatted(o);
	size_t n;

	cJSON_Delete(o);
	if (!line) {
		for (int i = 0; i < el->nsinks; i++)
			el->sinks[i].lost++;
		return;
	}
	n = strlen(line);
	for (int i = 0; i < el->nsinks; i++)
		sink_put(&el->sinks[i], line, n);
	free(line);
	el->lines++;
}

/* Hits of one literal, appended to *arr. */
static void literal_find(struct eventlog *el, int i, const struct capture *c, const char *where,
			 cJSON **arr)
{
	const unsigned char *p = c->data, *end = c->data + c->len;
	size_t n = el->literal_len[i];

	for (int hits = 0; p < end && hits < MAX_HITS_PER_LITERAL;) {
		const unsigned char *m = memmem(p, end - p, el->o.literals[i], n);
		long long off;
		cJSON *h;

		if (!m)
			break;
		p = m + 1;
		if ((size_t)(m - c->data) + n <= c->carry)
			continue;
		off = (long long)(m - c->data) - (long long)c->carry;
		h = cJSON_CreateObject();
		cJSON_AddNumberToObject(h, "index", i);
		cJSON_AddNumberToObject(h, "offset", (double)off);
		if (off < 0)
			cJSON_AddBoolToObject(h, "seam", 1);
		if (where)
			cJSON_AddStringToObject(h, "in", where);
		if (!*arr)
			*arr = cJSON_CreateArray();
		cJSON_AddItemToArray(*arr, h);
		hits++;
	}
}

/*
 * Where the watched literals sit in a capture. Offsets are relative to the
 * syscall's own buffer: a hit that starts in the carried tail of the
 * previous write has a negative offset and "seam":true. Hits wholly inside
 * the carry were reported with the previous write and are skipped.
 */
static cJSON *literal_hits(struct eventlog *el, const struct capture *c, const char *where)
{
	cJSON *arr = NULL;

	for (int i = 0; i < el->o.nliterals; i++)
		literal_find(el, i, c, where, &arr);
	return arr;
}

void eventlog_capture(struct eventlog *el, const struct capture *c)
{
	int exec_kind = c->kind == CAP_EXEC_ARGV || c->kind == CAP_EXEC_ENV;
	const char *where = exec_kind ? (c->kind == CAP_EXEC_ARGV ? "argv" : "env") : NULL;
	cJSON *hits = el->o.nliterals ? literal_hits(el, c, where) : NULL;
	cJSON *o, *h;

	/* A live exec is printed from its record, with these hits attached. */
	if (exec_kind && !c->from_sweep) {
		if (hits && !el->exec_hits)
			el->exec_hits = cJSON_CreateArray();
		while (hits && (h = cJSON_DetachItemFromArray(hits, 0)))
			cJSON_AddItemToArray(el->exec_hits, h);
		cJSON_Delete(hits);
		return;
	}
	if (!el->o.trace_io) {
		cJSON_Delete(hits);
		return;
	}
	o = event_capture_to_json(c, el->o.boot_to_real);
	if (hits)
		cJSON_AddItemToObject(o, "literals", hits);
	eventlog_emit(el, o);
}

void eventlog_connect(struct eventlog *el, const struct conn_event *c)
{
	if (el->o.trace_io)
		eventlog_emit(el, event_conn_to_json(c, el->o.boot_to_real));
}

void eventlog_record(struct eventlog *el, const void *rec, size_t len)
{
	const struct tw_hdr *h = rec;
	cJSON *o;

	if (h->type == TW_EV_EXEC && (o = event_to_json(rec, len, el->o.boot_to_real))) {
		if (el->exec_hits)
			cJSON_AddItemToObject(o, "literals", el->exec_hits);
		el->exec_hits = NULL;
		eventlog_emit(el, o);
	}
	cJSON_Delete(el->exec_hits);
	el->exec_hits = NULL;
}

size_t eventlog_literal_max(const struct eventlog *el)
{
	return el->literal_max;
}

uint64_t eventlog_count(const struct eventlog *el)
{
	return el->lines;
}

uint64_t eventlog_lost(const struct eventlog *el)
{
	uint64_t n = el ? el->lost_closed : 0;

	for (int i = 0; el && i < el->nsinks; i++)
		n += el->sinks[i].lost;
	return n;
}

int eventlog_reopen(struct eventlog *el)
{
	int failed = 0;

	for (int i = 0; i < el->nsinks; i++) {
		struct sink *k = &el->sinks[i], fresh = { 0 };
		char err[512];

		if (!strcmp(k->path, "-"))
			continue;
		sink_flush(k); /* what is due goes to the file being rotated out */
		if (sink_open(&fresh, k->path, err, sizeof(err))) {
			log_warn("%s; writing on to the file already open", err);
			failed++;
			continue;
		}
		free(fresh.path);
		close(k->fd);
		k->fd = fresh.fd;
		k->regular = fresh.regular;
		k->size = fresh.size;
		k->broken = 0;
	}
	return failed ? -EIO : 0;
}

struct eventlog_next {
	struct sink sinks[EVENTLOG_MAX_SINKS];
	int keep[EVENTLOG_MAX_SINKS];   /* index of the running sink kept, or -1: opened here */
	int n, changed;
};

static int find_sink(const struct eventlog *el, const struct eventlog_next *n, const char *path)
{
	for (int i = 0; i < el->nsinks; i++) {
		int claimed = 0;

		for (int k = 0; k < n->n; k++)
			claimed |= n->keep[k] == i;
		if (!claimed && !strcmp(el->sinks[i].path, path))
			return i;
	}
	return -1;
}

int eventlog_prepare(const struct eventlog *el, const char *const *paths, int npaths,
		     struct eventlog_next **out, char *err, size_t errsz)
{
	struct eventlog_next *n = calloc(1, sizeof(*n));
	int r;

	*out = NULL;
	if (!n) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < npaths && i < EVENTLOG_MAX_SINKS; i++, n->n++) {
		n->keep[i] = find_sink(el, n, paths[i]);
		n->changed |= n->keep[i] != i;
		if (n->keep[i] < 0 && (r = sink_open(&n->sinks[i], paths[i], err, errsz))) {
			eventlog_abort(n);
			return r;
		}
		n->sinks[i].max_size = el->o.max_size;
		n->sinks[i].keep = el->o.keep;
	}
	n->changed |= n->n != el->nsinks;
	*out = n;
	return 0;
}

int eventlog_next_changed(const struct eventlog_next *n)
{
	return n->changed;
}

static void sink_close(struct eventlog *el, struct sink *k)
{
	if (el)
		sink_flush(k);
	if (k->fd >= 0)
		close(k->fd);
	if (el) {
		el->lost_closed += k->lost;
		el->rotations_closed += k->rotations;
		el->rotate_failures_closed += k->rotate_failures;
	}
	free(k->buf);
	free(k->path);
}

void eventlog_commit(struct eventlog *el, struct eventlog_next *n)
{
	struct sink next[EVENTLOG_MAX_SINKS];
	int kept[EVENTLOG_MAX_SINKS] = { 0 };

	for (int i = 0; i < n->n; i++) {
		if (n->keep[i] >= 0)
			kept[n->keep[i]] = 1;
		next[i] = n->keep[i] >= 0 ? el->sinks[n->keep[i]] : n->sinks[i];
	}
	/* a sink the new config drops gets what is due, then is closed */
	for (int i = 0; i < el->nsinks; i++)
		if (!kept[i])
			sink_close(el, &el->sinks[i]);
	memcpy(el->sinks, next, sizeof(next[0]) * n->n);
	el->nsinks = n->n;
	free(n);
}

void eventlog_abort(struct eventlog_next *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->n; i++)
		if (n->keep[i] < 0 && n->sinks[i].path)
			sink_close(NULL, &n->sinks[i]);
	free(n);
}

void eventlog_set_rotation(struct eventlog *el, uint64_t max_size, int keep)
{
	el->o.max_size = max_size;
	el->o.keep = keep;
	for (int i = 0; i < el->nsinks; i++) {
		el->sinks[i].max_size = max_size;
		el->sinks[i].keep = keep;
		el->sinks[i].retry_at = 0;
	}
}

void eventlog_rotation_status(const struct eventlog *el, uint64_t *rotations, uint64_t *failures)
{
	*rotations = el->rotations_closed;
	*failures = el->rotate_failures_closed;
	for (int i = 0; i < el->nsinks; i++) {
		*rotations += el->sinks[i].rotations;
		*failures += el->sinks[i].rotate_failures;
	}
}

void eventlog_flush(struct eventlog *el)
{
	for (int i = 0; i < el->nsinks; i++)
		sink_flush(&el->sinks[i]);
}

void eventlog_close(struct eventlog *el)
{
	if (!el)
		return;
	cJSON_Delete(el->exec_hits);
	for (int i = 0; i < el->nsinks; i++) {
		struct sink *k = &el->sinks[i];

		sink_flush(k);
		if (k->lost > k->lost_warned) /* the last word on what was lost */
			log_warn("events output %s: %llu event lines lost in all", k->path,
				 (unsigned long long)k->lost);
		close(k->fd);
		free(k->buf);
		free(k->path);
	}
	free(el);
}
