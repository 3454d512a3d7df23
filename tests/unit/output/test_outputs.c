/* Tests for user/output/: the outputs: and metrics: config sections
 * (outputs_config.c, through config_load_string as the config file is
 * read), status.json as Prometheus text (promtext.c), the latency
 * histogram (lib/histogram.c), the syslog message format (syslog.c, to a
 * unix datagram socket of the test's own), and verdict counting
 * (outputs.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "lib/config.h"
#include "lib/histogram.h"
#include "output/metrics.h"
#include "output/outputs.h"
#include "output/outputs_config.h"
#include "output/promtext.h"
#include "output/syslog.h"

static struct tw_config *load(const char *yaml, char *err, size_t errsz)
{
	struct tw_config *c = NULL;

	if (config_load_string(yaml, "t.yaml", &c, err, errsz))
		return NULL;
	return c;
}

static void test_config_full(void **state)
{
	char err[512] = "";
	struct tw_config *c = load("metrics:\n  listen: 127.0.0.1:9464\n"
				   "outputs:\n"
				   "  - type: syslog\n    address: udp://127.0.0.1:514\n    facility: local3\n"
				   "  - type: syslog\n"
				   "  - type: webhook\n    url: https://siem.example/x\n    batch: 5\n    queue: 7\n"
				   "    timeout: 2s\n    backoff_base: 10ms\n    backoff_max: 1s\n"
				   "  - type: file\n    path: /tmp/x.jsonl\n"
				   "  - type: stdout\n", err, sizeof(err));
	(void)state;

	assert_non_null(c);
	assert_non_null(c->outputs);
	assert_string_equal(c->outputs->metrics_listen, "127.0.0.1:9464");
	assert_int_equal(c->outputs->n, 5);
	assert_int_equal(c->outputs->v[0].type, OUTPUT_SYSLOG);
	assert_int_equal(c->outputs->v[0].facility, 19);
	assert_string_equal(c->outputs->v[1].address, "/dev/log");
	assert_int_equal(c->outputs->v[1].facility, 3);
	assert_int_equal(c->outputs->v[2].batch, 5);
	assert_int_equal(c->outputs->v[2].queue, 7);
	assert_int_equal(c->outputs->v[2].timeout_ms, 2000);
	assert_int_equal(c->outputs->v[2].backoff_base_ms, 10);
	assert_string_equal(c->outputs->v[3].path, "/tmp/x.jsonl");
	assert_int_equal(c->outputs->v[4].type, OUTPUT_STDOUT);
	config_free(c);
}

/* Each mistake: refused, with the file and the line that holds it. */
static void test_config_errors(void **state)
{
	static const struct { const char *yaml, *want; } cases[] = {
		{ "metrics:\n  listen: nope\n", "t.yaml:2: metrics address must be HOST:PORT" },
		{ "metrics:\n  port: 1\n", "t.yaml:2: metrics: unknown key 'port'" },
		{ "metrics: 9464\n", "t.yaml:1: 'metrics' must be a mapping" },
		{ "outputs:\n  type: syslog\n", "t.yaml:2: 'outputs' must be a list" },
		{ "outputs:\n  - address: /dev/log\n", "t.yaml:2: outputs: 'type' is required" },
		{ "outputs:\n  - type: kafka\n", "t.yaml:2: outputs: unknown type 'kafka'" },
		{ "outputs:\n  - type: file\n", "t.yaml:2: outputs: type file needs 'path'" },
		{ "outputs:\n  - type: webhook\n", "t.yaml:2: outputs: type webhook needs 'url'" },
		{ "outputs:\n  - type: webhook\n    url: ftp://x\n", "t.yaml:2: outputs: webhook url must be http" },
		{ "outputs:\n  - type: stdout\n    address: /dev/log\n", "t.yaml:2: outputs: 'address' is for type syslog only" },
		{ "outputs:\n  - type: syslog\n    facility: mars\n", "t.yaml:3: outputs: unknown syslog facility 'mars'" },
		{ "outputs:\n  - type: webhook\n    url: http://x\n    batch: 0\n", "t.yaml:4: 'batch' must be a number from 1 to 1000" },
		{ "outputs:\n  - type: webhook\n    url: http://x\n    queue: many\n", "t.yaml:4: 'queue' must be a number" },
		{ "outputs:\n  - type: webhook\n    url: http://x\n    timeout: soon\n", "t.yaml:4: 'timeout': 'soon' is not a duration" },
		{ "outputs:\n  - type: syslog\n    colour: red\n", "t.yaml:3: outputs: unknown key 'colour'" },
		{ "outputs:\n  - type: webhook\n    url: http://x\n    backoff_base: 2s\n    backoff_max: 1s\n",
		  "t.yaml:2: outputs: backoff_max is smaller than backoff_base" },
		{ "outputs:\n  - [syslog]\n", "t.yaml:2: each output must be a mapping" },
		/* a key the type does not use would be read and ignored */
		{ "outputs:\n  - type: syslog\n    batch: 5\n", "t.yaml:2: outputs: 'batch' is not a key of type syslog" },
		{ "outputs:\n  - type: file\n    path: /x\n    queue: 5\n", "t.yaml:2: outputs: 'queue' is not a key of type file" },
		{ "outputs:\n  - type: webhook\n    url: http://x\n    facility: daemon\n",
		  "t.yaml:2: outputs: 'facility' is not a key of type webhook" },
		{ "outputs:\n  - type: syslog\n    queue: 0\n", "t.yaml:3: 'queue' must be a number from 1 to 100000" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		struct tw_config *c = load(cases[i].yaml, err, sizeof(err));

		if (c || !strstr(err, cases[i].want))
			fail_msg("case %zu: want '%s', got '%s'", i, cases[i].want, c ? "(loaded)" : err);
	}
}

/* The default config `make install` puts in /etc loads as it is. */
static void test_default_config_loads(void **state)
{
	char err[512] = "";
	struct tw_config *c = NULL;
	(void)state;

	if (config_load(TW_SRCDIR "/tools/tokenward.yaml", &c, err, sizeof(err)))
		fail_msg("%s", err);
	config_free(c);
}

static void test_listen_parse(void **state)
{
	char host[64], err[256];
	unsigned port;
	(void)state;

	assert_int_equal(metrics_parse_listen("127.0.0.1:9464", host, sizeof(host), &port, err, sizeof(err)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9464);
	assert_int_equal(metrics_parse_listen("[::1]:80", host, sizeof(host), &port, err, sizeof(err)), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(metrics_parse_listen("127.0.0.1:65536", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_int_equal(metrics_parse_listen(":80", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_int_equal(metrics_parse_listen("127.0.0.1", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_int_equal(metrics_parse_listen("127.0.0.1:8x", host, sizeof(host), &port, err, sizeof(err)), -1);
}

static void test_histogram(void **state)
{
	struct histogram h = { 0 };
	cJSON *o = cJSON_CreateObject(), *b;
	(void)state;

	histogram_observe(&h, 0.0005);
	histogram_observe(&h, 0.003);
	histogram_observe(&h, 100);       /* past the last bound: only +Inf */
	histogram_observe(&h, -1);        /* counts as 0 */
	histogram_json(&h, o, "lat_seconds");
	b = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "lat_seconds"), "buckets");
	assert_int_equal(cJSON_GetArraySize(b), HISTOGRAM_NBOUNDS);
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(b, 0), 1)->valueint, 2);  /* <= 1 ms */
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(b, 2), 1)->valueint, 3);  /* <= 5 ms */
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(b, HISTOGRAM_NBOUNDS - 1), 1)->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "lat_seconds"), "count")->valueint, 4);
	cJSON_Delete(o);
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* Names, types, labels, units, histograms; strings and lists left out. */
static void test_promtext(void **state)
{
	cJSON *s = cJSON_Parse("{\"version\":1,\"pid\":7,\"running\":true,\"updated\":\"x\","
			       "\"sensors\":{\"records\":5,\"lost_total\":2,\"processes\":9,"
			       "  \"captures\":{\"file_write\":3,\"exec_env\":1},"
			       "  \"drops\":{\"ringbuf_full\":4},\"drops_per_cpu\":{\"ringbuf_full\":[1,3]}},"
			       "\"revocation\":{\"pending\":1,\"oldest_pending_ms\":1500,\"failed_jobs\":[],"
			       "  \"since_start\":{\"revoked\":2,\"retries\":1,\"last_request_ms\":20},"
			       "  \"revoke_latency_seconds\":{\"buckets\":[[0.001,1],[0.5,2]],\"count\":3,\"sum\":1.25}},"
			       "\"outputs\":{\"verdicts\":{\"file_write\":{\"revoke\":2},\"unmanaged\":{\"alert\":1}},"
			       "  \"failures\":{\"syslog0\":0}}}");
	size_t len;
	char *t = promtext_render(s, &len);
	(void)state;

	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_true(has_line(t, "# TYPE tokenward_running gauge"));
	assert_true(has_line(t, "# HELP tokenward_sensors_drops_total status.json sensors.drops"));
	assert_true(has_line(t, "tokenward_running 1"));
	assert_true(has_line(t, "# TYPE tokenward_sensors_records_total counter"));
	assert_true(has_line(t, "tokenward_sensors_records_total 5"));
	assert_true(has_line(t, "tokenward_sensors_lost_total 2"));      /* no _total_total */
	assert_true(has_line(t, "tokenward_sensors_processes 9"));
	assert_true(has_line(t, "tokenward_sensors_captures_total{kind=\"file_write\"} 3"));
	assert_true(has_line(t, "tokenward_sensors_drops_total{cause=\"ringbuf_full\"} 4"));
	assert_true(has_line(t, "tokenward_revocation_pending 1"));
	assert_true(has_line(t, "tokenward_revocation_oldest_pending_seconds 1.5"));
	assert_true(has_line(t, "tokenward_revocations_total{outcome=\"revoked\"} 2"));
	assert_true(has_line(t, "tokenward_revocations_total{outcome=\"retries\"} 1"));
	assert_true(has_line(t, "tokenward_revocation_last_request_seconds 0.02"));
	assert_true(has_line(t, "# TYPE tokenward_revoke_latency_seconds histogram"));
	assert_true(has_line(t, "tokenward_revoke_latency_seconds_bucket{le=\"0.001\"} 1"));
	assert_true(has_line(t, "tokenward_revoke_latency_seconds_bucket{le=\"+Inf\"} 3"));
	assert_true(has_line(t, "tokenward_revoke_latency_seconds_sum 1.25"));
	assert_true(has_line(t, "tokenward_revoke_latency_seconds_count 3"));
	assert_true(has_line(t, "tokenward_verdicts_total{class=\"file_write\",action=\"revoke\"} 2"));
	assert_true(has_line(t, "tokenward_verdicts_total{class=\"unmanaged\",action=\"alert\"} 1"));
	assert_true(has_line(t, "tokenward_output_failures_total{output=\"syslog0\"} 0"));
	assert_null(strstr(t, "tokenward_version"));
	assert_null(strstr(t, "tokenward_pid"));
	assert_null(strstr(t, "updated"));
	assert_null(strstr(t, "drops_per_cpu"));
	assert_null(strstr(t, "failed_jobs"));
	/* one TYPE line per family */
	assert_non_null(strstr(t, "# TYPE tokenward_verdicts_total counter"));
	assert_null(strstr(strstr(t, "# TYPE tokenward_verdicts_total") + 1, "# TYPE tokenward_verdicts_total"));
	free(t);
	cJSON_Delete(s);
}

