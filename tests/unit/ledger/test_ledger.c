/* Tests for user/ledger/ledger.c: schema, writes, lifecycle, failure modes, cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <libgen.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <cjson/cJSON.h>
#include "detect/detect.h"
#include "ledger/ledger.h"
#include "detect/redact.h"
#include "ledger/seal.h"
#include "ledger/token.h"
#include "lib/util.h"

/* dirname() of a copy, in a static buffer (no leak in tests under ASan). */
static char *parent_dir(const char *p)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s", p);
	return dirname(buf);
}

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/tw-ledger.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state/ledger.db", dir);
	unsetenv(LEDGER_ENV_BUSY_MS);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *aud_default[] = { "https://api.example.test", "10.0.0.0/8:443" };

/* Fill t for a freshly minted token; tok receives the raw token. */
static void make_token(struct ledger_token *t, char tok[TOKEN_LEN + 1], const char *task,
		       const char *issuer)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(token_mint(tok), 0);
	sha256_digest(tok, TOKEN_LEN, t->sha);
	redact_short(tok, TOKEN_LEN, t->redacted, sizeof(t->redacted));
	t->length = TOKEN_LEN;
	t->format = LEDGER_FMT_TWD;
	t->issuer = (char *)issuer;
	t->task = (char *)task;
	t->subject = "alice";
	t->audience = aud_default;
	t->naudience = 2;
	t->issued_at = time(NULL);
	t->expires_at = time(NULL) + 600;
	t->delegate_kind = LEDGER_DELEGATE_EXE;
	t->delegate = "/usr/bin/agent";
}

static struct ledger *open_rw(void)
{
	struct ledger *l;
	char err[512];
	int r = ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err));
	if (r)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(r, 0);
	return l;
}

static int64_t count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = -1;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Does the file at p hold the bytes s? */
static int file_holds(const char *p, const char *s)
{
	FILE *f = fopen(p, "rb");
	static char buf[1 << 22];
	size_t n;
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, n, s, strlen(s)) != NULL;
}

static void test_open_creates_private_wal(void **state)
{
	struct ledger *l;
	struct stat st;
	char err[256], p2[160];
	(void)state;
	assert_int_equal(ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), -ENOENT);
	l = open_rw();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	snprintf(p2, sizeof(p2), "%s/state", dir);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(ledger_sqlite(l), "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	ledger_close(l);
	assert_int_equal(count("PRAGMA user_version"), LEDGER_SCHEMA_VERSION);
}

static void test_add_get_never_raw(void **state)
{
	struct ledger_token t, *g = NULL;
	char tok[TOKEN_LEN + 1], wal[160], shm[160];
	unsigned char blob[128];
	size_t bl;
	struct seal_key key;
	char err[256], kp[160];
	(void)state;
	struct ledger *l = open_rw();
	make_token(&t, tok, "task-1", "corp-idp");
	t.format = LEDGER_FMT_OPAQUE;
	t.jti = "jti-1";
	snprintf(kp, sizeof(kp), "%s/seal.key", dir);
	assert_int_equal(seal_key_load(kp, 1, &key, err, sizeof(err)), 0);
	sha256_to_hex(t.sha, t.sha256);
	assert_int_equal(seal_encrypt(&key, t.sha256, 64, tok, TOKEN_LEN, blob, &bl), 0);
	assert_int_equal(ledger_add(l, &t, blob, bl), 0);
	assert_int_equal(strlen(t.id), LEDGER_ID_LEN);
	assert_int_equal(ledger_get(l, t.id, &g), 0);
	assert_memory_equal(g->sha, t.sha, 32);
	assert_string_equal(g->task, "task-1");
	assert_string_equal(g->issuer, "corp-idp");
	assert_string_equal(g->jti, "jti-1");
	assert_int_equal(g->naudience, 2);
	assert_string_equal(g->audience[0], "https://api.example.test:443");
	assert_int_equal(g->aud.n, 2);
	assert_int_equal(g->delegate_kind, LEDGER_DELEGATE_EXE);
	assert_int_equal(g->status, LEDGER_ACTIVE);
	assert_true(g->sealed);
	ledger_token_free(g);
	assert_int_equal(ledger_get_sha(l, t.sha, &g), 0);
	assert_string_equal(g->id, t.id);
	ledger_token_free(g);
	/* the sealed copy opens with the key and the row's hash as AAD */
	unsigned char *sb;
	size_t sl, ol;
	unsigned char out[128];
	assert_int_equal(ledger_sealed_get(l, t.id, &sb, &sl), 0);
	assert_int_equal(seal_decrypt(&key, t.sha256, 64, sb, sl, out, &ol), 0);
	assert_memory_equal(out, tok, TOKEN_LEN);
	free(sb);
	/* duplicate hash refused, nothing added */
	struct ledger_token dup = t;
	dup.id[0] = 0;
	assert_int_equal(ledger_add(l, &dup, NULL, 0), -EEXIST);
	ledger_close(l);
	assert_int_equal(count("SELECT count(*) FROM tokens"), 1);
	assert_int_equal(count("SELECT count(*) FROM history"), 1);
	/* the raw token is in no file */
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	assert_false(file_holds(path, tok));
	assert_false(file_holds(wal, tok));
	assert_false(file_holds(shm, tok));
	assert_int_equal(ledger_get(l = open_rw(), "tk-000000000000", &g), -ENOENT);
	ledger_close(l);
}

