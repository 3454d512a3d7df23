/*
 * Why SQLite and why so careful: the ledger is the only place the promise
 * made at issuance survives; a half-written row would turn a managed token
 * into an unmanaged one (or worse, record an audience nobody chose). So
 * every change is one IMMEDIATE transaction, the busy timeout waits for
 * the other writer instead of failing at once, and an unreadable file is
 * reported and never "repaired".
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "ledger/ledger.h"
#include "detect/detect.h"
#include "detect/opaque.h"
#include "ledger/token.h"
#include "lib/db.h"
#include "lib/safefile.h"
#include "lib/util.h"
#include "lib/sha256.h"

struct ledger {
	sqlite3 *db;
	char *path;
	int busy_ms;
	char err[512];
	ledger_revoke_hook_fn hook;
	void *hook_ctx;
	sqlite3_stmt *kept[LEDGER_NKEPT]; /* ledger_stmt_kept() */
};

/* ---- helpers ---------------------------------------------------------- */

const char *ledger_default_path(void)
{
	const char *e = getenv(LEDGER_ENV);

	return e && *e ? e : LEDGER_DEFAULT_PATH;
}

static const char *const status_names[] = { "active", "completed", "revoked", "expired" };
static const char *const delegate_names[] = { "any", "exe", "cgroup", "pid" };
static const char *const format_names[] = { "twd", "jwt", "opaque" };

const char *ledger_status_str(enum ledger_status s)
{
	return (unsigned)s < 4 ? status_names[s] : "?";
}

const char *ledger_delegate_str(enum ledger_delegate d)
{
	return (unsigned)d < 4 ? delegate_names[d] : "?";
}

const char *ledger_format_str(enum ledger_format f)
{
	return (unsigned)f < 3 ? format_names[f] : "?";
}

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

enum ledger_status ledger_effective_status(const struct ledger_token *t, int64_t now_s)
{
	if (t->status == LEDGER_ACTIVE && t->expires_at && now_s >= t->expires_at)
		return LEDGER_EXPIRED;
	return t->status;
}

/* Map an SQLite failure to -errno and one line naming the file. */
static int fail(struct ledger *l, int rc, const char *what)
{
	int prim = rc & 0xff;

	switch (prim) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		snprintf(l->err, sizeof(l->err), "ledger %s is locked by another process "
			 "(waited %d ms) while %s; nothing was changed", l->path, l->busy_ms, what);
		return -EBUSY;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		snprintf(l->err, sizeof(l->err), "ledger %s is not a valid tokenward database or is "
			 "corrupt (%s) while %s; it was left as is: restore it or move it aside",
			 l->path, sqlite3_errstr(rc), what);
		return -EBADMSG;
	case SQLITE_CONSTRAINT:
		snprintf(l->err, sizeof(l->err), "ledger %s: %s while %s", l->path,
			 sqlite3_errmsg(l->db), what);
		return -EEXIST;
	case SQLITE_CANTOPEN:
		if (rc == SQLITE_CANTOPEN_SYMLINK) {
			snprintf(l->err, sizeof(l->err), "ledger %s: its path passes through a symbolic "
				 "link; refusing it (give the real path)", l->path);
			return -ELOOP;
		}
		/* fall through */
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		snprintf(l->err, sizeof(l->err), "ledger %s cannot be opened for %s: %s", l->path,
			 what, l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
		return -EACCES;
	case SQLITE_FULL:
		snprintf(l->err, sizeof(l->err), "ledger %s: disk full while %s; nothing was changed",
			 l->path, what);
		return -ENOSPC;
	default:
		snprintf(l->err, sizeof(l->err), "ledger %s: %s while %s", l->path,
			 l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc), what);
		return -EIO;
	}
}

/* An SQLite code from lib/db.c: 0, or fail()'s -errno and message. */
static int check(struct ledger *l, int rc, const char *what)
{
	return rc == SQLITE_OK ? 0 : fail(l, rc, what);
}

static int exec_sql(struct ledger *l, const char *sql, const char *what)
{
	return check(l, db_exec(l->db, sql), what);
}

static int begin(struct ledger *l, const char *what)
{
	return check(l, db_begin(l->db), what);
}

static int commit(struct ledger *l, const char *what)
{
	int r = check(l, db_commit(l->db), what);

	if (r)
		db_rollback(l->db); /* after fail() has read the cause */
	return r;
}

static void rollback(struct ledger *l)
{
	/* Keep the first error's message: the rollback's is never the cause. */
	db_rollback(l->db);
}

static int prepare(struct ledger *l, const char *sql, sqlite3_stmt **st, const char *what)
{
	return check(l, sqlite3_prepare_v2(l->db, sql, -1, st, NULL), what);
}

static int64_t now_ns(void)
{
	return (int64_t)util_now_ns(CLOCK_REALTIME);
}

/* ---- schema ----------------------------------------------------------- */

/*
 * Migrations, applied in order inside one transaction; PRAGMA
 * user_version is the index of the last one applied. Append, never edit.
 */
