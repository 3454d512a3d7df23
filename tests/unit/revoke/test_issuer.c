/* Tests for user/revoke/issuer.c: outcome classification, and real requests to
 * a canned HTTP server on loopback (the request is captured so its form
 * and client authentication can be checked). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include "lib/config.h"
#include "revoke/issuer.h"

/* ---- a one-shot HTTP server ------------------------------------------ */

struct canned {
	int lfd;
	int port;
	const char *response;
	char request[8192];
	pthread_t thr;
};

static void *serve_once(void *arg)
{
	struct canned *c = arg;
	size_t got = 0;
	int fd = accept(c->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	/* Read headers, then Content-Length bytes of body. */
	for (;;) {
		ssize_t n = read(fd, c->request + got, sizeof(c->request) - 1 - got);
		char *hend, *cl;

		if (n <= 0)
			break;
		got += n;
		c->request[got] = 0;
		hend = strstr(c->request, "\r\n\r\n");
		cl = strcasestr(c->request, "content-length:");
		if (hend && (!cl || got >= (size_t)(hend + 4 - c->request) + strtoul(cl + 15, NULL, 10)))
			break;
	}
	if (write(fd, c->response, strlen(c->response)) < 0) {
		/* the test will notice */
	}
	close(fd);
	return NULL;
}

static void canned_start(struct canned *c, const char *response)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	memset(c, 0, sizeof(*c));
	c->response = response;
	c->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->lfd >= 0);
	assert_int_equal(bind(c->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(c->lfd, 4), 0);
	getsockname(c->lfd, (struct sockaddr *)&a, &alen);
	c->port = ntohs(a.sin_port);
	pthread_create(&c->thr, NULL, serve_once, c);
}

static void canned_stop(struct canned *c)
{
	pthread_join(c->thr, NULL);
	close(c->lfd);
}

static char token[] = "tokQ7x9ZpL2mN4vB8cD1eF6gH3jK5";
static char secret[] = "p@ss w0rd:&=";

static void rfc7009_issuer(struct tw_issuer *is, char *url, int port, enum issuer_auth auth)
{
	memset(is, 0, sizeof(*is));
	snprintf(url, 128, "http://127.0.0.1:%d/revoke", port);
	is->name = "idp";
	is->type = ISSUER_RFC7009;
	is->revocation_endpoint = url;
	is->client_id = "tokenward";
	is->client_secret = secret;
	is->client_secret_len = strlen(secret);
	is->auth = auth;
	is->token_type_hint = "access_token";
	is->timeout_ms = 2000;
}

static const struct issuer_job job = {
	.token_id = "tok-1",
	.token_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	.verdict_class = "file_write",
	.verdict_json = "{\"path\":\"/tmp/x.log\"}",
	.token = token,
	.token_len = sizeof(token) - 1,
};

/* ---- tests ------------------------------------------------------------ */

static void test_classify_http(void **state)
{
	(void)state;
	assert_int_equal(issuer_classify_http(200), DELIVERY_OK);
	assert_int_equal(issuer_classify_http(204), DELIVERY_OK);
	assert_int_equal(issuer_classify_http(400), DELIVERY_PERMANENT);
	assert_int_equal(issuer_classify_http(401), DELIVERY_PERMANENT);
	assert_int_equal(issuer_classify_http(403), DELIVERY_PERMANENT);
	assert_int_equal(issuer_classify_http(404), DELIVERY_PERMANENT);
	assert_int_equal(issuer_classify_http(301), DELIVERY_PERMANENT);
	assert_int_equal(issuer_classify_http(408), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_http(429), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_http(500), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_http(502), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_http(503), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_http(504), DELIVERY_RETRY);
}

static void test_classify_transport(void **state)
{
	(void)state;
	assert_int_equal(issuer_classify_transport(CURLE_COULDNT_CONNECT), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_transport(CURLE_OPERATION_TIMEDOUT), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_transport(CURLE_GOT_NOTHING), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_transport(CURLE_RECV_ERROR), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_transport(CURLE_COULDNT_RESOLVE_HOST), DELIVERY_RETRY);
	assert_int_equal(issuer_classify_transport(CURLE_URL_MALFORMAT), DELIVERY_PERMANENT);
	assert_int_equal(issuer_classify_transport(CURLE_UNSUPPORTED_PROTOCOL), DELIVERY_PERMANENT);
}

