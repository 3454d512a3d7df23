/*
 * user/verdict/pipeline.c on a real temporary ledger, with a synthetic capture.
 *
 * 1. The monitor's loop thread must not wait for the disk between a sighting
 * and the issuer's request, nor right after it (the next sighting waits
 * behind it). bench-revoke showed the ledger's history line
 * ("revoke_queued", written inside revoker_submit) and the deferred
 * "revoked" mark costing an fsync each on that thread (ledger connections
 * are synchronous=FULL for the CLI's mints): 1-8 ms apiece on this disk.
 *
 * fdatasync()/fsync() are interposed here (libsqlite3 calls fdatasync
 * through the PLT, so the executable's definition wins) and counted per
 * thread. A real pipeline on a temporary ledger gets one capture holding a
 * minted token, in a file write: the verdict must say revoke, and neither
 * pipeline_capture() nor the pipeline_tick() after it may sync on the
 * calling thread. With `revocation.synchronous: full` they must (the user
 * asked for power-loss durability of the revocation record).
 *
 * 2. The ledger queues a revoke request for every "revoked" mark, for
 * revocations the CLI asks for. The monitor's own mark follows a job it
 * has already queued; draining that request again unsealed the token and
 * submitted it a second time (`duplicates` in the status grew by one per
 * revocation). It must be closed without a second submission.
 *
 * 3. A ledger renamed over while the monitor runs (a restore) was never
 * noticed, and reopening it naively read the new file through the old
 * one's WAL, which SQLite leaves behind for a moved database: the old
 * tokens again. The new file's tokens must be managed, and the new file
 * must hold its own tokens and nothing of the old one's.
 */
#include <stdarg.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <cjson/cJSON.h>
#include "sensors/capture.h"
#include "lib/config.h"
#include "ledger/ledger.h"
#include "lib/log.h"
#include "verdict/pipeline.h"
#include "detect/redact.h"
#include "ledger/token.h"
#include "lib/util.h"
#include "output/promtext.h"
#include "tokmint.h"

static __thread int syncs;

int fdatasync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	syncs++;
	return real(fd);
}

int fsync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	syncs++;
	return real(fd);
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	log_threshold = LOG_ERROR;
	snprintf(dir, sizeof(dir), "/tmp/tw-pipesync.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

struct sink {
	char action[32];
	int n;
};

static void emit(void *ctx, cJSON *o)
{
	struct sink *s = ctx;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "action");

	if (cJSON_IsString(a))
		snprintf(s->action, sizeof(s->action), "%s", a->valuestring);
	s->n++;
	cJSON_Delete(o);
}

struct outcome {
	char action[32];           /* the verdict line's */
	int status;                /* the token's in the ledger afterwards */
	int failed_jobs;           /* revoke_jobs in state failed */
	int in_capture, in_tick;   /* syncs on this thread */
	int duplicates;            /* the revoker's since_start.duplicates after the drain */
	int pending_requests;      /* revoke_requests still pending */
	int done_requests;
};

