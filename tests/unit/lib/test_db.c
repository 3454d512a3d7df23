/* Tests for user/lib/db.c: the SQLite helpers the ledger and revoker share. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "lib/config.h"
#include "lib/db.h"
#include "ledger/ledger.h"
#include "revoke/revoke.h"

static const int busy_ms = 50;
static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tw-db.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* The database and its WAL hold sealed tokens: never world-readable,
 * whatever the caller's umask. */
static void test_open_creates_private_files(void **state)
{
	char wal[160];
	struct stat st;
	sqlite3 *db;
	mode_t old = umask(022);

	(void)state;
	assert_int_equal(db_open(path, 0, &busy_ms, &db), SQLITE_CANTOPEN);
	sqlite3_close(db);
	assert_int_equal(db_open(path, DB_OPEN_CREATE, &busy_ms, &db), SQLITE_OK);
	assert_int_equal(db_wal(db), SQLITE_OK);
	assert_int_equal(db_exec(db, "CREATE TABLE t(a INTEGER, b TEXT)"), SQLITE_OK);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	sqlite3_close(db);
}

static void test_rows_and_nulls(void **state)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	char buf[4];
	char *s;
	int64_t v;

	(void)state;
	assert_int_equal(db_open(path, DB_OPEN_CREATE, &busy_ms, &db), SQLITE_OK);
	assert_int_equal(db_exec(db, "CREATE TABLE t(a INTEGER, b TEXT)"), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, 7);
	db_bind_text(st, 2, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, 8);
	db_bind_text(st, 2, "hello");
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);

	assert_int_equal(db_query_int64(db, "SELECT count(*) FROM t WHERE b IS NULL", &v), SQLITE_OK);
	assert_int_equal(v, 1);
	/* no row: the step's code, and 0 */
	v = 5;
	assert_int_equal(db_query_int64(db, "SELECT a FROM t WHERE a > 100", &v), SQLITE_DONE);
	assert_int_equal(v, 0);
	assert_int_equal(db_query_int64(db, "SELECT nope FROM t", &v), SQLITE_ERROR);

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT b FROM t ORDER BY a", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_null(db_col_dup(st, 0));
	db_col_copy(st, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	s = db_col_dup(st, 0);
	assert_string_equal(s, "hello");
	free(s);
	db_col_copy(st, 0, buf, sizeof(buf));
	assert_string_equal(buf, "hel"); /* truncated, terminated */
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A second writer waits busy_ms for the lock, then gets SQLITE_BUSY. */
static void test_begin_is_immediate(void **state)
{
	sqlite3 *a, *b;

	(void)state;
	assert_int_equal(db_open(path, DB_OPEN_CREATE, &busy_ms, &a), SQLITE_OK);
	assert_int_equal(db_wal(a), SQLITE_OK);
	assert_int_equal(db_open(path, 0, &busy_ms, &b), SQLITE_OK);
	assert_int_equal(db_begin(a), SQLITE_OK);
	assert_int_equal(db_begin(b) & 0xff, SQLITE_BUSY);
	assert_int_equal(db_commit(a), SQLITE_OK);
	assert_int_equal(db_begin(b), SQLITE_OK);
	db_rollback(b);
	/* a commit with no transaction fails and leaves nothing open */
	assert_int_not_equal(db_commit(b), SQLITE_OK);
	assert_int_equal(db_synchronous(b, 1), SQLITE_OK);
	assert_int_equal(db_synchronous(b, 0), SQLITE_OK);
	sqlite3_close(b);
	sqlite3_close(a);
}

static enum db_file kind_of(const char *sql, int *v)
{
	enum db_file k;
	sqlite3 *db;

	unlink(path);
	assert_int_equal(db_open(path, DB_OPEN_CREATE, &busy_ms, &db), SQLITE_OK);
	if (sql)
		assert_int_equal(db_exec(db, sql), SQLITE_OK);
	assert_int_equal(db_file_kind(db, 3, &k, v), SQLITE_OK);
	sqlite3_close(db);
	return k;
}

/* What a file is to tokenward, before anything is written to it. */
static void test_file_kind(void **state)
{
	int v;

	(void)state;
	assert_int_equal(kind_of(NULL, &v), DB_FILE_OURS);
	assert_int_equal(v, 0);
	assert_int_equal(kind_of("CREATE TABLE revoke_jobs(a); CREATE TABLE revoke_history(b)", &v), DB_FILE_OURS);
	assert_int_equal(kind_of("CREATE TABLE notes(a)", &v), DB_FILE_FOREIGN);
	assert_int_equal(kind_of("CREATE VIEW v AS SELECT 1", &v), DB_FILE_FOREIGN);
	assert_int_equal(kind_of("PRAGMA user_version=2; CREATE TABLE notes(a)", &v), DB_FILE_FOREIGN);
	assert_int_equal(kind_of("PRAGMA user_version=2", &v), DB_FILE_FOREIGN);
	assert_int_equal(kind_of("PRAGMA user_version=2; CREATE TABLE tokens(a); CREATE TABLE mine(b)", &v),
			 DB_FILE_OURS);
	assert_int_equal(v, 2);
	assert_int_equal(kind_of("PRAGMA user_version=4; CREATE TABLE tokens(a)", &v), DB_FILE_NEWER);
	assert_int_equal(v, 4);
	assert_int_equal(kind_of("PRAGMA user_version=4; CREATE TABLE other(a)", &v), DB_FILE_FOREIGN);
	assert_int_equal(kind_of("PRAGMA user_version=-1; CREATE TABLE tokens(a)", &v), DB_FILE_FOREIGN);
}

/* db.c's list of tokenward's tables covers what the ledger and the
 * revocation queue really create: with the version cleared, a file that
 * holds both schemas still counts as ours. */
static void test_own_tables_list_is_complete(void **state)
{
	struct tw_config *c;
	struct revoker *r;
	struct ledger *l;
	enum db_file k;
	char err[512];
	sqlite3 *db;
	int v;

	(void)state;
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), 0);
	ledger_close(l);
	assert_non_null(c = config_defaults());
	assert_int_equal(revoker_open(c, path, &r, err, sizeof(err)), 0);
	revoker_close(r);
	config_free(c);
	assert_int_equal(db_open(path, 0, &busy_ms, &db), SQLITE_OK);
	assert_int_equal(db_exec(db, "PRAGMA user_version = 0"), SQLITE_OK);
	assert_int_equal(db_file_kind(db, LEDGER_SCHEMA_VERSION, &k, &v), SQLITE_OK);
	assert_int_equal(k, DB_FILE_OURS);
	sqlite3_close(db);
}

/* The -wal file is never opened through a link. */
static void test_open_never_through_links(void **state)
{
	char link[160], victim[160], wal[160];
	struct stat st;
	sqlite3 *db;

	(void)state;
	assert_int_equal(db_open(path, DB_OPEN_CREATE, &busy_ms, &db), SQLITE_OK);
	sqlite3_close(db);
	snprintf(link, sizeof(link), "%s/link.db", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(db_open(link, 0, &busy_ms, &db), SQLITE_CANTOPEN_SYMLINK);
	sqlite3_close(db);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(symlink(victim, wal), 0);
	assert_int_equal(db_open(path, 0, &busy_ms, &db), SQLITE_OK);
	db_wal(db);
	assert_int_not_equal(db_exec(db, "CREATE TABLE t(a)"), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(lstat(victim, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_private_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_and_nulls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_is_immediate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_tables_list_is_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_never_through_links, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
