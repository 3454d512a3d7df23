/*
 * Captures to verdicts. Runs on the monitor's single loop thread; the only
 * other threads are the revoker's, which reach the ledger through their own
 * connection (history_sink) so no SQLite handle is shared across threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "verdict/correlate.h"
#include "detect/coverage.h"
#include "detect/detect.h"
#include "ledger/ledger.h"
#include "lib/log.h"
#include "verdict/pipeline.h"
#include "sensors/proctable.h"
#include "detect/redact.h"
#include "revoke/revoke.h"
#include "detect/rules.h"
#include "detect/h2.h"
#include "ledger/handoff.h"
#include "ledger/evstore.h"
#include "verdict/argvmemo.h"
#include "lib/db.h"
#include "lib/cgroup.h"
#include "lib/util.h"
#include "lib/sha256.h"

#define STREAM_SLOTS 4096              /* power of two */
#define TICK_LEDGER_NS (20 * 1000000ull) /* ledger visibility well under 100 ms */
#define MAX_DEFERRED 256
#define ANCESTRY_MAX 64
#define UNMANAGED_SLOTS 1024           /* power of two */
#define UNMANAGED_REPEAT_NS (60 * 1000000000ll)
#define H2_CONNS_MAX 1024               /* connections decoded at once */
#define LEDGER_WATCH_NS 1000000000ull  /* how often the ledger path is checked */
#define LEDGER_MISS_WATCH_NS 5000000ull /* ... and at most this often on a miss */

/* What we learned about a connection from its first bytes. */
struct stream_info {
	uint64_t key;          /* tgid << 32 | fd; 0 = empty */
	uint64_t start_ns;     /* the process's start, against pid reuse */
	char sni[256];
	char host[256];
	struct h2conn *h2;     /* HTTP/2 from this connection's first bytes on */
};

struct pipeline {
	const struct tw_config *cfg;
	int64_t boot_to_real;
	pipeline_emit_fn emit;
	void *emit_ctx;
	struct evstore *store;

	struct ruleset *rules;
	struct detector *det;
	size_t flood_cap;             /* for every detector built here */
	struct ledger *ledger;        /* loop thread: status changes, request drain */
	struct ledger_cache *cache;
	struct revoker *rev;
	struct handoff *handoff;      /* ledger history and queued revocations */
	/* The file those four have open, and whether the path still names it:
	 * a ledger renamed over (a restore, a config tool) is followed. */
	char *ledger_path;
	dev_t ledger_dev;
	ino_t ledger_ino;
	uint64_t ledger_checked_ns;
	uint64_t ledger_reopened;
	int ledger_gone_warned;
	int ledger_wal_stale;         /* the old file's WAL could not be emptied */

	struct stream_info streams[STREAM_SLOTS];
	uint64_t last_tick_ns;

	/* Tokens to mark revoked in the ledger, after the issuer job is queued:
	 * the ledger write (fsync) stays off the path to the issuer. */
	char deferred[MAX_DEFERRED][LEDGER_ID_LEN + 1];
	char deferred_class[MAX_DEFERRED][24];
	int ndeferred;
	struct { char id[LEDGER_ID_LEN + 1]; char *detail; } sightings[MAX_DEFERRED];
	int nsightings;
	uint64_t history_dropped;     /* sightings not recorded on the history */

	/* Unmanaged secrets repeat (a key in a shell's environment is seen at
	 * every exec): one alert per secret, kind and process image a minute. */
	struct { uint64_t key; int64_t at_ns; } recent[UNMANAGED_SLOTS];
	int64_t own_requests[MAX_DEFERRED]; /* revoke requests our own marks queued */
	int nown;

	/* identity: the cgroup id's path (and container), this host */
	struct cgcache *cg;
	char hostname[256], boot_id[40];

	struct h2_stats h2;
	uint64_t h2_open, h2_untracked; /* decoders live; prefaces not followed (over H2_CONNS_MAX) */

	uint64_t captures, bytes, findings, managed, unmanaged, exposures, submitted, dup_skipped;
	uint64_t unmanaged_suppressed;
};

static int ledger_watch(struct pipeline *p, uint64_t now, uint64_t every_ns);

struct scan_ctx {
	struct pipeline *p;
	const struct capture *c;
	const struct stream_info *si;
	const char *view;      /* NULL: the captured bytes; else the decoding ("hpack") */
};

/* ---- process ancestry, from the process table ------------------------ */

