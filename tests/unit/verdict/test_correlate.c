/* Tests for user/verdict/correlate.c: every class, precedence, the false
 * positives that must not happen, and the verdict line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "verdict/correlate.h"
#include "detect/redact.h"
#include "ledger/token.h"

#define NOW_S 1900000000ll
#define NOW_NS (NOW_S * 1000000000ll)
#define DELEGATE_PID 1000
#define DELEGATE_START 5000000000ull

/* Process tree: 1000 (delegate) -> 1001 -> 1002; 2000 unrelated. */
static int tree_desc(void *ctx, uint32_t tgid, uint32_t anc, uint64_t anc_start)
{
	(void)ctx;
	if (anc_start && anc_start != DELEGATE_START)
		return 0;
	return anc == DELEGATE_PID && (tgid == 1001 || tgid == 1002);
}

static int tree_exe(void *ctx, uint32_t tgid, const char *exe)
{
	(void)ctx;
	return (tgid == 1001 || tgid == 1002) && !strcmp(exe, "/usr/bin/agent");
}

static const char *aud_strs[] = { "https://api.example.test", "203.0.113.0/24:8443" };
static char tokbuf[TOKEN_LEN + 1];

static int api_resolver(const char *host, struct sockaddr_storage *a, int max)
{
	(void)max;
	if (strcmp(host, "api.example.test"))
		return -1;
	struct sockaddr_in *in = (void *)&a[0];
	memset(a, 0, sizeof(*a));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.7", &in->sin_addr);
	return 1;
}

static struct ledger_token *tok(enum ledger_delegate kind, int inherit)
{
	struct ledger_token *t = calloc(1, sizeof(*t));
	char err[128];
	token_mint(tokbuf);
	sha256_digest(tokbuf, TOKEN_LEN, t->sha);
	sha256_to_hex(t->sha, t->sha256);
	redact_short(tokbuf, TOKEN_LEN, t->redacted, sizeof(t->redacted));
	strcpy(t->id, "tk-0123456789ab");
	t->issuer = strdup("tokenward");
	t->task = strdup("task-1");
	t->delegate_kind = kind;
	t->inherit = inherit;
	switch (kind) {
	case LEDGER_DELEGATE_EXE: t->delegate = strdup("/usr/bin/agent"); break;
	case LEDGER_DELEGATE_CGROUP: t->delegate = strdup("/agents/task-1"); t->delegate_cgroup_id = 77; break;
	case LEDGER_DELEGATE_PID:
		t->delegate = strdup("1000");
		t->delegate_pid = DELEGATE_PID;
		t->delegate_start_ns = DELEGATE_START;
		break;
	default: break;
	}
	t->issued_at = NOW_S - 60;
	t->expires_at = NOW_S + 600;
	assert_int_equal(audience_list_parse(aud_strs, 2, &t->aud, err, sizeof(err)), 0);
	return t;
}

static struct sockaddr_in dst;

static struct sighting sight(enum sighting_kind kind, uint32_t tgid, const char *exe)
{
	struct sighting s = {
		.kind = kind,
		.proc = { .tgid = tgid, .tid = tgid, .ppid = 1, .uid = 1000, .comm = "agent", .exe = exe,
			  .cgroup_id = 5, .cgroup_path = "/user.slice",
			  .start_boot_ns = tgid == DELEGATE_PID ? DELEGATE_START + 3000000 : 9 },
		.time_ns = NOW_NS,
		.rule = "tokenward-delegation",
		.is_descendant = tree_desc,
		.has_ancestor_exe = tree_exe,
	};
	if (kind == SIGHT_NET_SEND) {
		memset(&dst, 0, sizeof(dst));
		dst.sin_family = AF_INET;
		dst.sin_port = htons(443);
		inet_pton(AF_INET, "198.51.100.7", &dst.sin_addr);
		s.dest = (struct sockaddr *)&dst;
		s.destlen = sizeof(dst);
		s.sni = "api.example.test";
	}
	if (kind == SIGHT_FILE_WRITE)
		s.path = "/tmp/out.log";
	return s;
}

static void expect(const struct sighting *s, const struct ledger_token *t, enum verdict_class want, uint32_t also)
{
	struct verdict v;
	correlate(s, t, &v);
	if (v.cls != want)
		fail_msg("class %s, want %s (%s)", verdict_class_str(v.cls), verdict_class_str(want), v.reason);
	assert_int_equal(v.classes, VERDICT_BIT(want) | also);
	assert_int_equal(v.exposure, want != V_USE && want != V_UNMANAGED);
}