static void test_bad_audience_leaves_nothing(void **state)
{
	struct ledger_token t;
	char tok[TOKEN_LEN + 1];
	char *bad[] = { "https://ok.example", "not a host" };
	(void)state;
	struct ledger *l = open_rw();
	make_token(&t, tok, "t", "x");
	t.audience = bad;
	assert_int_equal(ledger_add(l, &t, NULL, 0), -EINVAL);
	ledger_close(l);
	assert_int_equal(count("SELECT count(*) FROM tokens"), 0);
}

/* The bounds registration checks hold for every caller of ledger_add:
 * an expiry past the recorded range (whose nanoseconds overflow int64 in
 * the JSON), and an opaque token the detector could never find. */
static void test_add_bounds(void **state)
{
	struct ledger_token t;
	char tok[TOKEN_LEN + 1];
	cJSON *j;
	(void)state;
	struct ledger *l = open_rw();
	make_token(&t, tok, "t", "x");
	t.expires_at = INT64_MAX;
	assert_int_equal(ledger_add(l, &t, NULL, 0), -EINVAL);
	t.expires_at = time(NULL) + TOKEN_EXPIRY_AHEAD_MAX + 60;
	assert_int_equal(ledger_add(l, &t, NULL, 0), -EINVAL);
	t.expires_at = time(NULL) + 600;
	t.format = LEDGER_FMT_OPAQUE;
	t.length = 7;
	assert_int_equal(ledger_add(l, &t, NULL, 0), -EINVAL);
	t.length = DETECT_MAX_OPAQUE_LEN + 1;
	assert_int_equal(ledger_add(l, &t, NULL, 0), -EINVAL);
	ledger_close(l);
	assert_int_equal(count("SELECT count(*) FROM tokens"), 0);
	/* a row from before the bound still prints (saturated), without UB */
	t.expires_at = INT64_MAX;
	t.issued_at = INT64_MAX / 2;
	j = ledger_token_to_json(&t, time(NULL));
	assert_non_null(j);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "expires_at")));
	cJSON_Delete(j);
}

struct hook_log {
	int calls;
	char id[32];
	char reason[32];
};

static void hook(void *ctx, int64_t seq, const char *id, const char *issuer, const char *reason)
{
	struct hook_log *h = ctx;
	(void)issuer;
	assert_true(seq > 0);
	h->calls++;
	snprintf(h->id, sizeof(h->id), "%s", id);
	snprintf(h->reason, sizeof(h->reason), "%s", reason);
}