static int is_descendant(void *ctx, uint32_t tgid, uint32_t anc, uint64_t anc_start_ns)
{
	const struct proc_info *a;

	(void)ctx;
	if (!proctable_is_descendant(tgid, anc))
		return 0;
	if (!anc_start_ns)
		return 1;
	a = proctable_lookup(anc);
	if (!a)
		return 0;
	/* /proc start times count in clock ticks; the sensors' in ns */
	return a->start_ns + CORRELATE_START_SLACK_NS >= anc_start_ns &&
	       a->start_ns <= anc_start_ns + CORRELATE_START_SLACK_NS;
}

static int has_ancestor_exe(void *ctx, uint32_t tgid, const char *exe)
{
	const struct proc_info *pi = proctable_lookup(tgid);

	(void)ctx;
	for (int i = 0; pi && i < ANCESTRY_MAX; i++) {
		const struct proc_info *parent = proctable_lookup(pi->ppid);

		if (!parent || parent == pi || parent->start_ns > pi->start_ns + CORRELATE_START_SLACK_NS)
			return 0;
		if (parent->exe && !strcmp(parent->exe, exe))
			return 1;
		pi = parent;
	}
	return 0;
}

/* ---- the ledger as the detector's known-token lookup ------------------ */

static int known_token(void *ctx, const unsigned char sha[32], long long *id)
{
	struct pipeline *p = ctx;

	*id = -1;
	return ledger_cache_lookup(p->cache, sha) != NULL;
}

static void refresh_known(struct pipeline *p)
{
	size_t n = 0;
	const uint32_t *lens = ledger_cache_lengths(p->cache, &n);

	if (!p->det)
		return;
	detector_set_known(p->det, known_token, p, lens, n); /* every length: it copies them */
}

/* ---- streams: SNI from a ClientHello, Host from an HTTP request ------- */

static void stream_reset(struct pipeline *p, struct stream_info *s, uint64_t key, uint64_t start_ns)
{
	if (s->h2) {
		h2conn_free(s->h2);
		p->h2_open--;
	}
	memset(s, 0, sizeof(*s));
	s->key = key;
	s->start_ns = start_ns;
}

static struct stream_info *stream_get(struct pipeline *p, uint32_t tgid, int fd, uint64_t start_ns,
				      int create)
{
	uint64_t key = ((uint64_t)tgid << 32) | (uint32_t)fd;
	size_t h = (key * 0x9E3779B97F4A7C15ull) >> 52; /* 12 bits */

	for (size_t i = 0; i < 8; i++) {
		struct stream_info *s = &p->streams[(h + i) & (STREAM_SLOTS - 1)];

		if (s->key == key && s->start_ns == start_ns)
			return s;
		if (create && (s->key == 0 || s->key == key)) {
			stream_reset(p, s, key, start_ns);
			return s;
		}
	}
	if (!create)
		return NULL;
	/* table crowded here: evict the first slot of the probe run */
	struct stream_info *s = &p->streams[h & (STREAM_SLOTS - 1)];
	stream_reset(p, s, key, start_ns);
	return s;
}

static const struct stream_info *stream_learn(struct pipeline *p, const struct capture *c)
{
	struct stream_info *s;
	char name[256];
	const unsigned char *d = c->data + c->carry;
	size_t n = c->len - c->carry;

	if (c->kind != CAP_SOCK_SEND)
		return NULL;
	s = stream_get(p, c->hdr->tgid, c->fd, c->hdr->start_boot_ns, 0);
	/* A datagram socket can change peers per send: learn per send. */
	if (audience_tls_sni(d, n, name, sizeof(name)) == 0) {
		s = stream_get(p, c->hdr->tgid, c->fd, c->hdr->start_boot_ns, 1);
		snprintf(s->sni, sizeof(s->sni), "%s", name);
	} else if (audience_http_host(d, n, name, sizeof(name)) == 0) {
		s = stream_get(p, c->hdr->tgid, c->fd, c->hdr->start_boot_ns, 1);
		snprintf(s->host, sizeof(s->host), "%s", name);
	}
	return s;
}

void pipeline_connect(struct pipeline *p, const struct conn_event *c)
{
	struct stream_info *s = stream_get(p, c->hdr->tgid, c->fd, c->hdr->start_boot_ns, 0);

	if (s)
		stream_reset(p, s, 0, 0);
}

/* ---- one token found ---------------------------------------------------- */

static enum sighting_kind sighting_kind_of(enum capture_kind k)
{
	switch (k) {
	case CAP_FILE_WRITE: return SIGHT_FILE_WRITE;
	case CAP_SOCK_SEND: return SIGHT_NET_SEND;
	case CAP_EXEC_ARGV: return SIGHT_EXEC_ARGV;
	case CAP_EXEC_ENV: default: return SIGHT_EXEC_ENV;
	}
}

