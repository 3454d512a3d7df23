/* Tests for user/lib/config.c: defaults, a full file, and every way a file
 * can be wrong (each error must name the file and the line). */
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
#include <yaml.h>
#include "lib/config.h"
#include "tokenward.h"

static char dir[64];
static char secret_path[128];

static int setup(void **state)
{
	FILE *f;
	(void)state;

	snprintf(dir, sizeof(dir), "/tmp/tw-config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(secret_path, sizeof(secret_path), "%s/idp.secret", dir);
	f = fopen(secret_path, "w");
	if (!f)
		return -1;
	fputs("s3cr3t-value\n", f);
	fclose(f);
	chmod(secret_path, 0600);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* Load yaml (a format with one %s for the secret path). */
static int load(const char *fmt, struct tw_config **c, char *err, size_t errsz)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml), fmt, secret_path);
	return config_load_string(yaml, "tw.yaml", c, err, errsz);
}

static void test_defaults(void **state)
{
	struct tw_config *c = config_defaults();
	static const char *const revoking[] = { "file_write", "exec_env", "exec_argv", "net_dest",
						"foreign_process", "after_task", "expired_use",
						"task_done" };
	(void)state;

	assert_non_null(c);
	for (size_t i = 0; i < sizeof(revoking) / sizeof(revoking[0]); i++)
		assert_int_equal(c->policy[verdict_class_parse(revoking[i])], POLICY_REVOKE);
	assert_int_equal(c->policy[VC_UNMANAGED], POLICY_ALERT);
	assert_string_equal(c->state_dir, "/var/lib/tokenward");
	assert_string_equal(c->ledger_path, "/var/lib/tokenward/ledger.db");
	assert_int_equal(c->ringbuf_size, 16u << 20);
	assert_int_equal(c->nissuers, 0);
	assert_null(config_default_issuer(c));
	config_free(c);
}

static void test_empty_file_is_defaults(void **state)
{
	struct tw_config *c = NULL;
	char err[256];
	(void)state;

	assert_int_equal(config_load_string("", "empty.yaml", &c, err, sizeof(err)), 0);
	assert_int_equal(c->policy[VC_FILE_WRITE], POLICY_REVOKE);
	config_free(c);
}