static const char *const migrations[LEDGER_SCHEMA_VERSION] = {
	/* 1: tokens, their history, revocation requests */
	"CREATE TABLE tokens ("
	"  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),"
	"  id TEXT NOT NULL UNIQUE,"
	"  redacted TEXT NOT NULL,"
	"  length INTEGER NOT NULL,"
	"  format TEXT NOT NULL CHECK (format IN ('twd','jwt','opaque')),"
	"  issuer TEXT NOT NULL,"
	"  subject TEXT,"
	"  delegate_kind TEXT NOT NULL CHECK (delegate_kind IN ('any','exe','cgroup','pid')),"
	"  delegate TEXT,"
	"  delegate_pid INTEGER NOT NULL DEFAULT 0,"
	"  delegate_start_ns INTEGER NOT NULL DEFAULT 0,"
	"  delegate_cgroup_id INTEGER NOT NULL DEFAULT 0,"
	"  audience TEXT NOT NULL," /* JSON array of canonical audiences */
	"  scope TEXT,"
	"  task TEXT,"
	"  issued_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('active','completed','revoked','expired')),"
	"  completed_ns INTEGER NOT NULL DEFAULT 0,"
	"  revoked_ns INTEGER NOT NULL DEFAULT 0,"
	"  inherit INTEGER NOT NULL DEFAULT 0,"
	"  jti TEXT,"
	"  client_id TEXT,"
	"  actor TEXT,"
	"  sealed BLOB,"
	"  created_ns INTEGER NOT NULL,"
	"  rev INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX tokens_task ON tokens(task);"
	"CREATE INDEX tokens_rev ON tokens(rev);"
	/* rev: a ledger-wide change counter stamped on every insert and
	 * update, by trigger so that no writer can forget it; the monitor's
	 * cache reads only rows with rev above the last it saw. */
	"CREATE TRIGGER tokens_rev_insert AFTER INSERT ON tokens BEGIN"
	"  UPDATE tokens SET rev = (SELECT coalesce(max(rev), 0) + 1 FROM tokens) WHERE sha256 = NEW.sha256;"
	" END;"
	"CREATE TRIGGER tokens_rev_update AFTER UPDATE ON tokens WHEN NEW.rev = OLD.rev BEGIN"
	"  UPDATE tokens SET rev = (SELECT coalesce(max(rev), 0) + 1 FROM tokens) WHERE sha256 = NEW.sha256;"
	" END;"
	"CREATE TABLE history ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  token_id TEXT NOT NULL,"
	"  at_ns INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  detail TEXT"
	");"
	"CREATE INDEX history_token ON history(token_id, seq);"
	"CREATE TABLE revoke_requests ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  token_id TEXT NOT NULL,"
	"  issuer TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  requested_ns INTEGER NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','done','failed')),"
	"  updated_ns INTEGER NOT NULL DEFAULT 0,"
	"  detail TEXT"
	");"
	"CREATE INDEX revoke_requests_state ON revoke_requests(state, seq);",
};

static int user_version(struct ledger *l, int *v)
{
	int64_t v64;
	int r = check(l, db_query_int64(l->db, "PRAGMA user_version", &v64),
		      "reading the schema version");

	*v = (int)v64;
	return r;
}

static int migrate(struct ledger *l, int rdonly)
{
	char sql[64];
	int v, r;

	if ((r = user_version(l, &v)))
		return r;
	if (v > LEDGER_SCHEMA_VERSION) {
		snprintf(l->err, sizeof(l->err), "ledger %s has schema version %d, newer than this "
			 "tokenward understands (%d); it was left as is", l->path, v, LEDGER_SCHEMA_VERSION);
		return -EBADMSG;
	}
	if (v == LEDGER_SCHEMA_VERSION)
		return 0;
	if (rdonly) {
		snprintf(l->err, sizeof(l->err), "ledger %s has schema version %d and needs a "
			 "migration; run a writing command first", l->path, v);
		return -EBADMSG;
	}
	if ((r = begin(l, "migrating the schema")))
		return r;
	/* Re-read under the write lock: another process may have migrated. */
	if ((r = user_version(l, &v)))
		goto out;
	for (; v < LEDGER_SCHEMA_VERSION; v++)
		if ((r = exec_sql(l, migrations[v], "migrating the schema")))
			goto out;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", LEDGER_SCHEMA_VERSION);
	if ((r = exec_sql(l, sql, "migrating the schema")))
		goto out;
	return commit(l, "migrating the schema");
out:
	rollback(l);
	return r;
}

/*
 * The ledger's directory and file, before SQLite opens anything: the
 * directory is private (safefile_check_dir: root writes here, and
 * revoked.list and the seal key live beside the ledger), the file is a
 * regular file and not a link. A missing file is created only when asked
 * (*create set), never by a command that only reads.
 */
static int check_path(const char *path, int flags, int *create, char *err, size_t errsz)
{
	int rdonly = flags & LEDGER_OPEN_RDONLY;
	char *copy;
	struct stat st;
	int r;

	*create = 0;
	r = safefile_check_parent(path, "ledger directory", err, errsz);
	if (r == -ENOENT && (flags & LEDGER_OPEN_CREATE) && !rdonly) {
		if (!(copy = strdup(path)))
			return -ENOMEM;
		r = safefile_make_dir(dirname(copy), "ledger directory", err, errsz);
		free(copy);
	}
	if (r)
		return r;
	if (lstat(path, &st)) {
		r = -errno;
		if (r != -ENOENT || !(flags & LEDGER_OPEN_CREATE) || rdonly) {
			snprintf(err, errsz, "ledger %s: %s", path, strerror(-r));
			return r;
		}
		*create = 1;
	} else if (S_ISLNK(st.st_mode)) {
		snprintf(err, errsz, "ledger %s is a symbolic link; refusing it (give the real path)", path);
		return -ELOOP;
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "ledger %s is not a regular file", path);
		return -EINVAL;
	}
	return 0;
}

/* Before anything is written, the journal mode included: a file that is
 * not a tokenward ledger, or is one of a newer schema, stays as it is. */
