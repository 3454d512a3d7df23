/*
 * The issuance ledger: one row per delegation token, keyed by the SHA-256
 * of the token, recording the promise made when it was issued (task,
 * delegate, audience, life). The raw token is never stored; when an
 * external issuer needs it back for revocation it is kept sealed
 * (seal.h), bound to its row.
 *
 * SQLite in WAL mode so the CLI can write while the monitor reads. Every
 * write is one IMMEDIATE transaction: a crash or a lock timeout leaves
 * either the whole change or none of it.
 *
 * Other modules:
 *  - revocation keeps its own tables in the same database
 *    (ledger_sqlite()), picks up rows of `revoke_requests` whose state is
 *    'pending', and reports back with ledger_revoke_request_done();
 *  - the monitor reads through a ledger_cache (below).
 */
#ifndef TW_LEDGER_H
#define TW_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "lib/sha256.h" /* a token is keyed by its digest */
#include "verdict/audience.h"

#define LEDGER_DEFAULT_PATH   "/var/lib/tokenward/ledger.db"
#define LEDGER_ENV            "TOKENWARD_LEDGER"
#define LEDGER_ENV_BUSY_MS    "TOKENWARD_LEDGER_BUSY_MS"
#define LEDGER_BUSY_MS        5000
#define LEDGER_SCHEMA_VERSION 1
#define LEDGER_BUILTIN_ISSUER "tokenward"
#define LEDGER_ID_LEN         15 /* "tk-" + 12 hex */

enum ledger_status { LEDGER_ACTIVE = 0, LEDGER_COMPLETED, LEDGER_REVOKED, LEDGER_EXPIRED };
enum ledger_delegate { LEDGER_DELEGATE_ANY = 0, LEDGER_DELEGATE_EXE, LEDGER_DELEGATE_CGROUP, LEDGER_DELEGATE_PID };
enum ledger_format { LEDGER_FMT_TWD = 0, LEDGER_FMT_JWT, LEDGER_FMT_OPAQUE };

struct ledger_token {
	char id[LEDGER_ID_LEN + 1];
	unsigned char sha[SHA256_LEN];
	char sha256[SHA256_HEX_LEN + 1]; /* sha256_to_hex() of sha */
	char redacted[32];          /* redact_short() of the token */
	uint32_t length;            /* token length in bytes */
	enum ledger_format format;
	char *issuer;
	char *subject;              /* on whose behalf */
	enum ledger_delegate delegate_kind;
	char *delegate;             /* exe path, cgroup path, or the pid as text */
	uint32_t delegate_pid;
	uint64_t delegate_start_ns; /* start of delegate_pid since boot; 0 unknown */
	uint64_t delegate_cgroup_id;/* inode of the cgroup v2 directory; 0 unknown */
	char **audience;            /* canonical audience strings */
	size_t naudience;
	struct audience_list aud;   /* parsed audience (filled on every read) */
	char *scope;
	char *task;
	char *jti;
	char *client_id;
	char *actor;                /* RFC 8693 act.sub (outermost actor) */
	int64_t issued_at;          /* unix seconds */
	int64_t expires_at;         /* unix seconds */
	int64_t completed_ns;       /* unix ns; 0 = not completed */
	int64_t revoked_ns;         /* unix ns; 0 = not revoked */
	enum ledger_status status;
	int inherit;                /* may pass to child processes (exec) */
	int sealed;                 /* a sealed raw token is kept */
};

struct ledger;

enum { LEDGER_OPEN_RDONLY = 1, LEDGER_OPEN_CREATE = 2 };

/* $TOKENWARD_LEDGER, else LEDGER_DEFAULT_PATH. */
const char *ledger_default_path(void);

/*
 * Open (and with LEDGER_OPEN_CREATE create, 0600 in a 0700 directory) the
 * ledger, migrating its schema. LEDGER_OPEN_RDONLY writes nothing: no
 * file, no journal mode, no migration. The directory must be private
 * (safefile_check_dir) and the path free of symbolic links; a file that
 * is not a tokenward ledger is refused before anything touches it.
 * Returns 0, or:
 *   -ENOENT  no ledger file and not asked to create one
 *   -EPERM / -ELOOP  a directory others can write, or a link on the way
 *   -EBADMSG not a database, not a ledger, corrupt, or a newer schema
 *            (each left untouched)
 *   -EBUSY   locked by another writer past the busy timeout
 *   -EACCES / -EIO  other failures
 * err gets one line naming the file.
 */
int ledger_open(const char *path, int flags, struct ledger **out, char *err, size_t errsz);
void ledger_close(struct ledger *l);
const char *ledger_path(const struct ledger *l);
/* The last error, one line naming the file. */
const char *ledger_errmsg(const struct ledger *l);
/* The connection, for modules that keep their own tables here. */
sqlite3 *ledger_sqlite(struct ledger *l);

/*
 * Statements the monitor runs on every tick (50 a second), prepared once
 * per connection and finalized by ledger_close(): parsing them again each
 * time was a sixth of the reader's CPU under redis-benchmark. Returns the
 * statement for slot, reset and unbound, or NULL when sql does not
 * prepare (sqlite3_errmsg() says why). The caller steps it, then
 * sqlite3_reset()s it, which ends its read transaction: a statement left
 * mid-way pins the snapshot and hides other connections' commits.
 */
