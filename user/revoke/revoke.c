/*
 * Durable revocation queue.
 *
 * Latency: the path from revoker_submit() to the issuer receiving the
 * request is one INSERT + COMMIT (WAL, synchronous=NORMAL: no fsync on
 * commit, only at checkpoints; the commit survives a crash of the
 * process, which is what kill -9 tests, but not a power cut; set
 * `synchronous: full` for that), a condition-variable wakeup, and an
 * HTTP request over a connection the worker's curl handle keeps open.
 *
 * Locking: one SQLite connection guarded by r->mu. Workers drop the
 * mutex while they talk to an issuer, so submitters never wait on the
 * network. In-flight jobs are tracked in memory only: after a crash
 * nothing is in flight, and every pending job is eligible again.
 *
 * History is written before the job row changes state. A crash between
 * the two repeats the attempt (harmless: revocation is idempotent) and
 * the history shows both, rather than a state change with no record.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include "revoke/issuer.h"
#include "lib/log.h"
#include "revoke/revoke.h"
#include "ledger/ledger.h"
#include "ledger/seal.h"
#include "lib/db.h"
#include "lib/safefile.h"
#include "lib/sha256.h"
#include "lib/histogram.h"
#include "lib/util.h"
#include "detect/redact.h"

#define MAX_WORKERS 64
static const int busy_ms = 5000; /* lock waits, db_busy() */
#define IDLE_POLL_MS 1000       /* to notice jobs queued by other processes */

