/*
 * One attempt per call; the queue (revoke.c) owns retries. What matters
 * here is the classification, because it decides whether a leaked token
 * keeps being chased or a human gets paged:
 *
 *   2xx                       OK. RFC 7009 §2.2: the server answers 200
 *                             even for an unknown or already revoked
 *                             token, so a repeated revocation is harmless.
 *   408, 425, 429, 5xx        RETRY (429/503 may carry Retry-After).
 *   400, 401, 403, other 4xx  PERMANENT: wrong credentials or request;
 *                             repeating it only hammers the issuer.
 *   3xx                       PERMANENT: redirects are not followed, so
 *                             credentials never travel somewhere unplanned.
 *   connect/timeout/reset     RETRY.
 *
 * Buffers that held the raw token are wiped as soon as the request is
 * sent; response bodies are never echoed, only the OAuth "error" code.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include "revoke/issuer.h"
#include "detect/redact.h"
#include "lib/safefile.h"
#include "lib/util.h"

#define BODY_KEEP 512
#define HOOK_OUTPUT_KEEP 4096

struct issuer_client {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char body[BODY_KEEP + 1];
	size_t body_len;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int issuer_global_init(void)
{
	pthread_once(&curl_once, curl_init_once);
	return curl_init_rc;
}

const char *delivery_class_name(enum delivery_class c)
{
	switch (c) {
	case DELIVERY_OK: return "ok";
	case DELIVERY_RETRY: return "retry";
	case DELIVERY_PERMANENT: return "permanent";
	}
	return "?";
}

enum delivery_class issuer_classify_http(long status)
{
	if (status >= 200 && status < 300)
		return DELIVERY_OK;
	if (status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600))
		return DELIVERY_RETRY;
	/* 1xx as a final status is a broken peer: try again later. */
	if (status < 200)
		return DELIVERY_RETRY;
	return DELIVERY_PERMANENT;
}

enum delivery_class issuer_classify_transport(int code)
{
	switch (code) {
	case CURLE_OK:
		return DELIVERY_OK;
	/* Configuration mistakes: the same request will fail the same way. */
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_TOO_MANY_REDIRECTS:
		return DELIVERY_PERMANENT;
	default:
		/* Refused, timed out, reset, DNS, TLS handshake: the issuer or
		 * the path to it may recover, and the token must still die. */
		return DELIVERY_RETRY;
	}
}

struct issuer_client *issuer_client_new(void)
{
	struct issuer_client *c;

	if (issuer_global_init())
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	return c;
}

void issuer_client_free(struct issuer_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct issuer_client *c = arg;
	size_t len = sz * n, room = BODY_KEEP - c->body_len;

	if (room) {
		size_t k = len < room ? len : room;
		memcpy(c->body + c->body_len, p, k);
		c->body_len += k;
		c->body[c->body_len] = 0;
	}
	return len;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The OAuth error code from an error body, if it is a registered one
 * (RFC 6749 §5.2, RFC 6750, RFC 7009 §2.2.1). Nothing else from the body
 * is kept, so a server that echoes the request cannot make us log the
 * token. */
static void oauth_error_code(const char *body, char *out, size_t outsz)
{
	static const char *const known[] = {
		"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
		"unsupported_grant_type", "invalid_scope", "unsupported_token_type",
		"server_error", "temporarily_unavailable", "access_denied", "invalid_token",
		"insufficient_scope", "invalid_target",
	};
	cJSON *o = cJSON_Parse(body);
	cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");

	out[0] = 0;
	if (cJSON_IsString(e))
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(e->valuestring, known[i]))
				snprintf(out, outsz, "%s", known[i]);
	cJSON_Delete(o);
}

static void http_prepare(struct issuer_client *c, const char *url, unsigned timeout_ms)
{
	CURL *h = c->curl;

	/* reset keeps live connections, DNS and TLS session caches. */
	curl_easy_reset(h);
	c->errbuf[0] = 0;
	c->body_len = 0;
	c->body[0] = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tokenward-revoker/1");
}

static enum delivery_class http_finish(struct issuer_client *c, CURLcode rc,
				       struct issuer_outcome *out)
{
	curl_off_t ra = -1;
	char code[64];