static int check_schema(struct ledger *l)
{
	enum db_file kind;
	int v, r;

	if ((r = check(l, db_file_kind(l->db, LEDGER_SCHEMA_VERSION, &kind, &v), "reading")))
		return r;
	if (kind == DB_FILE_FOREIGN) {
		snprintf(l->err, sizeof(l->err), "%s is not a tokenward ledger (it holds other tables, "
			 "or schema version %d without the ledger's); it was left as is", l->path, v);
		return -EBADMSG;
	}
	if (kind == DB_FILE_NEWER) {
		snprintf(l->err, sizeof(l->err), "ledger %s has schema version %d, newer than this "
			 "tokenward understands (%d); it was left as is", l->path, v, LEDGER_SCHEMA_VERSION);
		return -EBADMSG;
	}
	return 0;
}

int ledger_open(const char *path, int flags, struct ledger **out, char *err, size_t errsz)
{
	int rdonly = flags & LEDGER_OPEN_RDONLY;
	int oflags = rdonly ? DB_OPEN_RDONLY : 0;
	const char *busy = getenv(LEDGER_ENV_BUSY_MS);
	struct ledger *l;
	int r, create;

	*out = NULL;
	if (!path)
		path = ledger_default_path();
	if ((r = check_path(path, flags, &create, err, errsz)))
		return r;
	if (create)
		oflags |= DB_OPEN_CREATE;
	l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	l->busy_ms = busy && atoi(busy) >= 0 ? atoi(busy) : LEDGER_BUSY_MS;
	if ((r = check(l, db_open(path, oflags, &l->busy_ms, &l->db), "opening")) ||
	    (r = check_schema(l)))
		goto bad;
	if (!rdonly) {
		if ((r = check(l, db_wal(l->db), "switching to WAL")) ||
		    (r = check(l, db_synchronous(l->db, 1), "setting synchronous")))
			goto bad;
	}
	if ((r = migrate(l, rdonly)))
		goto bad;
	*out = l;
	return 0;
bad:
	snprintf(err, errsz, "%s", l->err);
	ledger_close(l);
	return r;
}

void ledger_close(struct ledger *l)
{
	if (!l)
		return;
	/* sqlite3_close() refuses a connection with statements left open. */
	for (int i = 0; i < LEDGER_NKEPT; i++)
		sqlite3_finalize(l->kept[i]);
	sqlite3_close(l->db);
	free(l->path);
	free(l);
}

const char *ledger_path(const struct ledger *l)
{
	return l->path;
}

const char *ledger_errmsg(const struct ledger *l)
{
	return l->err;
}

sqlite3_stmt *ledger_stmt_kept(struct ledger *l, enum ledger_kept slot, const char *sql)
{
	if ((unsigned)slot >= LEDGER_NKEPT)
		return NULL;
	if (!l->kept[slot] &&
	    sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &l->kept[slot], NULL) != SQLITE_OK)
		return NULL;
	sqlite3_reset(l->kept[slot]);
	return l->kept[slot];
}

sqlite3 *ledger_sqlite(struct ledger *l)
{
	return l->db;
}

void ledger_set_revoke_hook(struct ledger *l, ledger_revoke_hook_fn fn, void *ctx)
{
	l->hook = fn;
	l->hook_ctx = ctx;
}

/* ---- rows ------------------------------------------------------------- */