/* A label value is escaped as the text format requires. */
static void test_promtext_escapes(void **state)
{
	cJSON *s = cJSON_Parse("{\"outputs\":{\"verdicts\":{\"a\\\"b\\\\c\\nd\":{\"alert\":1}}}}");
	size_t len;
	char *t = promtext_render(s, &len);
	(void)state;

	assert_true(has_line(t, "tokenward_verdicts_total{class=\"a\\\"b\\\\c\\nd\",action=\"alert\"} 1"));
	free(t);
	cJSON_Delete(s);
}

/* RFC 5424 to a unix datagram socket: the header, then the line intact. */
static void test_syslog_format(void **state)
{
	char dir[] = "/tmp/tw-syslog.XXXXXX", path[128], buf[4096], err[256];
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct syslog_out *s;
	int fd;
	ssize_t n;
	const char *line = "{\"event\":\"verdict\",\"class\":\"file_write\"}";
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	strcpy(un.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(syslog_out_open(path, 16 + 3, 2, &s, err, sizeof(err)), 0);
	assert_int_equal(syslog_out_send(s, 4, "verdict", line), 0);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	/* <PRI = 19*8+4>1 TIMESTAMP HOST APP PROCID MSGID SD MSG */
	assert_memory_equal(buf, "<156>1 ", 7);
	assert_non_null(strstr(buf, " tokenward "));
	assert_non_null(strstr(buf, " verdict - {"));
	assert_string_equal(strstr(buf, " verdict - ") + 11, line);
	assert_int_equal(syslog_out_sent(s), 1);
	/* the server goes away: messages wait in the queue (never the
	 * caller), and once it is full the next is dropped, counted */
	close(fd);
	unlink(path);
	assert_int_equal(syslog_out_send(s, 5, "verdict", line), 0);
	assert_int_equal(syslog_out_send(s, 5, "verdict", line), 0);
	assert_int_equal(syslog_out_pending(s), 2);
	assert_int_equal(syslog_out_failed(s), 0);
	assert_int_equal(syslog_out_send(s, 5, "verdict", line), -1);
	assert_int_equal(syslog_out_failed(s), 1);
	/* it comes back: the queue goes out once the backoff allows */
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	syslog_out_flush(s, 5000);
	assert_int_equal(syslog_out_pending(s), 0);
	assert_int_equal(syslog_out_sent(s), 3);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	syslog_out_close(s);
	close(fd);
	unlink(path);
	rmdir(dir);
}

static void test_syslog_bad_address(void **state)
{
	static const char *const bad[] = {
		"udp://no-such-host.invalid:514", "tcp://127.0.0.1", "relative/path", "udp://:514",
		"smtp://127.0.0.1:25",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		struct syslog_out *s = NULL;

		if (!syslog_out_open(bad[i], 3, 10, &s, err, sizeof(err)))
			fail_msg("'%s' was accepted", bad[i]);
		assert_null(s);
		assert_true(err[0]);
	}
}

/* Verdicts counted by class and action, for status and so for /metrics. */
static void test_verdict_counts(void **state)
{
	struct outputs *o;
	char err[256];
	cJSON *v1 = cJSON_Parse("{\"class\":\"file_write\",\"action\":\"revoke\"}");
	cJSON *v2 = cJSON_Parse("{\"class\":\"use\",\"action\":\"\"}");
	cJSON *sec = cJSON_CreateObject();
	(void)state;

	assert_int_equal(outputs_open(NULL, NULL, &o, err, sizeof(err)), 0);
	outputs_verdict(o, v1);
	outputs_verdict(o, v1);
	outputs_verdict(o, v2);
	outputs_status(o, sec);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(sec, "verdicts"),
								  "file_write"), "revoke")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(sec, "verdicts"),
								  "use"), "none")->valueint, 1);
	assert_null(outputs_metrics_address(o));
	outputs_close(o);
	cJSON_Delete(v1);
	cJSON_Delete(v2);
	cJSON_Delete(sec);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP receiver that accepts and never reads: no send may wait for it.
 * The old output waited up to 200 ms per message once the socket's
 * buffer was full (4 MiB by autotuning here, so 5000 lines of 1 KiB). */