	out->transport_error = rc;
	if (rc != CURLE_OK) {
		out->cls = issuer_classify_transport(rc);
		/* The error buffer names host and port, never the body. */
		snprintf(out->detail, sizeof(out->detail), "%s",
			 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return out->cls;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &out->http_status);
	if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra >= 0 &&
	    (out->http_status == 503 || out->http_status == 429))
		out->retry_after_s = (long)ra;
	out->cls = issuer_classify_http(out->http_status);
	oauth_error_code(c->body, code, sizeof(code));
	snprintf(out->detail, sizeof(out->detail), "HTTP %ld%s%s", out->http_status,
		 code[0] ? " " : "", code);
	return out->cls;
}

/* x-www-form-urlencoded value; RFC 6749 §2.3.1 also applies it to the
 * client id and secret before they go into the Basic header. */
static char *form_escape(CURL *h, const char *s, size_t n)
{
	return curl_easy_escape(h, s, (int)n);
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		curl_free(s);
	}
}

/* POST body with one header naming what it is; "Expect:" turns off
 * libcurl's 100-continue round trip, which issuers do not need. */
static CURLcode http_post(struct issuer_client *c, const char *header, const char *body)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, header);
	CURLcode rc;

	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	return rc;
}

static enum delivery_class deliver_rfc7009(struct issuer_client *c, const struct tw_issuer *is,
					   const struct issuer_job *job, struct issuer_outcome *out)
{
	char *tok = NULL, *hint = NULL, *id = NULL, *secret = NULL, *body = NULL;
	size_t len;
	CURLcode rc;

	if (!job->token || !job->token_len) {
		/* Only the token itself can be revoked by RFC 7009; a hash is
		 * not enough. */
		out->cls = DELIVERY_PERMANENT;
		snprintf(out->detail, sizeof(out->detail),
			 "the raw token is not available (neither from the sighting nor sealed)");
		return out->cls;
	}
	http_prepare(c, is->revocation_endpoint, is->timeout_ms);
	tok = form_escape(c->curl, job->token, job->token_len);
	if (is->token_type_hint)
		hint = form_escape(c->curl, is->token_type_hint, strlen(is->token_type_hint));
	id = form_escape(c->curl, is->client_id, strlen(is->client_id));
	secret = form_escape(c->curl, is->client_secret, is->client_secret_len);
	if (!tok || !id || !secret || (is->token_type_hint && !hint))
		goto oom;
	len = strlen(tok) + (hint ? strlen(hint) : 0) + strlen(id) + strlen(secret) + 80;
	body = malloc(len);
	if (!body)
		goto oom;
	snprintf(body, len, "token=%s%s%s", tok, hint ? "&token_type_hint=" : "", hint ? hint : "");
	if (is->auth == AUTH_CLIENT_SECRET_POST) {
		size_t k = strlen(body);
		snprintf(body + k, len - k, "&client_id=%s&client_secret=%s", id, secret);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c->curl, CURLOPT_USERNAME, id);
		curl_easy_setopt(c->curl, CURLOPT_PASSWORD, secret);
	}
	rc = http_post(c, "Accept: application/json", body);
	explicit_bzero(body, len);
	free(body);
	/* libcurl keeps its own copy of the credentials; drop it now. */
	curl_easy_setopt(c->curl, CURLOPT_USERNAME, "");
	curl_easy_setopt(c->curl, CURLOPT_PASSWORD, "");
	wipe_free(tok);
	wipe_free(hint);
	wipe_free(id);
	wipe_free(secret);
	return http_finish(c, rc, out);
oom:
	wipe_free(tok);
	wipe_free(hint);
	wipe_free(id);
	wipe_free(secret);
	out->cls = DELIVERY_RETRY;
	snprintf(out->detail, sizeof(out->detail), "out of memory");
	return out->cls;
}

/* The JSON that webhooks and command hooks receive. The raw token is
 * included only for a command hook configured with pass_token. */
static char *job_json(const struct tw_issuer *is, const struct issuer_job *job, bool with_token)
{
	cJSON *o = cJSON_CreateObject(), *v;
	char *s;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "event", "tokenward.revoke");
	cJSON_AddStringToObject(o, "issuer", is->name);
	cJSON_AddStringToObject(o, "token_id", job->token_id ? job->token_id : "");
	cJSON_AddStringToObject(o, "token_sha256", job->token_sha256 ? job->token_sha256 : "");
	cJSON_AddStringToObject(o, "verdict_class", job->verdict_class ? job->verdict_class : "");
	v = job->verdict_json ? cJSON_Parse(job->verdict_json) : NULL;
	cJSON_AddItemToObject(o, "verdict", v ? v : cJSON_CreateObject());
	if (with_token && job->token) {
		char *t = strndup(job->token, job->token_len);
		if (t) {
			cJSON_AddStringToObject(o, "token", t);
			explicit_bzero(t, job->token_len);
			free(t);
		}
	}
	s = cJSON_PrintUnformatted(o);
	if (with_token) {
		/* cJSON freed the node's copy without wiping it; wipe what we
		 * can reach before deleting. */
		cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "token");
		if (cJSON_IsString(t))
			explicit_bzero(t->valuestring, strlen(t->valuestring));
	}
	cJSON_Delete(o);
	return s;
}