static void defer_ledger_revoke(struct pipeline *p, const struct ledger_token *t, const char *cls)
{
	for (int i = 0; i < p->ndeferred; i++)
		if (!strcmp(p->deferred[i], t->id))
			return;
	if (p->ndeferred == MAX_DEFERRED)
		return; /* the ledger catches up on the next sighting */
	snprintf(p->deferred[p->ndeferred], sizeof(p->deferred[0]), "%s", t->id);
	snprintf(p->deferred_class[p->ndeferred], sizeof(p->deferred_class[0]), "%s", cls);
	p->ndeferred++;
}

/* 1 when the same unmanaged secret, in the same kind of sighting by the
 * same program, was reported within the last minute. */
static int unmanaged_repeat(struct pipeline *p, const unsigned char sha[32], int kind,
			    const char *exe, int64_t now_ns)
{
	uint64_t key;
	size_t slot;

	memcpy(&key, sha, sizeof(key));
	key ^= (uint64_t)kind * 0x9E3779B97F4A7C15ull;
	for (const char *c = exe ? exe : ""; *c; c++)
		key = (key ^ (unsigned char)*c) * 0x100000001B3ull;
	key |= 1; /* 0 marks an empty slot */
	slot = (key >> 7) & (UNMANAGED_SLOTS - 1);
	if (p->recent[slot].key == key && now_ns - p->recent[slot].at_ns < UNMANAGED_REPEAT_NS)
		return 1;
	p->recent[slot].key = key;
	p->recent[slot].at_ns = now_ns;
	return 0;
}

/* Every sighting of a managed token goes onto its history (the redacted
 * verdict), written in one transaction per tick, off the path to the issuer. */
static void history_defer(struct pipeline *p, const char *id, const cJSON *verdict)
{
	if (p->nsightings == MAX_DEFERRED) {
		p->history_dropped++;
		return;
	}
	p->sightings[p->nsightings].detail = cJSON_PrintUnformatted(verdict);
	snprintf(p->sightings[p->nsightings].id, sizeof(p->sightings[0].id), "%s", id);
	p->nsightings++;
}

static void history_flush(struct pipeline *p)
{
	sqlite3 *db = ledger_sqlite(p->ledger);
	int in_tx;

	if (!p->nsightings)
		return;
	in_tx = db_begin(db) == SQLITE_OK;
	for (int i = 0; i < p->nsightings; i++) {
		if (ledger_history_add(p->ledger, p->sightings[i].id, "sighting", p->sightings[i].detail))
			p->history_dropped++;
		free(p->sightings[i].detail);
	}
	if (in_tx && db_commit(db) != SQLITE_OK) {
		db_rollback(db);
		p->history_dropped += p->nsightings;
		log_warn("recording %d sightings on the ledger history failed: %s", p->nsightings,
			 sqlite3_errmsg(db));
	}
	p->nsightings = 0;
}

/* The event store's copy of a verdict, with the parent chain up to
 * retention.parent_depth (exe, comm, uid as the process table has them):
 * queued for the store's writer thread, never written here. */
static void store_verdict(struct pipeline *p, const cJSON *o, const struct proc_info *self)
{
	cJSON *parents = cJSON_CreateArray(), *copy = cJSON_Duplicate(o, 1);
	const struct proc_info *pi = self;
	char *argv = self ? argvmemo_redacted(self->tgid, self->start_ns, CORRELATE_START_SLACK_NS) : NULL;

	if (argv)
		cJSON_AddStringToObject(copy, "argv", argv);
	free(argv);

	for (unsigned i = 0; pi && i < p->cfg->retention.parent_depth; i++) {
		const struct proc_info *parent = proctable_lookup(pi->ppid);
		cJSON *e;
		char *safe;

		if (!parent || parent == pi || parent->start_ns > pi->start_ns + CORRELATE_START_SLACK_NS)
			break;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "pid", parent->tgid);
		cJSON_AddNumberToObject(e, "uid", parent->uid);
		safe = redact_text(parent->comm, strlen(parent->comm));
		cJSON_AddStringToObject(e, "comm", safe ? safe : "");
		free(safe);
		safe = parent->exe ? redact_text(parent->exe, strlen(parent->exe)) : NULL;
		if (safe)
			cJSON_AddStringToObject(e, "exe", safe);
		free(safe);
		if ((safe = argvmemo_redacted(parent->tgid, parent->start_ns, CORRELATE_START_SLACK_NS)))
			cJSON_AddStringToObject(e, "argv", safe);
		free(safe);
		cJSON_AddItemToArray(parents, e);
		pi = parent;
	}
	evstore_add_verdict(p->store, copy, parents);
}

/* The ledger's entry for a found token, or NULL: not ours, unless the
 * ledger file was just replaced under us. Found tokens are rare and a
 * refresh that finds nothing new costs a few microseconds: refreshing
 * here means a token minted, completed or revoked a moment ago is judged
 * by its current entry. */