static void test_complete_and_revoke(void **state)
{
	struct ledger_token a, b, c, *g;
	char ta[TOKEN_LEN + 1], tb[TOKEN_LEN + 1], tc[TOKEN_LEN + 1];
	struct hook_log h = { 0 };
	size_t n;
	int64_t now = (int64_t)util_now_ns(CLOCK_REALTIME);
	(void)state;
	struct ledger *l = open_rw();
	ledger_set_revoke_hook(l, hook, &h);
	make_token(&a, ta, "task-A", LEDGER_BUILTIN_ISSUER);
	make_token(&b, tb, "task-A", "corp-idp");
	make_token(&c, tc, "task-B", "corp-idp");
	assert_int_equal(ledger_add(l, &a, NULL, 0), 0);
	assert_int_equal(ledger_add(l, &b, NULL, 0), 0);
	assert_int_equal(ledger_add(l, &c, NULL, 0), 0);

	assert_int_equal(ledger_complete_task(l, "no-such-task", 1, now, &n), -ENOENT);
	assert_int_equal(ledger_complete_task(l, "task-A", 1, now, &n), 0);
	assert_int_equal(n, 2);
	/* one request per token, the built-in issuer's too (its revocation
	 * list is fed from the request) */
	assert_int_equal(h.calls, 2);
	assert_string_equal(h.reason, "task_complete");
	assert_int_equal(ledger_get(l, a.id, &g), 0);
	assert_int_equal(g->status, LEDGER_REVOKED);
	assert_int_equal(g->completed_ns, now);
	assert_int_equal(g->revoked_ns, now);
	ledger_token_free(g);
	assert_int_equal(ledger_get(l, c.id, &g), 0);
	assert_int_equal(g->status, LEDGER_ACTIVE);
	ledger_token_free(g);
	/* completing again finds nothing active */
	assert_int_equal(ledger_complete_task(l, "task-A", 1, now, &n), -ENOENT);

	assert_int_equal(ledger_revoke(l, c.id, "manual", now + 5), 0);
	assert_int_equal(h.calls, 3);
	assert_int_equal(ledger_revoke(l, c.id, "manual", now + 6), -EALREADY);
	assert_int_equal(ledger_revoke(l, "tk-ffffffffffff", "manual", now), -ENOENT);
	ledger_close(l);
	assert_int_equal(count("SELECT count(*) FROM revoke_requests WHERE state = 'pending'"), 3);
	assert_int_equal(count("SELECT count(*) FROM history WHERE event = 'revoked'"), 3);
	assert_int_equal(count("SELECT count(*) FROM history WHERE event = 'completed'"), 2);

	/* the revocation module reports back */
	l = open_rw();
	assert_int_equal(ledger_revoke_request_done(l, 1, "done", "{\"http\":200}"), 0);
	assert_int_equal(ledger_revoke_request_done(l, 99, "done", NULL), -ENOENT);
	assert_int_equal(ledger_revoke_request_done(l, 2, "bogus", NULL), -EINVAL);
	assert_int_equal(ledger_history_add(l, c.id, "exposure", "{\"class\":\"file_write\"}"), 0);
	ledger_close(l);
	assert_int_equal(count("SELECT count(*) FROM revoke_requests WHERE state = 'done'"), 1);
	assert_int_equal(count("SELECT count(*) FROM history WHERE event = 'revoke_handed_over'"), 1);
	assert_int_equal(count("SELECT count(*) FROM history WHERE event = 'exposure'"), 1);
}