static enum delivery_class deliver_webhook(struct issuer_client *c, const struct tw_issuer *is,
					   const struct issuer_job *job, struct issuer_outcome *out)
{
	char *body = job_json(is, job, false);
	CURLcode rc;

	if (!body) {
		out->cls = DELIVERY_RETRY;
		snprintf(out->detail, sizeof(out->detail), "out of memory");
		return out->cls;
	}
	http_prepare(c, is->url, is->timeout_ms);
	rc = http_post(c, "Content-Type: application/json", body);
	free(body);
	return http_finish(c, rc, out);
}

/* Append the hash to the revocation list unless it is there already, so
 * a job repeated after a crash leaves one line. flock serialises
 * concurrent workers and any other writer that plays by the same rule. */
static enum delivery_class deliver_builtin(const struct tw_issuer *is, const struct issuer_job *job,
					   struct issuer_outcome *out)
{
	char line[80], buf[8192], msg[sizeof(out->detail)];
	size_t want, carry = 0;
	ssize_t n;
	int fd, found = 0;

	if (!job->token_sha256 || strlen(job->token_sha256) != 64) {
		out->cls = DELIVERY_PERMANENT;
		snprintf(out->detail, sizeof(out->detail), "no token hash");
		return out->cls;
	}
	want = snprintf(line, sizeof(line), "%s\n", job->token_sha256);
	/* Never through a link or into a file with other hard links: root
	 * appends here, and the list's directory is the ledger's. */
	fd = safefile_open_append(is->revocation_list, SAFEFILE_RDWR, 0644, msg, sizeof(msg));
	if (fd < 0) {
		out->cls = DELIVERY_RETRY;
		snprintf(out->detail, sizeof(out->detail), "%s", msg);
		return out->cls;
	}
	if (flock(fd, LOCK_EX))
		goto io_error;
	/* Scan in 65-byte records; lines are fixed-size hashes. */
	while ((n = read(fd, buf + carry, sizeof(buf) - carry)) > 0) {
		size_t have = carry + n, off = 0;

		for (char *nl; (nl = memchr(buf + off, '\n', have - off)); off = nl - buf + 1)
			if ((size_t)(nl - buf) - off + 1 == want && !memcmp(buf + off, line, want))
				found = 1;
		carry = have - off;
		if (carry == sizeof(buf))
			carry = 0;      /* an overlong line: not a hash, skip it */
		memmove(buf, buf + off, carry);
	}
	if (n < 0)
		goto io_error;
	if (!found && (write(fd, line, want) != (ssize_t)want || fsync(fd)))
		goto io_error;
	close(fd);
	out->cls = DELIVERY_OK;
	snprintf(out->detail, sizeof(out->detail), "%s %s", found ? "already listed in" : "appended to",
		 is->revocation_list);
	return out->cls;
io_error:
	snprintf(out->detail, sizeof(out->detail), "%s: %s", is->revocation_list, strerror(errno));
	if (fd >= 0)
		close(fd);
	out->cls = DELIVERY_RETRY;
	return out->cls;
}

static long long now_ms(void)
{
	return (long long)(util_now_ns(CLOCK_MONOTONIC) / 1000000);
}

/*
 * Run the hook: details as JSON on stdin, never in argv (argv is world
 * readable in /proc). stdin/stdout are socketpairs rather than pipes so
 * that writing to a hook that exits early gives EPIPE via MSG_NOSIGNAL
 * instead of a SIGPIPE that would kill tokenward.
 * Exit 0 = revoked, 75 (EX_TEMPFAIL), a signal or the timeout = retry,
 * anything else = permanent.
 */