static void test_basic_auth_request(void **state)
{
	struct issuer_client *cl = issuer_client_new();
	struct issuer_outcome o;
	struct tw_issuer is;
	struct canned c;
	char url[128];
	(void)state;

	canned_start(&c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	rfc7009_issuer(&is, url, c.port, AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(issuer_deliver(cl, &is, &job, &o), DELIVERY_OK);
	canned_stop(&c);
	assert_int_equal(o.http_status, 200);
	assert_int_equal(o.transport_error, 0);
	assert_non_null(strstr(c.request, "POST /revoke HTTP/1.1\r\n"));
	assert_non_null(strstr(c.request, "Content-Type: application/x-www-form-urlencoded"));
	/* RFC 6749 §2.3.1: id and secret form-encoded, then Basic:
	 * base64("tokenward:p%40ss%20w0rd%3A%26%3D") */
	assert_non_null(strstr(c.request,
			       "Authorization: Basic dG9rZW53YXJkOnAlNDBzcyUyMHcwcmQlM0ElMjYlM0Q="));
	assert_non_null(strstr(c.request, "\r\n\r\ntoken=tokQ7x9ZpL2mN4vB8cD1eF6gH3jK5"
			       "&token_type_hint=access_token"));
	assert_null(strstr(c.request, "client_secret="));
	assert_null(strstr(o.detail, token));
	issuer_client_free(cl);
}

static void test_post_auth_request(void **state)
{
	struct issuer_client *cl = issuer_client_new();
	struct issuer_outcome o;
	struct tw_issuer is;
	struct canned c;
	char url[128];
	(void)state;

	canned_start(&c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	rfc7009_issuer(&is, url, c.port, AUTH_CLIENT_SECRET_POST);
	assert_int_equal(issuer_deliver(cl, &is, &job, &o), DELIVERY_OK);
	canned_stop(&c);
	assert_null(strstr(c.request, "Authorization:"));
	assert_non_null(strstr(c.request, "&client_id=tokenward&client_secret=p%40ss%20w0rd%3A%26%3D"));
	issuer_client_free(cl);
}

static void test_503_retry_after(void **state)
{
	struct issuer_client *cl = issuer_client_new();
	struct issuer_outcome o;
	struct tw_issuer is;
	struct canned c;
	char url[128];
	(void)state;

	canned_start(&c, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
		     "Content-Length: 35\r\n\r\n{\"error\":\"temporarily_unavailable\"}");
	rfc7009_issuer(&is, url, c.port, AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(issuer_deliver(cl, &is, &job, &o), DELIVERY_RETRY);
	canned_stop(&c);
	assert_int_equal(o.http_status, 503);
	assert_int_equal(o.retry_after_s, 7);
	assert_string_equal(o.detail, "HTTP 503 temporarily_unavailable");
	issuer_client_free(cl);
}

static void test_401_permanent_and_no_echo(void **state)
{
	struct issuer_client *cl = issuer_client_new();
	struct issuer_outcome o;
	struct tw_issuer is;
	struct canned c;
	char url[128], resp[512];
	(void)state;

	canned_start(&c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 26\r\n\r\n"
		     "{\"error\":\"invalid_client\"}");
	rfc7009_issuer(&is, url, c.port, AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(issuer_deliver(cl, &is, &job, &o), DELIVERY_PERMANENT);
	canned_stop(&c);
	assert_int_equal(o.http_status, 401);
	assert_int_equal(o.retry_after_s, -1);
	assert_string_equal(o.detail, "HTTP 401 invalid_client");

	/* A server that echoes the token in its error: not repeated. */
	snprintf(resp, sizeof(resp), "HTTP/1.1 400 Bad Request\r\nContent-Length: %zu\r\n\r\n"
		 "{\"error\":\"%s\"}", strlen(token) + 12, token);
	canned_start(&c, resp);
	rfc7009_issuer(&is, url, c.port, AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(issuer_deliver(cl, &is, &job, &o), DELIVERY_PERMANENT);
	canned_stop(&c);
	assert_string_equal(o.detail, "HTTP 400");
	issuer_client_free(cl);
}

static void test_connection_refused(void **state)
{
	struct issuer_client *cl = issuer_client_new();
	struct issuer_outcome o;
	struct tw_issuer is;
	struct canned c;
	char url[128];
	int port;
	(void)state;

	/* a port that was just free */
	canned_start(&c, "");
	port = c.port;
	pthread_cancel(c.thr);
	pthread_join(c.thr, NULL);
	close(c.lfd);
	rfc7009_issuer(&is, url, port, AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(issuer_deliver(cl, &is, &job, &o), DELIVERY_RETRY);
	assert_int_equal(o.transport_error, CURLE_COULDNT_CONNECT);
	assert_int_equal(o.http_status, 0);
	assert_null(strstr(o.detail, token));
	issuer_client_free(cl);
}

static void test_no_token_is_permanent(void **state)
{
	struct issuer_client *cl = issuer_client_new();
	struct issuer_job j = job;
	struct issuer_outcome o;
	struct tw_issuer is;
	char url[128];
	(void)state;

	j.token = NULL;
	j.token_len = 0;
	rfc7009_issuer(&is, url, 9, AUTH_CLIENT_SECRET_BASIC);
	assert_int_equal(issuer_deliver(cl, &is, &j, &o), DELIVERY_PERMANENT);
	assert_non_null(strstr(o.detail, "raw token is not available"));
	issuer_client_free(cl);
}

static void test_builtin_list(void **state)
{
	char dir[] = "/tmp/tw-issuer.XXXXXX", path[64], buf[512];
	struct tw_issuer is = { .name = "local", .type = ISSUER_BUILTIN };
	struct issuer_job j2 = job;
	struct issuer_outcome o;
	FILE *f;
	size_t n;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/revoked", dir);
	is.revocation_list = path;
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_OK);
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_OK);
	assert_non_null(strstr(o.detail, "already listed"));
	j2.token_sha256 = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
	assert_int_equal(issuer_deliver(NULL, &is, &j2, &o), DELIVERY_OK);
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	assert_string_equal(buf, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
			    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n");
	/* never the token itself */
	assert_null(strstr(buf, token));
	unlink(path);
	rmdir(dir);
}

/* revoked.list is appended to by root: a link in its place (planted in a
 * directory someone else could write) is not followed, a hard link is not
 * written, and the job stays queued for a retry. */
static void test_builtin_list_never_through_links(void **state)
{
	char dir[] = "/tmp/tw-issuer.XXXXXX", path[64], victim[64], cmd[96];
	struct tw_issuer is = { .name = "local", .type = ISSUER_BUILTIN };
	struct issuer_outcome o;
	char buf[64] = "";
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/revoked.list", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	f = fopen(victim, "w");
	fputs("precious\n", f);
	fclose(f);
	is.revocation_list = path;
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_RETRY);
	assert_non_null(strstr(o.detail, "symbolic link"));
	unlink(path);
	assert_int_equal(link(victim, path), 0);
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_RETRY);
	assert_non_null(strstr(o.detail, "hard links"));
	f = fopen(victim, "r");
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
	fclose(f);
	assert_string_equal(buf, "precious\n");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_command_exit_codes(void **state)
{
	char *argv_ok[] = { "/bin/sh", "-c", "cat >/dev/null; exit 0", NULL };
	char *argv_temp[] = { "/bin/sh", "-c", "exit 75", NULL };
	char *argv_perm[] = { "/bin/sh", "-c", "echo boom >&2; exit 3", NULL };
	char *argv_slow[] = { "/bin/sh", "-c", "sleep 5", NULL };
	char *argv_missing[] = { "/nonexistent/hook", NULL };
	struct tw_issuer is = { .name = "hook", .type = ISSUER_COMMAND, .timeout_ms = 2000 };
	struct issuer_outcome o;
	(void)state;

	is.argv = argv_ok;
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_OK);
	assert_int_equal(o.exit_status, 0);
	is.argv = argv_temp;
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_RETRY);
	assert_int_equal(o.exit_status, 75);
	is.argv = argv_perm;
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_PERMANENT);
	assert_string_equal(o.detail, "hook exited 3: boom");
	is.argv = argv_missing;
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_PERMANENT);
	assert_int_equal(o.exit_status, 127);
	is.argv = argv_slow;
	is.timeout_ms = 200;
	assert_int_equal(issuer_deliver(NULL, &is, &job, &o), DELIVERY_RETRY);
	assert_non_null(strstr(o.detail, "timed out"));
	assert_true(o.elapsed_ms < 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_http),
		cmocka_unit_test(test_classify_transport),
		cmocka_unit_test(test_basic_auth_request),
		cmocka_unit_test(test_post_auth_request),
		cmocka_unit_test(test_503_retry_after),
		cmocka_unit_test(test_401_permanent_and_no_echo),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_no_token_is_permanent),
		cmocka_unit_test(test_builtin_list),
		cmocka_unit_test(test_builtin_list_never_through_links),
		cmocka_unit_test(test_command_exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