static void test_complete_without_revoke_and_expiry(void **state)
{
	struct ledger_token a, b, *g;
	char ta[TOKEN_LEN + 1], tb[TOKEN_LEN + 1];
	size_t n;
	(void)state;
	struct ledger *l = open_rw();
	make_token(&a, ta, "t", "corp");
	make_token(&b, tb, "u", "corp");
	b.expires_at = time(NULL) - 1;
	assert_int_equal(ledger_add(l, &a, NULL, 0), 0);
	assert_int_equal(ledger_add(l, &b, NULL, 0), 0);
	assert_int_equal(ledger_complete_task(l, "t", 0, 1, &n), 0);
	assert_int_equal(ledger_get(l, a.id, &g), 0);
	assert_int_equal(g->status, LEDGER_COMPLETED);
	assert_int_equal(g->revoked_ns, 0);
	ledger_token_free(g);
	assert_int_equal(ledger_get(l, b.id, &g), 0);
	assert_int_equal(ledger_effective_status(g, time(NULL)), LEDGER_EXPIRED);
	ledger_token_free(g);
	assert_int_equal(ledger_expire_sweep(l, time(NULL), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ledger_get(l, b.id, &g), 0);
	assert_int_equal(g->status, LEDGER_EXPIRED);
	ledger_token_free(g);
	ledger_close(l);
	assert_int_equal(count("SELECT count(*) FROM revoke_requests"), 0);
}

static void test_corrupt_file_untouched(void **state)
{
	struct ledger *l;
	char err[512], garbage[8192], back[8192];
	FILE *f;
	(void)state;
	mkdir(parent_dir(path), 0700);
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 131 + 7);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(garbage, 1, sizeof(garbage), f);
	fclose(f);
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "left as is"));
	f = fopen(path, "rb");
	assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(back));
	fclose(f);
	assert_memory_equal(garbage, back, sizeof(garbage));
	/* a valid SQLite file whose page is damaged */
	unlink(path);
	l = open_rw();
	struct ledger_token t;
	char tok[TOKEN_LEN + 1];
	make_token(&t, tok, "t", "x");
	assert_int_equal(ledger_add(l, &t, NULL, 0), 0);
	ledger_close(l);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	/* wipe the schema page's content (page 1 after the 100-byte header) */
	memset(garbage, 0xee, 3000);
	assert_int_equal(pwrite(fd, garbage, 3000, 100), 3000);
	close(fd);
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -EBADMSG);
}

static void test_newer_schema_refused(void **state)
{
	struct ledger *l = NULL;
	char err[512];
	sqlite3 *db;
	(void)state;
	ledger_close(open_rw());
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(count("PRAGMA user_version"), 99);
}

/* The whole file, to prove an open changed nothing (journal mode included). */
static size_t slurp(const char *p, char *buf, size_t cap)
{
	FILE *f = fopen(p, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	assert_true(n < cap);
	return n;
}

static void sql_on(const char *p, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int exists(const char *p, const char *suffix)
{
	char q[160];

	snprintf(q, sizeof(q), "%s%s", p, suffix);
	return access(q, F_OK) == 0;
}

/* Another program's SQLite file: every open refuses it and no byte changes. */
static void test_foreign_db_untouched(void **state)
{
	static char before[65536], after[65536];
	struct ledger_cache *c = NULL;
	struct ledger *l = NULL;
	char err[512];
	size_t n;
	(void)state;
	mkdir(parent_dir(path), 0700);
	sql_on(path, "CREATE TABLE notes(a TEXT); INSERT INTO notes VALUES ('mine')");
	n = slurp(path, before, sizeof(before));
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "is not a tokenward ledger"));
	assert_non_null(strstr(err, "left as is"));
	assert_int_equal(ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), -EBADMSG);
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_RDONLY, &c, err, sizeof(err)), -EBADMSG);
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_CREATE, &c, err, sizeof(err)), -EBADMSG);
	assert_null(l);
	assert_null(c);
	assert_int_equal(slurp(path, after, sizeof(after)), n);
	assert_memory_equal(before, after, n);
	assert_false(exists(path, "-wal"));
	/* a schema version but not the ledger's tables: not ours either */
	sql_on(path, "PRAGMA user_version = 1");
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "is not a tokenward ledger"));
}

/* A newer ledger in rollback-journal mode: refused before the switch to WAL. */
static void test_newer_schema_journal_untouched(void **state)
{
	static char before[65536], after[65536];
	struct ledger *l = NULL;
	char err[512];
	size_t n;
	(void)state;
	ledger_close(open_rw());
	sql_on(path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99");
	n = slurp(path, before, sizeof(before));
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "newer than this tokenward"));
	assert_int_equal(ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), -EBADMSG);
	assert_int_equal(slurp(path, after, sizeof(after)), n);
	assert_memory_equal(before, after, n);
	assert_false(exists(path, "-wal"));
}