static int count_rows(const char *db, const char *sql)
{
	struct ledger *l;
	sqlite3_stmt *st;
	char err[256];
	int n = -1;

	assert_int_equal(ledger_open(db, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), 0);
	assert_int_equal(sqlite3_prepare_v2(ledger_sqlite(l), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	ledger_close(l);
	return n;
}

/* issuer: the token's; "hook" is configured, any other name is not. */
static void run_case(const char *sync, const char *issuer, struct outcome *out)
{
	char yaml[512], db[128], list[128], err[512], tok[TOKEN_LEN + 1], line[256];
	static char *aud[] = { "127.0.0.1:1" };
	struct tw_config *cfg;
	struct ledger *l;
	struct ledger_token t = { 0 };
	struct pipeline *p;
	struct sink s = { 0 };
	struct tw_hdr hdr = { 0 };
	struct capture c = { 0 };
	static int round;

	snprintf(db, sizeof(db), "%s/ledger-%d.db", dir, round);
	snprintf(list, sizeof(list), "%s/revoked-%d.list", dir, round++);
	/* An external issuer (a command hook that succeeds): for those the
	 * ledger queues a revoke request with every mark. */
	snprintf(yaml, sizeof(yaml), "revocation:\n  synchronous: %s\nissuers:\n  hook:\n"
		 "    type: command\n    command: [/bin/true]\n", sync);
	assert_int_equal(config_load_string(yaml, "t.yaml", &cfg, err, sizeof(err)), 0);
	assert_int_equal(config_ensure_builtin(cfg, LEDGER_BUILTIN_ISSUER, list), 0);

	/* A token in the format `tokenward mint` makes, from the hook issuer. */
	assert_int_equal(token_mint(tok), 0);
	sha256_digest(tok, TOKEN_LEN, t.sha);
	redact_short(tok, TOKEN_LEN, t.redacted, sizeof(t.redacted));
	t.length = TOKEN_LEN;
	t.format = LEDGER_FMT_TWD;
	t.issuer = (char *)issuer;
	t.task = "sync-test";
	t.audience = aud;
	t.naudience = 1;
	t.issued_at = time(NULL);
	t.expires_at = time(NULL) + 600;
	assert_int_equal(ledger_open(db, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), 0);
	assert_int_equal(ledger_add(l, &t, NULL, 0), 0);
	ledger_close(l);

	struct pipeline_opts po = { .cfg = cfg, .ledger_path = db, .emit = emit, .emit_ctx = &s,
				    .boot_to_real = util_boot_to_realtime_offset() };
	assert_int_equal(pipeline_open(&po, &p, err, sizeof(err)), 0);

	/* The agent's log write, as the capture layer hands it over. */
	snprintf(line, sizeof(line), "DEBUG auth: Bearer %s\n", tok);
	hdr.type = TW_EV_FILE_WRITE;
	hdr.ts_boot_ns = util_now_ns(CLOCK_BOOTTIME);
	hdr.pid = hdr.tgid = 4242;
	hdr.ppid = 1;
	c.kind = CAP_FILE_WRITE;
	c.hdr = &hdr;
	c.fd = 3;
	c.path = "/tmp/agent.log";
	c.data = (const unsigned char *)line;
	c.len = c.total_len = strlen(line);

	pipeline_tick(p);          /* settle start-up work first */
	syncs = 0;
	assert_int_equal(pipeline_capture(p, &c), 0);
	out->in_capture = syncs;
	syncs = 0;
	pipeline_tick(p);          /* the deferred ledger mark */
	out->in_tick = syncs;
	assert_int_equal(s.n, 1);
	snprintf(out->action, sizeof(out->action), "%s", s.action);

	usleep(50 * 1000);         /* past the 20 ms period: this tick drains requests */
	pipeline_tick(p);
	{
		cJSON *rev = cJSON_CreateObject(), *ss, *d;

		pipeline_status_fill(p, NULL, rev);
		ss = cJSON_GetObjectItemCaseSensitive(rev, "since_start");
		d = ss ? cJSON_GetObjectItemCaseSensitive(ss, "duplicates") : NULL;
		assert_true(cJSON_IsNumber(d));
		out->duplicates = d->valueint;
		cJSON_Delete(rev);
	}
	pipeline_close(p);
	out->pending_requests = count_rows(db, "SELECT count(*) FROM revoke_requests WHERE state='pending'");
	out->done_requests = count_rows(db, "SELECT count(*) FROM revoke_requests WHERE state='done'");
	out->failed_jobs = count_rows(db, "SELECT count(*) FROM revoke_jobs WHERE state='failed'");
	assert_int_equal(ledger_open(db, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), 0);
	struct ledger_token *g = NULL;
	assert_int_equal(ledger_get_sha(l, t.sha, &g), 0);
	out->status = g->status;
	ledger_token_free(g);
	ledger_close(l);
	config_free(cfg);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(line, sizeof(line));
}

static void test_no_sync_on_loop_thread_by_default(void **state)
{
	struct outcome o;

	(void)state;
	run_case("normal", "hook", &o);
	assert_string_equal(o.action, "revoke");
	assert_int_equal(o.status, LEDGER_REVOKED); /* the mark did land in the ledger */
	print_message("synchronous=normal: %d sync(s) in capture, %d in tick\n", o.in_capture, o.in_tick);
	assert_int_equal(o.in_capture, 0);
	assert_int_equal(o.in_tick, 0);
}

static void test_full_durability_still_syncs(void **state)
{
	struct outcome o;

	(void)state;
	run_case("full", "hook", &o);
	assert_string_equal(o.action, "revoke");
	print_message("synchronous=full: %d sync(s) in capture, %d in tick\n", o.in_capture, o.in_tick);
	assert_true(o.in_capture >= 1);
	assert_true(o.in_tick >= 1);
}

static void test_own_mark_not_resubmitted(void **state)
{
	struct outcome o;

	(void)state;
	run_case("normal", "hook", &o);
	print_message("duplicates %d, requests pending %d, done %d\n", o.duplicates, o.pending_requests,
		      o.done_requests);
	assert_int_equal(o.duplicates, 0);
	assert_int_equal(o.pending_requests, 0);
	assert_int_equal(o.done_requests, 1);
}

/* A ledger at DB holding one minted token, the token in TOK. */
static void ledger_with_token(const char *db, const char *task, char tok[TOKEN_LEN + 1],
			      unsigned char sha[32])
{
	static char *aud[] = { "127.0.0.1:1" };
	struct ledger_token t = { 0 };
	struct ledger *l;
	char err[512];

	assert_int_equal(token_mint(tok), 0);
	sha256_digest(tok, TOKEN_LEN, t.sha);
	memcpy(sha, t.sha, 32);
	redact_short(tok, TOKEN_LEN, t.redacted, sizeof(t.redacted));
	t.length = TOKEN_LEN;
	t.format = LEDGER_FMT_TWD;
	t.issuer = LEDGER_BUILTIN_ISSUER;
	t.task = (char *)task;
	t.audience = aud;
	t.naudience = 1;
	t.issued_at = time(NULL);
	t.expires_at = time(NULL) + 600;
	assert_int_equal(ledger_open(db, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), 0);
	assert_int_equal(ledger_add(l, &t, NULL, 0), 0);
	ledger_close(l);
}

/* The verdict's action for one file write holding TOK. */
static const char *capture_action(struct pipeline *p, struct sink *s, const char *tok)
{
	struct tw_hdr hdr = { 0 };
	struct capture c = { 0 };
	char line[1024];

	snprintf(line, sizeof(line), "token=%s\n", tok);
	hdr.type = TW_EV_FILE_WRITE;
	hdr.ts_boot_ns = util_now_ns(CLOCK_BOOTTIME);
	hdr.pid = hdr.tgid = 4243;
	hdr.ppid = 1;
	c.kind = CAP_FILE_WRITE;
	c.hdr = &hdr;
	c.fd = 3;
	c.path = "/tmp/agent.log";
	c.data = (const unsigned char *)line;
	c.len = c.total_len = strlen(line);
	s->action[0] = 0;
	assert_int_equal(pipeline_capture(p, &c), 0);
	pipeline_tick(p);
	explicit_bzero(line, sizeof(line));
	return s->action;
}

static void test_replaced_ledger_followed(void **state)
{
	char db[128], db2[128], list[128], err[512], yaml[256];
	char told[TOKEN_LEN + 1], tnew[TOKEN_LEN + 1];
	unsigned char sold[32], snew[32];
	struct ledger_token *g = NULL;
	struct tw_config *cfg;
	struct pipeline *p;
	struct ledger *l;
	struct sink s = { 0 };
	int managed = 0;

	(void)state;
	snprintf(db, sizeof(db), "%s/replaced.db", dir);
	snprintf(db2, sizeof(db2), "%s/replacement.db", dir);
	snprintf(list, sizeof(list), "%s/replaced.list", dir);
	snprintf(yaml, sizeof(yaml), "revocation:\n  synchronous: normal\n");
	assert_int_equal(config_load_string(yaml, "t.yaml", &cfg, err, sizeof(err)), 0);
	assert_int_equal(config_ensure_builtin(cfg, LEDGER_BUILTIN_ISSUER, list), 0);
	ledger_with_token(db, "old", told, sold);
	struct pipeline_opts po = { .cfg = cfg, .ledger_path = db, .emit = emit, .emit_ctx = &s,
				    .boot_to_real = util_boot_to_realtime_offset() };
	assert_int_equal(pipeline_open(&po, &p, err, sizeof(err)), 0);
	assert_string_equal(capture_action(p, &s, told), "revoke"); /* the old file's WAL has frames now */

	ledger_with_token(db2, "new", tnew, snew);
	assert_int_equal(rename(db2, db), 0);
	/* A miss looks at the path at most every few ms: try until the
	 * monitor has followed the rename, under a generous deadline. */
	for (uint64_t end = util_now_ns(CLOCK_MONOTONIC) + 30000000000ull;
	     !managed && util_now_ns(CLOCK_MONOTONIC) < end; usleep(1000))
		managed = !strcmp(capture_action(p, &s, tnew), "revoke");
	assert_true(managed);
	pipeline_close(p);

	assert_int_equal(ledger_open(db, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)), 0);
	assert_int_equal(ledger_get_sha(l, snew, &g), 0);
	assert_int_equal(g->status, LEDGER_REVOKED);
	ledger_token_free(g);
	g = NULL;
	assert_int_not_equal(ledger_get_sha(l, sold, &g), 0); /* nothing of the old file */
	ledger_close(l);
	config_free(cfg);
	explicit_bzero(told, sizeof(told));
	explicit_bzero(tnew, sizeof(tnew));
}

/* Opaque tokens are found by their registered lengths, and every length
 * counts: the pipeline once passed only the first 256 distinct lengths to
 * the detector, so a ledger with more never saw its longest tokens. */
static void test_every_opaque_length_looked_for(void **state)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	static char *aud[] = { "127.0.0.1:1" };
	enum { FIRST = 8, COUNT = 300 };
	char db[128], list[128], err[512], tok[FIRST + COUNT];
	unsigned char rnd[FIRST + COUNT];
	struct tw_config *cfg;
	struct pipeline *p;
	struct ledger *l;
	struct sink s = { 0 };

	(void)state;
	snprintf(db, sizeof(db), "%s/lengths.db", dir);
	snprintf(list, sizeof(list), "%s/lengths.list", dir);
	assert_int_equal(config_load_string("revocation:\n  synchronous: normal\n", "t.yaml", &cfg, err,
					    sizeof(err)), 0);
	assert_int_equal(config_ensure_builtin(cfg, LEDGER_BUILTIN_ISSUER, list), 0);
	assert_int_equal(ledger_open(db, LEDGER_OPEN_CREATE, &l, err, sizeof(err)), 0);
	for (size_t n = FIRST; n < FIRST + COUNT; n++) {
		struct ledger_token t = { 0 };
		assert_int_equal(RAND_bytes(rnd, (int)n), 1);
		for (size_t i = 0; i < n; i++)
			tok[i] = abc[rnd[i] & 63];
		tok[n] = 0;
		sha256_digest(tok, n, t.sha);
		redact_short(tok, n, t.redacted, sizeof(t.redacted));
		t.length = n;
		t.format = LEDGER_FMT_OPAQUE;
		t.issuer = LEDGER_BUILTIN_ISSUER;
		t.task = "lengths";
		t.audience = aud;
		t.naudience = 1;
		t.issued_at = time(NULL);
		t.expires_at = time(NULL) + 600;
		assert_int_equal(ledger_add(l, &t, NULL, 0), 0);
	}
	ledger_close(l);
	struct pipeline_opts po = { .cfg = cfg, .ledger_path = db, .emit = emit, .emit_ctx = &s,
				    .boot_to_real = util_boot_to_realtime_offset() };
	assert_int_equal(pipeline_open(&po, &p, err, sizeof(err)), 0);
	assert_string_equal(capture_action(p, &s, tok), "revoke"); /* the longest, registered last */
	pipeline_close(p);
	config_free(cfg);
	explicit_bzero(tok, sizeof(tok));
}

