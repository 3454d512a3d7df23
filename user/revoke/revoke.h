/*
 * The revoker: a durable queue of revocation jobs in SQLite and worker
 * threads that deliver them to the token's issuer (issuer.h).
 *
 * Guarantees:
 *  - a job is committed before it is attempted, so a crash (kill -9) at
 *    any point loses nothing: pending jobs are picked up by the next
 *    revoker_start() on the same database;
 *  - one job per (token hash, issuer): submitting the same token again is
 *    a no-op (RFC 7009 revocation is idempotent anyway);
 *  - retryable failures back off exponentially with jitter and never
 *    earlier than a Retry-After; permanent failures (400/401/403) stop,
 *    are logged as errors and counted, and wait for `revoke-queue retry`;
 *  - every outcome is written to the token's history (one function,
 *    revoker_set_history_sink() redirects it, e.g. to the ledger).
 *
 * The raw token, needed for RFC 7009, is stored only sealed (AES-256-GCM,
 * revoker_set_sealer(); a built-in file-key sealer is the default) and
 * dropped from the row once the job is done. It never reaches a log, an
 * error message or the history.
 *
 * Typical use:
 *   struct revoker *r;
 *   if (revoker_open(cfg, "/var/lib/tokenward/ledger.db", &r, err, sizeof err))
 *       die(err);
 *   revoker_start(r);
 *   ... revoker_submit(r, &req) for each exposure verdict ...
 *   revoker_close(r);
 */
#ifndef TW_REVOKE_H
#define TW_REVOKE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "lib/config.h"

struct revoker;

struct revoke_request {
	const char *token_id;       /* ledger id of the token; may be NULL */
	const char *token_sha256;   /* hex; may be NULL when token is given */
	const char *issuer;         /* issuer name in the config; NULL: default */
	const char *verdict_class;  /* "file_write", ... (config.h) */
	const char *verdict_json;   /* the redacted verdict, a JSON object; may be NULL */
	const void *token;          /* raw token bytes (memory only); may be NULL */
	size_t token_len;
};

/* revoker_submit() results (>= 0); errors are negative errno values. */
enum revoke_submit_result {
	REVOKE_QUEUED = 0,      /* a new job, committed, worker signalled */
	REVOKE_DUPLICATE = 1,   /* a job for this token and issuer exists */
	REVOKE_ALERT_ONLY = 2,  /* the policy for this class is "alert" */
	REVOKE_FAILED = 3,      /* the named issuer is not configured: the job is
				 * committed as failed (REVOKE_ERR_UNCONFIGURED) and
				 * re-armed by the first revoker whose config names it */
};

/* last_error of a job that failed because its issuer is not configured
 * in the process that tried it; such jobs are re-armed automatically. */
#define REVOKE_ERR_UNCONFIGURED "issuer not configured"

/* Sealing of the raw token at rest. Both calls return 0 on success and
 * hand back a malloc'ed buffer; aad binds the blob to its token hash. */
struct revoke_sealer {
	int (*seal)(void *ctx, const void *aad, size_t aadlen, const void *in, size_t n,
		    unsigned char **out, size_t *outn);
	int (*unseal)(void *ctx, const void *aad, size_t aadlen, const unsigned char *in, size_t n,
		      unsigned char **out, size_t *outn);
	void (*free_ctx)(void *ctx);
	void *ctx;
};

/* Where history lines go: event is e.g. "revoke_queued", "revoked",
 * "revoke_retry", "revoke_failed", "alert"; detail_json an object. */
typedef int (*revoke_history_fn)(void *ctx, const char *token_id, const char *token_sha256,
				 const char *event, const char *detail_json);

/*
 * Open (creating if needed) the job tables in the SQLite database at
 * db_path (WAL; the ledger may share the file). cfg must outlive the
 * revoker. The default sealer keeps its key in cfg->revocation.key_file,
 * else in DIR(db_path)/revoke.key (created 0600, refused if wider).
 * Returns 0, or -1 with a message in err.
 */
int revoker_open(const struct tw_config *cfg, const char *db_path, struct revoker **out,
		 char *err, size_t errsz);

/* For reading only (stats, list, history): the file must exist, and
 * nothing is written to it (no tables, no journal mode, no key). Both
 * refuse a directory others can write and a file that is not tokenward's
 * (see ledger_open). */
