/* Tests for user/ledger/evstore.c: the writer thread keeps what it is
 * given (verdicts with their parent chain, revocation outcomes, counter
 * samples), retention by age and by size, the container id, and a
 * reader that refuses what is not a store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "ledger/evstore.h"
#include "lib/db.h"
#include "lib/util.h"

static char dir[] = "/tmp/tw-evstore.XXXXXX", path[256];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/events.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int64_t q(const char *sql)
{
	sqlite3 *db = NULL;
	char err[256];
	int64_t v = -1;

	assert_int_equal(evstore_open_reader(path, &db, err, sizeof(err)), 0);
	assert_int_equal(db_query_int64(db, sql, &v), SQLITE_OK);
	sqlite3_close(db);
	return v;
}

static cJSON *verdict(const char *time, const char *token, const char *cls, const char *cgroup)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "time", time);
	if (token)
		cJSON_AddStringToObject(o, "token_id", token);
	else
		cJSON_AddNullToObject(o, "token_id");
	cJSON_AddStringToObject(o, "class", cls);
	cJSON_AddBoolToObject(o, "exposure", strcmp(cls, "use") != 0);
	cJSON_AddStringToObject(o, "action", "revoke");
	cJSON_AddNumberToObject(o, "pid", 42);
	cJSON_AddStringToObject(o, "exe", "/usr/bin/agent");
	if (cgroup)
		cJSON_AddStringToObject(o, "cgroup", cgroup);
	return o;
}

static void test_writer_keeps_everything(void **state)
{
	struct evstore_retention ret = { 0, 0 };
	struct evstore *s = NULL;
	struct evstore_stats st;
	char err[256];
	cJSON *parents = cJSON_CreateArray(), *status = cJSON_Parse(
		"{\"sensors\":{\"drops\":{\"ringbuf_full\":7,\"capture_truncated\":2,\"capture_cut_ring_room\":6},"
		"\"events_lost\":1,\"userspace\":{\"carry_cut\":8}},"
		"\"detection\":{\"regex_limit_hits\":3,\"rules_suspended\":4,\"repeats_collapsed\":992,"
		"\"encoded_runs_cut\":11,\"decode_budget_hits\":12,\"decode_depth_hits\":13}}");
	(void)state;

	assert_int_equal(evstore_open(path, &ret, &s, err, sizeof(err)), 0);
	cJSON_AddItemToArray(parents, cJSON_Parse("{\"pid\":1,\"comm\":\"init\"}"));
	evstore_add_verdict(s, verdict("2026-11-27T06:24:16.123456Z", "tk-1", "file_write",
				       "/system.slice/docker-0123456789abcdef0123.scope"), parents);
	evstore_add_verdict(s, verdict("2026-11-27T06:24:17.000000Z", NULL, "unmanaged", NULL), NULL);
	evstore_add_revocation(s, "tk-1", "revoked", "{\"result\":\"ok\",\"http_status\":200}");
	evstore_sample(s, status, 123, 1);
	evstore_sample(s, status, 123, 0); /* within 10 s of the last: not kept */
	evstore_close(s);
	cJSON_Delete(status);
	assert_int_equal(q("SELECT count(*) FROM verdicts"), 2);
	assert_int_equal(q("SELECT count(*) FROM verdict_details"), 2);
	assert_int_equal(q("SELECT at_ns FROM verdicts WHERE token_id = 'tk-1'"), 1795760656123456000ll);
	assert_int_equal(q("SELECT count(*) FROM verdicts WHERE container = '0123456789ab'"), 1);
	assert_int_equal(q("SELECT count(*) FROM verdict_details WHERE"
			   " json_extract(detail, '$.parents[0].comm') = 'init'"), 1);
	assert_int_equal(q("SELECT count(*) FROM revocations WHERE event = 'revoked' AND token_id = 'tk-1'"), 1);
	assert_int_equal(q("SELECT count(*) FROM counters"), 1);
	assert_int_equal(q("SELECT json_extract(counters, '$.lost.ringbuf_full') FROM counters"), 7);
	assert_int_equal(q("SELECT json_extract(counters, '$.lost.events_lost') FROM counters"), 1);
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.capture_truncated') FROM counters"), 2);
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.regex_limit_hits') FROM counters"), 3);
	/* the detector's bounds (issue 13 defect 9): shown in reports' coverage */
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.rules_suspended') FROM counters"), 4);
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.repeats_collapsed') FROM counters"), 992);
	/* the decoders' bounds (issue 12), a long capture cut for ring room and
	 * a stream carry cut short: every bound hit reaches the coverage */
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.encoded_runs_cut') FROM counters"), 11);
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.decode_budget_hits') FROM counters"), 12);
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.decode_depth_hits') FROM counters"), 13);
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.capture_cut_ring_room') FROM counters"), 6);
	assert_int_equal(q("SELECT json_extract(counters, '$.cut.carry_cut') FROM counters"), 8);
	assert_int_equal(q("SELECT run_ns FROM counters"), 123);
	/* NULL-safe, and a NULL store takes nothing */
	evstore_add_verdict(NULL, verdict("x", NULL, "use", NULL), NULL);
	evstore_get_stats(NULL, &st);
	assert_int_equal(st.written, 0);
	evstore_close(NULL);
}

