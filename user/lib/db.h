/*
 * SQLite, the way every tokenward connection uses it: the ledger, the
 * revocation queue and the monitor's history sink share one file from
 * several connections and processes, so each connection waits for the
 * write lock with db_busy(), writes in IMMEDIATE transactions and keeps
 * the journal in WAL mode. Functions return SQLite result codes; the
 * caller turns them into its own message (sqlite3_errmsg() still holds
 * the cause when they return).
 */
#ifndef TW_DB_H
#define TW_DB_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#define DB_OPEN_RDONLY 1 /* else read-write */
#define DB_OPEN_CREATE 2 /* create the file when it is missing */

/*
 * Open path for one thread at a time (the callers lock), with extended
 * result codes and db_busy() waiting up to *busy_ms (the int must outlive
 * the connection). The file and its -wal and -shm are created 0600, and
 * never through a symbolic link (SQLITE_OPEN_NOFOLLOW: a link anywhere in
 * the path fails with SQLITE_CANTOPEN_SYMLINK).
 * Returns an SQLite code; *db is set even on failure, for
 * sqlite3_errmsg(), and the caller closes it with sqlite3_close().
 */
int db_open(const char *path, int flags, const int *busy_ms, sqlite3 **db);

/*
 * What a file is to tokenward, read before anything is written to it (the
 * journal mode included): one file holds the ledger (ledger.c) and the
 * revocation queue (revoke.c), and PRAGMA user_version is the ledger's
 * schema version.
 *   DB_FILE_OURS    empty, or tokenward's tables only at version 0 (the
 *                   queue alone, or a ledger not yet made), or a ledger
 *                   (its tokens table) at version 1..max_version
 *   DB_FILE_NEWER   a ledger of a newer schema than max_version
 *   DB_FILE_FOREIGN anything else: some other program's database
 * Returns an SQLite code (SQLITE_NOTADB for a file that is no database).
 */
enum db_file { DB_FILE_OURS, DB_FILE_NEWER, DB_FILE_FOREIGN };
int db_file_kind(sqlite3 *db, int max_version, enum db_file *kind, int *version);

/*
 * A busy handler, sqlite3_busy_handler(db, db_busy, &ms): retries every
 * 0.1 ms for the first 10 ms of a wait, every 0.5 ms up to 100 ms, then
 * every 2 ms, and gives up (SQLITE_BUSY) after *(int *)ms milliseconds.
 */
int db_busy(void *timeout_ms, int count);

/* PRAGMA journal_mode=WAL: readers never block the writer. */
int db_wal(sqlite3 *db);

/* PRAGMA synchronous=FULL (fsync at each commit) or NORMAL (at
 * checkpoints: a commit survives a killed process, not a power cut). */
int db_synchronous(sqlite3 *db, int full);

/* Run SQL (one or more statements) that returns no rows we need. */
int db_exec(sqlite3 *db, const char *sql);

/* BEGIN IMMEDIATE: take the write lock up front, so that a transaction
 * that reads then writes never fails half way on a lock upgrade. */
int db_begin(sqlite3 *db);
/* COMMIT. On failure the transaction is still open: read the error,
 * then db_rollback(). */
int db_commit(sqlite3 *db);
/* ROLLBACK, best effort: its own outcome is never the error to report. */
void db_rollback(sqlite3 *db);

/* Step st (an INSERT, UPDATE or DELETE) to its end and finalize it:
 * SQLITE_OK when it ran to SQLITE_DONE, else the step's code. A NULL st
 * (a failed prepare) is SQLITE_MISUSE. */
int db_step_done(sqlite3_stmt *st);

/* The first column of the first row of sql (a PRAGMA such as
 * user_version). SQLITE_OK with *v set, else the step's code and *v 0. */
int db_query_int64(sqlite3 *db, const char *sql, int64_t *v);

/* Bind s as text, or NULL when s is NULL; the text is copied. */
void db_bind_text(sqlite3_stmt *st, int i, const char *s);

/* Column i as a new string (NULL for SQL NULL or out of memory). */
char *db_col_dup(sqlite3_stmt *st, int i);

/* Column i into out (truncated; "" for SQL NULL). */
void db_col_copy(sqlite3_stmt *st, int i, char *out, size_t outsz);

#endif