static void test_syslog_tcp_stalled_never_blocks(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), small = 4096, afd = -1;
	char addr[64], err[256], line[1024];
	struct syslog_out *s;
	uint64_t worst = 0, start;
	cJSON *st = cJSON_CreateObject();
	(void)state;

	setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
	memset(line, 'v', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	assert_int_equal(syslog_out_open(addr, 3, 100, &s, err, sizeof(err)), 0);
	start = mono_ms();
	for (int i = 0; i < 6000; i++) {
		uint64_t t0 = mono_ms(), d;

		syslog_out_send(s, 5, "verdict", line);
		syslog_out_pump(s);
		if (afd < 0)
			afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);  /* never read */
		if ((d = mono_ms() - t0) > worst)
			worst = d;
	}
	/* a loaded machine may stall a call for its own reasons; 200 ms per
	 * message for 1000 messages would be minutes */
	assert_true(mono_ms() - start < 20000);
	assert_true(worst < 150);
	syslog_out_status(s, st);
	assert_true(cJSON_GetObjectItem(st, "dropped")->valuedouble > 1000);
	assert_true(cJSON_GetObjectItem(st, "queued_now")->valuedouble <= 100);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "connected")));
	assert_int_equal(syslog_out_failed(s), (uint64_t)cJSON_GetObjectItem(st, "dropped")->valuedouble);
	syslog_out_close(s);
	cJSON_Delete(st);
	if (afd >= 0)
		close(afd);
	close(lfd);
}