static const struct ledger_token *token_lookup(struct pipeline *p, const unsigned char sha[32])
{
	const struct ledger_token *t;

	if (p->cache && ledger_cache_refresh(p->cache) > 0)
		refresh_known(p);
	t = ledger_cache_lookup(p->cache, sha);
	if (!t && ledger_watch(p, util_now_ns(CLOCK_MONOTONIC), LEDGER_MISS_WATCH_NS))
		t = ledger_cache_lookup(p->cache, sha);
	return t;
}

/* Who, where and when: the sighting correlate() judges. ctr holds the
 * container id it points at. */
static void sighting_fill(const struct scan_ctx *sc, struct sighting *s, char *ctr, size_t ctrsz)
{
	const struct pipeline *p = sc->p;
	const struct capture *c = sc->c;
	const struct proc_info *pi = c->proc;

	s->kind = sighting_kind_of(c->kind);
	s->proc.tgid = c->hdr->tgid;
	s->proc.tid = c->hdr->pid;
	s->proc.ppid = pi ? pi->ppid : c->hdr->ppid;
	s->proc.uid = c->hdr->uid;
	s->proc.comm = pi ? pi->comm : NULL;
	s->proc.exe = (c->kind == CAP_EXEC_ARGV || c->kind == CAP_EXEC_ENV) ? c->path : (pi ? pi->exe : NULL);
	s->proc.cgroup_id = c->hdr->cgroup_id;
	/* the path makes --delegate-cgroup a subtree, and names the container */
	s->proc.cgroup_path = cgcache_path(p->cg, c->hdr->cgroup_id, c->hdr->tgid);
	s->proc.container_runtime = cgroup_container(s->proc.cgroup_path, ctr, ctrsz);
	/* the short id (12 hex) that docker ps, podman and crictl show and
	 * accept: the full 64 hex is shaped like a secret, and redacted as one */
	ctr[12] = 0;
	s->proc.container_id = s->proc.container_runtime ? ctr : NULL;
	s->proc.start_boot_ns = c->hdr->start_boot_ns;
	s->time_ns = (int64_t)c->hdr->ts_boot_ns + p->boot_to_real;
	if (c->kind == CAP_FILE_WRITE)
		s->path = c->path;
	if (c->kind == CAP_SOCK_SEND) {
		s->dest = (const struct sockaddr *)&c->peer;
		s->destlen = sizeof(c->peer);
		if (sc->si) {
			s->sni = sc->si->sni[0] ? sc->si->sni : NULL;
			s->http_host = sc->si->host[0] ? sc->si->host : NULL;
		}
	}
	s->is_descendant = is_descendant;
	s->has_ancestor_exe = has_ancestor_exe;
	s->ctx = sc->p;
}

/* A managed exposure queued at its issuer first: this is the latency that
 * matters. The verdict's action says what became of it. */
static void revoke_submit(struct pipeline *p, const struct ledger_token *t, const struct verdict *v, cJSON *o,
			  const unsigned char *tok, size_t toklen)
{
	char *vj = cJSON_PrintUnformatted(o);
	struct revoke_request req = {
		.token_id = t->id,
		.token_sha256 = t->sha256,
		.issuer = t->issuer,
		.verdict_class = verdict_class_str(v->cls),
		.verdict_json = vj,
		.token = tok,
		.token_len = toklen,
	};
	int r = p->rev ? revoker_submit(p->rev, &req) : -ENOTCONN;

	free(vj);
	if (r == REVOKE_ALERT_ONLY) {
		cJSON_ReplaceItemInObject(o, "action", cJSON_CreateString("alert"));
	} else if (r < 0 || r == REVOKE_FAILED) {
		/* REVOKE_FAILED: kept as a failed job (the revoker said so
		 * loudly), re-armed once the issuer is configured. */
		cJSON_ReplaceItemInObject(o, "action", cJSON_CreateString("revoke_failed"));
		if (r < 0)
			log_error("token %s (sha256:%.12s): revocation could not be queued: %s", t->id, t->sha256,
				  strerror(-r));
	} else {
		if (r == REVOKE_QUEUED)
			p->submitted++;
		else
			p->dup_skipped++;
		defer_ledger_revoke(p, t, verdict_class_str(v->cls));
	}
}

