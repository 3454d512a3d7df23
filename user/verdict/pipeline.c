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
#include "ledger/handoff.h"
#include "lib/db.h"
#include "lib/util.h"
#include "lib/sha256.h"

#define STREAM_SLOTS 4096              /* power of two */
#define TICK_LEDGER_NS (20 * 1000000ull) /* ledger visibility well under 100 ms */
#define MAX_DEFERRED 256
#define ANCESTRY_MAX 64
#define UNMANAGED_SLOTS 1024           /* power of two */
#define UNMANAGED_REPEAT_NS (60 * 1000000000ll)

/* What we learned about a connection from its first bytes. */
struct stream_info {
	uint64_t key;          /* tgid << 32 | fd; 0 = empty */
	uint64_t start_ns;     /* the process's start, against pid reuse */
	char sni[256];
	char host[256];
};

struct pipeline {
	const struct tw_config *cfg;
	int64_t boot_to_real;
	pipeline_emit_fn emit;
	void *emit_ctx;

	struct ruleset *rules;
	struct detector *det;
	struct ledger *ledger;        /* loop thread: status changes, request drain */
	struct ledger_cache *cache;
	struct revoker *rev;
	struct handoff *handoff;      /* ledger history and queued revocations */

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

	uint64_t captures, bytes, findings, managed, unmanaged, exposures, submitted, dup_skipped;
	uint64_t unmanaged_suppressed;
};

struct scan_ctx {
	struct pipeline *p;
	const struct capture *c;
	const struct stream_info *si;
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
	unsigned tmp[256];

	if (n > 256)
		n = 256;
	for (size_t i = 0; i < n; i++)
		tmp[i] = lens[i];
	detector_set_known(p->det, known_token, p, tmp, n);
}

/* ---- streams: SNI from a ClientHello, Host from an HTTP request ------- */

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
			memset(s, 0, sizeof(*s));
			s->key = key;
			s->start_ns = start_ns;
			return s;
		}
	}
	if (!create)
		return NULL;
	/* table crowded here: evict the first slot of the probe run */
	struct stream_info *s = &p->streams[h & (STREAM_SLOTS - 1)];
	memset(s, 0, sizeof(*s));
	s->key = key;
	s->start_ns = start_ns;
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
		s->key = 0;
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

static int on_match(void *vctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct scan_ctx *sc = vctx;
	struct pipeline *p = sc->p;
	const struct capture *c = sc->c;
	const struct proc_info *pi = c->proc;
	const struct ledger_token *t;
	struct sighting s = { 0 };
	struct verdict v;
	char sha[65], shortf[32];
	const char *action;
	cJSON *o;

	(void)len;
	/* Wholly inside the previous write's tail: reported with that write. */
	if (m->start + m->len <= c->carry)
		return 0;
	p->findings++;
	/* Found tokens are rare and a refresh that finds nothing new costs a
	 * few microseconds: refreshing here means a token minted, completed
	 * or revoked a moment ago is judged by its current entry. */
	if (ledger_cache_refresh(p->cache) > 0)
		refresh_known(p);
	t = ledger_cache_lookup(p->cache, m->sha256);
	sha256_to_hex(m->sha256, sha);
	redact_short(buf + m->start, m->len, shortf, sizeof(shortf));

	s.kind = sighting_kind_of(c->kind);
	s.proc.tgid = c->hdr->tgid;
	s.proc.tid = c->hdr->pid;
	s.proc.ppid = pi ? pi->ppid : c->hdr->ppid;
	s.proc.uid = c->hdr->uid;
	s.proc.comm = pi ? pi->comm : NULL;
	s.proc.exe = (c->kind == CAP_EXEC_ARGV || c->kind == CAP_EXEC_ENV) ? c->path
		     : (pi ? pi->exe : NULL);
	s.proc.cgroup_id = c->hdr->cgroup_id;
	s.proc.start_boot_ns = c->hdr->start_boot_ns;
	s.time_ns = (int64_t)c->hdr->ts_boot_ns + p->boot_to_real;
	if (c->kind == CAP_FILE_WRITE)
		s.path = c->path;
	if (c->kind == CAP_SOCK_SEND) {
		s.dest = (const struct sockaddr *)&c->peer;
		s.destlen = sizeof(c->peer);
		if (sc->si) {
			s.sni = sc->si->sni[0] ? sc->si->sni : NULL;
			s.http_host = sc->si->host[0] ? sc->si->host : NULL;
		}
	}
	s.rule = m->rule_id;
	s.sha256 = sha;
	s.redacted = shortf;
	s.is_descendant = is_descendant;
	s.has_ancestor_exe = has_ancestor_exe;
	s.ctx = p;

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
	if (t && !strcmp(action, "revoke")) {
		/* Queue at the issuer first: this is the latency that matters. */
		char *vj = cJSON_PrintUnformatted(o);
		struct revoke_request req = {
			.token_id = t->id,
			.token_sha256 = t->sha256,
			.issuer = t->issuer,
			.verdict_class = verdict_class_str(v.cls),
			.verdict_json = vj,
			.token = buf + m->start,
			.token_len = m->len,
		};
		int r = p->rev ? revoker_submit(p->rev, &req) : -ENOTCONN;

		free(vj);
		if (r == REVOKE_ALERT_ONLY) {
			cJSON_ReplaceItemInObject(o, "action", cJSON_CreateString("alert"));
		} else if (r < 0) {
			cJSON_ReplaceItemInObject(o, "action", cJSON_CreateString("revoke_failed"));
			log_error("token %s (sha256:%.12s): revocation could not be queued: %s",
				  t->id, t->sha256, strerror(-r));
		} else {
			if (r == REVOKE_QUEUED)
				p->submitted++;
			else
				p->dup_skipped++;
			defer_ledger_revoke(p, t, verdict_class_str(v.cls));
		}
	}
	if (t)
		history_defer(p, t->id, o);
	p->emit(p->emit_ctx, o);
	return 0;
}