static enum delivery_class deliver_command(const struct tw_issuer *is, const struct issuer_job *job,
					   struct issuer_outcome *out)
{
	static char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				      "LC_ALL=C", NULL };
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, status = 0, killed = 0;
	char *msg = job_json(is, job, is->pass_token);
	char keep[HOOK_OUTPUT_KEEP + 1];
	size_t msglen, sent = 0, kept = 0;
	long long deadline;
	pid_t pid;

	out->cls = DELIVERY_RETRY;
	if (!msg) {
		snprintf(out->detail, sizeof(out->detail), "out of memory");
		return out->cls;
	}
	msglen = strlen(msg);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, outp)) {
		snprintf(out->detail, sizeof(out->detail), "socketpair: %s", strerror(errno));
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(out->detail, sizeof(out->detail), "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		if (dup2(in[1], 0) < 0 || dup2(outp[1], 1) < 0 || dup2(outp[1], 2) < 0)
			_exit(126);
		execve(is->argv[0], is->argv, envp);
		_exit(127);
	}
	close(in[1]);
	close(outp[1]);
	in[1] = outp[1] = -1;
	fcntl(in[0], F_SETFL, O_NONBLOCK);
	deadline = now_ms() + is->timeout_ms;
	for (;;) {
		struct pollfd p[2] = { { .fd = sent < msglen ? in[0] : -1, .events = POLLOUT },
				       { .fd = outp[0], .events = POLLIN } };
		long long left = deadline - now_ms();

		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (p[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n = send(in[0], msg + sent, msglen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += n;
			else if (n < 0 && errno != EAGAIN)
				sent = msglen;  /* hook does not read stdin */
			if (sent == msglen)
				shutdown(in[0], SHUT_WR);
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[1024];
			ssize_t n = read(outp[0], buf, sizeof(buf));

			if (n <= 0)
				break;  /* EOF: the hook closed its output */
			if (kept + n > HOOK_OUTPUT_KEEP) {
				/* keep the tail: the last line usually says why */
				size_t drop = kept + n - HOOK_OUTPUT_KEEP;
				if (drop > kept)
					drop = kept;
				memmove(keep, keep + drop, kept - drop);
				kept -= drop;
				if ((size_t)n > HOOK_OUTPUT_KEEP)
					n = HOOK_OUTPUT_KEEP;
			}
			memcpy(keep + kept, buf, n);
			kept += n;
		}
	}
	/* Output closed; wait for the exit within what is left of the time. */
	while (!killed) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		usleep(2000);
	}
	if (killed)
		waitpid(pid, &status, 0);
	if (killed) {
		snprintf(out->detail, sizeof(out->detail), "hook timed out after %u ms", is->timeout_ms);
		out->cls = DELIVERY_RETRY;
	} else if (WIFEXITED(status)) {
		char *red;
		int code = WEXITSTATUS(status);

		out->exit_status = code;
		out->cls = code == 0 ? DELIVERY_OK : code == 75 ? DELIVERY_RETRY : DELIVERY_PERMANENT;
		while (kept && (keep[kept - 1] == '\n' || keep[kept - 1] == '\r'))
			kept--;
		keep[kept] = 0;
		/* The hook may have been handed the token: mask its output. */
		red = redact_text(keep, kept);
		{
			const char *last = red ? strrchr(red, '\n') : NULL;
			snprintf(out->detail, sizeof(out->detail), "hook exited %d%s%.180s", code,
				 red && *red ? ": " : "", red ? (last ? last + 1 : red) : "");
		}
		free(red);
	} else {
		snprintf(out->detail, sizeof(out->detail), "hook killed by signal %d",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		out->cls = DELIVERY_RETRY;
	}
	explicit_bzero(keep, sizeof(keep));
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	explicit_bzero(msg, msglen);
	free(msg);
	return out->cls;
}

enum delivery_class issuer_deliver(struct issuer_client *c, const struct tw_issuer *is,
				   const struct issuer_job *job, struct issuer_outcome *out)
{
	struct timespec t0;

	memset(out, 0, sizeof(*out));
	out->retry_after_s = -1;
	out->exit_status = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	switch (is->type) {
	case ISSUER_RFC7009:
		deliver_rfc7009(c, is, job, out);
		break;
	case ISSUER_WEBHOOK:
		deliver_webhook(c, is, job, out);
		break;
	case ISSUER_BUILTIN:
		deliver_builtin(is, job, out);
		break;
	case ISSUER_COMMAND:
		deliver_command(is, job, out);
		break;
	default:
		out->cls = DELIVERY_PERMANENT;
		snprintf(out->detail, sizeof(out->detail), "unknown issuer type");
	}
	out->elapsed_ms = ms_since(&t0);
	return out->cls;
}