static int new_id(char id[LEDGER_ID_LEN + 1])
{
	unsigned char rnd[6];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	snprintf(id, LEDGER_ID_LEN + 1, "tk-%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	return 0;
}

/* The audience as stored: canonical forms, so that "https://h" and
 * "https://h:443" are one audience in every listing. */
static char *audience_json(const struct audience_list *l)
{
	cJSON *a = cJSON_CreateArray();
	char canon[AUDIENCE_STR_MAX];
	char *s;

	for (size_t i = 0; i < l->n; i++) {
		audience_format(&l->v[i], canon, sizeof(canon));
		cJSON_AddItemToArray(a, cJSON_CreateString(canon));
	}
	s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

static int history_insert(struct ledger *l, const char *id, int64_t at, const char *event,
			  const char *detail)
{
	sqlite3_stmt *st;
	int r;

	if ((r = prepare(l, "INSERT INTO history(token_id, at_ns, event, detail) VALUES (?,?,?,?)",
			 &st, "recording history")))
		return r;
	db_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, at);
	db_bind_text(st, 3, event);
	db_bind_text(st, 4, detail);
	return check(l, db_step_done(st), "recording history");
}

/* The same bounds as registration, for any caller: a record without its
 * essentials, a token the detector cannot find, an expiry beyond what is
 * recorded, an audience that does not parse. The audience comes back as
 * the JSON the row stores. */
static int token_check(struct ledger *l, const struct ledger_token *t, char **aud)
{
	struct audience_list parsed;
	char detail[256];

	if (!t->issuer || !*t->issuer || !t->length || !t->expires_at) {
		snprintf(l->err, sizeof(l->err), "ledger %s: token without issuer, length or expiry", l->path);
		return -EINVAL;
	}
	if (t->format == LEDGER_FMT_OPAQUE &&
	    (t->length < DETECT_OPAQUE_MIN_LEN || t->length > DETECT_MAX_OPAQUE_LEN)) {
		snprintf(l->err, sizeof(l->err), "ledger %s: an opaque token of %u characters could never "
			 "be found (%d to %d)", l->path, (unsigned)t->length, DETECT_OPAQUE_MIN_LEN,
			 DETECT_MAX_OPAQUE_LEN);
		return -EINVAL;
	}
	if (t->expires_at < 0 || t->expires_at > (int64_t)time(NULL) + TOKEN_EXPIRY_AHEAD_MAX) {
		snprintf(l->err, sizeof(l->err), "ledger %s: expiry more than 10 years ahead", l->path);
		return -EINVAL;
	}
	if (audience_list_parse((const char *const *)t->audience, t->naudience, &parsed, detail, sizeof(detail))) {
		snprintf(l->err, sizeof(l->err), "ledger %s: bad audience: %s", l->path, detail);
		return -EINVAL;
	}
	*aud = audience_json(&parsed);
	audience_list_free(&parsed);
	return *aud ? 0 : -ENOMEM;
}

/* The row's columns, in the order of ledger_add's INSERT. */
static void token_bind(sqlite3_stmt *st, const struct ledger_token *t, const char *aud, const void *sealed,
		       size_t sealed_len)
{
	int i = 1;

	db_bind_text(st, i++, t->sha256);
	db_bind_text(st, i++, t->id);
	db_bind_text(st, i++, t->redacted);
	sqlite3_bind_int64(st, i++, t->length);
	db_bind_text(st, i++, ledger_format_str(t->format));
	db_bind_text(st, i++, t->issuer);
	db_bind_text(st, i++, t->subject);
	db_bind_text(st, i++, ledger_delegate_str(t->delegate_kind));
	db_bind_text(st, i++, t->delegate);
	sqlite3_bind_int64(st, i++, t->delegate_pid);
	sqlite3_bind_int64(st, i++, (int64_t)t->delegate_start_ns);
	sqlite3_bind_int64(st, i++, (int64_t)t->delegate_cgroup_id);
	db_bind_text(st, i++, aud);
	db_bind_text(st, i++, t->scope);
	db_bind_text(st, i++, t->task);
	sqlite3_bind_int64(st, i++, t->issued_at);
	sqlite3_bind_int64(st, i++, t->expires_at);
	db_bind_text(st, i++, ledger_status_str(t->status));
	sqlite3_bind_int64(st, i++, t->completed_ns);
	sqlite3_bind_int64(st, i++, t->revoked_ns);
	sqlite3_bind_int(st, i++, !!t->inherit);
	db_bind_text(st, i++, t->jti);
	db_bind_text(st, i++, t->client_id);
	db_bind_text(st, i++, t->actor);
	if (sealed && sealed_len)
		sqlite3_bind_blob(st, i++, sealed, (int)sealed_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i++);
	sqlite3_bind_int64(st, i++, now_ns());
}

int ledger_add(struct ledger *l, struct ledger_token *t, const void *sealed, size_t sealed_len)
{
	static const char sql[] =
		"INSERT INTO tokens(sha256, id, redacted, length, format, issuer, subject,"
		" delegate_kind, delegate, delegate_pid, delegate_start_ns, delegate_cgroup_id,"
		" audience, scope, task, issued_at, expires_at, status, completed_ns, revoked_ns,"
		" inherit, jti, client_id, actor, sealed, created_ns)"
		" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = NULL;
	char *aud = NULL, detail[256];
	int r;

	if ((r = token_check(l, t, &aud)))
		return r;
	sha256_to_hex(t->sha, t->sha256);
	if (!t->id[0] && new_id(t->id)) {
		snprintf(l->err, sizeof(l->err), "cannot read the kernel CSPRNG");
		free(aud);
		return -EIO;
	}
	if ((r = begin(l, "recording a token")))
		goto out;
	if ((r = prepare(l, sql, &st, "recording a token")))
		goto undo;
	token_bind(st, t, aud, sealed, sealed_len);
	if ((r = check(l, db_step_done(st), "recording a token"))) {
		if (r == -EEXIST)
			snprintf(l->err, sizeof(l->err), "ledger %s: this token is already recorded", l->path);
		goto undo;
	}
	t->sealed = sealed && sealed_len;
	snprintf(detail, sizeof(detail), "{\"issuer_format\":\"%s\",\"sealed\":%s}",
		 ledger_format_str(t->format), t->sealed ? "true" : "false");
	if ((r = history_insert(l, t->id, now_ns(), "issued", detail)))
		goto undo;
	r = commit(l, "recording a token");
	goto out;
undo:
	rollback(l);
out:
	free(aud);
	return r;
}

#define TOKEN_COLS \
	"sha256, id, redacted, length, format, issuer, subject, delegate_kind, delegate," \
	" delegate_pid, delegate_start_ns, delegate_cgroup_id, audience, scope, task," \
	" issued_at, expires_at, status, completed_ns, revoked_ns, inherit, jti, client_id," \
	" actor, sealed IS NOT NULL"

/* One row in TOKEN_COLS order into a new token. NULL on a bad row. */
static struct ledger_token *token_from_row(sqlite3_stmt *st)
{
	struct ledger_token *t = calloc(1, sizeof(*t));
	cJSON *aud = NULL, *it;
	char err[128];
	int i = 0;

	if (!t)
		return NULL;
	db_col_copy(st, i++, t->sha256, sizeof(t->sha256));
	if (sha256_from_hex(t->sha256, t->sha))
		goto bad;
	db_col_copy(st, i++, t->id, sizeof(t->id));
	db_col_copy(st, i++, t->redacted, sizeof(t->redacted));
	t->length = sqlite3_column_int64(st, i++);
	t->format = name_index(format_names, 3, (const char *)sqlite3_column_text(st, i++));
	t->issuer = db_col_dup(st, i++);
	t->subject = db_col_dup(st, i++);
	t->delegate_kind = name_index(delegate_names, 4, (const char *)sqlite3_column_text(st, i++));
	t->delegate = db_col_dup(st, i++);
	t->delegate_pid = sqlite3_column_int64(st, i++);
	t->delegate_start_ns = sqlite3_column_int64(st, i++);
	t->delegate_cgroup_id = sqlite3_column_int64(st, i++);
	aud = cJSON_Parse((const char *)sqlite3_column_text(st, i++));
	t->scope = db_col_dup(st, i++);
	t->task = db_col_dup(st, i++);
	t->issued_at = sqlite3_column_int64(st, i++);
	t->expires_at = sqlite3_column_int64(st, i++);
	t->status = name_index(status_names, 4, (const char *)sqlite3_column_text(st, i++));
	t->completed_ns = sqlite3_column_int64(st, i++);
	t->revoked_ns = sqlite3_column_int64(st, i++);
	t->inherit = sqlite3_column_int(st, i++);
	t->jti = db_col_dup(st, i++);
	t->client_id = db_col_dup(st, i++);
	t->actor = db_col_dup(st, i++);
	t->sealed = sqlite3_column_int(st, i++);
	if ((int)t->format < 0 || (int)t->delegate_kind < 0 || (int)t->status < 0 || !cJSON_IsArray(aud))
		goto bad;
	t->audience = calloc(cJSON_GetArraySize(aud) + 1, sizeof(char *));
	if (!t->audience)
		goto bad;
	cJSON_ArrayForEach(it, aud)
		if (cJSON_IsString(it))
			t->audience[t->naudience++] = strdup(it->valuestring);
	cJSON_Delete(aud);
	aud = NULL;
	/* Rows were checked on the way in; a row that no longer parses gets
	 * an empty audience, so every send reads as outside it. */
	if (audience_list_parse((const char *const *)t->audience, t->naudience, &t->aud, err, sizeof(err)))
		t->aud.n = 0;
	return t;
bad:
	cJSON_Delete(aud);
	ledger_token_free(t);
	return NULL;
}

void ledger_token_free(struct ledger_token *t)
{
	if (!t)
		return;
	free(t->issuer);
	free(t->subject);
	free(t->delegate);
	for (size_t i = 0; i < t->naudience; i++)
		free(t->audience[i]);
	free(t->audience);
	audience_list_free(&t->aud);
	free(t->scope);
	free(t->task);
	free(t->jti);
	free(t->client_id);
	free(t->actor);
	free(t);
}

static int get_where(struct ledger *l, const char *where, const char *key, struct ledger_token **out)
{
	char sql[512];
	sqlite3_stmt *st;
	int rc, r;

	*out = NULL;
	snprintf(sql, sizeof(sql), "SELECT " TOKEN_COLS " FROM tokens WHERE %s = ?", where);
	if ((r = prepare(l, sql, &st, "reading a token")))
		return r;
	db_bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = token_from_row(st);
		r = *out ? 0 : -EBADMSG;
		if (r)
			snprintf(l->err, sizeof(l->err), "ledger %s: token row unreadable", l->path);
	} else if (rc == SQLITE_DONE) {
		snprintf(l->err, sizeof(l->err), "ledger %s has no token %.64s", l->path, key);
		r = -ENOENT;
	} else {
		r = fail(l, rc, "reading a token");
	}
	sqlite3_finalize(st);
	return r;
}

