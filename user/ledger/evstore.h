/*
 * The event store: STATE_DIR/events.db, a SQLite file beside the ledger
 * that keeps what the monitor saw, for reports (docs/REPORTS.md):
 *   - every verdict, unmanaged ones included: the redacted verdict JSON the
 *     event stream carries, plus the process's parent chain, with the
 *     columns a report groups by (class, action, rule, exe, path, dest,
 *     container) pulled out;
 *   - revocation outcomes, as the revoker records them (the issuer's answer);
 *   - the loss and cut counters, sampled every 10 s.
 * Content is never stored: only what already went through redaction.
 *
 * A file of its own, not a table in the ledger: the ledger file is also
 * the revocation queue, and a burst of verdict rows must not queue behind
 * (or in front of) a revocation job's write lock; and it is kept for a
 * retention period of its own.
 *
 * Writes are off the hot path: evstore_add_*() only appends to a bounded
 * in-memory queue (a full queue counts the row as dropped, and the report
 * says so); one writer thread commits the queue in one transaction every
 * 200 ms and applies retention (age, then size) once a minute.
 */
#ifndef TW_EVSTORE_H
#define TW_EVSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <cjson/cJSON.h>

#define EVSTORE_FILE "events.db"
#define EVSTORE_SCHEMA 1
#define EVSTORE_QUEUE_MAX 65536        /* rows waiting for the writer */
#define EVSTORE_SAMPLE_NS (10 * 1000000000ll)

struct evstore_retention {
	uint64_t max_age_s;   /* rows older than this are deleted; 0 keeps all */
	uint64_t max_bytes;   /* oldest rows deleted while the data is larger; 0 no bound */
};

struct evstore_stats {
	uint64_t queued, written, dropped, write_failed, retention_deleted;
};

struct evstore;

/* Open (creating) the store for the monitor and start its writer thread.
 * path is refused when it is a symlink, foreign or newer. */
int evstore_open(const char *path, const struct evstore_retention *ret, struct evstore **out,
		 char *err, size_t errsz);
/* Write what is queued, stop the thread, close. NULL-safe. */
void evstore_close(struct evstore *s);

/* A verdict (the redacted verdict JSON) and the parent chain (an array,
 * may be NULL); both are taken over. Thread-safe, never blocks on I/O. */
void evstore_add_verdict(struct evstore *s, cJSON *verdict, cJSON *parents);
/* A revocation outcome (history event and its detail JSON, redacted). */
void evstore_add_revocation(struct evstore *s, const char *token_id, const char *event,
			    const char *detail_json);
/* The counters now (from the status object): kept when EVSTORE_SAMPLE_NS
 * passed since the last sample, or force. run_ns names the monitor run
 * (counters restart with each run). */
void evstore_sample(struct evstore *s, const cJSON *status, int64_t run_ns, int force);

/* 1 when EVSTORE_SAMPLE_NS passed since the last sample. */
int evstore_sample_due(const struct evstore *s);

void evstore_get_stats(struct evstore *s, struct evstore_stats *st);
void evstore_status(struct evstore *s, cJSON *o);

/* Retention once, now (the writer does it every minute). Returns rows deleted or <0. */
int evstore_apply_retention(sqlite3 *db, const struct evstore_retention *ret, int64_t now_ns);

/* For the report: a read-only connection. -ENOENT when there is no store. */
int evstore_open_reader(const char *path, sqlite3 **db, char *err, size_t errsz);

/* The container id in a cgroup path (docker-<id>.scope, /docker/<id>,
 * cri-containerd-<id>, libpod-<id>), else "" . */
void evstore_container_id(const char *cgroup, char *out, size_t outsz);

/* Used by tests and the 1M-row measurement: the schema on db. */
int evstore_schema(sqlite3 *db);

#endif