/* Read-only opens create nothing and write nothing. */
static void test_readonly_writes_nothing(void **state)
{
	static char before[65536], after[65536];
	struct ledger_cache *c = NULL;
	struct ledger_token t;
	char tok[TOKEN_LEN + 1];
	struct ledger *l = NULL;
	char err[512];
	size_t n;
	(void)state;
	assert_int_equal(ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), -ENOENT);
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_RDONLY, &c, err, sizeof(err)), -ENOENT);
	assert_int_equal(access(parent_dir(path), F_OK), -1);
	mkdir(parent_dir(path), 0700);
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_RDONLY, &c, err, sizeof(err)), -ENOENT);
	assert_false(exists(path, ""));
	l = open_rw();
	make_token(&t, tok, "t", "x");
	assert_int_equal(ledger_add(l, &t, NULL, 0), 0);
	ledger_close(l);
	sql_on(path, "PRAGMA journal_mode = DELETE");
	n = slurp(path, before, sizeof(before));
	assert_int_equal(ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), 0);
	ledger_close(l);
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_RDONLY, &c, err, sizeof(err)), 0);
	assert_int_equal(ledger_cache_count(c), 1);
	assert_non_null(ledger_cache_lookup(c, t.sha));
	ledger_cache_close(c);
	assert_int_equal(slurp(path, after, sizeof(after)), n);
	assert_memory_equal(before, after, n);
	assert_false(exists(path, "-wal"));
}

/* Root writes beside the ledger: no link on the way, no directory others can write. */
static void test_open_refuses_links_and_open_dirs(void **state)
{
	char link[160], dlink[160];
	struct ledger *l = NULL;
	char err[512];
	(void)state;
	ledger_close(open_rw());
	snprintf(link, sizeof(link), "%s/link.db", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(ledger_open(link, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "is a symbolic link"));
	assert_int_equal(ledger_open(link, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), -ELOOP);
	snprintf(dlink, sizeof(dlink), "%s/dlink", dir);
	assert_int_equal(symlink(parent_dir(path), dlink), 0);
	strcat(dlink, "/ledger.db");
	assert_int_equal(ledger_open(dlink, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "passes through a symbolic link"));
	assert_int_equal(chmod(parent_dir(path), 0777), 0);
	assert_int_equal(ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "writable by others"));
	assert_int_equal(ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), -EPERM);
	assert_int_equal(chmod(parent_dir(path), 0700), 0);
	assert_null(l);
}

static void test_locked_fails_cleanly(void **state)
{
	struct ledger_token t;
	char tok[TOKEN_LEN + 1];
	sqlite3 *db;
	(void)state;
	ledger_close(open_rw());
	setenv(LEDGER_ENV_BUSY_MS, "150", 1);
	struct ledger *l = open_rw();
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	make_token(&t, tok, "t", "x");
	uint64_t t0 = util_now_ns(CLOCK_MONOTONIC);
	assert_int_equal(ledger_add(l, &t, NULL, 0), -EBUSY);
	assert_true(util_now_ns(CLOCK_MONOTONIC) - t0 >= 100000000ull); /* it waited */
	assert_non_null(strstr(ledger_errmsg(l), "locked"));
	assert_non_null(strstr(ledger_errmsg(l), path));
	/* reads still work while another process writes (WAL) */
	struct ledger_token *g;
	assert_int_equal(ledger_get(l, "tk-000000000000", &g), -ENOENT);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	/* once the lock is gone the same write succeeds */
	t.id[0] = 0;
	assert_int_equal(ledger_add(l, &t, NULL, 0), 0);
	ledger_close(l);
	unsetenv(LEDGER_ENV_BUSY_MS);
	assert_int_equal(count("SELECT count(*) FROM tokens"), 1);
}

/* A writer killed mid-stream leaves only whole entries: each token row
 * has its 'issued' history row and the file passes integrity_check. */