int ledger_get(struct ledger *l, const char *id, struct ledger_token **out)
{
	return get_where(l, "id", id, out);
}

int ledger_get_sha(struct ledger *l, const unsigned char sha[32], struct ledger_token **out)
{
	char hex[65];

	sha256_to_hex(sha, hex);
	return get_where(l, "sha256", hex, out);
}

int ledger_foreach(struct ledger *l, int (*cb)(void *ctx, const struct ledger_token *t), void *ctx)
{
	sqlite3_stmt *st;
	int rc, r;

	if ((r = prepare(l, "SELECT " TOKEN_COLS " FROM tokens ORDER BY created_ns, id", &st, "listing tokens")))
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ledger_token *t = token_from_row(st);
		if (!t)
			continue;
		r = cb(ctx, t);
		ledger_token_free(t);
		if (r)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = fail(l, rc, "listing tokens");
	sqlite3_finalize(st);
	return r;
}

int ledger_sealed_get(struct ledger *l, const char *id, unsigned char **blob, size_t *len)
{
	sqlite3_stmt *st;
	int rc, r;

	*blob = NULL;
	*len = 0;
	if ((r = prepare(l, "SELECT sealed FROM tokens WHERE id = ?", &st, "reading a sealed token")))
		return r;
	db_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB) {
		int n = sqlite3_column_bytes(st, 0);
		*blob = malloc(n);
		if (*blob) {
			memcpy(*blob, sqlite3_column_blob(st, 0), n);
			*len = n;
		} else {
			r = -ENOMEM;
		}
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = fail(l, rc, "reading a sealed token");
	}
	sqlite3_finalize(st);
	return r;
}

int ledger_history_add(struct ledger *l, const char *token_id, const char *event, const char *detail_json)
{
	/* Inside a transaction of ours the insert joins it; outside, SQLite
	 * makes the single statement atomic on its own. */
	return history_insert(l, token_id, now_ns(), event, detail_json);
}

int ledger_history_foreach(struct ledger *l, const char *token_id,
			   int (*cb)(void *ctx, int64_t at_ns, const char *event, const char *detail),
			   void *ctx)
{
	sqlite3_stmt *st;
	int rc, r;

	if ((r = prepare(l, "SELECT at_ns, event, detail FROM history WHERE token_id = ? ORDER BY seq",
			 &st, "reading history")))
		return r;
	db_bind_text(st, 1, token_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = cb(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
			    (const char *)sqlite3_column_text(st, 2))))
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = fail(l, rc, "reading history");
	sqlite3_finalize(st);
	return r;
}