struct revoker {
	const struct tw_config *cfg;
	char *db_path;
	sqlite3 *db;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t threads[MAX_WORKERS];
	unsigned nthreads;
	int stopping;
	int64_t inflight[MAX_WORKERS];
	unsigned ninflight;
	struct revoke_sealer sealer;
	revoke_history_fn history_fn;
	void *history_ctx;
	/* this process's counters, for status */
	uint64_t submitted, duplicates, alerts, delivered, retries, permanent, attempts;
	double last_latency_ms;
	struct histogram confirm_latency; /* queued -> issuer confirmed */
	char last_failure[320];
	int64_t last_rearm_ms;  /* rearm_configured(), wall clock */
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS revoke_jobs("
	"  id INTEGER PRIMARY KEY,"
	"  token_id TEXT,"
	"  token_sha256 TEXT NOT NULL,"
	"  issuer TEXT NOT NULL,"
	"  verdict_class TEXT NOT NULL,"
	"  verdict_json TEXT NOT NULL,"
	"  sealed_token BLOB,"                 /* AES-256-GCM; NULL once done */
	"  state TEXT NOT NULL CHECK(state IN ('pending','done','failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_ms INTEGER NOT NULL,"  /* CLOCK_REALTIME */
	"  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  last_status INTEGER,"
	"  last_error TEXT,"
	"  UNIQUE(token_sha256, issuer));"
	"CREATE INDEX IF NOT EXISTS revoke_jobs_due ON revoke_jobs(state, next_attempt_ms);"
	"CREATE TABLE IF NOT EXISTS revoke_history("
	"  id INTEGER PRIMARY KEY,"
	"  at_ms INTEGER NOT NULL,"
	"  token_id TEXT,"
	"  token_sha256 TEXT,"
	"  event TEXT NOT NULL,"
	"  detail TEXT);"
	"CREATE INDEX IF NOT EXISTS revoke_history_token ON revoke_history(token_sha256);";

static int64_t wall_ms(void)
{
	return (int64_t)(util_now_ns(CLOCK_REALTIME) / 1000000);
}

unsigned revoke_backoff_ms(unsigned failures, unsigned base_ms, unsigned max_ms,
			   long retry_after_s, unsigned retry_after_max_ms, uint32_t rnd)
{
	uint64_t d = base_ms ? base_ms : 1, j;

	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* Equal jitter: spreads retries from many hosts without ever
	 * collapsing to an immediate retry. */
	j = d / 2 + rnd % (d - d / 2 + 1);
	if (retry_after_s >= 0) {
		uint64_t ra = (uint64_t)retry_after_s * 1000;

		if (ra > retry_after_max_ms)
			ra = retry_after_max_ms;
		if (ra > j)
			j = ra;
	}
	return (unsigned)j;
}

/* ---- sealing ---------------------------------------------------------- */

/* The default sealer is user/ledger/seal.c with the ledger's key, so a token the
 * CLI sealed at registration and one the monitor sealed at a sighting are
 * kept under the same key and the same threat model (docs/THREAT-MODEL.md). */
static int file_seal(void *ctx, const void *aad, size_t aadlen, const void *in, size_t n,
		     unsigned char **out, size_t *outn)
{
	unsigned char *b = malloc(n + SEAL_OVERHEAD);

	if (!b)
		return -1;
	if (seal_encrypt(ctx, aad, aadlen, in, n, b, outn)) {
		free(b);
		return -1;
	}
	*out = b;
	return 0;
}

static int file_unseal(void *ctx, const void *aad, size_t aadlen, const unsigned char *in,
		       size_t n, unsigned char **out, size_t *outn)
{
	unsigned char *p;

	if (n < SEAL_OVERHEAD || !(p = malloc(n - SEAL_OVERHEAD + 1)))
		return -1;
	if (seal_decrypt(ctx, aad, aadlen, in, n, p, outn)) {
		explicit_bzero(p, n - SEAL_OVERHEAD + 1);
		free(p);
		return -1;
	}
	p[*outn] = 0;
	*out = p;
	return 0;
}

static void file_sealer_free(void *ctx)
{
	if (ctx) {
		seal_key_wipe(ctx);
		free(ctx);
	}
}

int revoke_sealer_file(const char *path, struct revoke_sealer *out, char *err, size_t errsz)
{
	struct seal_key *k = calloc(1, sizeof(*k));

	if (!k) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (seal_key_load(path, 1, k, err, errsz)) {
		free(k);
		return -1;
	}
	out->seal = file_seal;
	out->unseal = file_unseal;
	out->free_ctx = file_sealer_free;
	out->ctx = k;
	return 0;
}

void revoker_set_sealer(struct revoker *r, const struct revoke_sealer *s)
{
	if (r->sealer.free_ctx)
		r->sealer.free_ctx(r->sealer.ctx);
	memset(&r->sealer, 0, sizeof(r->sealer));
	if (s)
		r->sealer = *s;
}

/* ---- history ---------------------------------------------------------- */

static int history_table_add(void *ctx, const char *token_id, const char *sha,
			     const char *event, const char *detail)
{
	struct revoker *r = ctx;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(r->db, "INSERT INTO revoke_history(at_ms, token_id, token_sha256, "
			       "event, detail) VALUES(?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, wall_ms());
	db_bind_text(st, 2, token_id);
	db_bind_text(st, 3, sha);
	db_bind_text(st, 4, event);
	db_bind_text(st, 5, detail);
	return db_step_done(st) == SQLITE_OK ? 0 : -1;
}

void revoker_set_history_sink(struct revoker *r, revoke_history_fn fn, void *ctx)
{
	r->history_fn = fn ? fn : history_table_add;
	r->history_ctx = fn ? ctx : r;
}

/*
 * The one place history is written. Called with r->mu held. detail is
 * consumed. The lead's ledger_history_add() plugs in through
 * revoker_set_history_sink().
 */
static void history_add(struct revoker *r, const char *token_id, const char *sha,
			const char *event, cJSON *detail)
{
	char *s = detail ? cJSON_PrintUnformatted(detail) : NULL;

	if (r->history_fn(r->history_ctx, token_id, sha, event, s ? s : "{}"))
		log_warn("revocation history for sha256:%.12s not written: %s", sha ? sha : "-",
			 sqlite3_errmsg(r->db));
	free(s);
	cJSON_Delete(detail);
}

/* ---- open ------------------------------------------------------------- */

/* An SQLite code from lib/db.c: 0, or -1 with "path: cause" in err. */
static int check(sqlite3 *db, int rc, char *err, size_t errsz, const char *path)
{
	if (rc == SQLITE_OK)
		return 0;
	snprintf(err, errsz, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return -1;
}

/* The directory and the file before SQLite opens them, then what the file
 * holds before anything writes to it, as ledger_open() does: a file that
 * is not tokenward's is left exactly as it is. */
static int open_db(struct revoker *r, const char *db_path, int rdonly, char *err, size_t errsz)
{
	enum db_file kind;
	struct stat st;
	int v;

	if (safefile_check_parent(db_path, "database directory", err, errsz))
		return -1;
	if (lstat(db_path, &st)) {
		if (errno != ENOENT || rdonly) {
			snprintf(err, errsz, "%s: %s", db_path, strerror(errno));
			return -1;
		}
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s is %s; refusing it", db_path, safefile_kind(st.st_mode));
		return -1;
	}
	/* The ledger and the CLI may hold the write lock briefly (busy_ms). */
	if (check(r->db, db_open(db_path, rdonly ? DB_OPEN_RDONLY : DB_OPEN_CREATE, &busy_ms, &r->db),
		  err, errsz, db_path) ||
	    check(r->db, db_file_kind(r->db, LEDGER_SCHEMA_VERSION, &kind, &v), err, errsz, db_path))
		return -1;
	if (kind == DB_FILE_NEWER) {
		snprintf(err, errsz, "%s: a ledger of schema version %d, newer than this tokenward "
			 "understands (%d); it was left as is", db_path, v, LEDGER_SCHEMA_VERSION);
		return -1;
	}
	if (kind == DB_FILE_FOREIGN) {
		snprintf(err, errsz, "%s is not a tokenward ledger or queue (it holds other tables); "
			 "it was left as is", db_path);
		return -1;
	}
	if (rdonly)
		return 0;
	return check(r->db, db_wal(r->db), err, errsz, db_path) ||
	       check(r->db, db_synchronous(r->db, r->cfg->revocation.sync_full), err, errsz, db_path) ||
	       check(r->db, db_exec(r->db, schema), err, errsz, db_path) ? -1 : 0;
}

static struct revoker *revoker_new(const struct tw_config *cfg, const char *db_path)
{
	struct revoker *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	r->cfg = cfg;
	r->db_path = strdup(db_path);
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	revoker_set_history_sink(r, NULL, NULL);
	return r;
}

/* The sealing key: cfg->revocation.key_file, else beside the database. */
static char *key_path(const struct tw_config *cfg, const char *db_path)
{
	char kp[4096];

	if (cfg->revocation.key_file)
		return strdup(cfg->revocation.key_file);
	seal_key_default_path(db_path, kp, sizeof(kp));
	return strdup(kp);
}

int revoker_open(const struct tw_config *cfg, const char *db_path, struct revoker **out,
		 char *err, size_t errsz)
{
	struct revoker *r = revoker_new(cfg, db_path);
	char *keypath = NULL;

	if (!r) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (issuer_global_init()) {
		snprintf(err, errsz, "libcurl initialisation failed");
		goto fail;
	}
	if (open_db(r, db_path, 0, err, errsz))
		goto fail;
	keypath = key_path(cfg, db_path);
	if (!keypath || revoke_sealer_file(keypath, &r->sealer, err, errsz)) {
		if (!keypath)
			snprintf(err, errsz, "out of memory");
		free(keypath);
		goto fail;
	}
	free(keypath);
	*out = r;
	return 0;
fail:
	revoker_close(r);
	return -1;
}

int revoker_open_readonly(const struct tw_config *cfg, const char *db_path, struct revoker **out,
			  char *err, size_t errsz)
{
	struct revoker *r = revoker_new(cfg, db_path);
	char *keypath = key_path(cfg, db_path);
	struct seal_key k;
	int kr = 0;

	if (!r || !keypath) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (open_db(r, db_path, 1, err, errsz))
		goto fail;
	/* No key is made here, but one others could read is still refused:
	 * the queue's figures are no reason to hide that. */
	if ((kr = seal_key_load(keypath, 0, &k, err, errsz)) && kr != -ENOENT)
		goto fail;
	seal_key_wipe(&k);
	free(keypath);
	*out = r;
	return 0;
fail:
	free(keypath);
	revoker_close(r);
	return -1;
}

/* ---- submit ----------------------------------------------------------- */

static bool is_hex64(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static cJSON *detail_base(const char *issuer, const char *vclass)
{
	cJSON *d = cJSON_CreateObject();

	if (issuer)
		cJSON_AddStringToObject(d, "issuer", issuer);
	if (vclass)
		cJSON_AddStringToObject(d, "verdict_class", vclass);
	return d;
}

/* The job for this hash at this issuer: its id (0 for none), whether it
 * is still open (pending or failed, not done) and whether it holds a
 * sealed token. */
static int64_t job_find(struct revoker *r, const char *sha, const char *issuer, bool *open,
			bool *has_token)
{
	sqlite3_stmt *st = NULL;
	int64_t id = 0;

	*open = *has_token = false;
	sqlite3_prepare_v2(r->db, "SELECT id, state, sealed_token IS NOT NULL FROM revoke_jobs "
			   "WHERE token_sha256=? AND issuer=?", -1, &st, NULL);
	sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, issuer, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 1);

		id = sqlite3_column_int64(st, 0);
		*open = state && strcmp(state, "done");
		*has_token = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	return id;
}

/* A later sighting may bring the raw token an earlier one lacked: the
 * open job then becomes deliverable (now, if pending). 0 or -EIO. */
static int job_add_token(struct revoker *r, int64_t id, const unsigned char *sealed,
			 size_t sealed_len, int64_t now)
{
	sqlite3_stmt *st = NULL;

	sqlite3_prepare_v2(r->db, "UPDATE revoke_jobs SET sealed_token=?1, "
			   "next_attempt_ms=?2, updated_ms=?2 WHERE id=?3", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, sealed, (int)sealed_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	return db_step_done(st) == SQLITE_OK ? 0 : -EIO;
}

/* A new job: pending and due now, or (issuer not configured here)
 * failed with REVOKE_ERR_UNCONFIGURED, for rearm_configured(). 0 or -EIO. */
static int job_insert(struct revoker *r, const struct revoke_request *req, const char *sha,
		      const char *issuer, bool unconfigured, const unsigned char *sealed,
		      size_t sealed_len, int64_t now)
{
	sqlite3_stmt *st = NULL;

	sqlite3_prepare_v2(r->db, "INSERT INTO revoke_jobs(token_id, token_sha256, issuer, "
			   "verdict_class, verdict_json, sealed_token, state, attempts, "
			   "next_attempt_ms, created_ms, updated_ms, last_error) "
			   "VALUES(?1,?2,?3,?4,?5,?6,?8,0,?7,?7,?7,?9)", -1, &st, NULL);
	sqlite3_bind_text(st, 1, req->token_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, issuer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, req->verdict_class, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, req->verdict_json ? req->verdict_json : "{}", -1, SQLITE_STATIC);
	if (sealed)
		sqlite3_bind_blob(st, 6, sealed, (int)sealed_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_text(st, 8, unconfigured ? "failed" : "pending", -1, SQLITE_STATIC);
	if (unconfigured)
		sqlite3_bind_text(st, 9, REVOKE_ERR_UNCONFIGURED, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	return db_step_done(st) == SQLITE_OK ? 0 : -EIO;
}

/* An issuer name fit for a log line: it may come from a request line. */
static void issuer_for_log(const char *issuer, char *out, size_t outsz)
{
	char *s = issuer ? redact_text(issuer, strnlen(issuer, 4096)) : NULL;

	snprintf(out, outsz, "%s", s ? s : issuer ? "?" : "(default)");
	free(s);
}

/* The job stored for an issuer that is not configured in this process:
 * said loudly, counted, and kept failed until a config names it. Called
 * with r->mu held, after the commit. */
static void note_unconfigured(struct revoker *r, const struct revoke_request *req, const char *sha,
			      int64_t job)
{
	char who[128];
	cJSON *d = detail_base(req->issuer, req->verdict_class);

	cJSON_AddStringToObject(d, "error", REVOKE_ERR_UNCONFIGURED);
	cJSON_AddNumberToObject(d, "job", (double)job);
	cJSON_AddBoolToObject(d, "rearm_when_configured", true);
	history_add(r, req->token_id, sha, "revoke_failed", d);
	r->permanent++;
	issuer_for_log(req->issuer, who, sizeof(who));
	snprintf(r->last_failure, sizeof(r->last_failure), "job %lld sha256:%.12s: no issuer '%s'",
		 (long long)job, sha, who);
	log_error("REVOCATION FAILED, TOKEN STILL VALID: sha256:%.12s (%s): issuer '%s' is not "
		  "configured; job %lld kept as failed, re-armed when a config names the issuer",
		  sha, req->verdict_class, who, (long long)job);
}

/* Commit the job (new, or a duplicate that may gain the token). Returns
 * REVOKE_QUEUED, REVOKE_DUPLICATE, REVOKE_FAILED or -EIO. */
static int submit_commit(struct revoker *r, const struct revoke_request *req, const char *sha,
			 const char *issuer, bool unconfigured, const unsigned char *sealed,
			 size_t sealed_len)
{
	int64_t now = wall_ms(), existing, job = 0;
	bool existing_open, existing_has_token;
	int rc = 0;
	cJSON *d;

	pthread_mutex_lock(&r->mu);
	if (db_begin(r->db) != SQLITE_OK) {
		rc = -EIO;
		goto unlock;
	}
	existing = job_find(r, sha, issuer, &existing_open, &existing_has_token);
	if (existing) {
		if (sealed && !existing_has_token && existing_open)
			rc = job_add_token(r, existing, sealed, sealed_len, now);
	} else {
		rc = job_insert(r, req, sha, issuer, unconfigured, sealed, sealed_len, now);
		job = sqlite3_last_insert_rowid(r->db);
	}
	if (rc < 0 || db_commit(r->db) != SQLITE_OK) {
		log_error("revocation job for sha256:%.12s not stored: %s", sha, sqlite3_errmsg(r->db));
		db_rollback(r->db);
		rc = -EIO;
		goto unlock;
	}
	if (existing) {
		r->duplicates++;
		rc = REVOKE_DUPLICATE;
	} else if (unconfigured) {
		note_unconfigured(r, req, sha, job);
		rc = REVOKE_FAILED;
	} else {
		r->submitted++;
		d = detail_base(issuer, req->verdict_class);
		cJSON_AddNumberToObject(d, "job", (double)job);
		cJSON_AddBoolToObject(d, "token_sealed", sealed != NULL);
		history_add(r, req->token_id, sha, "revoke_queued", d);
		rc = REVOKE_QUEUED;
	}
	pthread_cond_signal(&r->cv);
unlock:
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int revoker_submit(struct revoker *r, const struct revoke_request *request)
{
	/* An empty issuer name (a request line's "issuer":"") is no name. */
	struct revoke_request q = *request, *req = &q;
	const struct tw_issuer *is;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char sha[65];
	int vc, rc;
	cJSON *d;

	vc = verdict_class_parse(req->verdict_class);
	if (vc < 0)
		return -EINVAL;
	if (req->token && req->token_len) {
		sha256_hex(req->token, req->token_len, sha);
		if (req->token_sha256 && strcmp(req->token_sha256, sha))
			return -EINVAL;
	} else if (is_hex64(req->token_sha256)) {
		memcpy(sha, req->token_sha256, 65);
	} else {
		return -EINVAL;
	}
	if (req->issuer && !*req->issuer)
		req->issuer = NULL;
	is = req->issuer ? config_issuer(r->cfg, req->issuer) : config_default_issuer(r->cfg);

	pthread_mutex_lock(&r->mu);
	if (r->cfg->policy[vc] == POLICY_ALERT) {
		d = detail_base(is ? is->name : req->issuer, req->verdict_class);
		cJSON_AddStringToObject(d, "policy", "alert");
		history_add(r, req->token_id, sha, "alert", d);
		r->alerts++;
		pthread_mutex_unlock(&r->mu);
		return REVOKE_ALERT_ONLY;
	}
	if (!is && !req->issuer) {
		/* No name to keep a job under: nothing can ever deliver it. */
		d = detail_base(NULL, req->verdict_class);
		cJSON_AddStringToObject(d, "error", "no issuer named and no default issuer");
		history_add(r, req->token_id, sha, "revoke_failed", d);
		r->permanent++;
		snprintf(r->last_failure, sizeof(r->last_failure), "sha256:%.12s: no issuer named and "
			 "no default issuer", sha);
		pthread_mutex_unlock(&r->mu);
		log_error("REVOCATION IMPOSSIBLE, TOKEN STILL VALID: sha256:%.12s (%s): no issuer named "
			  "and no default issuer", sha, req->verdict_class);
		return -ENOENT;
	}
	pthread_mutex_unlock(&r->mu);

	/* Keep the raw token only where an issuer needs it, and sealed. For
	 * an issuer not configured here nobody can tell yet: keep it. */
	if (req->token && req->token_len &&
	    (!is || is->type == ISSUER_RFC7009 || (is->type == ISSUER_COMMAND && is->pass_token))) {
		if (!r->sealer.seal || r->sealer.seal(r->sealer.ctx, sha, 64, req->token,
						      req->token_len, &sealed, &sealed_len)) {
			log_error("cannot seal token sha256:%.12s; not queued", sha);
			return -EIO;
		}
	}
	rc = submit_commit(r, req, sha, is ? is->name : req->issuer, !is, sealed, sealed_len);
	if (sealed) {
		explicit_bzero(sealed, sealed_len);
		free(sealed);
	}
	return rc;
}

/* ---- workers ---------------------------------------------------------- */

struct job {
	int64_t id;
	char *token_id, *sha, *issuer, *vclass, *verdict;
	unsigned char *sealed;
	size_t sealed_len;
	unsigned attempts;
	int64_t created_ms;
};

static void job_clear(struct job *j)
{
	free(j->token_id);
	free(j->sha);
	free(j->issuer);
	free(j->vclass);
	free(j->verdict);
	if (j->sealed) {
		explicit_bzero(j->sealed, j->sealed_len);
		free(j->sealed);
	}
	memset(j, 0, sizeof(*j));
}

static bool is_inflight(struct revoker *r, int64_t id)
{
	for (unsigned i = 0; i < r->ninflight; i++)
		if (r->inflight[i] == id)
			return true;
	return false;
}

static void inflight_del(struct revoker *r, int64_t id)
{
	for (unsigned i = 0; i < r->ninflight; i++)
		if (r->inflight[i] == id) {
			r->inflight[i] = r->inflight[--r->ninflight];
			return;
		}
}

/* Claim the next due job. Returns 1 with *j filled, 0 with *wait_ms set
 * when nothing is due yet. Called with r->mu held. */
static int pick_job(struct revoker *r, struct job *j, int64_t *wait_ms)
{
	sqlite3_stmt *st;
	int64_t now = wall_ms();
	int found = 0;

	*wait_ms = IDLE_POLL_MS;
	if (sqlite3_prepare_v2(r->db, "SELECT id, token_id, token_sha256, issuer, verdict_class, "
			       "verdict_json, sealed_token, attempts, next_attempt_ms, created_ms "
			       "FROM revoke_jobs WHERE state='pending' "
			       "ORDER BY next_attempt_ms, id LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int(st, 1, (int)r->ninflight + 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), due = sqlite3_column_int64(st, 8);

		if (is_inflight(r, id))
			continue;
		if (due > now) {
			*wait_ms = due - now < IDLE_POLL_MS ? due - now : IDLE_POLL_MS;
			break;
		}
		j->id = id;
		j->token_id = db_col_dup(st, 1);
		j->sha = db_col_dup(st, 2);
		j->issuer = db_col_dup(st, 3);
		j->vclass = db_col_dup(st, 4);
		j->verdict = db_col_dup(st, 5);
		j->sealed_len = sqlite3_column_bytes(st, 6);
		if (j->sealed_len) {
			j->sealed = malloc(j->sealed_len);
			if (j->sealed)
				memcpy(j->sealed, sqlite3_column_blob(st, 6), j->sealed_len);
		}
		j->attempts = sqlite3_column_int(st, 7);
		j->created_ms = sqlite3_column_int64(st, 9);
		r->inflight[r->ninflight++] = id;
		found = 1;
		break;
	}
	sqlite3_finalize(st);
	return found;
}

static int update_job(struct revoker *r, const struct job *j, const char *state, long status,
		      const char *error, int64_t next_ms, bool drop_token)
{
	sqlite3_stmt *st;
	int rc;

	sqlite3_prepare_v2(r->db, drop_token ?
			   "UPDATE revoke_jobs SET state=?, attempts=attempts+1, last_status=?, "
			   "last_error=?, next_attempt_ms=?, updated_ms=?, sealed_token=NULL WHERE id=?" :
			   "UPDATE revoke_jobs SET state=?, attempts=attempts+1, last_status=?, "
			   "last_error=?, next_attempt_ms=?, updated_ms=? WHERE id=?", -1, &st, NULL);
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	if (status)
		sqlite3_bind_int64(st, 2, status);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, next_ms);
	sqlite3_bind_int64(st, 5, wall_ms());
	sqlite3_bind_int64(st, 6, j->id);
	rc = db_step_done(st) == SQLITE_OK ? 0 : -1;
	if (rc)
		log_error("revocation job %lld: state not saved: %s", (long long)j->id,
			  sqlite3_errmsg(r->db));
	return rc;
}

/* Record an attempt's outcome. Called with r->mu held. */
static void record_outcome(struct revoker *r, const struct job *j, const struct tw_issuer *is,
			   const struct issuer_outcome *o)
{
	cJSON *d = detail_base(j->issuer, j->vclass);
	unsigned failures = j->attempts + 1;

	cJSON_AddNumberToObject(d, "job", (double)j->id);
	cJSON_AddNumberToObject(d, "attempt", failures);
	if (is)
		cJSON_AddStringToObject(d, "type", issuer_type_name(is->type));
	if (o->http_status)
		cJSON_AddNumberToObject(d, "http_status", o->http_status);
	if (o->retry_after_s >= 0)
		cJSON_AddNumberToObject(d, "retry_after_s", o->retry_after_s);
	if (o->exit_status >= 0)
		cJSON_AddNumberToObject(d, "exit_status", o->exit_status);
	cJSON_AddStringToObject(d, "result", delivery_class_name(o->cls));
	cJSON_AddStringToObject(d, "detail", o->detail);
	cJSON_AddNumberToObject(d, "elapsed_ms", o->elapsed_ms);
	r->attempts++;

	if (o->cls == DELIVERY_OK) {
		double since_submit = (double)(wall_ms() - j->created_ms);

		cJSON_AddNumberToObject(d, "ms_since_queued", since_submit);
		history_add(r, j->token_id, j->sha, "revoked", d);
		update_job(r, j, "done", o->http_status, NULL, 0, true);
		r->delivered++;
		r->last_latency_ms = o->elapsed_ms;
		histogram_observe(&r->confirm_latency, since_submit / 1000.0);
		log_info("revoked token sha256:%.12s at issuer '%s' (%s, attempt %u, %.1f ms)",
			 j->sha, j->issuer, o->detail, failures, o->elapsed_ms);
	} else if (o->cls == DELIVERY_RETRY) {
		uint32_t rnd = 0;
		unsigned delay;

		RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
		delay = revoke_backoff_ms(failures, r->cfg->revocation.backoff_base_ms,
					  r->cfg->revocation.backoff_max_ms, o->retry_after_s,
					  r->cfg->revocation.retry_after_max_ms, rnd);
		cJSON_AddNumberToObject(d, "next_attempt_in_ms", delay);
		history_add(r, j->token_id, j->sha, "revoke_retry", d);
		update_job(r, j, "pending", o->http_status, o->detail, wall_ms() + delay, false);
		r->retries++;
		log_warn("revocation of sha256:%.12s at '%s' failed (%s); retry %u in %u ms",
			 j->sha, j->issuer, o->detail, failures, delay);
	} else {
		if (!is)
			cJSON_AddBoolToObject(d, "rearm_when_configured", true);
		history_add(r, j->token_id, j->sha, "revoke_failed", d);
		/* The marker, not the detail: rearm_configured() looks for it. */
		update_job(r, j, "failed", o->http_status, is ? o->detail : REVOKE_ERR_UNCONFIGURED, 0, false);
		r->permanent++;
		snprintf(r->last_failure, sizeof(r->last_failure), "job %lld sha256:%.12s issuer %s: %s",
			 (long long)j->id, j->sha, j->issuer, o->detail);
		/* Loud: the token is still valid and a human must act. */
		log_error("REVOCATION FAILED, TOKEN STILL VALID: sha256:%.12s (%s) at issuer '%s': %s. "
			  "%s, then run 'tokenward revoke-queue retry %lld'", j->sha, j->vclass, j->issuer,
			  o->detail, is ? "Not retrying; fix the issuer settings" :
			  "Re-armed by any tokenward whose config names the issuer; or add it", (long long)j->id);
	}
}

static void deliver(struct revoker *r, struct issuer_client *client, struct job *j)
{
	const struct tw_issuer *is = config_issuer(r->cfg, j->issuer);
	struct issuer_outcome o = { .retry_after_s = -1, .exit_status = -1 };
	unsigned char *token = NULL;
	size_t token_len = 0;

	if (!is) {
		o.cls = DELIVERY_PERMANENT;
		snprintf(o.detail, sizeof(o.detail), "issuer '%s' is not configured here", j->issuer);
	} else {
		char sha[65];

		if (j->sealed &&
		    (!r->sealer.unseal || r->sealer.unseal(r->sealer.ctx, j->sha, 64, j->sealed,
							   j->sealed_len, &token, &token_len))) {
			token = NULL;
			token_len = 0;
		}
		/* The AEAD already binds blob and hash; this also catches a
		 * sealer that returns the wrong secret. */
		if (token) {
			sha256_hex(token, token_len, sha);
			if (strcmp(sha, j->sha)) {
				explicit_bzero(token, token_len);
				free(token);
				token = NULL;
			}
		}
		if (j->sealed && !token) {
			o.cls = DELIVERY_PERMANENT;
			snprintf(o.detail, sizeof(o.detail), "sealed token cannot be opened (wrong key?)");
		} else {
			struct issuer_job ij = {
				.token_id = j->token_id, .token_sha256 = j->sha,
				.verdict_class = j->vclass, .verdict_json = j->verdict,
				.token = token, .token_len = token_len,
			};
			if (client) {
				issuer_deliver(client, is, &ij, &o);
			} else {
				o.cls = DELIVERY_RETRY;
				snprintf(o.detail, sizeof(o.detail), "no HTTP client (out of memory)");
			}
		}
		if (token) {
			explicit_bzero(token, token_len);
			free(token);
		}
	}
	pthread_mutex_lock(&r->mu);
	record_outcome(r, j, is, &o);
	inflight_del(r, j->id);
	pthread_mutex_unlock(&r->mu);
}

/*
 * Jobs that failed only because their issuer was not configured where
 * they were tried (a CLI run with another config, an issuer added since)
 * become pending again in a process whose config names the issuer. Called
 * with r->mu held, at start and then at most every IDLE_POLL_MS.
 */
static int rearm_configured(struct revoker *r)
{
	struct { int64_t id; char *token_id, *sha, *issuer; } v[32];
	sqlite3_stmt *st = NULL;
	int64_t now = wall_ms();
	int n = 0, done = 0;

	r->last_rearm_ms = now;
	if (sqlite3_prepare_v2(r->db, "SELECT id, token_id, token_sha256, issuer FROM revoke_jobs "
			       "WHERE state='failed' AND last_error=? ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, REVOKE_ERR_UNCONFIGURED, -1, SQLITE_STATIC);
	while (n < 32 && sqlite3_step(st) == SQLITE_ROW) {
		const char *issuer = (const char *)sqlite3_column_text(st, 3);

		if (!issuer || !config_issuer(r->cfg, issuer))
			continue;
		v[n].id = sqlite3_column_int64(st, 0);
		v[n].token_id = db_col_dup(st, 1);
		v[n].sha = db_col_dup(st, 2);
		v[n].issuer = db_col_dup(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	for (int i = 0; i < n; i++) {
		if (sqlite3_prepare_v2(r->db, "UPDATE revoke_jobs SET state='pending', next_attempt_ms=?1, "
				       "updated_ms=?1 WHERE id=?2 AND state='failed'", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_int64(st, 2, v[i].id);
			if (db_step_done(st) == SQLITE_OK && sqlite3_changes(r->db) == 1) {
				cJSON *d = detail_base(v[i].issuer, NULL);

				cJSON_AddNumberToObject(d, "job", (double)v[i].id);
				cJSON_AddStringToObject(d, "reason", "issuer configured");
				history_add(r, v[i].token_id, v[i].sha, "revoke_rearmed", d);
				log_info("revocation job %lld re-armed: issuer '%s' is configured here",
					 (long long)v[i].id, v[i].issuer);
				done++;
			}
		}
		free(v[i].token_id);
		free(v[i].sha);
		free(v[i].issuer);
	}
	if (done)
		pthread_cond_broadcast(&r->cv);
	return done;
}

static void *worker_main(void *arg)
{
	struct revoker *r = arg;
	struct issuer_client *client = issuer_client_new();
	struct job j;
	int64_t wait_ms;

	memset(&j, 0, sizeof(j));
	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		if (pick_job(r, &j, &wait_ms)) {
			pthread_mutex_unlock(&r->mu);
			deliver(r, client, &j);
			job_clear(&j);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		if (wall_ms() - r->last_rearm_ms >= IDLE_POLL_MS && rearm_configured(r))
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	pthread_mutex_unlock(&r->mu);
	issuer_client_free(client);
	return NULL;
}

int revoker_start(struct revoker *r)
{
	unsigned n = r->cfg->revocation.workers;

	if (r->nthreads)
		return 0;
	if (n < 1)
		n = 1;
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	r->stopping = 0;
	pthread_mutex_lock(&r->mu);
	rearm_configured(r);
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&r->threads[i], NULL, worker_main, r)) {
			revoker_stop(r);
			return -EAGAIN;
		}
		r->nthreads++;
	}
	return 0;
}

void revoker_stop(struct revoker *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	r->nthreads = 0;
}

void revoker_close(struct revoker *r)
{
	if (!r)
		return;
	revoker_stop(r);
	revoker_set_sealer(r, NULL);
	if (r->db)
		sqlite3_close(r->db);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->db_path);
	free(r);
}

/* ---- inspection ------------------------------------------------------- */

/* The queue by state: counts, the oldest pending job's age, attempts. */
static void stats_queue(struct revoker *r, cJSON *out, int64_t now)
{
	sqlite3_stmt *st;
	double attempts = 0;

	cJSON_AddNumberToObject(out, "pending", 0);
	cJSON_AddNumberToObject(out, "done", 0);
	cJSON_AddNumberToObject(out, "failed", 0);
	if (sqlite3_prepare_v2(r->db, "SELECT state, COUNT(*), MIN(created_ms), SUM(attempts) "
			       "FROM revoke_jobs GROUP BY state", -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);

		cJSON_ReplaceItemInObject(out, s, cJSON_CreateNumber(sqlite3_column_int64(st, 1)));
		if (!strcmp(s, "pending"))
			cJSON_AddNumberToObject(out, "oldest_pending_ms",
						(double)(now - sqlite3_column_int64(st, 2)));
		attempts += sqlite3_column_double(st, 3);
	}
	cJSON_AddNumberToObject(out, "attempts", attempts);
	sqlite3_finalize(st);
}

/* What this process did since it started (the queue outlives it). */
static void stats_since_start(struct revoker *r, cJSON *out)
{
	cJSON *proc = cJSON_AddObjectToObject(out, "since_start");

	cJSON_AddNumberToObject(proc, "queued", (double)r->submitted);
	cJSON_AddNumberToObject(proc, "duplicates", (double)r->duplicates);
	cJSON_AddNumberToObject(proc, "alerts_only", (double)r->alerts);
	cJSON_AddNumberToObject(proc, "revoked", (double)r->delivered);
	cJSON_AddNumberToObject(proc, "retries", (double)r->retries);
	cJSON_AddNumberToObject(proc, "permanent_failures", (double)r->permanent);
	cJSON_AddNumberToObject(proc, "last_request_ms", r->last_latency_ms);
	if (r->last_failure[0])
		cJSON_AddStringToObject(proc, "last_failure", r->last_failure);
}

/* Failed jobs need a human; list the latest few. */
static void stats_failed_jobs(struct revoker *r, cJSON *out)
{
	sqlite3_stmt *st;
	cJSON *arr;

	if (sqlite3_prepare_v2(r->db, "SELECT id, token_sha256, issuer, last_error FROM revoke_jobs "
			       "WHERE state='failed' ORDER BY updated_ms DESC LIMIT 10", -1, &st,
			       NULL) != SQLITE_OK)
		return;
	arr = cJSON_AddArrayToObject(out, "failed_jobs");
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		const char *err = (const char *)sqlite3_column_text(st, 3) ?: "";

		cJSON_AddNumberToObject(o, "job", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "token_sha256", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(o, "issuer", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddStringToObject(o, "error", err);
		cJSON_AddBoolToObject(o, "rearm_when_configured", !strcmp(err, REVOKE_ERR_UNCONFIGURED));
		cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
}

/* Pending after a failed attempt: not revoked yet, and why. */
static void stats_retrying_jobs(struct revoker *r, cJSON *out, int64_t now)
{
	sqlite3_stmt *st;
	cJSON *arr;

	if (sqlite3_prepare_v2(r->db, "SELECT id, token_sha256, issuer, attempts, last_status, last_error, "
			       "next_attempt_ms FROM revoke_jobs WHERE state='pending' AND attempts > 0 "
			       "ORDER BY updated_ms DESC LIMIT 10", -1, &st, NULL) != SQLITE_OK)
		return;
	arr = cJSON_AddArrayToObject(out, "retrying_jobs");
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "job", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "token_sha256", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(o, "issuer", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddNumberToObject(o, "attempts", sqlite3_column_int(st, 3));
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			cJSON_AddNumberToObject(o, "last_status", sqlite3_column_int(st, 4));
		cJSON_AddStringToObject(o, "error", (const char *)sqlite3_column_text(st, 5) ?: "");
		cJSON_AddNumberToObject(o, "next_attempt_in_ms", (double)(sqlite3_column_int64(st, 6) - now));
		cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
}

int revoker_stats(struct revoker *r, cJSON *out)
{
	int64_t now = wall_ms();

	pthread_mutex_lock(&r->mu);
	stats_queue(r, out, now);
	cJSON_AddNumberToObject(out, "in_flight", r->ninflight);
	cJSON_AddNumberToObject(out, "workers", r->nthreads);
	stats_since_start(r, out);
	/* from the job's commit to the issuer's confirmation (metrics) */
	histogram_json(&r->confirm_latency, out, "revoke_latency_seconds");
	stats_failed_jobs(r, out);
	stats_retrying_jobs(r, out, now);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

const char *revoke_job_state_name(enum revoke_job_state s)
{
	static const char *const names[] = { "none", "pending", "retrying", "done", "failed" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

int revoke_job_lookup(sqlite3 *db, const char *sha, const char *issuer, struct revoke_job_info *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!is_hex64(sha) || !issuer)
		return -EINVAL;
	if (sqlite3_prepare_v2(db, "SELECT id, state, attempts, last_status, last_error, next_attempt_ms "
			       "FROM revoke_jobs WHERE token_sha256=? AND issuer=?", -1, &st, NULL) != SQLITE_OK)
		return -ENOENT; /* no queue in this database yet */
	sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, issuer, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 1) ?: "";

		out->job = sqlite3_column_int64(st, 0);
		out->attempts = sqlite3_column_int(st, 2);
		out->last_status = sqlite3_column_int(st, 3);
		db_col_copy(st, 4, out->error, sizeof(out->error));
		out->next_attempt_ms = sqlite3_column_int64(st, 5);
		if (!strcmp(state, "done"))
			out->state = REVOKE_JOB_DONE;
		else if (!strcmp(state, "failed"))
			out->state = REVOKE_JOB_FAILED;
		else
			out->state = out->attempts ? REVOKE_JOB_RETRYING : REVOKE_JOB_PENDING;
		out->rearm_when_configured = out->state == REVOKE_JOB_FAILED &&
					     !strcmp(out->error, REVOKE_ERR_UNCONFIGURED);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

int revoker_job_info(struct revoker *r, const char *sha, const char *issuer, struct revoke_job_info *out)
{
	const struct tw_issuer *is = issuer ? NULL : config_default_issuer(r->cfg);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!issuer && !is)
		return is_hex64(sha) ? 0 : -EINVAL; /* no name: no job can exist */
	pthread_mutex_lock(&r->mu);
	rc = revoke_job_lookup(r->db, sha, issuer ? issuer : is->name, out);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int revoker_retry(struct revoker *r, int64_t job_id)
{
	sqlite3_stmt *st;
	int n = -EIO;

	pthread_mutex_lock(&r->mu);
	if (sqlite3_prepare_v2(r->db, job_id > 0 ?
			       "UPDATE revoke_jobs SET state='pending', next_attempt_ms=?, "
			       "updated_ms=?1 WHERE state='failed' AND id=?2" :
			       "UPDATE revoke_jobs SET state='pending', next_attempt_ms=?, "
			       "updated_ms=?1 WHERE state='failed'", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, wall_ms());
		if (job_id > 0)
			sqlite3_bind_int64(st, 2, job_id);
		if (sqlite3_step(st) == SQLITE_DONE)
			n = sqlite3_changes(r->db);
		sqlite3_finalize(st);
	}
	if (n > 0) {
		cJSON *d = cJSON_CreateObject();

		cJSON_AddNumberToObject(d, "jobs", n);
		cJSON_AddNumberToObject(d, "job", (double)job_id);
		history_add(r, NULL, NULL, "revoke_rearmed", d);
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}

cJSON *revoker_list_jobs(struct revoker *r)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *st;

	pthread_mutex_lock(&r->mu);
	if (sqlite3_prepare_v2(r->db, "SELECT id, token_id, token_sha256, issuer, verdict_class, "
			       "state, attempts, next_attempt_ms, created_ms, updated_ms, last_status, "
			       "last_error, sealed_token IS NOT NULL FROM revoke_jobs ORDER BY id",
			       -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddNumberToObject(o, "job", (double)sqlite3_column_int64(st, 0));
			if (sqlite3_column_type(st, 1) != SQLITE_NULL)
				cJSON_AddStringToObject(o, "token_id", (const char *)sqlite3_column_text(st, 1));
			cJSON_AddStringToObject(o, "token_sha256", (const char *)sqlite3_column_text(st, 2));
			cJSON_AddStringToObject(o, "issuer", (const char *)sqlite3_column_text(st, 3));
			cJSON_AddStringToObject(o, "verdict_class", (const char *)sqlite3_column_text(st, 4));
			cJSON_AddStringToObject(o, "state", (const char *)sqlite3_column_text(st, 5));
			cJSON_AddNumberToObject(o, "attempts", sqlite3_column_int(st, 6));
			cJSON_AddNumberToObject(o, "next_attempt_ms", (double)sqlite3_column_int64(st, 7));
			cJSON_AddNumberToObject(o, "created_ms", (double)sqlite3_column_int64(st, 8));
			cJSON_AddNumberToObject(o, "updated_ms", (double)sqlite3_column_int64(st, 9));
			if (sqlite3_column_type(st, 10) != SQLITE_NULL)
				cJSON_AddNumberToObject(o, "last_status", sqlite3_column_int(st, 10));
			if (sqlite3_column_type(st, 11) != SQLITE_NULL)
				cJSON_AddStringToObject(o, "last_error", (const char *)sqlite3_column_text(st, 11));
			cJSON_AddBoolToObject(o, "token_sealed", sqlite3_column_int(st, 12));
			cJSON_AddItemToArray(arr, o);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&r->mu);
	return arr;
}

cJSON *revoker_history(struct revoker *r, const char *sha)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *st;

	pthread_mutex_lock(&r->mu);
	if (sqlite3_prepare_v2(r->db, sha ?
			       "SELECT at_ms, token_id, token_sha256, event, detail FROM revoke_history "
			       "WHERE token_sha256=? ORDER BY id" :
			       "SELECT at_ms, token_id, token_sha256, event, detail FROM revoke_history "
			       "ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
		if (sha)
			sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *o = cJSON_CreateObject(), *d;

			cJSON_AddNumberToObject(o, "at_ms", (double)sqlite3_column_int64(st, 0));
			if (sqlite3_column_type(st, 1) != SQLITE_NULL)
				cJSON_AddStringToObject(o, "token_id", (const char *)sqlite3_column_text(st, 1));
			if (sqlite3_column_type(st, 2) != SQLITE_NULL)
				cJSON_AddStringToObject(o, "token_sha256", (const char *)sqlite3_column_text(st, 2));
			cJSON_AddStringToObject(o, "event", (const char *)sqlite3_column_text(st, 3));
			d = cJSON_Parse((const char *)sqlite3_column_text(st, 4) ?: "{}");
			cJSON_AddItemToObject(o, "detail", d ? d : cJSON_CreateObject());
			cJSON_AddItemToArray(arr, o);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&r->mu);
	return arr;
}