static int on_match(void *vctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct scan_ctx *sc = vctx;
	struct pipeline *p = sc->p;
	const struct ledger_token *t;
	struct sighting s = { 0 };
	struct verdict v;
	char sha[65], shortf[32], ctr[65];
	const char *action;
	cJSON *o;

	(void)len;
	/* Wholly inside the previous write's tail: reported with that write
	 * (a token from a decoded view: where its encoded bytes are). */
	if (!sc->view && m->raw_start + m->raw_len <= sc->c->carry)
		return 0;
	p->findings++;
	t = token_lookup(p, m->sha256);
	sha256_to_hex(m->sha256, sha);
	redact_short(buf + m->start, m->len, shortf, sizeof(shortf));
	sighting_fill(sc, &s, ctr, sizeof(ctr));
	s.rule = m->rule_id;
	s.sha256 = sha;
	s.redacted = shortf;

	correlate(&s, t, &v);
	action = correlate_action(&v, t, s.time_ns);
	if (t)
		p->managed++;
	else
		p->unmanaged++;
	if (v.exposure)
		p->exposures++;
	if (!t && unmanaged_repeat(p, m->sha256, s.kind, s.proc.exe, s.time_ns)) {
		p->unmanaged_suppressed++;
		return 0;
	}
	o = correlate_verdict_json(&s, t, &v, action);
	cJSON_AddStringToObject(o, "hostname", p->hostname);
	cJSON_AddStringToObject(o, "boot_id", p->boot_id);
	if (sc->view || m->decoded) { /* "hpack", "json", "hpack>base64" */
		char chain[64];
		snprintf(chain, sizeof(chain), "%s%s%s", sc->view ? sc->view : "",
			 sc->view && m->decoded ? ">" : "", m->decoded ? m->decoded : "");
		cJSON_AddStringToObject(o, "decoded", chain);
	}
	if (t && !strcmp(action, "revoke"))
		revoke_submit(p, t, &v, o, buf + m->start, m->len);
	if (t)
		history_defer(p, t->id, o);
	if (p->store)
		store_verdict(p, o, sc->c->proc);
	p->emit(p->emit_ctx, o);
	return 0;
}

/* ---- HTTP/2: header blocks decoded and scanned like captured bytes ---- */

static int h2_block(void *vctx, const char *text, size_t len)
{
	struct scan_ctx *sc = vctx;
	struct stream_info *s = (struct stream_info *)sc->si;
	const char *a = text, *end = text + len, *nl;

	/* :authority is HTTP/2's Host: the audience check wants it. */
	for (; a < end && (nl = memchr(a, '\n', end - a)); a = nl + 1) {
		if (nl - a > 12 && !memcmp(a, ":authority: ", 12)) {
			snprintf(s->host, sizeof(s->host), "%.*s", (int)(nl - a - 12), a + 12);
			break;
		}
	}
	return detector_scan(sc->p->det, (const unsigned char *)text, len, on_match, sc);
}

/* A connection that opens with the HTTP/2 preface is followed from then
 * on; one that stops parsing as HTTP/2 is let go (counted in h2.errors). */
static int h2_scan(struct pipeline *p, const struct capture *c, struct stream_info *s)
{
	const unsigned char *d = c->data + c->carry;
	size_t n = c->len - c->carry;
	struct scan_ctx sc = { p, c, NULL, "hpack" };
	int r;

	if (!s || !s->h2) {
		if (c->kind != CAP_SOCK_SEND || n < H2_PREFACE_LEN || !h2_is_preface(d, n))
			return 0;
		if (p->h2_open >= H2_CONNS_MAX) {
			p->h2_untracked++;
			return 0;
		}
		s = s ? s : stream_get(p, c->hdr->tgid, c->fd, c->hdr->start_boot_ns, 1);
		if (!(s->h2 = h2conn_new(&p->h2)))
			return 0;
		p->h2_open++;
	}
	sc.si = s;
	r = c->truncated ? -EMSGSIZE : h2conn_feed(s->h2, d, n, h2_block, &sc);
	if (r < 0) {
		if (r == -EMSGSIZE)
			p->h2.errors++; /* bytes missing: the table would be out of step */
		h2conn_free(s->h2);
		s->h2 = NULL;
		p->h2_open--;
		r = 0;
	}
	return r;
}

int pipeline_capture(struct pipeline *p, const struct capture *c)
{
	struct scan_ctx sc = { p, c, NULL, NULL };
	int r;

	if (!c->len)
		return 0;
	if (p->store)
		argvmemo_note(c);
	p->captures++;
	p->bytes += c->len - c->carry;
	sc.si = stream_learn(p, c);
	/* the carried tail was judged with the write before: its copies of
	 * a repeated secret do not use up this write's reports */
	detector_set_region(p->det, c->carry, c->len);
	/* a cut capture's last token may be cut too: counted, not judged */
	r = c->truncated ? detector_scan_cut(p->det, c->data, c->len, on_match, &sc)
			 : detector_scan(p->det, c->data, c->len, on_match, &sc);
	if (r || c->kind != CAP_SOCK_SEND)
		return r;
	/* stream_learn already looked the stream up; none means none yet */
	return h2_scan(p, c, (struct stream_info *)sc.si);
}