/* ---- lifecycle -------------------------------------------------------- */

struct queued {
	int64_t seq;
	char id[LEDGER_ID_LEN + 1];
	char *issuer;
	const char *reason;
};

/* Inside a transaction: mark one token revoked, queue the issuer call. */
static int revoke_in_tx(struct ledger *l, const char *id, const char *issuer, const char *reason,
			int64_t now, struct queued *q)
{
	sqlite3_stmt *st;
	char detail[160];
	int r;

	q->seq = 0;
	if ((r = prepare(l, "UPDATE tokens SET status = 'revoked', revoked_ns = ? WHERE id = ?",
			 &st, "revoking a token")))
		return r;
	sqlite3_bind_int64(st, 1, now);
	db_bind_text(st, 2, id);
	if ((r = check(l, db_step_done(st), "revoking a token")))
		return r;
	/* Every issuer gets a request, the built-in one too: its tokens are
	 * invalid from this status change on, and the request is what puts
	 * the hash on the revocation list that services consume. */
	if ((r = prepare(l, "INSERT INTO revoke_requests(token_id, issuer, reason, requested_ns)"
			 " VALUES (?,?,?,?)", &st, "queueing a revocation")))
		return r;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, issuer);
	db_bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	if ((r = check(l, db_step_done(st), "queueing a revocation")))
		return r;
	q->seq = sqlite3_last_insert_rowid(l->db);
	snprintf(detail, sizeof(detail), "{\"reason\":\"%s\",\"request\":%lld}", reason, (long long)q->seq);
	if (q->id != id)
		snprintf(q->id, sizeof(q->id), "%s", id);
	q->reason = reason;
	return history_insert(l, id, now, "revoked", detail);
}

static void run_hooks(struct ledger *l, struct queued *q, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (q[i].seq && l->hook)
			l->hook(l->hook_ctx, q[i].seq, q[i].id, q[i].issuer, q[i].reason);
}

int ledger_revoke(struct ledger *l, const char *id, const char *reason, int64_t now)
{
	struct ledger_token *t = NULL;
	struct queued q = { 0 };
	int r;

	if (!reason || strpbrk(reason, "\"\\"))
		reason = "manual";
	if ((r = begin(l, "revoking a token")))
		return r;
	if ((r = ledger_get(l, id, &t)))
		goto undo;
	if (t->status == LEDGER_REVOKED) {
		snprintf(l->err, sizeof(l->err), "token %s is already revoked", t->id);
		r = -EALREADY;
		goto undo;
	}
	if ((r = revoke_in_tx(l, t->id, t->issuer, reason, now, &q)))
		goto undo;
	if ((r = commit(l, "revoking a token")))
		goto out;
	q.issuer = t->issuer;
	run_hooks(l, &q, 1);
	goto out;
undo:
	rollback(l);
out:
	ledger_token_free(t);
	return r;
}

int ledger_complete_task(struct ledger *l, const char *task, int revoke, int64_t now, size_t *count)
{
	struct queued *q = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	*count = 0;
	if ((r = begin(l, "completing a task")))
		return r;
	if ((r = prepare(l, "SELECT id, issuer FROM tokens WHERE task = ? AND status = 'active' ORDER BY created_ns",
			 &st, "completing a task")))
		goto undo;
	db_bind_text(st, 1, task);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			struct queued *nq = realloc(q, (cap = cap ? cap * 2 : 8) * sizeof(*q));
			if (!nq) {
				r = -ENOMEM;
				goto undo;
			}
			q = nq;
		}
		memset(&q[n], 0, sizeof(q[n]));
		db_col_copy(st, 0, q[n].id, sizeof(q[n].id));
		q[n].issuer = db_col_dup(st, 1);
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = fail(l, rc, "completing a task");
		goto undo;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (n == 0) {
		snprintf(l->err, sizeof(l->err), "task '%.64s' has no active token in ledger %s", task, l->path);
		r = -ENOENT;
		goto undo;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = prepare(l, "UPDATE tokens SET status = 'completed', completed_ns = ? WHERE id = ?",
				 &st, "completing a task")))
			goto undo;
		sqlite3_bind_int64(st, 1, now);
		db_bind_text(st, 2, q[i].id);
		r = check(l, db_step_done(st), "completing a task");
		st = NULL;
		if (r)
			goto undo;
		if ((r = history_insert(l, q[i].id, now, "completed", "{\"reason\":\"task_complete\"}")))
			goto undo;
		if (revoke && (r = revoke_in_tx(l, q[i].id, q[i].issuer ? q[i].issuer : "", "task_complete", now, &q[i])))
			goto undo;
	}
	if ((r = commit(l, "completing a task")))
		goto out;
	*count = n;
	run_hooks(l, q, n);
	goto out;
undo:
	sqlite3_finalize(st);
	rollback(l);
out:
	for (size_t i = 0; i < n; i++)
		free(q[i].issuer);
	free(q);
	return r;
}

