/* Tests for user/revoke/revoke.c: backoff arithmetic, sealing, and the queue's
 * submit/deliver/history paths on a real SQLite file (builtin issuer, so
 * no network is needed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "lib/config.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "revoke/revoke.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	log_threshold = LOG_ERROR;
	snprintf(dir, sizeof(dir), "/tmp/tw-revoke.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_backoff(void **state)
{
	(void)state;
	/* equal jitter: [d/2, d] with d = base * 2^(n-1) */
	assert_int_equal(revoke_backoff_ms(1, 100, 10000, -1, 3600000, 0), 50);
	assert_int_equal(revoke_backoff_ms(1, 100, 10000, -1, 3600000, 50), 100);
	assert_int_equal(revoke_backoff_ms(1, 100, 10000, -1, 3600000, 51), 50);
	assert_int_equal(revoke_backoff_ms(2, 100, 10000, -1, 3600000, 0), 100);
	assert_int_equal(revoke_backoff_ms(4, 100, 10000, -1, 3600000, 0), 400);
	assert_int_equal(revoke_backoff_ms(4, 100, 10000, -1, 3600000, 400), 800);
	/* capped at max, also for absurd attempt counts (no overflow) */
	assert_int_equal(revoke_backoff_ms(8, 100, 10000, -1, 3600000, 5000), 10000);
	assert_int_equal(revoke_backoff_ms(1000000, 100, 10000, -1, 3600000, 0), 5000);
	assert_int_equal(revoke_backoff_ms(1000000, 100, 10000, -1, 3600000, 5000), 10000);
	/* every jitter value stays within bounds */
	for (uint32_t r = 0; r < 2000; r += 7) {
		unsigned d = revoke_backoff_ms(3, 250, 60000, -1, 3600000, r * 2654435761u);
		assert_in_range(d, 500, 1000);
	}
	/* Retry-After is a floor, even beyond backoff_max, up to its own cap */
	assert_int_equal(revoke_backoff_ms(1, 100, 400, 2, 3600000, 0), 2000);
	assert_int_equal(revoke_backoff_ms(1, 100, 400, 0, 3600000, 0), 50);
	assert_int_equal(revoke_backoff_ms(8, 100, 10000, 1, 3600000, 5000), 10000);
	assert_int_equal(revoke_backoff_ms(1, 100, 400, 86400 * 365L, 3600000, 0), 3600000);
}