int pipeline_capture(struct pipeline *p, const struct capture *c)
{
	struct scan_ctx sc = { p, c, NULL };

	if (!c->len)
		return 0;
	p->captures++;
	p->bytes += c->len - c->carry;
	sc.si = stream_learn(p, c);
	/* a cut capture's last token may be cut too: counted, not judged */
	if (c->truncated)
		return detector_scan_cut(p->det, c->data, c->len, on_match, &sc);
	return detector_scan(p->det, c->data, c->len, on_match, &sc);
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
	/* what the detector could not search (detect/coverage.h) */
	struct detect_stats ds;
	detector_stats(p->det, &ds);
	detect_coverage_json(&ds, o);
}

void pipeline_status_fill(struct pipeline *p, cJSON *detection, cJSON *revocation)
{
	if (detection)
		pipeline_status(p, detection);
	if (revocation && p->rev)
		revoker_stats(p->rev, revocation);
}

int pipeline_open(const struct pipeline_opts *o, struct pipeline **out, char *err, size_t errsz)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	struct ledger *l = NULL;
	int r;

	if (!p)
		return -ENOMEM;
	p->cfg = o->cfg;
	p->boot_to_real = o->boot_to_real;
	p->emit = o->emit;
	p->emit_ctx = o->emit_ctx;

	if ((r = rules_load_builtin(&p->rules, err, errsz)))
		goto fail;
	if (o->rules_dir && (r = rules_load_dir(p->rules, o->rules_dir, err, errsz)))
		goto fail;
	if (!(p->det = detector_new(p->rules, err, errsz))) {
		r = -EINVAL;
		goto fail;
	}
	/* The monitor creates the ledger so that a later mint is seen. */
	if ((r = ledger_open(o->ledger_path, LEDGER_OPEN_CREATE, &l, err, errsz)))
		goto fail;
	p->ledger = l;
	/* The monitor's own ledger writes (revocation marks, history lines)
	 * are as durable as the revocation queue (revocation.synchronous).
	 * NORMAL survives kill -9; FULL's fsync per write would sit on the
	 * loop thread between one sighting and the next. The CLI's mints
	 * stay FULL. */
	if (db_synchronous(ledger_sqlite(p->ledger), o->cfg->revocation.sync_full) != SQLITE_OK) {
		snprintf(err, errsz, "%s: cannot set synchronous mode", o->ledger_path);
		r = -EIO;
		goto fail;
	}
	if ((r = ledger_cache_open(o->ledger_path, &p->cache, err, errsz)))
		goto fail;
	refresh_known(p);
	if ((r = revoker_open(o->cfg, o->ledger_path, &p->rev, err, errsz)))
		goto fail;
	if ((r = handoff_open(o->ledger_path, p->rev, &p->handoff, err, errsz)) ||
	    (r = handoff_synchronous(p->handoff, o->cfg->revocation.sync_full))) {
		if (r == -EIO)
			snprintf(err, errsz, "%s: cannot set synchronous mode", o->ledger_path);
		goto fail;
	}
	if ((r = revoker_start(p->rev))) {
		snprintf(err, errsz, "starting the revocation workers failed: %s", strerror(-r));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	pipeline_close(p);
	return r ? r : -EINVAL;
}

void pipeline_close(struct pipeline *p)
{
	if (!p)
		return;
	if (p->ledger && (p->ndeferred || p->nsightings))
		pipeline_tick(p);
	if (p->rev)
		revoker_close(p->rev);
	ledger_cache_close(p->cache);
	handoff_close(p->handoff);
	ledger_close(p->ledger);
	detector_free(p->det);
	rules_free(p->rules);
	free(p);
}