enum ledger_kept { LEDGER_KEPT_DATA_VERSION, LEDGER_KEPT_PENDING_REQUESTS, LEDGER_NKEPT };
sqlite3_stmt *ledger_stmt_kept(struct ledger *l, enum ledger_kept slot, const char *sql);

/*
 * Record a token. t->id is generated when empty; t->sha/sha256,
 * redacted, length, issuer, expires_at are required, and every audience
 * must parse. sealed/sealed_len: an optional seal_encrypt() blob whose AAD
 * is t->sha256. -EEXIST when the hash is already recorded.
 */
int ledger_add(struct ledger *l, struct ledger_token *t, const void *sealed, size_t sealed_len);

/* Fetch by id, or by hash. -ENOENT when absent. Free with ledger_token_free(). */
int ledger_get(struct ledger *l, const char *id, struct ledger_token **out);
int ledger_get_sha(struct ledger *l, const unsigned char sha[32], struct ledger_token **out);
void ledger_token_free(struct ledger_token *t);

/* Call cb for every token, oldest first; a non-zero return stops. */
int ledger_foreach(struct ledger *l, int (*cb)(void *ctx, const struct ledger_token *t), void *ctx);

/* The sealed blob of a token (malloc'd). -ENOENT when none is kept. */
int ledger_sealed_get(struct ledger *l, const char *id, unsigned char **blob, size_t *len);

/* Append to a token's history. detail_json may be NULL; it must not hold
 * a raw token. Usable inside or outside the ledger's own transactions. */
int ledger_history_add(struct ledger *l, const char *token_id, const char *event, const char *detail_json);
/* Call cb for each history entry of a token, oldest first. */
int ledger_history_foreach(struct ledger *l, const char *token_id,
			   int (*cb)(void *ctx, int64_t at_ns, const char *event, const char *detail),
			   void *ctx);

/*
 * Revocation hook. The ledger decides, the revocation module acts:
 *  - ledger_revoke() marks a token revoked (history 'revoked') and, unless
 *    the issuer is the built-in one (for which the ledger itself is the
 *    authority), queues a row in revoke_requests(state 'pending').
 *  - ledger_complete_task() marks every active token of a task
 *    completed, and with revoke set, revokes each as above.
 * Both commit in one transaction, then call the hook (if set) once per
 * queued request, so an in-process revoker can act at once; an
 * out-of-process one polls revoke_requests.
 */
typedef void (*ledger_revoke_hook_fn)(void *ctx, int64_t request_seq, const char *token_id,
				      const char *issuer, const char *reason);
void ledger_set_revoke_hook(struct ledger *l, ledger_revoke_hook_fn fn, void *ctx);
/* -ENOENT unknown id; -EALREADY already revoked (nothing changes). */
int ledger_revoke(struct ledger *l, const char *id, const char *reason, int64_t now_ns);
/* *count gets the number of tokens completed; -ENOENT when the task has
 * no active token. */
int ledger_complete_task(struct ledger *l, const char *task, int revoke, int64_t now_ns, size_t *count);
/* The revocation module's report: state is "done" or "failed". */
int ledger_revoke_request_done(struct ledger *l, int64_t seq, const char *state, const char *detail_json);

/* Mark active tokens past expires_at as expired. *count may be NULL. */
int ledger_expire_sweep(struct ledger *l, int64_t now_s, size_t *count);

/* Status as of now: an active token past its expiry reads as expired. */
enum ledger_status ledger_effective_status(const struct ledger_token *t, int64_t now_s);
const char *ledger_status_str(enum ledger_status s);
const char *ledger_delegate_str(enum ledger_delegate d);
const char *ledger_format_str(enum ledger_format f);

/* The JSON object describing a token (no secret in it). */
struct cJSON *ledger_token_to_json(const struct ledger_token *t, int64_t now_s);

/*
 * Lookup cache for the running monitor: every token's hash in a hash
 * table, with its metadata, over a read-only connection of its own.
 * ledger_cache_refresh() asks SQLite whether any other connection has
 * committed since the last load (PRAGMA data_version, a read of the WAL
 * index, no I/O to the database file), and only then reads the rows
 * whose `rev` (a change counter stamped by trigger on every insert and
 * update) is above the last one loaded; call it at least every 50 ms so a
 * freshly minted token is known within 100 ms. Rows are never deleted by
 * tokenward; a tool that prunes rows must make the monitor reopen its
 * cache. Pointers returned by lookup stay valid until the next refresh
 * that loads something (refresh returns 1). Single-threaded.
 */
struct ledger_cache;
/* flags as for ledger_open(): the monitor creates the ledger when absent
 * (LEDGER_OPEN_CREATE) so that it can start before the first mint; an
 * offline scan only reads (LEDGER_OPEN_RDONLY). */
int ledger_cache_open(const char *path, int flags, struct ledger_cache **out, char *err, size_t errsz);
void ledger_cache_close(struct ledger_cache *c);
/* 1 entries loaded, 0 none changed, <0 error (the old contents stay usable). */
int ledger_cache_refresh(struct ledger_cache *c);
const struct ledger_token *ledger_cache_lookup(const struct ledger_cache *c, const unsigned char sha[32]);
/* Hash the candidate bytes and look them up. */
const struct ledger_token *ledger_cache_lookup_bytes(const struct ledger_cache *c, const void *s, size_t n);
size_t ledger_cache_count(const struct ledger_cache *c);
/* Sorted distinct lengths of registered opaque tokens (format opaque). */
const uint32_t *ledger_cache_lengths(const struct ledger_cache *c, size_t *n);

#endif