size_t pipeline_tail_need(const struct pipeline *p)
{
	return detector_tail_need(p->det);
}

/* ---- periodic: ledger changes, deferred marks, CLI requests ------------ */

/* The ledger queues a revoke request with every mark, for revocations
 * the CLI asks for; our own marks follow a job already queued. */
static void own_request(void *ctx, int64_t seq, const char *token_id, const char *issuer,
			const char *reason)
{
	struct pipeline *p = ctx;

	(void)token_id, (void)issuer, (void)reason;
	if (p->nown < MAX_DEFERRED)
		p->own_requests[p->nown++] = seq;
}

int pipeline_tick(struct pipeline *p)
{
	uint64_t now = util_now_ns(CLOCK_MONOTONIC);
	int64_t wall = (int64_t)util_now_ns(CLOCK_REALTIME);

	if (!p->ledger) { /* replaced and not reopened yet: keep what is due */
		ledger_watch(p, now, LEDGER_WATCH_NS);
		return 0;
	}
	ledger_set_revoke_hook(p->ledger, own_request, p);
	for (int i = 0; i < p->ndeferred; i++) {
		int r = ledger_revoke(p->ledger, p->deferred[i], p->deferred_class[i], wall);
		if (r && r != -EALREADY)
			log_warn("token %s: marking revoked in the ledger failed: %s",
				 p->deferred[i], ledger_errmsg(p->ledger));
	}
	ledger_set_revoke_hook(p->ledger, NULL, NULL);
	p->ndeferred = 0;
	/* Close them here: handoff_drain() would unseal and submit again. */
	for (int i = 0; i < p->nown; i++)
		ledger_revoke_request_done(p->ledger, p->own_requests[i], "done",
					   "{\"handed_to\":\"revoker\",\"by\":\"monitor\"}");
	p->nown = 0;
	history_flush(p);

	if (now - p->last_tick_ns < TICK_LEDGER_NS)
		return 0;
	p->last_tick_ns = now;
	int r = ledger_cache_refresh(p->cache);
	if (r > 0)
		refresh_known(p);
	else if (r < 0)
		log_warn("ledger cache refresh failed (%d); using the entries already loaded", r);
	handoff_drain(p->handoff, p->ledger);
	ledger_watch(p, now, LEDGER_WATCH_NS);
	return 0;
}

static void pipeline_status(void *ctx, cJSON *o)
{
	struct pipeline *p = ctx;

	cJSON_AddNumberToObject(o, "captures", (double)p->captures);
	cJSON_AddNumberToObject(o, "bytes_scanned", (double)p->bytes);
	cJSON_AddNumberToObject(o, "findings", (double)p->findings);
	cJSON_AddNumberToObject(o, "managed", (double)p->managed);
	cJSON_AddNumberToObject(o, "unmanaged", (double)p->unmanaged);
	cJSON_AddNumberToObject(o, "unmanaged_repeats_suppressed", (double)p->unmanaged_suppressed);
	cJSON_AddNumberToObject(o, "history_not_recorded", (double)p->history_dropped);
	cJSON_AddNumberToObject(o, "exposures", (double)p->exposures);
	cJSON_AddNumberToObject(o, "revocations_queued", (double)p->submitted);
	cJSON_AddNumberToObject(o, "ledger_tokens", (double)ledger_cache_count(p->cache));
	cJSON_AddBoolToObject(o, "ledger_open", p->ledger != NULL);
	cJSON *h2 = cJSON_AddObjectToObject(o, "h2");
	cJSON_AddNumberToObject(h2, "connections", (double)p->h2.connections);
	cJSON_AddNumberToObject(h2, "open", (double)p->h2_open);
	cJSON_AddNumberToObject(h2, "untracked", (double)p->h2_untracked);
	cJSON_AddNumberToObject(h2, "header_blocks", (double)p->h2.blocks);
	cJSON_AddNumberToObject(h2, "fields", (double)p->h2.fields);
	cJSON_AddNumberToObject(h2, "bytes_decoded", (double)p->h2.bytes_decoded);
	cJSON_AddNumberToObject(h2, "frames_skipped", (double)p->h2.frames_skipped);
	cJSON_AddNumberToObject(h2, "blocks_cut", (double)p->h2.blocks_cut);
	cJSON_AddNumberToObject(h2, "errors", (double)p->h2.errors);
	cJSON_AddNumberToObject(o, "ledger_reopened", (double)p->ledger_reopened);
	/* what the detector could not search (detect/coverage.h) */
	struct detect_stats ds;
	detector_stats(p->det, &ds);
	detect_coverage_json(&ds, o);
	detect_views_json(&ds, o);
}