static void test_full(void **state)
{
	struct tw_config *c = NULL;
	const struct tw_issuer *is;
	char err[256] = "";
	(void)state;

	assert_int_equal(load("state_dir: /srv/tw\n"
			      "ledger: /srv/tw/l.db\n"
			      "ringbuf_size: 32M\n"
			      "capture_size: 8K\n"
			      "policy:\n"
			      "  exec_env: alert\n"
			      "  unmanaged: revoke\n"
			      "revocation:\n"
			      "  workers: 3\n"
			      "  backoff_base: 50ms\n"
			      "  backoff_max: 2m\n"
			      "  synchronous: full\n"
			      "  default_issuer: idp\n"
			      "issuers:\n"
			      "  idp:\n"
			      "    type: rfc7009\n"
			      "    revocation_endpoint: https://idp.example/revoke\n"
			      "    client_id: tokenward\n"
			      "    client_secret_file: %s\n"
			      "    auth_method: client_secret_post\n"
			      "    token_type_hint: access_token\n"
			      "    timeout: 1.5s\n"
			      "  list:\n"
			      "    type: builtin\n"
			      "    revocation_list: /srv/tw/revoked\n"
			      "  hook:\n"
			      "    type: command\n"
			      "    command: [/usr/bin/hook, -x, 'two words']\n"
			      "  chat:\n"
			      "    type: webhook\n"
			      "    url: http://127.0.0.1:9/h\n",
			      &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c->state_dir, "/srv/tw");
	assert_string_equal(c->ledger_path, "/srv/tw/l.db");
	assert_int_equal(c->ringbuf_size, 32u << 20);
	assert_int_equal(c->capture_size, 8192);
	assert_int_equal(c->policy[VC_EXEC_ENV], POLICY_ALERT);
	assert_int_equal(c->policy[VC_UNMANAGED], POLICY_REVOKE);
	assert_int_equal(c->policy[VC_FILE_WRITE], POLICY_REVOKE);
	assert_int_equal(c->revocation.workers, 3);
	assert_int_equal(c->revocation.backoff_base_ms, 50);
	assert_int_equal(c->revocation.backoff_max_ms, 120000);
	assert_true(c->revocation.sync_full);
	assert_int_equal(c->nissuers, 4);
	is = config_issuer(c, "idp");
	assert_non_null(is);
	assert_ptr_equal(config_default_issuer(c), is);
	assert_int_equal(is->type, ISSUER_RFC7009);
	assert_int_equal(is->auth, AUTH_CLIENT_SECRET_POST);
	assert_string_equal(is->client_secret, "s3cr3t-value");      /* newline trimmed */
	assert_int_equal(is->client_secret_len, 12);
	assert_string_equal(is->token_type_hint, "access_token");
	assert_int_equal(is->timeout_ms, 1500);
	is = config_issuer(c, "hook");
	assert_int_equal(is->type, ISSUER_COMMAND);
	assert_string_equal(is->argv[0], "/usr/bin/hook");
	assert_string_equal(is->argv[2], "two words");
	assert_null(is->argv[3]);
	assert_int_equal(is->timeout_ms, 5000);
	assert_int_equal(config_issuer(c, "list")->type, ISSUER_BUILTIN);
	assert_int_equal(config_issuer(c, "chat")->type, ISSUER_WEBHOOK);
	assert_null(config_issuer(c, "nope"));
	config_free(c);
}

/* Each bad input: the message must start with "tw.yaml:LINE:" and
 * contain the given words. */
static void expect_error(const char *fmt, int line, const char *words)
{
	struct tw_config *c = NULL;
	char err[512], prefix[32];

	assert_int_not_equal(load(fmt, &c, err, sizeof(err)), 0);
	assert_null(c);
	snprintf(prefix, sizeof(prefix), "tw.yaml:%d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, words))
		fail_msg("want '%s...%s', got '%s'", prefix, words, err);
}

static void test_malformed(void **state)
{
	(void)state;
	/* YAML syntax */
	expect_error("policy:\n  file_write: revoke\n   exec_env: alert\n", 3, "mapping values");
	expect_error("issuers: [\n", 2, "");
	/* structure and values */
	expect_error("state_dir: /a\nfrobnicate: 1\n", 2, "unknown key 'frobnicate'");
	expect_error("policy:\n  file_write: revoke\n  exec_env: maybe\n", 3, "revoke or alert");
	expect_error("policy:\n  no_such_class: alert\n", 2, "unknown verdict class");
	expect_error("ringbuf_size: 3M\n", 1, "power of two");
	expect_error("capture_size: lots\n", 1, "not a size");
	expect_error("revocation:\n  backoff_base: soon\n", 2, "not a duration");
	expect_error("revocation:\n  workers: 0\n", 2, "1..64");
	expect_error("revocation:\n  default_issuer: x\n", 1, "not among the issuers");
	expect_error("policy: revoke\n", 1, "must be a mapping");
	expect_error("issuers:\n  a:\n    type: ldap\n", 3, "unknown type 'ldap'");
	expect_error("issuers:\n  a:\n    url: http://x/\n", 2, "'type' is required");
	expect_error("issuers:\n  a:\n    type: rfc7009\n    client_id: x\n", 2,
		     "needs revocation_endpoint");
	expect_error("issuers:\n  a:\n    type: rfc7009\n    revocation_endpoint: ftp://x/\n"
		     "    client_id: x\n    client_secret_file: %s\n", 2, "http(s) URL");
	expect_error("issuers:\n  a:\n    type: rfc7009\n    revocation_endpoint: https://x/\n"
		     "    client_id: x\n    client_secret_file: %s\n    auth_method: jwt\n", 7,
		     "client_secret_basic or client_secret_post");
	expect_error("issuers:\n  a:\n    type: builtin\n    revocation_list: /x\n  a:\n"
		     "    type: builtin\n    revocation_list: /y\n", 5, "given twice");
	expect_error("issuers:\n  h:\n    type: command\n    command: hook.sh\n", 4, "must be a list");
	expect_error("issuers:\n  h:\n    type: command\n    command: [hook.sh]\n", 4, "absolute path");
	expect_error("issuers:\n  w:\n    type: webhook\n    url: http://x/\n    timeout: 5 parsecs\n", 5,
		     "not a duration");
	expect_error("issuers:\n  a:\n    type: builtin\n    revocation_list: [a, b]\n", 4,
		     "single value");
}

/* Issue 13, defect 10: a second document, duplicate keys at any level,
 * deep nesting and size are errors naming the file and line. */
static void test_yaml_bounds(void **state)
{
	struct tw_config *c = NULL;
	char path[128], err[512];
	FILE *f;
	(void)state;
	expect_error("policy:\n  net_dest: alert\n---\npolicy:\n  net_dest: revoke\n", 3,
		     "a second YAML document");
	expect_error("revocation:\n  workers: 2\n  backoff_base: 1s\n  workers: 9\n", 4,
		     "'workers' given twice (first at line 2)");
	expect_error("policy:\n  net_dest: alert\npolicy:\n  net_dest: revoke\n", 3, "'policy' given twice");
	expect_error("issuers:\n  w:\n    type: webhook\n    url: http://x/\n    url: http://y/\n", 5,
		     "'url' given twice");
	expect_error("state_dir: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[x]]]]]]]]"
		     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", 1,
		     "nested deeper than 64 levels");
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("policy:\n  net_dest: alert\n", f);
	for (int i = 0; i < 20000; i++)
		fputs("# a comment line to pad this config file well beyond one MiB.....\n", f);
	fclose(f);
	assert_int_not_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_null(c);
	if (!strstr(err, "/big.yaml:") || !strstr(err, "larger than 1 MiB"))
		fail_msg("%s", err);
	unlink(path);
}

/* Found while fuzzing the config: a client_secret_file naming a FIFO
 * blocked the load in open() until some writer came (forever). It is
 * refused as "not a regular file". alarm() turns a hang into a failure. */
static void test_secret_file_fifo(void **state)
{
	static const char yaml[] = "issuers:\n  idp:\n    type: rfc7009\n"
				   "    revocation_endpoint: https://x/\n    client_id: tw\n"
				   "    client_secret_file: %s\n";
	struct tw_config *c = NULL;
	char fifo[128], text[512], err[512];
	(void)state;

	snprintf(fifo, sizeof(fifo), "%s/secret.fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(text, sizeof(text), yaml, fifo);
	alarm(20);
	assert_int_not_equal(config_load_string(text, "tw.yaml", &c, err, sizeof(err)), 0);
	alarm(0);
	assert_null(c);
	if (!strstr(err, "tw.yaml:2: issuer 'idp'") || !strstr(err, "client_secret_file") || !strstr(err, "not a regular file"))
		fail_msg("%s", err);
	unlink(fifo);
}

static void test_secret_file_permissions(void **state)
{
	static const char yaml[] = "issuers:\n  idp:\n    type: rfc7009\n"
				   "    revocation_endpoint: https://x/\n    client_id: tw\n"
				   "    client_secret_file: %s\n";
	struct tw_config *c = NULL;
	char err[512];
	(void)state;

	chmod(secret_path, 0644);
	assert_int_not_equal(load(yaml, &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "tw.yaml:2: issuer 'idp': client_secret_file"));
	assert_non_null(strstr(err, "mode 0644; refusing it"));
	/* The secret itself never appears in a message. */
	assert_null(strstr(err, "s3cr3t"));
	chmod(secret_path, 0640);
	assert_int_not_equal(load(yaml, &c, err, sizeof(err)), 0);
	chmod(secret_path, 0400);
	assert_int_equal(load(yaml, &c, err, sizeof(err)), 0);
	config_free(c);
	chmod(secret_path, 0600);
	assert_int_equal(load(yaml, &c, err, sizeof(err)), 0);
	config_free(c);

	/* missing file, and a symlink to a good file (refused: the mode
	 * checked must be the file's own) */
	{
		char link[160], y2[512];

		snprintf(link, sizeof(link), "%s/link.secret", dir);
		assert_int_equal(symlink(secret_path, link), 0);
		snprintf(y2, sizeof(y2), "issuers:\n  idp:\n    type: rfc7009\n"
			 "    revocation_endpoint: https://x/\n    client_id: tw\n"
			 "    client_secret_file: %s\n", link);
		assert_int_not_equal(config_load_string(y2, "tw.yaml", &c, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "cannot open"));
		snprintf(y2, sizeof(y2), "issuers:\n  idp:\n    type: rfc7009\n"
			 "    revocation_endpoint: https://x/\n    client_id: tw\n"
			 "    client_secret_file: %s/missing\n", dir);
		assert_int_not_equal(config_load_string(y2, "tw.yaml", &c, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "No such file"));
	}
}

static void test_load_file(void **state)
{
	struct tw_config *c = NULL;
	char path[128], err[512];
	FILE *f;
	(void)state;

	snprintf(path, sizeof(path), "%s/tokenward.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("policy:\n  net_dest: alert\n\n\nissuers:\n  x:\n    type: webhook\n    url: nope\n", f);
	fclose(f);
	assert_int_not_equal(config_load(path, &c, err, sizeof(err)), 0);
	/* the real file name and line */
	assert_non_null(strstr(err, "/tokenward.yaml:6: issuer 'x': webhook needs an http(s) url"));
	assert_int_not_equal(config_load("/nonexistent/tw.yaml", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "/nonexistent/tw.yaml: No such file"));
	f = fopen(path, "w");
	fputs("policy:\n  net_dest: alert\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c->path, path);
	assert_int_equal(c->policy[VC_NET_DEST], POLICY_ALERT);
	config_free(c);
}

static void test_duration(void **state)
{
	unsigned ms;
	(void)state;

	assert_int_equal(config_parse_duration_ms("250ms", &ms), 0); assert_int_equal(ms, 250);
	assert_int_equal(config_parse_duration_ms("5s", &ms), 0); assert_int_equal(ms, 5000);
	assert_int_equal(config_parse_duration_ms("7", &ms), 0); assert_int_equal(ms, 7000);
	assert_int_equal(config_parse_duration_ms("2m", &ms), 0); assert_int_equal(ms, 120000);
	assert_int_equal(config_parse_duration_ms("1h", &ms), 0); assert_int_equal(ms, 3600000);
	assert_int_not_equal(config_parse_duration_ms("", &ms), 0);
	assert_int_not_equal(config_parse_duration_ms("-1s", &ms), 0);
	assert_int_not_equal(config_parse_duration_ms("5 s", &ms), 0);
	assert_int_not_equal(config_parse_duration_ms("1y", &ms), 0);
	assert_int_not_equal(config_parse_duration_ms("99999h", &ms), 0);
}

/* Every setting a `run` flag gives has a key, with the flag's bounds. */
static void test_run_keys(void **state)
{
	struct tw_config *c = NULL;
	char err[512] = "";
	(void)state;

	assert_int_equal(load("rules_dirs: [/tmp, /]\n"
			      "events: /var/log/tw.jsonl\n"
			      "cgroup: /sys/fs/cgroup/x\n"
			      "capture_size: 1M\n"
			      "wakeup_bytes: 0\n"
			      "poll_ms: 20\n"
			      "stream_tail: 0\n"
			      "file_tail: false\n"
			      "file_tail_ms: 9\n"
			      "sock_batch: no\n"
			      "sock_batch_ms: 3\n"
			      "tls: false\n"
			      "capture_pipes: true\n"
			      "path_cache: false\n"
			      "sweep: false\n"
			      "trace_io: yes\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c->rules_dirs[0], "/tmp");
	assert_string_equal(c->rules_dirs[1], "/");
	assert_null(c->rules_dirs[2]);
	assert_string_equal(c->events[0], "/var/log/tw.jsonl");
	assert_null(c->events[1]);
	assert_string_equal(c->cgroup, "/sys/fs/cgroup/x");
	assert_int_equal(c->capture_size, 1u << 20);
	assert_int_equal(c->wakeup_bytes, 0);
	assert_int_equal(c->poll_ms, 20);
	assert_int_equal(c->stream_tail, 0);
	assert_false(c->file_tail);
	assert_int_equal(c->file_tail_ms, 9);
	assert_false(c->sock_batch);
	assert_int_equal(c->sock_batch_ms, 3);
	assert_false(c->tls);
	assert_true(c->capture_pipes);
	assert_false(c->path_cache);
	assert_false(c->sweep);
	assert_true(c->trace_io);
	/* sources: the line, a default, a flag */
	assert_int_equal(config_origin_of(c, "poll_ms", NULL), 6);
	assert_int_equal(config_origin_of(c, "ringbuf_size", NULL), 0);
	assert_int_equal(config_note_flag(c, "poll_ms", "poll-ms"), 0);
	assert_int_equal(config_origin_of(c, "poll_ms", NULL), -1);
	config_free(c);

	/* the defaults run used to hard-code, now the config's */
	c = config_defaults();
	assert_int_equal(c->capture_size, TW_CAP_DEFAULT);
	assert_int_equal(c->poll_ms, 5);
	assert_true(c->tls && c->sweep && c->file_tail && c->sock_batch && c->path_cache);
	assert_null(c->rules_dirs[0]);
	config_free(c);

	expect_error("capture_size: 17M\n", 1, "1..16777216");
	expect_error("ringbuf_size: 2K\n", 1, "4096..");
	expect_error("poll_ms: 0\n", 1, "1..1000");
	expect_error("poll_ms: 5ms\n", 1, "not a whole number");
	expect_error("stream_tail: 65K\n", 1, "0..65536");
	expect_error("tls: maybe\n", 1, "true or false");
	expect_error("rules_dirs: {a: b}\n", 1, "list of paths");
	expect_error("rules_dirs: /nonexistent-tw-rules\n", 1, "No such file");
	expect_error("rules_dirs: /etc/passwd\n", 1, "not a directory");
	expect_error("state_dir: [a, b]\n", 1, "single value");
}

/* A typo gets the key it is closest to; another word gets none. */
static void test_suggestions(void **state)
{
	(void)state;
	expect_error("pol_ms: 5\n", 1, "unknown key 'pol_ms'; did you mean 'poll_ms'?");
	expect_error("ringbuf-size: 4M\n", 1, "did you mean 'ringbuf_size'?");
	expect_error("ledgr: /x\n", 1, "did you mean 'ledger'?");
	expect_error("revocation:\n  wrkers: 2\n", 2, "did you mean 'workers'?");
	expect_error("policy:\n  filewrite: alert\n", 2, "did you mean 'file_write'?");
	expect_error("issuers:\n  a:\n    type: builtin\n    revocation_lst: /x\n", 4,
		     "did you mean 'revocation_list'?");
	expect_error("frobnicate: 1\n", 1, "unknown key 'frobnicate'");
	assert_null(config_suggest("frobnicate", (const char *const[]){ "poll_ms", "ledger", NULL }));
	assert_string_equal(config_suggest("leger", (const char *const[]){ "poll_ms", "ledger", NULL }),
			    "ledger");
	assert_null(config_suggest("a", (const char *const[]){ "tls", NULL }));
	expect_error("retention:\n  max_ag: 7d\n", 2, "retention: unknown key 'max_ag'");
	/* metrics: and outputs: are this build's (output/outputs_config.c) */
	expect_error("metrics:\n  lissen: 127.0.0.1:9\n", 2, "lissen");
}

/* Every error in the file, each with its line, not only the first. */
static void test_every_error(void **state)
{
	struct tw_config *c = NULL;
	char err[2048];
	(void)state;

	assert_int_not_equal(load("pol_ms: 5\nledger: /x\nringbuf_size: 3M\npolicy:\n  exec_env: maybe\n",
				  &c, err, sizeof(err)), 0);
	assert_null(c);
	assert_non_null(strstr(err, "tw.yaml:1: unknown key 'pol_ms'"));
	assert_non_null(strstr(err, "\ntw.yaml:3: 'ringbuf_size' must be a power of two"));
	assert_non_null(strstr(err, "\ntw.yaml:5: policy: 'exec_env' must be revoke or alert"));
}

static int section_calls;
static int parse_section(struct config_loader *ld, struct yaml_node_s *v, void **out)
{
	(void)ld;
	section_calls++;
	*out = strdup(v && v->type == YAML_MAPPING_NODE ? "map" : "other");
	return 0;
}

/* Another module's section is parsed by it (config_register_section). */
static void test_registered_section(void **state)
{
	struct tw_config *c = NULL;
	char err[512];
	(void)state;

	assert_int_equal(config_register_section("example_section", parse_section, free), 0);
	assert_int_equal(load("example_section:\n  key: 7d\n", &c, err, sizeof(err)), 0);
	assert_int_equal(section_calls, 1);
	assert_string_equal(config_section(c, "example_section"), "map");
	assert_null(config_section(c, "outputs"));
	config_free(c);
}

static void test_class_names(void **state)
{
	(void)state;
	for (int i = 0; i < VC__COUNT; i++)
		assert_int_equal(verdict_class_parse(verdict_class_name(i)), i);
	assert_int_equal(verdict_class_parse("File_Write"), -1);
	assert_int_equal(verdict_class_parse(NULL), -1);
}

/* The event store's section (user/ledger/evstore.h): defaults, values, errors by line. */
static void test_retention(void **state)
{
	struct tw_config *c = NULL;
	char err[512];
	(void)state;

	assert_int_equal(config_load_string("", "tw.yaml", &c, err, sizeof(err)), 0);
	assert_int_equal(c->retention.max_age_s, 30 * 86400);
	assert_int_equal(c->retention.max_bytes, 256u << 20);
	assert_int_equal(c->retention.parent_depth, 8);
	config_free(c);
	c = NULL;
	assert_int_equal(config_load_string("retention:\n  max_age: 12h\n  max_size: 1G\n  parent_depth: 0\n",
					    "tw.yaml", &c, err, sizeof(err)), 0);
	assert_int_equal(c->retention.max_age_s, 12 * 3600);
	assert_int_equal(c->retention.max_bytes, 1ull << 30);
	assert_int_equal(c->retention.parent_depth, 0);
	config_free(c);
	c = NULL;
	static const char *const bad[][2] = {
		{ "retention:\n  max_age: 5y\n", "tw.yaml:2" },
		{ "retention:\n  max_size: lots\n", "tw.yaml:2" },
		{ "retention:\n  parent_depth: 65\n", "tw.yaml:2" },
		{ "retention:\n  parent_depth: -1\n", "tw.yaml:2" },
		{ "retention:\n  keep: forever\n", "unknown key 'keep'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(config_load_string(bad[i][0], "tw.yaml", &c, err, sizeof(err)), 0);
		assert_non_null(strstr(err, bad[i][1]));
		assert_null(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file_is_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_yaml_bounds),
		cmocka_unit_test(test_secret_file_fifo),
		cmocka_unit_test(test_secret_file_permissions),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_run_keys),
		cmocka_unit_test(test_suggestions),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_registered_section),
		cmocka_unit_test(test_retention),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