static void test_retention_age_and_size(void **state)
{
	struct evstore_retention keep = { 0, 0 };
	struct evstore *s = NULL;
	sqlite3 *db = NULL;
	static const int busy = 1000;
	char err[256], ts[40];
	int64_t now = (int64_t)util_now_ns(CLOCK_REALTIME);
	(void)state;

	char wal[300];
	unlink(path);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	unlink(wal);
	assert_int_equal(evstore_open(path, &keep, &s, err, sizeof(err)), 0);
	/* 2000 verdicts: the first 1000 ten days old, the rest an hour old */
	for (int i = 0; i < 2000; i++) {
		util_rfc3339((uint64_t)(now - (i < 1000 ? 10 * 86400ll : 3600ll) * 1000000000ll + i * 1000ll), ts, sizeof(ts));
		cJSON *v = verdict(ts, "tk-2", "file_write", NULL);
		cJSON_AddStringToObject(v, "path", "/var/log/a-rather-long-path-to-make-rows-take-some-room.log");
		evstore_add_verdict(s, v, NULL);
	}
	evstore_close(s);
	assert_int_equal(q("SELECT count(*) FROM verdicts"), 2000);
	assert_int_equal(db_open(path, 0, &busy, &db), SQLITE_OK);
	struct evstore_retention age = { 7 * 86400, 0 };
	assert_int_equal(evstore_apply_retention(db, &age, now), 1000); /* verdicts (their details go too) */
	sqlite3_close(db);
	assert_int_equal(q("SELECT count(*) FROM verdicts"), 1000);
	assert_int_equal(q("SELECT count(*) FROM verdict_details"), 1000);
	/* by size: down under 64 KiB of data, oldest first */
	assert_int_equal(db_open(path, 0, &busy, &db), SQLITE_OK);
	struct evstore_retention size = { 0, 64 * 1024 };
	assert_true(evstore_apply_retention(db, &size, now) > 0);
	int64_t pages = 0, fl = 0, psz = 0, n = 0, oldest_kept = 0;
	db_query_int64(db, "PRAGMA page_count", &pages);
	db_query_int64(db, "PRAGMA freelist_count", &fl);
	db_query_int64(db, "PRAGMA page_size", &psz);
	db_query_int64(db, "SELECT count(*) FROM verdicts", &n);
	db_query_int64(db, "SELECT min(id) FROM verdicts", &oldest_kept);
	sqlite3_close(db);
	assert_true((pages - fl) * psz <= 64 * 1024);
	assert_true(n > 0 && n < 1000);
	assert_int_equal(oldest_kept, 2001 - n); /* the newest n kept */
	assert_int_equal(q("SELECT count(*) FROM verdict_details"), n);
}

static void test_container_id(void **state)
{
	char out[40];
	(void)state;
	evstore_container_id("/system.slice/docker-0123456789abcdef0123456789abcdef.scope", out, sizeof(out));
	assert_string_equal(out, "0123456789ab");
	evstore_container_id("/kubepods/burstable/pod1/cri-containerd-abcdef012345abcd", out, sizeof(out));
	assert_string_equal(out, "abcdef012345");
	evstore_container_id("/user.slice/user-0.slice/session-1.scope", out, sizeof(out));
	assert_string_equal(out, "");
	evstore_container_id("/docker/abc", out, sizeof(out)); /* too short for an id */
	assert_string_equal(out, "");
	evstore_container_id(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_reader_refuses(void **state)
{
	sqlite3 *db = NULL;
	char err[256], other[300];
	FILE *f;
	(void)state;

	snprintf(other, sizeof(other), "%s/none.db", dir);
	assert_int_equal(evstore_open_reader(other, &db, err, sizeof(err)), -ENOENT);
	snprintf(other, sizeof(other), "%s/junk.db", dir);
	f = fopen(other, "w");
	fputs("not a database, not at all, not even a header of one\n", f);
	fclose(f);
	assert_true(evstore_open_reader(other, &db, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "junk.db"));
	/* a SQLite file of someone else's */
	snprintf(other, sizeof(other), "%s/foreign.db", dir);
	static const int busy = 1000;
	assert_int_equal(db_open(other, DB_OPEN_CREATE, &busy, &db), SQLITE_OK);
	db_exec(db, "CREATE TABLE t (x)");
	sqlite3_close(db);
	assert_int_equal(evstore_open_reader(other, &db, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a tokenward event store"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_keeps_everything),
		cmocka_unit_test(test_retention_age_and_size),
		cmocka_unit_test(test_container_id),
		cmocka_unit_test(test_reader_refuses),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