/* A token whose issuer is not configured: the verdict says revoke_failed,
 * not revoke, and the job is kept as failed, to be re-armed once a config
 * names the issuer (issue 13, defect 3). */
static void test_unconfigured_issuer_says_failed(void **state)
{
	struct outcome o;

	(void)state;
	run_case("normal", "not-configured-here", &o);
	assert_string_equal(o.action, "revoke_failed");
	assert_int_equal(o.failed_jobs, 1);
	assert_int_equal(o.status, LEDGER_ACTIVE);
}

/* detection.N from the status file's "detection" section. */
static double detection_num(struct pipeline *p, const char *key)
{
	cJSON *det = cJSON_CreateObject(), *v;
	double n;

	pipeline_status_fill(p, det, NULL);
	v = cJSON_GetObjectItemCaseSensitive(det, key);
	assert_true(cJSON_IsNumber(v));
	n = v->valuedouble;
	cJSON_Delete(det);
	return n;
}

/* Issue 13 defect 9: one write holding the same JWT a hundred times was a
 * hundred sightings, each judged. Now a secret is judged for its first 8
 * copies in a capture and the rest are counted (detection.repeats_
 * collapsed); a managed token among the copies is still judged (revoke).
 * The tail carried from the write before is not this write's: its copies
 * use up none of the 8 and are not counted. */