int ledger_revoke_request_done(struct ledger *l, int64_t seq, const char *state, const char *detail_json)
{
	sqlite3_stmt *st;
	char id[LEDGER_ID_LEN + 1] = "";
	int64_t now = now_ns();
	int rc, r;

	if (strcmp(state, "done") && strcmp(state, "failed"))
		return -EINVAL;
	if ((r = begin(l, "recording a revocation result")))
		return r;
	if ((r = prepare(l, "UPDATE revoke_requests SET state = ?, updated_ns = ?, detail = ? WHERE seq = ?"
			 " RETURNING token_id", &st, "recording a revocation result")))
		goto undo;
	db_bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, now);
	db_bind_text(st, 3, detail_json);
	sqlite3_bind_int64(st, 4, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		db_col_copy(st, 0, id, sizeof(id));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : fail(l, rc, "recording a revocation result");
		goto undo;
	}
	if ((r = history_insert(l, id, now, !strcmp(state, "done") ? "revoke_handed_over" : "revoke_not_handed_over",
				detail_json)))
		goto undo;
	return commit(l, "recording a revocation result");
undo:
	rollback(l);
	return r;
}

int ledger_expire_sweep(struct ledger *l, int64_t now_s, size_t *count)
{
	sqlite3_stmt *st;
	int rc, r;
	size_t n = 0;

	if ((r = begin(l, "expiring tokens")))
		return r;
	if ((r = prepare(l, "UPDATE tokens SET status = 'expired' WHERE status = 'active' AND expires_at <= ?"
			 " RETURNING id", &st, "expiring tokens")))
		goto undo;
	sqlite3_bind_int64(st, 1, now_s);
	/* Collect ids first: history rows cannot be inserted while the
	 * UPDATE ... RETURNING statement is still stepping. */
	char (*ids)[LEDGER_ID_LEN + 1] = NULL;
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			void *p = realloc(ids, (cap = cap ? cap * 2 : 16) * sizeof(*ids));
			if (!p) {
				rc = SQLITE_NOMEM;
				break;
			}
			ids = p;
		}
		db_col_copy(st, 0, ids[n], sizeof(ids[n]));
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		r = fail(l, rc, "expiring tokens");
		goto undo;
	}
	for (size_t i = 0; i < n; i++)
		if ((r = history_insert(l, ids[i], now_ns(), "expired", NULL))) {
			free(ids);
			goto undo;
		}
	free(ids);
	if (count)
		*count = n;
	return commit(l, "expiring tokens");
undo:
	rollback(l);
	return r;
}

/* ---- JSON ------------------------------------------------------------- */

