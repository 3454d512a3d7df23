/*
 * The event store's writer: a queue the loop thread (and the revoker's
 * threads) append to under a mutex, and one thread that drains it into
 * SQLite, a transaction per batch. No SQLite handle is shared: the writer
 * owns its connection; reports open their own, read-only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "ledger/evstore.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/util.h"

#define FLUSH_NS (200 * 1000000ll)
#define RETENTION_EVERY_NS (60 * 1000000000ll)

enum item_kind { IT_VERDICT, IT_REVOCATION, IT_COUNTERS };

struct item {
	struct item *next;
	enum item_kind kind;
	int64_t at_ns;
	cJSON *verdict, *parents;
	char *token_id, *event, *detail;
	int64_t run_ns;
};

struct evstore {
	sqlite3 *db;
	int busy_ms;
	struct evstore_retention ret;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, **tail;
	size_t nqueued;
	int stop;
	int64_t last_sample_ns;
	struct evstore_stats st;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS verdicts ("
	" id INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, token_id TEXT, sha256 TEXT,"
	" class TEXT, exposure INTEGER, action TEXT, rule TEXT, kind TEXT, pid INTEGER,"
	" uid INTEGER, comm TEXT, exe TEXT, path TEXT, dest TEXT, sni TEXT, host TEXT,"
	" container TEXT, decoded TEXT);"
	/* The whole verdict JSON apart: the report's aggregates scan narrow rows. */
	"CREATE TABLE IF NOT EXISTS verdict_details (id INTEGER PRIMARY KEY, detail TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS verdicts_at ON verdicts(at_ns);"
	"CREATE INDEX IF NOT EXISTS verdicts_token ON verdicts(token_id, at_ns);"
	"CREATE TABLE IF NOT EXISTS revocations ("
	" id INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, token_id TEXT, event TEXT, detail TEXT);"
	"CREATE INDEX IF NOT EXISTS revocations_at ON revocations(at_ns);"
	"CREATE TABLE IF NOT EXISTS counters ("
	" id INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, run_ns INTEGER NOT NULL, counters TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS counters_at ON counters(at_ns);";

int evstore_schema(sqlite3 *db)
{
	int64_t v = 0;
	int rc;

	if ((rc = db_query_int64(db, "PRAGMA user_version", &v)) != SQLITE_OK)
		return rc;
	if (v > EVSTORE_SCHEMA)
		return SQLITE_MISMATCH;
	/* Incremental vacuum must be chosen before the first table: it lets
	 * size retention give pages back without rewriting the file. */
	if (v == 0 && (rc = db_exec(db, "PRAGMA auto_vacuum=INCREMENTAL")) != SQLITE_OK)
		return rc;
	if ((rc = db_exec(db, schema_sql)) != SQLITE_OK)
		return rc;
	return db_exec(db, "PRAGMA user_version=1");
}