static void test_sealer(void **state)
{
	struct revoke_sealer s = { 0 }, s2 = { 0 };
	unsigned char *blob, *plain;
	size_t bn, pn;
	char key[128], err[256];
	const char secret[] = "opaque-token-Zx81Qw";
	(void)state;

	snprintf(key, sizeof(key), "%s/unit-seal.key", dir);
	assert_int_equal(revoke_sealer_file(key, &s, err, sizeof(err)), 0);
	{
		struct stat st;
		assert_int_equal(stat(key, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(st.st_size, 32);
	}
	assert_int_equal(s.seal(s.ctx, "aad1", 4, secret, strlen(secret), &blob, &bn), 0);
	assert_int_equal(bn, 1 + 12 + strlen(secret) + 16);
	assert_null(memmem(blob, bn, "opaque", 6));
	assert_int_equal(s.unseal(s.ctx, "aad1", 4, blob, bn, &plain, &pn), 0);
	assert_int_equal(pn, strlen(secret));
	assert_memory_equal(plain, secret, pn);
	free(plain);
	/* bound to its aad, and tamper-evident */
	assert_int_not_equal(s.unseal(s.ctx, "aad2", 4, blob, bn, &plain, &pn), 0);
	blob[20] ^= 1;
	assert_int_not_equal(s.unseal(s.ctx, "aad1", 4, blob, bn, &plain, &pn), 0);
	blob[20] ^= 1;
	/* the same key file opens it again */
	assert_int_equal(revoke_sealer_file(key, &s2, err, sizeof(err)), 0);
	assert_int_equal(s2.unseal(s2.ctx, "aad1", 4, blob, bn, &plain, &pn), 0);
	free(plain);
	free(blob);
	s.free_ctx(s.ctx);
	s2.free_ctx(s2.ctx);
	/* a key readable by others is refused */
	chmod(key, 0640);
	assert_int_not_equal(revoke_sealer_file(key, &s2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "it is 0640"));
}

struct seen {
	int n;
	char events[16][32];
};

static int history_sink(void *ctx, const char *token_id, const char *sha, const char *event,
			const char *detail)
{
	struct seen *s = ctx;
	(void)token_id;
	(void)sha;
	(void)detail;
	if (s->n < 16)
		snprintf(s->events[s->n++], 32, "%s", event);
	return 0;
}

static struct tw_config *builtin_config(const char *listpath)
{
	char yaml[512], err[256];
	struct tw_config *c = NULL;

	snprintf(yaml, sizeof(yaml),
		 "policy:\n  exec_env: alert\n"
		 "revocation:\n  backoff_base: 10ms\n"
		 "issuers:\n  local:\n    type: builtin\n    revocation_list: %s\n", listpath);
	if (config_load_string(yaml, "t.yaml", &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

static int count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Wait for the workers: poll until the count reaches want or a deadline
 * generous for a loaded machine passes; the caller's assert decides. */
#define WAIT_DEADLINE_NS (60 * 1000000000ull)
static void wait_rows(sqlite3 *db, const char *sql, int want)
{
	uint64_t end = util_now_ns(CLOCK_MONOTONIC) + WAIT_DEADLINE_NS;

	while (count_rows(db, sql) < want && util_now_ns(CLOCK_MONOTONIC) < end)
		usleep(10000);
}

/* Whether the bytes occur in any of the database's files. */
static int in_db_files(const char *db, const char *needle)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char path[256], *buf;
	int found = 0;

	for (size_t i = 0; i < 3; i++) {
		FILE *f;
		long n;

		snprintf(path, sizeof(path), "%s%s", db, sfx[i]);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc(n + 1);
		if (fread(buf, 1, n, f) == (size_t)n && memmem(buf, n, needle, strlen(needle)))
			found = 1;
		free(buf);
		fclose(f);
	}
	return found;
}

static void test_queue_builtin(void **state)
{
	char db[128], list[128], err[256], sha[65];
	const char tok[] = "rawtoken-Hq7Lm2Zx9Pw4Kd";
	struct tw_config *c;
	struct revoker *r;
	struct seen seen = { 0 };
	sqlite3 *h;
	cJSON *st;
	struct revoke_request req = {
		.token_id = "tok-7", .verdict_class = "file_write",
		.verdict_json = "{\"path\":\"/tmp/a.log\"}", .token = tok, .token_len = strlen(tok),
	};
	(void)state;

	snprintf(db, sizeof(db), "%s/q.db", dir);
	snprintf(list, sizeof(list), "%s/revoked", dir);
	c = builtin_config(list);
	assert_int_equal(revoker_open(c, db, &r, err, sizeof(err)), 0);

	/* bad requests */
	{
		struct revoke_request bad = req;
		bad.verdict_class = "nope";
		assert_int_equal(revoker_submit(r, &bad), -EINVAL);
		bad = req;
		bad.token_sha256 = "00";
		assert_int_equal(revoker_submit(r, &bad), -EINVAL);
		bad = req;
		bad.token = NULL;
		bad.token_sha256 = "xyz";
		assert_int_equal(revoker_submit(r, &bad), -EINVAL);
		bad = req;
		bad.issuer = "elsewhere";
		/* kept as a failed job, not dropped (issue 13, defect 3) */
		assert_int_equal(revoker_submit(r, &bad), REVOKE_FAILED);
	}
	/* policy alert: history only */
	{
		struct revoke_request a = req;
		a.verdict_class = "exec_env";
		assert_int_equal(revoker_submit(r, &a), REVOKE_ALERT_ONLY);
	}
	assert_int_equal(revoker_submit(r, &req), REVOKE_QUEUED);
	assert_int_equal(revoker_submit(r, &req), REVOKE_DUPLICATE);

	/* committed before any worker runs */
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE state='pending'"), 1);
	/* builtin issuers do not need the raw token: none stored, sealed or not;
	 * for the unknown issuer nobody can tell yet, so it is kept sealed */
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE sealed_token IS NOT NULL "
				    "AND issuer='local'"), 0);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE sealed_token IS NOT NULL "
				    "AND issuer='elsewhere' AND state='failed'"), 1);

	assert_int_equal(revoker_start(r), 0);
	wait_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE state='done'", 1);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE state='done'"), 1);
	revoker_stop(r);
	sha256_hex(tok, strlen(tok), sha);
	{
		char q[256];
		snprintf(q, sizeof(q), "SELECT COUNT(*) FROM revoke_history WHERE token_sha256='%s' AND "
			 "event IN ('alert','revoke_queued','revoked','revoke_failed')", sha);
		/* alert, failed (unknown issuer), queued, revoked */
		assert_int_equal(count_rows(h, q), 4);
	}
	sqlite3_close(h);

	st = cJSON_CreateObject();
	revoker_stats(r, st);
	assert_int_equal(cJSON_GetObjectItem(st, "done")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(st, "pending")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(st, "failed")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "since_start"), "duplicates")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "since_start"), "revoked")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "since_start"), "alerts_only")->valueint, 1);
	cJSON_Delete(st);

	/* a redirected history sink sees the events instead */
	revoker_set_history_sink(r, history_sink, &seen);
	{
		struct revoke_request b = req;
		char tok2[] = "second-token-Ab12Cd34Ef";
		b.token = tok2;
		b.token_len = strlen(tok2);
		assert_int_equal(revoker_submit(r, &b), REVOKE_QUEUED);
		assert_int_equal(revoker_start(r), 0);
		for (uint64_t end = util_now_ns(CLOCK_MONOTONIC) + WAIT_DEADLINE_NS;
		     seen.n < 2 && util_now_ns(CLOCK_MONOTONIC) < end;)
			usleep(10000);
		revoker_stop(r);
		assert_int_equal(seen.n, 2);
		assert_string_equal(seen.events[0], "revoke_queued");
		assert_string_equal(seen.events[1], "revoked");
		assert_false(in_db_files(db, tok2));
	}
	revoker_close(r);
	assert_false(in_db_files(db, tok));
	config_free(c);
}