static int setup(void **state)
{
	(void)state;
	audience_set_resolver(api_resolver);
	return 0;
}

static void test_use_is_not_exposure(void **state)
{
	(void)state;
	/* the delegate's legitimate use to its audience, for every delegate form */
	struct ledger_token *t = tok(LEDGER_DELEGATE_PID, 0);
	struct sighting s = sight(SIGHT_NET_SEND, DELEGATE_PID, "/usr/bin/agent");
	expect(&s, t, V_USE, 0);
	s.proc.tgid = 1002; /* a descendant sending is still the delegate's use */
	s.proc.start_boot_ns = 0;
	expect(&s, t, V_USE, 0);
	ledger_token_free(t);

	t = tok(LEDGER_DELEGATE_EXE, 0);
	s = sight(SIGHT_NET_SEND, 3000, "/usr/bin/agent");
	expect(&s, t, V_USE, 0);
	ledger_token_free(t);

	t = tok(LEDGER_DELEGATE_CGROUP, 0);
	s = sight(SIGHT_NET_SEND, 3000, "/usr/bin/curl");
	s.proc.cgroup_path = "/agents/task-1/worker";
	expect(&s, t, V_USE, 0);
	s.proc.cgroup_path = NULL; /* path unknown: the recorded cgroup id */
	s.proc.cgroup_id = 77;
	expect(&s, t, V_USE, 0);
	ledger_token_free(t);

	t = tok(LEDGER_DELEGATE_ANY, 0);
	s = sight(SIGHT_NET_SEND, 4242, "/usr/bin/anything");
	expect(&s, t, V_USE, 0);
	/* the CIDR audience entry, no name on the wire */
	inet_pton(AF_INET, "203.0.113.50", &dst.sin_addr);
	dst.sin_port = htons(8443);
	s.sni = NULL;
	expect(&s, t, V_USE, 0);
	ledger_token_free(t);

	/* handing it to the delegate on exec */
	t = tok(LEDGER_DELEGATE_EXE, 0);
	s = sight(SIGHT_EXEC_ENV, 3000, "/usr/bin/agent");
	expect(&s, t, V_USE, 0);
	ledger_token_free(t);
	t = tok(LEDGER_DELEGATE_PID, 1);
	s = sight(SIGHT_EXEC_ENV, 1001, "/usr/bin/helper");
	expect(&s, t, V_USE, 0);
	ledger_token_free(t);
}

static void test_unmanaged(void **state)
{
	struct verdict v;
	(void)state;
	struct sighting s = sight(SIGHT_FILE_WRITE, 2000, "/usr/bin/tee");
	correlate(&s, NULL, &v);
	assert_int_equal(v.cls, V_UNMANAGED);
	assert_false(v.exposure);
	assert_string_equal(correlate_action(&v, NULL, NOW_NS), "alert");
}

static void test_file_write(void **state)
{
	(void)state;
	struct ledger_token *t = tok(LEDGER_DELEGATE_PID, 1);
	/* by any process: even the delegate itself */
	struct sighting s = sight(SIGHT_FILE_WRITE, DELEGATE_PID, "/usr/bin/agent");
	expect(&s, t, V_FILE_WRITE, 0);
	s = sight(SIGHT_FILE_WRITE, 2000, "/usr/bin/tee");
	expect(&s, t, V_FILE_WRITE, 0);
	ledger_token_free(t);
}

static void test_exec(void **state)
{
	(void)state;
	struct ledger_token *t = tok(LEDGER_DELEGATE_EXE, 0);
	struct sighting s = sight(SIGHT_EXEC_ENV, 3001, "/usr/bin/curl"); /* not the delegate */
	expect(&s, t, V_EXEC_ENV, 0);
	s.proc.tgid = 1001; /* a child of the delegate, inheritance not allowed */
	expect(&s, t, V_EXEC_ENV, 0);
	t->inherit = 1;
	expect(&s, t, V_USE, 0);
	/* argv is world-readable: exposure even for the delegate */
	s = sight(SIGHT_EXEC_ARGV, 3000, "/usr/bin/agent");
	expect(&s, t, V_EXEC_ARGV, 0);
	ledger_token_free(t);

	t = tok(LEDGER_DELEGATE_PID, 0);
	s = sight(SIGHT_EXEC_ENV, 1001, "/usr/bin/helper"); /* descendant, no inherit */
	expect(&s, t, V_EXEC_ENV, 0);
	s.proc.tgid = DELEGATE_PID; /* the delegate re-executing itself */
	s.proc.start_boot_ns = DELEGATE_START;
	expect(&s, t, V_USE, 0);
	ledger_token_free(t);
}