void pipeline_status_fill(struct pipeline *p, cJSON *detection, cJSON *revocation)
{
	if (detection)
		pipeline_status(p, detection);
	if (revocation && p->rev)
		revoker_stats(p->rev, revocation);
}

/* ---- the ledger file: opened, watched, reopened when replaced -------- */

/* The four handles on the ledger file, in the order they depend on each other. */
static int ledger_attach(struct pipeline *p, char *err, size_t errsz)
{
	struct stat st;
	int r;

	/* The monitor creates the ledger so that a later mint is seen. */
	if ((r = ledger_open(p->ledger_path, LEDGER_OPEN_CREATE, &p->ledger, err, errsz)))
		return r;
	/* The monitor's own ledger writes (revocation marks, history lines)
	 * are as durable as the revocation queue (revocation.synchronous).
	 * NORMAL survives kill -9; FULL's fsync per write would sit on the
	 * loop thread between one sighting and the next. The CLI's mints
	 * stay FULL. */
	if (db_synchronous(ledger_sqlite(p->ledger), p->cfg->revocation.sync_full) != SQLITE_OK) {
		snprintf(err, errsz, "%s: cannot set synchronous mode", p->ledger_path);
		return -EIO;
	}
	if ((r = ledger_cache_open(p->ledger_path, LEDGER_OPEN_CREATE, &p->cache, err, errsz)))
		return r;
	refresh_known(p);
	if ((r = revoker_open(p->cfg, p->ledger_path, &p->rev, err, errsz)))
		return r;
	if ((r = handoff_open(p->ledger_path, p->rev, &p->handoff, err, errsz)) ||
	    (r = handoff_synchronous(p->handoff, p->cfg->revocation.sync_full))) {
		if (r == -EIO)
			snprintf(err, errsz, "%s: cannot set synchronous mode", p->ledger_path);
		return r;
	}
	handoff_set_store(p->handoff, p->store);
	if ((r = revoker_start(p->rev))) {
		snprintf(err, errsz, "starting the revocation workers failed: %s", strerror(-r));
		return r;
	}
	if (stat(p->ledger_path, &st) == 0) {
		p->ledger_dev = st.st_dev;
		p->ledger_ino = st.st_ino;
	}
	p->ledger_gone_warned = 0;
	return 0;
}

/* NULL-safe, and every handle is closed before a new one may open the
 * path: SQLite finds a WAL by name, and the old file's would be read as
 * the new one's. */
static void ledger_detach(struct pipeline *p)
{
	if (p->ledger && (p->ndeferred || p->nsightings))
		pipeline_tick(p);
	if (p->rev)
		revoker_close(p->rev);
	ledger_cache_close(p->cache);
	handoff_close(p->handoff);
	ledger_close(p->ledger);
	p->rev = NULL;
	p->cache = NULL;
	p->handoff = NULL;
	p->ledger = NULL;
	refresh_known(p);
}

/*
 * SQLite neither checkpoints nor deletes the WAL of a database file that
 * was renamed or unlinked while open, and it finds a WAL by name: opened
 * as it is, the new file would be read through the old one's WAL. So
 * before letting go, the revoker is stopped and the old WAL is
 * checkpointed into the old file and truncated.
 */
static void ledger_retire(struct pipeline *p)
{
	if (p->ndeferred || p->nsightings)
		pipeline_tick(p);
	revoker_close(p->rev);
	p->rev = NULL;
	p->ledger_wal_stale = db_exec(ledger_sqlite(p->ledger), "PRAGMA wal_checkpoint(TRUNCATE)") !=
			      SQLITE_OK;
	if (p->ledger_wal_stale)
		log_error("ledger %s: the replaced file's WAL (%s-wal) could not be emptied: %s; "
			  "the new file is not opened until that WAL is removed",
			  p->ledger_path, p->ledger_path, sqlite3_errmsg(ledger_sqlite(p->ledger)));
	ledger_detach(p);
}

/* 1 while the old file's WAL is still there with frames in it. */
static int ledger_wal_still_stale(struct pipeline *p)
{
	char wal[4096];
	struct stat st;

	if (!p->ledger_wal_stale)
		return 0;
	snprintf(wal, sizeof(wal), "%s-wal", p->ledger_path);
	if (stat(wal, &st) == 0 && st.st_size > 0)
		return 1;
	p->ledger_wal_stale = 0;
	return 0;
}

