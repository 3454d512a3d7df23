/*
 * The SQLite helpers the ledger and the revoker share (lib/db.h). Kept
 * apart from both so that each states only its own schema and queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "lib/db.h"
#include "lib/util.h"

int db_open(const char *path, int flags, const int *busy_ms, sqlite3 **db)
{
	int oflags = (flags & DB_OPEN_RDONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	mode_t old;
	int rc;

	if ((flags & DB_OPEN_CREATE) && !(flags & DB_OPEN_RDONLY))
		oflags |= SQLITE_OPEN_CREATE;
	/* The -wal and -shm files are created with the process umask, and
	 * they hold what the database holds (sealed tokens, hashes). */
	old = umask(077);
	rc = sqlite3_open_v2(path, db, oflags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	umask(old);
	if (rc != SQLITE_OK) /* the extended code: SQLITE_CANTOPEN_SYMLINK says why */
		return *db ? sqlite3_extended_errcode(*db) : rc;
	sqlite3_extended_result_codes(*db, 1);
	/* The cast is safe: db_busy() only reads the int. */
	sqlite3_busy_handler(*db, db_busy, (void *)busy_ms);
	return SQLITE_OK;
}

/* Every table a tokenward module creates in the shared file: the ledger's
 * (ledger.c migrations) and the revocation queue's (revoke.c schema). A
 * module that adds a table adds it here; test_db checks the list against
 * both schemas. */
static const char *const own_tables[] = {
	"tokens", "history", "revoke_requests", "revoke_jobs", "revoke_history",
};

static int own_table(const char *name)
{
	for (size_t i = 0; i < sizeof(own_tables) / sizeof(own_tables[0]); i++)
		if (!strcmp(name, own_tables[i]))
			return 1;
	return !strncmp(name, "sqlite_", 7); /* SQLite's own (sqlite_sequence) */
}

int db_file_kind(sqlite3 *db, int max_version, enum db_file *kind, int *version)
{
	sqlite3_stmt *st = NULL;
	int64_t v;
	int rc, ledger = 0, foreign = 0;

	*kind = DB_FILE_FOREIGN;
	*version = 0;
	/* The first read of the file: a file that is no database says so here. */
	rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')",
				-1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		rc = SQLITE_OK;
		ledger |= name && !strcmp(name, "tokens");
		foreign |= !name || !own_table(name);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return rc;
	if ((rc = db_query_int64(db, "PRAGMA user_version", &v)) != SQLITE_OK)
		return rc;
	*version = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int)v;
	if (v == 0 && !foreign)
		*kind = DB_FILE_OURS;
	else if (v >= 1 && v <= max_version && ledger)
		*kind = DB_FILE_OURS; /* tables someone added beside ours are theirs to keep */
	else if (v > max_version && ledger)
		*kind = DB_FILE_NEWER;
	return SQLITE_OK;
}

/*
 * SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50,
 * 50, 100 ms between tries, so a waiter can retry up to 100 ms after the
 * lock was freed. The monitor's threads share the ledger file and hold
 * the lock for about one fsync, so poll finely at first instead.
 */
int db_busy(void *timeout_ms, int count)
{
	static __thread uint64_t start;
	uint64_t now = util_now_ns(CLOCK_MONOTONIC), waited;
	struct timespec ts = { 0, 0 };

	if (count == 0)
		start = now;
	waited = (now - start) / 1000000;
	if (waited >= (uint64_t)*(const int *)timeout_ms)
		return 0;
	ts.tv_nsec = waited < 10 ? 100000 : waited < 100 ? 500000 : 2000000;
	nanosleep(&ts, NULL);
	return 1;
}

int db_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int db_wal(sqlite3 *db)
{
	return db_exec(db, "PRAGMA journal_mode=WAL");
}

int db_synchronous(sqlite3 *db, int full)
{
	return db_exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

int db_begin(sqlite3 *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int db_commit(sqlite3 *db)
{
	return db_exec(db, "COMMIT");
}

void db_rollback(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_step_done(sqlite3_stmt *st)
{
	int rc = st ? sqlite3_step(st) : SQLITE_MISUSE;

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int db_query_int64(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	*v = 0;
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

char *db_col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? strdup((const char *)s) : NULL;
}

void db_col_copy(sqlite3_stmt *st, int i, char *out, size_t outsz)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(out, outsz, "%s", s ? (const char *)s : "");
}