static void test_foreign_and_net_dest(void **state)
{
	(void)state;
	struct ledger_token *t = tok(LEDGER_DELEGATE_PID, 0);
	struct sighting s = sight(SIGHT_NET_SEND, 2000, "/usr/bin/curl");
	expect(&s, t, V_FOREIGN_PROCESS, 0);
	/* a reused pid is not the delegate: the start time differs */
	s.proc.tgid = DELEGATE_PID;
	s.proc.start_boot_ns = DELEGATE_START + 10000000000ull;
	expect(&s, t, V_FOREIGN_PROCESS, 0);
	/* delegate, wrong destination */
	s = sight(SIGHT_NET_SEND, DELEGATE_PID, "/usr/bin/agent");
	inet_pton(AF_INET, "192.0.2.66", &dst.sin_addr);
	s.sni = "evil.example.test";
	struct verdict v;
	correlate(&s, t, &v);
	assert_int_equal(v.cls, V_NET_DEST);
	assert_int_equal(v.aud, AUD_MISS_NAME);
	/* loopback is outside the audience */
	s = sight(SIGHT_NET_SEND, DELEGATE_PID, "/usr/bin/agent");
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	s.sni = NULL;
	correlate(&s, t, &v);
	assert_int_equal(v.cls, V_NET_DEST);
	assert_int_equal(v.aud, AUD_MISS_LOOPBACK);
	/* a Unix socket is outside the audience */
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/x.sock" };
	s.dest = (struct sockaddr *)&un;
	s.destlen = sizeof(un);
	expect(&s, t, V_NET_DEST, 0);
	/* foreign and wrong destination: foreign first, both reported */
	s = sight(SIGHT_NET_SEND, 2000, "/usr/bin/curl");
	inet_pton(AF_INET, "192.0.2.66", &dst.sin_addr);
	s.sni = NULL;
	expect(&s, t, V_FOREIGN_PROCESS, VERDICT_BIT(V_NET_DEST));
	/* no ancestry callbacks: a descendant cannot be proven, so exposure */
	s = sight(SIGHT_NET_SEND, 1002, "/usr/bin/agent");
	s.is_descendant = NULL;
	expect(&s, t, V_FOREIGN_PROCESS, 0);
	ledger_token_free(t);
}

static void test_time_classes(void **state)
{
	(void)state;
	struct ledger_token *t = tok(LEDGER_DELEGATE_PID, 0);
	struct sighting s = sight(SIGHT_NET_SEND, DELEGATE_PID, "/usr/bin/agent");
	t->completed_ns = NOW_NS - 1;
	t->status = LEDGER_COMPLETED;
	expect(&s, t, V_AFTER_TASK, 0);
	/* a sighting from before completion, processed late, is still use */
	s.time_ns = NOW_NS - 2;
	expect(&s, t, V_USE, 0);
	s.time_ns = NOW_NS;
	/* revoked without completion */
	t->completed_ns = 0;
	t->revoked_ns = NOW_NS;
	t->status = LEDGER_REVOKED;
	struct verdict v;
	correlate(&s, t, &v);
	assert_int_equal(v.cls, V_AFTER_TASK);
	assert_string_equal(v.reason, "seen after it was revoked");
	assert_string_equal(correlate_action(&v, t, NOW_NS), "already_revoked");
	t->revoked_ns = 0;
	t->status = LEDGER_ACTIVE;
	/* expired: exactly at expiry counts */
	t->expires_at = NOW_S;
	expect(&s, t, V_EXPIRED_USE, 0);
	/* both: after_task first */
	t->completed_ns = NOW_NS - 5;
	expect(&s, t, V_AFTER_TASK, VERDICT_BIT(V_EXPIRED_USE));
	/* a file write after the task is first of all a file write */
	s = sight(SIGHT_FILE_WRITE, DELEGATE_PID, "/usr/bin/agent");
	expect(&s, t, V_FILE_WRITE, VERDICT_BIT(V_AFTER_TASK) | VERDICT_BIT(V_EXPIRED_USE));
	ledger_token_free(t);
}