/* An RFC 7009 job keeps the token sealed until it is delivered; it is
 * never in the database in clear, and a restart can still open it. */
static void test_sealed_rfc7009_job(void **state)
{
	char db[128], yaml[512], err[256], secret[128];
	const char tok[] = "clear-token-Mn5Bv6Cx7Za8";
	struct tw_config *c = NULL;
	struct revoker *r;
	sqlite3 *h;
	FILE *f;
	struct revoke_request req = { .verdict_class = "net_dest", .token = tok, .token_len = strlen(tok) };
	(void)state;

	snprintf(db, sizeof(db), "%s/q2.db", dir);
	snprintf(secret, sizeof(secret), "%s/s", dir);
	f = fopen(secret, "w");
	fputs("x", f);
	fclose(f);
	chmod(secret, 0600);
	/* port 9 (discard) on loopback: refused, so the job stays pending */
	snprintf(yaml, sizeof(yaml), "revocation:\n  backoff_base: 2s\nissuers:\n  idp:\n    type: rfc7009\n"
		 "    revocation_endpoint: http://127.0.0.1:9/r\n    client_id: tw\n"
		 "    client_secret_file: %s\n", secret);
	assert_int_equal(config_load_string(yaml, "t.yaml", &c, err, sizeof(err)), 0);
	assert_int_equal(revoker_open(c, db, &r, err, sizeof(err)), 0);
	assert_int_equal(revoker_submit(r, &req), REVOKE_QUEUED);
	revoker_close(r);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE sealed_token IS NOT NULL "
				    "AND state='pending'"), 1);
	sqlite3_close(h);
	assert_false(in_db_files(db, tok));
	/* reopen, attempt once: the unsealed token reaches the transport
	 * (a retry on refusal, not a "cannot open" permanent failure) */
	assert_int_equal(revoker_open(c, db, &r, err, sizeof(err)), 0);
	assert_int_equal(revoker_start(r), 0);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	wait_rows(h, "SELECT COUNT(*) FROM revoke_history WHERE event='revoke_retry'", 1);
	revoker_stop(r);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_history WHERE event='revoke_retry'"), 1);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE state='pending'"), 1);
	sqlite3_close(h);
	revoker_close(r);
	assert_false(in_db_files(db, tok));
	config_free(c);
}