static void add_time(cJSON *o, const char *key, int64_t unix_ns)
{
	char ts[40];

	if (unix_ns <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	util_rfc3339((uint64_t)unix_ns, ts, sizeof(ts));
	cJSON_AddStringToObject(o, key, ts);
}

/* Rows written before expiry was bounded may hold any number. */
static int64_t sec_to_ns(int64_t s)
{
	if (s <= 0)
		return 0;
	return s > INT64_MAX / 1000000000ll ? INT64_MAX : s * 1000000000ll;
}

static void add_str(cJSON *o, const char *key, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

cJSON *ledger_token_to_json(const struct ledger_token *t, int64_t now_s)
{
	cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray(), *d = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", t->id);
	add_str(o, "task", t->task);
	cJSON_AddStringToObject(o, "status", ledger_status_str(ledger_effective_status(t, now_s)));
	cJSON_AddStringToObject(o, "sha256", t->sha256);
	cJSON_AddStringToObject(o, "redacted", t->redacted);
	for (size_t i = 0; i < t->naudience; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(t->audience[i]));
	cJSON_AddItemToObject(o, "audience", a);
	add_time(o, "issued_at", sec_to_ns(t->issued_at));
	add_time(o, "expires_at", sec_to_ns(t->expires_at));
	add_time(o, "completed_at", t->completed_ns);
	add_time(o, "revoked_at", t->revoked_ns);
	cJSON_AddStringToObject(o, "issuer", t->issuer ? t->issuer : "");
	add_str(o, "subject", t->subject);
	cJSON_AddStringToObject(d, "kind", ledger_delegate_str(t->delegate_kind));
	add_str(d, "value", t->delegate);
	if (t->delegate_cgroup_id)
		cJSON_AddNumberToObject(d, "cgroup_id", (double)t->delegate_cgroup_id);
	cJSON_AddItemToObject(o, "delegate", d);
	cJSON_AddBoolToObject(o, "inherit", t->inherit);
	add_str(o, "scope", t->scope);
	add_str(o, "jti", t->jti);
	add_str(o, "client_id", t->client_id);
	add_str(o, "actor", t->actor);
	cJSON_AddStringToObject(o, "format", ledger_format_str(t->format));
	cJSON_AddNumberToObject(o, "length", t->length);
	cJSON_AddBoolToObject(o, "sealed", t->sealed);
	return o;
}

/* ---- cache ------------------------------------------------------------ */

struct ledger_cache {
	struct ledger *l;
	int64_t data_version;
	int64_t rev;                 /* highest tokens.rev loaded */
	int loaded;
	struct ledger_token **slots; /* open addressing, power of two */
	size_t nslots, count;
	uint32_t *lengths;           /* sorted, distinct */
	size_t nlengths, lengths_cap;
};

static size_t slot_of(const unsigned char sha[32], size_t nslots)
{
	uint64_t h;

	memcpy(&h, sha, sizeof(h)); /* a SHA-256 is already uniform */
	return h & (nslots - 1);
}

static void cache_free_table(struct ledger_token **slots, size_t nslots, uint32_t *lengths)
{
	for (size_t i = 0; slots && i < nslots; i++)
		ledger_token_free(slots[i]);
	free(slots);
	free(lengths);
}


static void slots_put(struct ledger_token **slots, size_t nslots, struct ledger_token *t)
{
	size_t s;

	for (s = slot_of(t->sha, nslots); slots[s]; s = (s + 1) & (nslots - 1))
		if (!memcmp(slots[s]->sha, t->sha, 32)) {
			/* a changed row replaces its old entry */
			ledger_token_free(slots[s]);
			break;
		}
	slots[s] = t;
}

static int lengths_add(struct ledger_cache *c, uint32_t len)
{
	size_t i = 0;

	while (i < c->nlengths && c->lengths[i] < len)
		i++;
	if (i < c->nlengths && c->lengths[i] == len)
		return 0;
	if (c->nlengths == c->lengths_cap) {
		size_t cap = c->lengths_cap ? c->lengths_cap * 2 : 16;
		uint32_t *n = realloc(c->lengths, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->lengths = n;
		c->lengths_cap = cap;
	}
	memmove(c->lengths + i + 1, c->lengths + i, (c->nlengths - i) * sizeof(*c->lengths));
	c->lengths[i] = len;
	c->nlengths++;
	return 0;
}

/* Make room for one more entry: keep the table at most half full. */
static int cache_grow(struct ledger_cache *c)
{
	struct ledger_token **n;
	size_t nslots = c->nslots ? c->nslots : 64;

	while ((c->count + 1) * 2 > nslots)
		nslots <<= 1;
	if (nslots == c->nslots)
		return 0;
	if (!(n = calloc(nslots, sizeof(*n))))
		return -ENOMEM;
	for (size_t i = 0; i < c->nslots; i++)
		if (c->slots[i])
			slots_put(n, nslots, c->slots[i]);
	free(c->slots);
	c->slots = n;
	c->nslots = nslots;
	return 0;
}

/*
 * Load the rows changed since the last load (all of them the first
 * time), inside one read transaction so that rows and rev agree.
 */
static int cache_load(struct ledger_cache *c)
{
	struct ledger *l = c->l;
	sqlite3_stmt *st = NULL;
	int64_t rev = c->rev;
	int rc, r, loaded = 0;

	if ((r = exec_sql(l, "BEGIN", "loading the cache")))
		return r;
	if ((r = prepare(l, "SELECT " TOKEN_COLS ", rev FROM tokens WHERE rev > ? ORDER BY rev",
			 &st, "loading the cache")))
		goto out;
	sqlite3_bind_int64(st, 1, c->rev);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ledger_token *t = token_from_row(st);
		int64_t row_rev = sqlite3_column_int64(st, sqlite3_column_count(st) - 1);
		if (row_rev > rev)
			rev = row_rev;
		if (!t)
			continue;
		loaded = 1;
		if (!ledger_cache_lookup(c, t->sha)) {
			if ((r = cache_grow(c))) {
				ledger_token_free(t);
				goto out;
			}
			c->count++;
		}
		slots_put(c->slots, c->nslots, t);
		if (t->format == LEDGER_FMT_OPAQUE && (r = lengths_add(c, t->length)))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = fail(l, rc, "loading the cache");
		goto out;
	}
	if (!c->nslots && (r = cache_grow(c)))
		goto out;
	c->rev = rev;
	c->loaded = 1;
out:
	sqlite3_finalize(st);
	db_commit(l->db); /* ends a read: nothing to lose */
	return r ? r : loaded;
}

static int data_version(struct ledger_cache *c, int64_t *v)
{
	sqlite3_stmt *st = ledger_stmt_kept(c->l, LEDGER_KEPT_DATA_VERSION, "PRAGMA data_version");
	int r = st ? sqlite3_step(st) : sqlite3_errcode(c->l->db);

	*v = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (st)
		sqlite3_reset(st); /* ends the read transaction: the next step sees new commits */
	return check(c->l, r == SQLITE_ROW ? SQLITE_OK : r, "polling for changes");
}

int ledger_cache_open(const char *path, int flags, struct ledger_cache **out, char *err, size_t errsz)
{
	struct ledger_cache *c = calloc(1, sizeof(*c));
	int r;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	if ((r = ledger_open(path, flags, &c->l, err, errsz)))
		goto bad;
	if ((r = data_version(c, &c->data_version)) || (r = cache_load(c)) < 0) {
		snprintf(err, errsz, "%s", c->l->err);
		goto bad;
	}
	*out = c;
	return 0;
bad:
	ledger_cache_close(c);
	return r;
}

void ledger_cache_close(struct ledger_cache *c)
{
	if (!c)
		return;
	cache_free_table(c->slots, c->nslots, c->lengths);
	ledger_close(c->l);
	free(c);
}

int ledger_cache_refresh(struct ledger_cache *c)
{
	int64_t v;
	int r;

	if ((r = data_version(c, &v)))
		return r;
	if (v == c->data_version && c->loaded)
		return 0;
	if ((r = cache_load(c)) < 0)
		return r;
	c->data_version = v;
	return r;
}

const struct ledger_token *ledger_cache_lookup(const struct ledger_cache *c, const unsigned char sha[32])
{
	if (!c || !c->nslots)
		return NULL;
	for (size_t s = slot_of(sha, c->nslots); c->slots[s]; s = (s + 1) & (c->nslots - 1))
		if (!memcmp(c->slots[s]->sha, sha, 32))
			return c->slots[s];
	return NULL;
}

const struct ledger_token *ledger_cache_lookup_bytes(const struct ledger_cache *c, const void *s, size_t n)
{
	unsigned char sha[32];

	sha256_digest(s, n, sha);
	return ledger_cache_lookup(c, sha);
}

size_t ledger_cache_count(const struct ledger_cache *c)
{
	return c ? c->count : 0;
}

const uint32_t *ledger_cache_lengths(const struct ledger_cache *c, size_t *n)
{
	*n = c ? c->nlengths : 0;
	return c ? c->lengths : NULL;
}