static void test_token_shaped_not_in_ledger(void **state)
{
	(void)state;
	/* A well-formed token that the cache does not hold is unmanaged: the
	 * correlator is only ever given a ledger entry found by hash. */
	struct ledger_cache *c = NULL;
	char dir[] = "/tmp/tw-corr.XXXXXX", path[96], err[256], other[TOKEN_LEN + 1];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/l.db", dir);
	assert_int_equal(ledger_cache_open(path, LEDGER_OPEN_CREATE, &c, err, sizeof(err)), 0);
	assert_int_equal(token_mint(other), 0);
	assert_true(token_validate(other, TOKEN_LEN));
	const struct ledger_token *hit = ledger_cache_lookup_bytes(c, other, TOKEN_LEN);
	assert_null(hit);
	struct sighting s = sight(SIGHT_NET_SEND, DELEGATE_PID, "/usr/bin/agent");
	struct verdict v;
	correlate(&s, hit, &v);
	assert_int_equal(v.cls, V_UNMANAGED);
	ledger_cache_close(c);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_verdict_json(void **state)
{
	(void)state;
	struct ledger_token *t = tok(LEDGER_DELEGATE_PID, 0);
	struct sighting s = sight(SIGHT_NET_SEND, 2000, "/usr/bin/curl");
	struct verdict v;
	cJSON *o;
	char *line;
	char path[160];

	s.sni = "api.example.test";
	correlate(&s, t, &v);
	o = correlate_verdict_json(&s, t, &v, correlate_action(&v, t, NOW_NS));
	line = cJSON_PrintUnformatted(o);
	static const char *const keys[] = {
		"time", "class", "token_id", "sha256", "rule", "redacted", "pid", "ppid", "comm", "exe",
		"uid", "cgroup", "path", "dest", "sni", "host", "action",
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!cJSON_HasObjectItem(o, keys[i]))
			fail_msg("verdict misses %s: %s", keys[i], line);
	assert_string_equal(cJSON_GetObjectItem(o, "class")->valuestring, "foreign_process");
	assert_string_equal(cJSON_GetObjectItem(o, "time")->valuestring, "2030-03-17T17:46:40.000000Z");
	assert_string_equal(cJSON_GetObjectItem(o, "dest")->valuestring, "198.51.100.7:443");
	assert_string_equal(cJSON_GetObjectItem(o, "sha256")->valuestring, t->sha256);
	assert_string_equal(cJSON_GetObjectItem(o, "action")->valuestring, "revoke");
	assert_null(strstr(line, tokbuf));
	free(line);
	cJSON_Delete(o);

	/* a token inside a file name is redacted in the verdict line */
	s = sight(SIGHT_FILE_WRITE, 2000, "/usr/bin/tee");
	snprintf(path, sizeof(path), "/tmp/%s.txt", tokbuf);
	s.path = path;
	correlate(&s, t, &v);
	o = correlate_verdict_json(&s, t, &v, "revoke");
	line = cJSON_PrintUnformatted(o);
	assert_null(strstr(line, tokbuf));
	assert_non_null(strstr(line, "\"class\":\"file_write\""));
	assert_non_null(strstr(line, "\"dest\":null"));
	free(line);
	cJSON_Delete(o);

	/* unmanaged: a "sha256" that is not a hash is not trusted into the line */
	s.sha256 = tokbuf;
	s.redacted = tokbuf;
	correlate(&s, NULL, &v);
	o = correlate_verdict_json(&s, NULL, &v, "alert");
	line = cJSON_PrintUnformatted(o);
	assert_null(strstr(line, tokbuf));
	assert_non_null(strstr(line, "\"class\":\"unmanaged\""));
	free(line);
	cJSON_Delete(o);

	/* IPv6 and Unix destinations */
	char out[160];
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(8443) };
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	correlate_format_dest((struct sockaddr *)&in6, sizeof(in6), out, sizeof(out));
	assert_string_equal(out, "[2001:db8::1]:8443");
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/a.sock" };
	correlate_format_dest((struct sockaddr *)&un, sizeof(un), out, sizeof(out));
	assert_string_equal(out, "unix:/run/a.sock");
	ledger_token_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_use_is_not_exposure, setup),
		cmocka_unit_test_setup(test_unmanaged, setup),
		cmocka_unit_test_setup(test_file_write, setup),
		cmocka_unit_test_setup(test_exec, setup),
		cmocka_unit_test_setup(test_foreign_and_net_dest, setup),
		cmocka_unit_test_setup(test_time_classes, setup),
		cmocka_unit_test_setup(test_token_shaped_not_in_ledger, setup),
		cmocka_unit_test_setup(test_verdict_json, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