int revoker_open_readonly(const struct tw_config *cfg, const char *db_path, struct revoker **out,
			  char *err, size_t errsz);

/* Replace the sealer (before revoker_start). The revoker owns s->ctx
 * afterwards and calls s->free_ctx on close. */
void revoker_set_sealer(struct revoker *r, const struct revoke_sealer *s);

/* Redirect history writes (before revoker_start). NULL restores the
 * built-in table revoke_history. */
void revoker_set_history_sink(struct revoker *r, revoke_history_fn fn, void *ctx);

/* Queue a revocation per the policy for req->verdict_class. Thread-safe;
 * returns after the job is committed (~0.1 ms). */
int revoker_submit(struct revoker *r, const struct revoke_request *req);

/* Start cfg->revocation.workers delivery threads. */
int revoker_start(struct revoker *r);

/* Stop the workers after their current attempt (bounded by the issuer
 * timeout). Pending jobs stay in the database. Idempotent. */
void revoker_stop(struct revoker *r);

/* Stop and free. */
void revoker_close(struct revoker *r);

/* Add queue figures to out (an object): pending, done, failed, in_flight,
 * oldest_pending_ms, failed_jobs and retrying_jobs (latest 10 each), and
 * this process's counters. For `tokenward status`. */
int revoker_stats(struct revoker *r, cJSON *out);

/* One job's state, for a caller that must say what happened to it. */
enum revoke_job_state {
	REVOKE_JOB_NONE,        /* no job for this token and issuer */
	REVOKE_JOB_PENDING,     /* queued, not attempted yet (or in flight) */
	REVOKE_JOB_RETRYING,    /* attempted, failed, another attempt is due */
	REVOKE_JOB_DONE,        /* the issuer confirmed */
	REVOKE_JOB_FAILED,      /* stopped: waits for a fix (and `retry`) */
};

struct revoke_job_info {
	int64_t job;
	enum revoke_job_state state;
	unsigned attempts;
	long last_status;           /* HTTP status or 0 */
	int64_t next_attempt_ms;    /* CLOCK_REALTIME, for PENDING and RETRYING */
	int rearm_when_configured;  /* FAILED with REVOKE_ERR_UNCONFIGURED */
	char error[256];            /* last_error, "" if none */
};

/* The job for token_sha256 (hex) at issuer (NULL: the default issuer's
 * name). 0 (state NONE when there is none) or a negative errno. */
int revoker_job_info(struct revoker *r, const char *token_sha256, const char *issuer,
		     struct revoke_job_info *out);

/* The same on a database handle (e.g. the ledger's, for `ledger show`),
 * without a revoker. -ENOENT when the database has no queue yet. */
struct sqlite3;
int revoke_job_lookup(struct sqlite3 *db, const char *token_sha256, const char *issuer,
		      struct revoke_job_info *out);

/* revoke_job_state as a word: "none", "pending", "retrying", "done", "failed". */
const char *revoke_job_state_name(enum revoke_job_state s);

/* Re-arm a failed job (job_id > 0) or all failed jobs (job_id == 0).
 * Returns the number re-armed or a negative errno. */
int revoker_retry(struct revoker *r, int64_t job_id);

/* Jobs (without sealed data) and history as JSON arrays, for the CLI.
 * token_sha256 NULL: all. Caller frees with cJSON_Delete. */
cJSON *revoker_list_jobs(struct revoker *r);
cJSON *revoker_history(struct revoker *r, const char *token_sha256);

/*
 * Delay before retry number `failures` (1 = after the first failure):
 * base * 2^(failures-1) capped at max, with equal jitter (half fixed,
 * half from rnd), and never less than Retry-After (capped at
 * retry_after_max_ms) when the issuer sent one (retry_after_s >= 0).
 */
unsigned revoke_backoff_ms(unsigned failures, unsigned base_ms, unsigned max_ms,
			   long retry_after_s, unsigned retry_after_max_ms, uint32_t rnd);

/* The built-in sealer: AES-256-GCM with a 32-byte key read from, or
 * created at, key_path (must be 0600). */
int revoke_sealer_file(const char *key_path, struct revoke_sealer *out, char *err, size_t errsz);

#endif