static void test_killed_writer_leaves_whole_entries(void **state)
{
	pid_t pid;
	int status;
	(void)state;
	ledger_close(open_rw());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ledger *l;
		char err[256];
		if (ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)))
			_exit(1);
		for (int i = 0; i < 100000; i++) {
			struct ledger_token t;
			char tok[TOKEN_LEN + 1];
			make_token(&t, tok, "t", "x");
			ledger_add(l, &t, NULL, 0);
		}
		_exit(0);
	}
	/* kill it once it has committed something, mid-stream */
	for (uint64_t end = util_now_ns(CLOCK_MONOTONIC) + 60 * 1000000000ull;
	     count("SELECT count(*) FROM tokens") < 1 && util_now_ns(CLOCK_MONOTONIC) < end;)
		usleep(10000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	int64_t toks = count("SELECT count(*) FROM tokens");
	assert_true(toks > 0);
	assert_int_equal(count("SELECT count(*) FROM history WHERE event = 'issued'"), toks);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* The monitor's per-tick statements are prepared once and handed back
 * reset: a statement left mid-way would pin its snapshot and hide other
 * connections' commits from every later poll. */
static void test_kept_statements(void **state)
{
	(void)state;
	struct ledger *l = open_rw();
	struct ledger *other = open_rw();
	struct ledger_token a;
	char ta[TOKEN_LEN + 1];
	const char *sql = "SELECT count(*) FROM tokens";
	sqlite3_stmt *st = ledger_stmt_kept(l, LEDGER_KEPT_DATA_VERSION, sql);

	assert_non_null(st);
	assert_ptr_equal(ledger_stmt_kept(l, LEDGER_KEPT_DATA_VERSION, sql), st); /* prepared once */
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 0);
	/* left mid-way, then fetched again: reset, so it sees the new row */
	make_token(&a, ta, "t", "x");
	assert_int_equal(ledger_add(other, &a, NULL, 0), 0);
	st = ledger_stmt_kept(l, LEDGER_KEPT_DATA_VERSION, sql);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 1);
	assert_null(ledger_stmt_kept(l, LEDGER_NKEPT, sql));
	assert_null(ledger_stmt_kept(l, LEDGER_KEPT_PENDING_REQUESTS, "SELEC nothing"));
	/* ledger_close() finalizes what it kept: no statement is left open */
	assert_non_null(sqlite3_next_stmt(ledger_sqlite(l), NULL));
	ledger_close(other);
	ledger_close(l); /* ASan reports the leak if a statement survives */
}

static void test_cache_sees_new_entries_fast(void **state)
{
	struct ledger_cache *c;
	struct ledger_token a, b;
	char ta[TOKEN_LEN + 1], tb[TOKEN_LEN + 1], err[512];
	const struct ledger_token *hit;
	size_t n;
	(void)state;
	struct ledger *l = open_rw();
	make_token(&a, ta, "t", "x");
	assert_int_equal(ledger_add(l, &a, NULL, 0), 0);
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_CREATE, &c, err, sizeof(err)), 0);
	assert_int_equal(ledger_cache_count(c), 1);
	hit = ledger_cache_lookup_bytes(c, ta, TOKEN_LEN);
	assert_non_null(hit);
	assert_string_equal(hit->id, a.id);
	assert_int_equal(hit->aud.n, 2);
	assert_null(ledger_cache_lookup_bytes(c, tb, 0));
	assert_int_equal(ledger_cache_refresh(c), 0); /* nothing changed */

	/* a write from another connection is visible at the next refresh */
	make_token(&b, tb, "t", "x");
	b.format = LEDGER_FMT_OPAQUE;
	b.length = 40; /* pretend: lengths are what the detector hashes */
	assert_null(ledger_cache_lookup_bytes(c, tb, TOKEN_LEN));
	assert_int_equal(ledger_add(l, &b, NULL, 0), 0);
	uint64_t t0 = util_now_ns(CLOCK_MONOTONIC);
	assert_int_equal(ledger_cache_refresh(c), 1);
	uint64_t dt = util_now_ns(CLOCK_MONOTONIC) - t0;
	assert_true(dt < 100000000ull);
	assert_non_null(ledger_cache_lookup_bytes(c, tb, TOKEN_LEN));
	const uint32_t *lens = ledger_cache_lengths(c, &n);
	assert_int_equal(n, 1);
	assert_int_equal(lens[0], 40);
	/* status changes are seen too */
	assert_int_equal(ledger_revoke(l, a.id, "manual", 7), 0);
	assert_int_equal(ledger_cache_refresh(c), 1);
	hit = ledger_cache_lookup_bytes(c, ta, TOKEN_LEN);
	assert_int_equal(hit->status, LEDGER_REVOKED);
	assert_int_equal(hit->revoked_ns, 7);
	assert_int_equal(ledger_cache_count(c), 2); /* replaced, not added */
	/* a module writing the table directly is seen too (rev by trigger) */
	assert_int_equal(sqlite3_exec(ledger_sqlite(l), "UPDATE tokens SET scope = 'x' WHERE task = 't'",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ledger_cache_refresh(c), 1);
	hit = ledger_cache_lookup_bytes(c, tb, TOKEN_LEN);
	assert_string_equal(hit->scope, "x");
	assert_int_equal(ledger_cache_count(c), 2);
	/* history rows change data_version but no token: nothing reloaded */
	assert_int_equal(ledger_history_add(l, a.id, "note", NULL), 0);
	assert_int_equal(ledger_cache_refresh(c), 0);
	assert_int_equal(ledger_cache_count(c), 2);
	ledger_cache_close(c);
	ledger_close(l);
}