/* An absent TCP receiver (nothing listens): queued, reconnected with
 * backoff, delivered once it listens; the caller never waits. */
static void test_syslog_tcp_absent_then_back(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1, afd;
	char addr[64], err[256], buf[4096];
	struct syslog_out *s;
	ssize_t n;
	(void)state;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
	/* bound, not listening: a connect is refused */
	assert_int_equal(syslog_out_open(addr, 3, 5, &s, err, sizeof(err)), 0);
	for (int i = 0; i < 7; i++)
		syslog_out_send(s, 5, "verdict", "{\"n\":1}");
	assert_int_equal(syslog_out_pending(s), 5);
	assert_int_equal(syslog_out_failed(s), 2);
	assert_int_equal(listen(lfd, 4), 0);
	syslog_out_flush(s, 10000);
	assert_int_equal(syslog_out_pending(s), 0);
	assert_int_equal(syslog_out_sent(s), 5);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	n = recv(afd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	/* octet counting: "LEN <PRI>1 ..." */
	assert_non_null(strstr(buf, " verdict - {\"n\":1}"));
	syslog_out_close(s);
	close(afd);
	close(lfd);
}

static int dgram_server(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	strcpy(un.sun_path, path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	return fd;
}

static struct outputs_cfg *syslog_cfg(const char *a, const char *b, const char *listen)
{
	struct outputs_cfg *oc = calloc(1, sizeof(*oc));
	const char *v[2] = { a, b };

	for (int i = 0; i < 2; i++)
		if (v[i])
			oc->v[oc->n++] = (struct output_cfg){ .type = OUTPUT_SYSLOG, .address = strdup(v[i]),
							      .facility = 3, .queue = 10, .line = 1 };
	oc->metrics_listen = listen ? strdup(listen) : NULL;
	return oc;
}

static double sec_num(cJSON *sec, const char *out, const char *key)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(sec, out), key)->valuedouble;
}