/* A job for an issuer this process does not know is kept failed, visible,
 * with its token sealed; a revoker whose config names the issuer re-arms
 * and delivers it without a manual retry (issue 13, defect 3). */
static void test_unconfigured_issuer_rearmed(void **state)
{
	char db[128], list[128], yaml[512], err[256], sha[65];
	const char tok[] = "late-token-Qw3Er4Ty5Ui6Op";
	struct tw_config *a, *b = NULL;
	struct revoker *r;
	struct revoke_job_info ji;
	sqlite3 *h;
	cJSON *st, *fj;
	struct revoke_request req = { .token_id = "tok-9", .issuer = "late", .verdict_class = "file_write",
				      .token = tok, .token_len = strlen(tok) };
	(void)state;

	snprintf(db, sizeof(db), "%s/q3.db", dir);
	snprintf(list, sizeof(list), "%s/late.list", dir);
	sha256_hex(tok, strlen(tok), sha);
	a = builtin_config(list);
	assert_int_equal(revoker_open(a, db, &r, err, sizeof(err)), 0);
	assert_int_equal(revoker_submit(r, &req), REVOKE_FAILED);
	assert_int_equal(revoker_submit(r, &req), REVOKE_DUPLICATE);
	assert_int_equal(revoker_job_info(r, sha, "late", &ji), 0);
	assert_int_equal(ji.state, REVOKE_JOB_FAILED);
	assert_true(ji.rearm_when_configured);
	assert_string_equal(ji.error, REVOKE_ERR_UNCONFIGURED);
	st = cJSON_CreateObject();
	revoker_stats(r, st);
	assert_int_equal(cJSON_GetObjectItem(st, "failed")->valueint, 1);
	fj = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "failed_jobs"), 0);
	assert_string_equal(cJSON_GetObjectItem(fj, "issuer")->valuestring, "late");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(fj, "rearm_when_configured")));
	cJSON_Delete(st);
	/* this process still cannot deliver it: a start re-arms nothing */
	assert_int_equal(revoker_start(r), 0);
	revoker_stop(r);
	assert_int_equal(revoker_job_info(r, sha, "late", &ji), 0);
	assert_int_equal(ji.state, REVOKE_JOB_FAILED);
	revoker_close(r);
	assert_false(in_db_files(db, tok));

	snprintf(yaml, sizeof(yaml), "issuers:\n  late:\n    type: builtin\n    revocation_list: %s\n", list);
	assert_int_equal(config_load_string(yaml, "b.yaml", &b, err, sizeof(err)), 0);
	assert_int_equal(revoker_open(b, db, &r, err, sizeof(err)), 0);
	assert_int_equal(revoker_start(r), 0);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	wait_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE state='done'", 1);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_history WHERE event='revoke_rearmed'"), 1);
	assert_int_equal(count_rows(h, "SELECT COUNT(*) FROM revoke_jobs WHERE sealed_token IS NOT NULL"), 0);
	sqlite3_close(h);
	revoker_stop(r);
	assert_int_equal(revoker_job_info(r, sha, "late", &ji), 0);
	assert_int_equal(ji.state, REVOKE_JOB_DONE);
	assert_true(in_db_files(list, sha)); /* the list itself, first of the three names */
	revoker_close(r);
	config_free(a);
	config_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_sealer),
		cmocka_unit_test(test_queue_builtin),
		cmocka_unit_test(test_sealed_rfc7009_job),
		cmocka_unit_test(test_unconfigured_issuer_rearmed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