static void test_repeats_judged_once_per_capture(void **state)
{
	char db[128], list[128], err[512], tok[TOKEN_LEN + 1], jwt[512], *data;
	unsigned char tsha[32];
	struct tw_config *cfg;
	struct pipeline *p;
	struct sink s = { 0 };
	struct tw_hdr hdr = { 0 };
	struct capture c = { 0 };
	size_t n = 0, jl, carry = 0;

	(void)state;
	snprintf(db, sizeof(db), "%s/repeats.db", dir);
	snprintf(list, sizeof(list), "%s/repeats.list", dir);
	assert_int_equal(config_load_string("revocation:\n  synchronous: normal\n", "t.yaml", &cfg, err,
					    sizeof(err)), 0);
	assert_int_equal(config_ensure_builtin(cfg, LEDGER_BUILTIN_ISSUER, list), 0);
	ledger_with_token(db, "repeats", tok, tsha);
	tm_jwt(jwt, "JWT", 1);
	jl = strlen(jwt);
	data = malloc(130 * (jl + 1) + TOKEN_LEN + 2);
	assert_non_null(data);
	for (int i = 0; i < 100; i++) {
		n += (size_t)sprintf(data + n, "%s ", jwt);
		if (i == 50)
			n += (size_t)sprintf(data + n, "%s ", tok);
	}
	struct pipeline_opts po = { .cfg = cfg, .ledger_path = db, .emit = emit, .emit_ctx = &s,
				    .boot_to_real = util_boot_to_realtime_offset() };
	assert_int_equal(pipeline_open(&po, &p, err, sizeof(err)), 0);
	hdr.type = TW_EV_FILE_WRITE;
	hdr.ts_boot_ns = util_now_ns(CLOCK_BOOTTIME);
	hdr.pid = hdr.tgid = 4244;
	hdr.ppid = 1;
	c.kind = CAP_FILE_WRITE;
	c.hdr = &hdr;
	c.fd = 3;
	c.path = "/tmp/agent.log";
	c.data = (const unsigned char *)data;
	c.len = c.total_len = n;
	assert_int_equal(pipeline_capture(p, &c), 0);
	pipeline_tick(p);
	assert_string_equal(s.action, "revoke"); /* the managed token, deep in the copies */
	assert_int_equal(detection_num(p, "findings"), 8 + 1);
	assert_int_equal(detection_num(p, "repeats_collapsed"), 100 - 8);

	/* The next write on the stream: 20 copies carried from this one, then
	 * 30 of its own. */
	n = 0;
	for (int i = 0; i < 50; i++) {
		if (i == 20)
			carry = n;
		n += (size_t)sprintf(data + n, "%s ", jwt);
	}
	c.data = (const unsigned char *)data;
	c.len = n;
	c.carry = carry;
	c.total_len = n - carry;
	assert_int_equal(pipeline_capture(p, &c), 0);
	assert_int_equal(detection_num(p, "findings"), 8 + 1 + 8);
	assert_int_equal(detection_num(p, "repeats_collapsed"), 100 - 8 + 30 - 8);
	{ /* and in the metrics, which render the status file */
		cJSON *st = cJSON_CreateObject(), *det = cJSON_AddObjectToObject(st, "detection");
		size_t mlen;
		char *text;

		pipeline_status_fill(p, det, NULL);
		text = promtext_render(st, &mlen);
		assert_non_null(text);
		if (!strstr(text, "\ntokenward_detection_repeats_collapsed"))
			fail_msg("no repeats_collapsed metric in:\n%.2000s", text);
		assert_non_null(strstr(strstr(text, "\ntokenward_detection_repeats_collapsed"), " 114\n"));
		free(text);
		cJSON_Delete(st);
	}
	pipeline_close(p);
	config_free(cfg);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(data, n);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_sync_on_loop_thread_by_default),
		cmocka_unit_test(test_full_durability_still_syncs),
		cmocka_unit_test(test_own_mark_not_resubmitted),
		cmocka_unit_test(test_every_opaque_length_looked_for),
		cmocka_unit_test(test_replaced_ledger_followed),
		cmocka_unit_test(test_unconfigured_issuer_says_failed),
		cmocka_unit_test(test_repeats_judged_once_per_capture),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