static void ledger_reopen(struct pipeline *p, const struct stat *st)
{
	char err[512] = "";

	if (p->ledger) {
		log_warn("ledger %s was replaced (inode %llu, now %llu): reopening it; "
			 "revocations still queued in the old file stay there",
			 p->ledger_path, (unsigned long long)p->ledger_ino,
			 (unsigned long long)st->st_ino);
		ledger_retire(p);
	}
	if (ledger_wal_still_stale(p))
		return;
	if (ledger_attach(p, err, sizeof(err))) {
		log_error("ledger %s: reopening failed: %s; findings are unmanaged until it opens",
			  p->ledger_path, err);
		ledger_detach(p);
		return;
	}
	p->ledger_reopened++;
	log_info("ledger %s reopened: %zu tokens", p->ledger_path, ledger_cache_count(p->cache));
}

/* 1 when the ledger was reopened. */
static int ledger_watch(struct pipeline *p, uint64_t now, uint64_t every_ns)
{
	struct stat st;

	if (now - p->ledger_checked_ns < every_ns)
		return 0;
	p->ledger_checked_ns = now;
	if (stat(p->ledger_path, &st)) {
		if (!p->ledger_gone_warned++)
			log_warn("ledger %s: %s; %s", p->ledger_path, strerror(errno),
				 p->ledger ? "keeping the file already open" : "no ledger open");
		return 0;
	}
	if (p->ledger && st.st_dev == p->ledger_dev && st.st_ino == p->ledger_ino)
		return 0;
	ledger_reopen(p, &st);
	return 1;
}

int pipeline_open(const struct pipeline_opts *o, struct pipeline **out, char *err, size_t errsz)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->cfg = o->cfg;
	p->boot_to_real = o->boot_to_real;
	p->emit = o->emit;
	p->emit_ctx = o->emit_ctx;
	p->store = o->store;
	p->flood_cap = o->flood_cap;
	if (!(p->ledger_path = strdup(o->ledger_path))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = rules_load_builtin(&p->rules, err, errsz)))
		goto fail;
	for (const char *const *d = o->rules_dirs; d && *d; d++)
		if ((r = rules_load_dir(p->rules, *d, err, errsz)))
			goto fail;
	if (!(p->det = detector_new(p->rules, err, errsz))) {
		r = -EINVAL;
		goto fail;
	}
	/* each report is a verdict, an event and maybe a revocation: a
	 * secret repeated in one capture is judged a few times, the rest
	 * counted (detection.repeats_collapsed) */
	detector_set_flags(p->det, DETECT_COLLAPSE_REPEATS);
	detector_set_flood_cap(p->det, p->flood_cap);
	if ((r = ledger_attach(p, err, errsz)))
		goto fail;
	p->ledger_checked_ns = util_now_ns(CLOCK_MONOTONIC);
	if (!(p->cg = cgcache_new(cgroup_v2_root()))) {
		r = -ENOMEM;
		goto fail;
	}
	host_identity(p->hostname, sizeof(p->hostname), p->boot_id, sizeof(p->boot_id));
	*out = p;
	return 0;
fail:
	pipeline_close(p);
	return r ? r : -EINVAL;
}

int pipeline_reload_rules(struct pipeline *p, const char *const *rules_dirs, char *err, size_t errsz)
{
	struct ruleset *rules = NULL;
	struct detector *det;
	int r;

	if ((r = rules_load_builtin(&rules, err, errsz))) {
		rules_free(rules);
		return r;
	}
	for (const char *const *d = rules_dirs; d && *d; d++)
		if ((r = rules_load_dir(rules, *d, err, errsz))) {
			rules_free(rules);
			return r;
		}
	if (!(det = detector_new(rules, err, errsz))) {
		rules_free(rules);
		return -EINVAL;
	}
	detector_set_flags(det, DETECT_COLLAPSE_REPEATS);
	detector_set_flood_cap(det, p->flood_cap);
	detector_free(p->det);
	rules_free(p->rules);
	p->det = det;
	p->rules = rules;
	refresh_known(p);
	return 0;
}

_Static_assert(CONFIG_FLOOD_CAP_DEFAULT == DETECT_FLOOD_CAP_DEFAULT, "one default flood bound");

void pipeline_set_flood_cap(struct pipeline *p, size_t cap)
{
	p->flood_cap = cap;
	detector_set_flood_cap(p->det, cap);
}

void pipeline_close(struct pipeline *p)
{
	if (!p)
		return;
	ledger_detach(p);
	for (size_t i = 0; i < STREAM_SLOTS; i++)
		stream_reset(p, &p->streams[i], 0, 0);
	detector_free(p->det);
	rules_free(p->rules);
	cgcache_free(p->cg);
	free(p->ledger_path);
	free(p);
}