/* A reload: an unchanged output is kept (its counts with it), a new one
 * opened, a dropped one retired after it sent what it held; a new output
 * that cannot open refuses the whole set and leaves the running one. */
static void test_outputs_reload(void **state)
{
	char dir[] = "/tmp/tw-reload.XXXXXX", pa[128], pb[128], buf[4096], err[256];
	struct outputs *o;
	struct outputs_next *n;
	struct outputs_cfg *c1, *c2, *c3;
	cJSON *v = cJSON_Parse("{\"class\":\"file_write\",\"action\":\"revoke\"}"), *sec;
	int fa, fb;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a", dir);
	snprintf(pb, sizeof(pb), "%s/b", dir);
	fa = dgram_server(pa);
	fb = dgram_server(pb);
	c1 = syslog_cfg(pa, NULL, "127.0.0.1:0");
	assert_int_equal(outputs_open(c1, c1->metrics_listen, &o, err, sizeof(err)), 0);
	outputs_verdict(o, v);
	assert_true(recv(fa, buf, sizeof(buf), MSG_DONTWAIT) > 0);
	const char *maddr = strdup(outputs_metrics_address(o));

	/* the same output first, a new one second, the same metrics spec */
	c2 = syslog_cfg(pa, pb, "127.0.0.1:0");
	assert_int_equal(outputs_prepare(o, c2, c2->metrics_listen, &n, err, sizeof(err)), 0);
	assert_true(outputs_next_changed(n));
	outputs_commit(o, n);
	assert_string_equal(outputs_metrics_address(o), maddr);   /* listener kept */
	outputs_verdict(o, v);
	assert_true(recv(fa, buf, sizeof(buf), MSG_DONTWAIT) > 0);
	assert_true(recv(fb, buf, sizeof(buf), MSG_DONTWAIT) > 0);
	sec = cJSON_CreateObject();
	outputs_status(o, sec);
	assert_int_equal((int)sec_num(sec, "syslog0", "sent"), 2);      /* kept: counts carry on */
	assert_int_equal((int)sec_num(sec, "syslog1", "sent"), 1);
	assert_int_equal((int)cJSON_GetObjectItem(sec, "rebuilds")->valuedouble, 1);
	cJSON_Delete(sec);

	/* a metrics address in use (the running listener's): refused, nothing changes */
	c3 = syslog_cfg(pb, NULL, maddr);
	assert_int_equal(outputs_prepare(o, c3, c3->metrics_listen, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	assert_string_equal(outputs_metrics_address(o), maddr);
	outputs_verdict(o, v);
	assert_true(recv(fa, buf, sizeof(buf), MSG_DONTWAIT) > 0);

	/* a is dropped while its server is away: what it holds waits, and
	 * goes out (the retired output pumped) once the server is back */
	close(fa);
	unlink(pa);
	outputs_verdict(o, v);                      /* queued in a */
	assert_true(recv(fb, buf, sizeof(buf), MSG_DONTWAIT) > 0);
	free(c3->metrics_listen);
	c3->metrics_listen = NULL;
	assert_int_equal(outputs_prepare(o, c3, NULL, &n, err, sizeof(err)), 0);
	outputs_commit(o, n);
	assert_null(outputs_metrics_address(o));
	fa = dgram_server(pa);
	for (uint64_t end = mono_ms() + 10000; mono_ms() < end;) {
		outputs_pump(o);
		if (recv(fa, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			break;
		usleep(10000);
	}
	sec = cJSON_CreateObject();
	outputs_pump(o);
	outputs_status(o, sec);
	assert_int_equal((int)cJSON_GetObjectItem(sec, "retiring_now")->valuedouble, 0);
	assert_int_equal((int)sec_num(sec, "failures", "replaced"), 0);
	assert_int_equal((int)sec_num(sec, "syslog0", "sent"), 3);       /* b, now the first */
	cJSON_Delete(sec);
	outputs_close(o);
	outputs_config_free(c1);
	outputs_config_free(c2);
	outputs_config_free(c3);
	free((char *)maddr);
	cJSON_Delete(v);
	close(fa);
	close(fb);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_full),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_default_config_loads),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_promtext),
		cmocka_unit_test(test_promtext_escapes),
		cmocka_unit_test(test_syslog_format),
		cmocka_unit_test(test_syslog_bad_address),
		cmocka_unit_test(test_syslog_tcp_stalled_never_blocks),
		cmocka_unit_test(test_syslog_tcp_absent_then_back),
		cmocka_unit_test(test_outputs_reload),
		cmocka_unit_test(test_verdict_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