/* "2026-11-27T06:24:16.123456Z" -> ns since the epoch; 0 when unparsable. */
static int64_t time_of(const cJSON *o)
{
	const cJSON *t = cJSON_GetObjectItem(o, "time");
	struct tm tm = { 0 };
	unsigned us = 0;

	if (!cJSON_IsString(t) ||
	    sscanf(t->valuestring, "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) < 6)
		return (int64_t)util_now_ns(CLOCK_REALTIME);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000000ll + (int64_t)us * 1000;
}

void evstore_container_id(const char *cg, char *out, size_t outsz)
{
	static const char *const marks[] = { "docker-", "/docker/", "cri-containerd-", "libpod-",
					     "crio-", "/kubepods/", NULL };

	out[0] = 0;
	if (!cg)
		return;
	for (int i = 0; marks[i]; i++) {
		const char *p = strstr(cg, marks[i]);
		size_t n = 0;

		if (!p)
			continue;
		p += strlen(marks[i]);
		while (n < 64 && strchr("0123456789abcdef", p[n]) && p[n])
			n++;
		if (n >= 12) {
			snprintf(out, outsz, "%.*s", (int)(n > 12 ? 12 : n), p);
			return;
		}
	}
}

/* ---- the queue ---------------------------------------------------------- */

static void item_free(struct item *it)
{
	cJSON_Delete(it->verdict);
	cJSON_Delete(it->parents);
	free(it->token_id);
	free(it->event);
	free(it->detail);
	free(it);
}

static void push(struct evstore *s, struct item *it)
{
	pthread_mutex_lock(&s->mu);
	if (s->nqueued >= EVSTORE_QUEUE_MAX || s->stop) {
		s->st.dropped++;
		pthread_mutex_unlock(&s->mu);
		item_free(it);
		return;
	}
	*s->tail = it;
	s->tail = &it->next;
	s->nqueued++;
	s->st.queued++;
	pthread_mutex_unlock(&s->mu);
}

void evstore_add_verdict(struct evstore *s, cJSON *verdict, cJSON *parents)
{
	struct item *it;

	if (!s || !verdict || !(it = calloc(1, sizeof(*it)))) {
		if (s)
			__atomic_add_fetch(&s->st.dropped, 1, __ATOMIC_RELAXED);
		cJSON_Delete(verdict);
		cJSON_Delete(parents);
		return;
	}
	it->kind = IT_VERDICT;
	it->verdict = verdict;
	it->parents = parents;
	push(s, it);
}

void evstore_add_revocation(struct evstore *s, const char *token_id, const char *event,
			    const char *detail)
{
	struct item *it;

	if (!s || !(it = calloc(1, sizeof(*it))))
		return;
	it->kind = IT_REVOCATION;
	it->at_ns = (int64_t)util_now_ns(CLOCK_REALTIME);
	it->token_id = token_id ? strdup(token_id) : NULL;
	it->event = strdup(event ? event : "");
	it->detail = detail ? strdup(detail) : NULL;
	push(s, it);
}

/* ---- counters ------------------------------------------------------------ */

/* Which counters are losses (something never arrived) and which are cuts
 * (it arrived shortened), by their status.json path; the sensors' split
 * is the one ingest_status.c makes (drop_is_loss). */
static const struct { const char *section, *sub, *key; int loss; } counter_keys[] = {
	{ "sensors", "drops", "ringbuf_full", 1 },
	{ "sensors", "drops", "read_failed", 1 },
	{ "sensors", "drops", "chunk_lost", 1 },
	{ "sensors", "drops", "meta_lost", 1 },
	{ "sensors", "drops", "tls_unsent", 1 },
	{ "sensors", "drops", "tls_unprobed", 1 },
	{ "sensors", NULL, "events_lost", 1 },
	{ "detection", NULL, "history_not_recorded", 1 },
	{ "events_store", NULL, "dropped", 1 },
	{ "sensors", "drops", "path_truncated", 0 },
	{ "sensors", "drops", "exec_args_truncated", 0 },
	{ "sensors", "drops", "capture_truncated", 0 },
	{ "detection", NULL, "regex_limit_hits", 0 },
	{ "detection", NULL, "matches_too_long", 0 },
	{ "detection", NULL, "matches_cut_short", 0 },
	{ "detection", NULL, "rules_suspended", 0 },
	{ "detection", NULL, "keyword_hits_skipped", 0 },
	{ "detection", NULL, "repeats_collapsed", 0 },
	{ "detection", NULL, "findings_capped", 0 },
	{ "detection", NULL, "encoded_runs_cut", 0 },
	{ "detection", NULL, "decode_budget_hits", 0 },
	{ "detection", NULL, "decode_depth_hits", 0 },
	{ "sensors", "drops", "capture_cut_ring_room", 0 },
	{ "sensors", "userspace", "carry_cut", 0 },
};

static cJSON *counters_from_status(const cJSON *status)
{
	cJSON *o = cJSON_CreateObject(), *lost = cJSON_AddObjectToObject(o, "lost"),
	      *cut = cJSON_AddObjectToObject(o, "cut");

	for (size_t i = 0; i < sizeof(counter_keys) / sizeof(counter_keys[0]); i++) {
		const cJSON *sec = cJSON_GetObjectItem(status, counter_keys[i].section), *v;
		char name[64];

		if (counter_keys[i].sub)
			sec = cJSON_GetObjectItem(sec, counter_keys[i].sub);
		v = cJSON_GetObjectItem(sec, counter_keys[i].key);
		snprintf(name, sizeof(name), "%s%s%s",
			 !strcmp(counter_keys[i].section, "events_store") ? "store_" : "",
			 counter_keys[i].key, "");
		cJSON_AddNumberToObject(counter_keys[i].loss ? lost : cut, name,
					cJSON_IsNumber(v) ? v->valuedouble : 0);
	}
	return o;
}

int evstore_sample_due(const struct evstore *s)
{
	return s && (int64_t)util_now_ns(CLOCK_REALTIME) - s->last_sample_ns >= EVSTORE_SAMPLE_NS;
}

void evstore_sample(struct evstore *s, const cJSON *status, int64_t run_ns, int force)
{
	int64_t now = (int64_t)util_now_ns(CLOCK_REALTIME);
	struct item *it;
	cJSON *c;

	if (!s || (!force && now - s->last_sample_ns < EVSTORE_SAMPLE_NS))
		return;
	s->last_sample_ns = now;
	if (!(it = calloc(1, sizeof(*it))))
		return;
	c = counters_from_status(status);
	it->kind = IT_COUNTERS;
	it->at_ns = now;
	it->run_ns = run_ns;
	it->detail = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	push(s, it);
}

/* ---- the writer ---------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int write_verdict(sqlite3_stmt *st, sqlite3_stmt *sd, struct item *it)
{
	cJSON *v = it->verdict;
	const cJSON *pid = cJSON_GetObjectItem(v, "pid"), *uid = cJSON_GetObjectItem(v, "uid");
	char cont[80];
	char *detail;
	int rc;

	if (it->parents) {
		cJSON_AddItemToObject(v, "parents", it->parents);
		it->parents = NULL;
	}
	if (jstr(v, "container_id"))
		snprintf(cont, sizeof(cont), "%s", jstr(v, "container_id"));
	else
		evstore_container_id(jstr(v, "cgroup"), cont, sizeof(cont));
	if (!(detail = cJSON_PrintUnformatted(v)))
		return SQLITE_NOMEM;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, time_of(v));
	db_bind_text(st, 2, jstr(v, "token_id"));
	db_bind_text(st, 3, jstr(v, "sha256"));
	db_bind_text(st, 4, jstr(v, "class"));
	sqlite3_bind_int(st, 5, cJSON_IsTrue(cJSON_GetObjectItem(v, "exposure")));
	db_bind_text(st, 6, jstr(v, "action"));
	db_bind_text(st, 7, jstr(v, "rule"));
	db_bind_text(st, 8, jstr(v, "kind"));
	sqlite3_bind_int64(st, 9, cJSON_IsNumber(pid) ? (int64_t)pid->valuedouble : 0);
	sqlite3_bind_int64(st, 10, cJSON_IsNumber(uid) ? (int64_t)uid->valuedouble : 0);
	db_bind_text(st, 11, jstr(v, "comm"));
	db_bind_text(st, 12, jstr(v, "exe"));
	db_bind_text(st, 13, jstr(v, "path"));
	db_bind_text(st, 14, jstr(v, "dest"));
	db_bind_text(st, 15, jstr(v, "sni"));
	db_bind_text(st, 16, jstr(v, "host"));
	db_bind_text(st, 17, cont[0] ? cont : NULL);
	db_bind_text(st, 18, jstr(v, "decoded"));
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		free(detail);
		return rc;
	}
	sqlite3_reset(sd);
	sqlite3_bind_int64(sd, 1, sqlite3_last_insert_rowid(sqlite3_db_handle(st)));
	sqlite3_bind_text(sd, 2, detail, -1, free);
	rc = sqlite3_step(sd);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_other(sqlite3_stmt *st, struct item *it)
{
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, it->at_ns);
	if (it->kind == IT_COUNTERS) {
		sqlite3_bind_int64(st, 2, it->run_ns);
		db_bind_text(st, 3, it->detail ? it->detail : "{}");
	} else {
		db_bind_text(st, 2, it->token_id);
		db_bind_text(st, 3, it->event);
		db_bind_text(st, 4, it->detail);
	}
	rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* One transaction for the whole batch; a failed batch is counted, not retried. */
static void write_batch(struct evstore *s, struct item *batch, size_t n)
{
	sqlite3_stmt *sv = NULL, *sd = NULL, *sr = NULL, *sc = NULL;
	int ok = db_begin(s->db) == SQLITE_OK;
	size_t written = 0;

	ok = ok && sqlite3_prepare_v2(s->db,
		"INSERT INTO verdicts (at_ns, token_id, sha256, class, exposure, action, rule, kind,"
		" pid, uid, comm, exe, path, dest, sni, host, container, decoded)"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &sv, NULL) == SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(s->db, "INSERT INTO verdict_details (id, detail) VALUES (?,?)", -1, &sd,
				      NULL) == SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(s->db, "INSERT INTO revocations (at_ns, token_id, event, detail)"
				      " VALUES (?,?,?,?)", -1, &sr, NULL) == SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(s->db, "INSERT INTO counters (at_ns, run_ns, counters)"
				      " VALUES (?,?,?)", -1, &sc, NULL) == SQLITE_OK;
	for (struct item *it = batch; ok && it; it = it->next) {
		int rc = it->kind == IT_VERDICT ? write_verdict(sv, sd, it)
			 : write_other(it->kind == IT_COUNTERS ? sc : sr, it);
		written += rc == SQLITE_OK;
	}
	sqlite3_finalize(sv);
	sqlite3_finalize(sd);
	sqlite3_finalize(sr);
	sqlite3_finalize(sc);
	if (ok && db_commit(s->db) != SQLITE_OK)
		ok = 0;
	if (!ok) {
		log_warn("event store: %zu rows not written: %s", n, sqlite3_errmsg(s->db));
		db_rollback(s->db);
		written = 0;
	}
	pthread_mutex_lock(&s->mu);
	s->st.written += written;
	s->st.write_failed += n - written;
	pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg)
{
	struct evstore *s = arg;
	int64_t next_retention = 0;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct timespec dl;
		struct item *batch;
		size_t n;
		int stop;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += FLUSH_NS;
		if (dl.tv_nsec >= 1000000000l) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000l;
		}
		if (!s->stop)
			pthread_cond_timedwait(&s->cv, &s->mu, &dl);
		batch = s->head;
		n = s->nqueued;
		stop = s->stop;
		s->head = NULL;
		s->tail = &s->head;
		s->nqueued = 0;
		pthread_mutex_unlock(&s->mu);
		if (batch)
			write_batch(s, batch, n);
		while (batch) {
			struct item *next = batch->next;
			item_free(batch);
			batch = next;
		}
		int64_t now = (int64_t)util_now_ns(CLOCK_MONOTONIC);
		if (now >= next_retention) {
			int d = evstore_apply_retention(s->db, &s->ret, (int64_t)util_now_ns(CLOCK_REALTIME));
			next_retention = now + RETENTION_EVERY_NS;
			pthread_mutex_lock(&s->mu);
			s->st.retention_deleted += d > 0 ? (uint64_t)d : 0;
			pthread_mutex_unlock(&s->mu);
		}
		pthread_mutex_lock(&s->mu);
		if (stop && !s->head)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- retention ------------------------------------------------------------ */

static int64_t data_bytes(sqlite3 *db)
{
	int64_t pages = 0, free_pages = 0, size = 0;

	db_query_int64(db, "PRAGMA page_count", &pages);
	db_query_int64(db, "PRAGMA freelist_count", &free_pages);
	db_query_int64(db, "PRAGMA page_size", &size);
	return (pages - free_pages) * size;
}

static int delete_before(sqlite3 *db, const char *table, int64_t cut_ns)
{
	char sql[128];
	sqlite3_stmt *st = NULL;

	int n;

	/* A verdict's details go with it, first. */
	if (!strcmp(table, "verdicts")) {
		if (sqlite3_prepare_v2(db, "DELETE FROM verdict_details WHERE id IN"
				       " (SELECT id FROM verdicts WHERE at_ns < ?)", -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int64(st, 1, cut_ns);
		if (db_step_done(st) != SQLITE_OK)
			return -1;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE at_ns < ?", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, cut_ns);
	if (db_step_done(st) != SQLITE_OK)
		return -1;
	n = sqlite3_changes(db);
	return n;
}

/* Verdicts (and their details) with id < id_end. */
static int delete_upto_id(sqlite3 *db, int64_t id_end)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "DELETE FROM verdict_details WHERE id < ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id_end);
	if (db_step_done(st) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM verdicts WHERE id < ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id_end);
	if (db_step_done(st) != SQLITE_OK)
		return -1;
	return sqlite3_changes(db);
}

/* Age first; then, while the data is over max_bytes, the oldest verdicts
 * in proportion to the excess (at least a tenth; aiming 10% under the
 * bound), and everything older than the oldest verdict kept. */
int evstore_apply_retention(sqlite3 *db, const struct evstore_retention *ret, int64_t now_ns)
{
	int deleted = 0, r;

	if (ret->max_age_s) {
		int64_t cut = now_ns - (int64_t)ret->max_age_s * 1000000000ll;
		for (int i = 0; i < 3; i++) {
			static const char *const t[] = { "verdicts", "revocations", "counters" };
			if ((r = delete_before(db, t[i], cut)) < 0)
				return -1;
			deleted += r;
		}
	}
	for (int round = 0; ret->max_bytes && round < 20; round++) {
		int64_t n = 0, cut = 0, have = data_bytes(db);
		double frac;
		char sql[160];

		if (have <= (int64_t)ret->max_bytes)
			break;
		frac = 1.0 - 0.9 * (double)ret->max_bytes / (double)have;
		db_query_int64(db, "SELECT count(*) FROM verdicts", &n);
		if (n == 0)
			break;
		/* By id (insert order): many verdicts may share a microsecond. */
		snprintf(sql, sizeof(sql), "SELECT id FROM verdicts ORDER BY id LIMIT 1 OFFSET %lld",
			 (long long)(n * (frac < 0.1 ? 0.1 : frac)));
		if (db_query_int64(db, sql, &cut) != SQLITE_OK || (r = delete_upto_id(db, cut)) < 0)
			break;
		deleted += r;
		if (db_query_int64(db, "SELECT coalesce(min(at_ns), 9223372036854775807) FROM verdicts", &cut) != SQLITE_OK)
			break;
		for (int i = 1; i < 3; i++) {
			static const char *const t[] = { "verdicts", "revocations", "counters" };
			if ((r = delete_before(db, t[i], cut)) < 0)
				return -1;
			deleted += r;
		}
		db_exec(db, "PRAGMA incremental_vacuum");
	}
	if (deleted)
		db_exec(db, "PRAGMA incremental_vacuum");
	return deleted;
}

/* ---- open / close ------------------------------------------------------------- */

int evstore_open(const char *path, const struct evstore_retention *ret, struct evstore **out,
		 char *err, size_t errsz)
{
	struct evstore *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->busy_ms = 5000;
	s->ret = *ret;
	s->tail = &s->head;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((rc = db_open(path, DB_OPEN_CREATE, &s->busy_ms, &s->db)) != SQLITE_OK ||
	    (rc = db_wal(s->db)) != SQLITE_OK || (rc = db_synchronous(s->db, 0)) != SQLITE_OK ||
	    (rc = evstore_schema(s->db)) != SQLITE_OK) {
		snprintf(err, errsz, "event store %s: %s", path,
			 rc == SQLITE_MISMATCH ? "written by a newer tokenward" : sqlite3_errmsg(s->db));
		evstore_close(s);
		return -EIO;
	}
	if (pthread_create(&s->thread, NULL, writer_main, s)) {
		snprintf(err, errsz, "event store %s: cannot start the writer thread", path);
		evstore_close(s);
		return -EAGAIN;
	}
	s->started = 1;
	*out = s;
	return 0;
}

void evstore_close(struct evstore *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	while (s->head) {
		struct item *n = s->head->next;
		item_free(s->head);
		s->head = n;
	}
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

void evstore_get_stats(struct evstore *s, struct evstore_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

void evstore_status(struct evstore *s, cJSON *o)
{
	struct evstore_stats st;

	evstore_get_stats(s, &st);
	cJSON_AddNumberToObject(o, "queued", (double)st.queued);
	cJSON_AddNumberToObject(o, "written", (double)st.written);
	cJSON_AddNumberToObject(o, "dropped", (double)(st.dropped + st.write_failed));
	cJSON_AddNumberToObject(o, "retention_deleted", (double)st.retention_deleted);
}

int evstore_open_reader(const char *path, sqlite3 **db, char *err, size_t errsz)
{
	static const int busy_ms = 5000;
	struct stat st;
	int rc;

	if (stat(path, &st) && errno == ENOENT)
		return -ENOENT;
	rc = db_open(path, DB_OPEN_RDONLY, &busy_ms, db);
	/* Opening reads nothing: ask for the schema, so that a file that is
	 * no store is refused here, by name, not half way through a report. */
	if (rc == SQLITE_OK) {
		int64_t v = 0, tables = 0;

		rc = db_query_int64(*db, "PRAGMA user_version", &v);
		if (rc == SQLITE_OK)
			rc = db_query_int64(*db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
					    " name IN ('verdicts', 'verdict_details', 'revocations', 'counters')", &tables);
		if (rc == SQLITE_OK && (v != EVSTORE_SCHEMA || tables != 4)) {
			snprintf(err, errsz, "event store %s: %s", path,
				 v > EVSTORE_SCHEMA ? "written by a newer tokenward" : "not a tokenward event store");
			sqlite3_close(*db);
			*db = NULL;
			return -EINVAL;
		}
	}
	if (rc != SQLITE_OK) {
		snprintf(err, errsz, "event store %s: %s", path, sqlite3_errmsg(*db));
		sqlite3_close(*db);
		*db = NULL;
		return -EIO;
	}
	return 0;
}