static void test_cache_many(void **state)
{
	struct ledger_cache *c;
	char err[512];
	static char toks[500][TOKEN_LEN + 1];
	(void)state;
	struct ledger *l = open_rw();
	sqlite3_exec(ledger_sqlite(l), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	for (int i = 0; i < 500; i++) {
		struct ledger_token t;
		make_token(&t, toks[i], "t", "x");
		assert_int_equal(ledger_add(l, &t, NULL, 0), 0);
	}
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_CREATE, &c, err, sizeof(err)), 0);
	assert_int_equal(ledger_cache_count(c), 500);
	for (int i = 0; i < 500; i++)
		assert_non_null(ledger_cache_lookup_bytes(c, toks[i], TOKEN_LEN));
	/* a token-shaped string that is not in the ledger is not managed */
	char other[TOKEN_LEN + 1];
	assert_int_equal(token_mint(other), 0);
	assert_null(ledger_cache_lookup_bytes(c, other, TOKEN_LEN));
	ledger_cache_close(c);
	ledger_close(l);
}

/* Another process mints; the cache's next refresh sees it. */
static void test_cache_cross_process_latency(void **state)
{
	struct ledger_cache *c;
	char err[512];
	int pipefd[2];
	(void)state;
	ledger_close(open_rw());
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_CREATE, &c, err, sizeof(err)), 0);
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ledger *l;
		struct ledger_token t;
		char tok[TOKEN_LEN + 1];
		if (ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err)))
			_exit(1);
		make_token(&t, tok, "t", "x");
		if (ledger_add(l, &t, NULL, 0))
			_exit(1);
		if (write(pipefd[1], t.sha, 32) != 32) /* committed */
			_exit(1);
		ledger_close(l);
		_exit(0);
	}
	unsigned char sha[32];
	assert_int_equal(read(pipefd[0], sha, 32), 32);
	int status;
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The child has committed: the very next refresh, as the monitor's
	 * 20 ms tick makes, must see it. (How fast, in ms, is a benchmark's
	 * question, not a timed test's: make bench-ledger.) */
	assert_null(ledger_cache_lookup(c, sha));
	assert_int_equal(ledger_cache_refresh(c), 1);
	assert_non_null(ledger_cache_lookup(c, sha));
	ledger_cache_close(c);
	close(pipefd[0]);
	close(pipefd[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_private_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_get_never_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_audience_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_and_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_without_revoke_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_db_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_journal_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_links_and_open_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_writer_leaves_whole_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kept_statements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_sees_new_entries_fast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_cross_process_latency, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
