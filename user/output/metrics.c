/* The metrics endpoint (see metrics.h). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "lib/util.h"
#include "output/metrics.h"
#include "output/promtext.h"

enum refusal { R_BUSY, R_TOO_LARGE, R_TIMEOUT, R_BAD_REQUEST, R_NOT_FOUND, R_METHOD, R__COUNT };
static const char *const refusal_names[R__COUNT] = {
	"busy", "too_large", "timeout", "bad_request", "not_found", "method",
};

struct conn {
	int fd;                   /* -1: free */
	char req[METRICS_MAX_REQUEST];
	size_t reqlen;
	char *resp;               /* set: writing it */
	size_t resplen, sent;
	uint64_t deadline_ns;
};

struct metrics {
	int lfd;
	int stop[2];              /* a pipe: a byte in it stops the thread */
	pthread_t th;
	int started;
	pthread_mutex_t mu;       /* snapshot */
	char *snap;
	size_t snaplen;
	struct conn conns[METRICS_MAX_CONNS];
	uint64_t served, refused[R__COUNT]; /* __atomic: the thread writes, status reads */
	char addr[80];
};

int metrics_parse_listen(const char *spec, char *host, size_t hostsz, unsigned *port,
			 char *err, size_t errsz)
{
	const char *colon, *h = spec;
	size_t hl;
	char *end;
	unsigned long p;

	if (!spec || !*spec)
		goto bad;
	if (*spec == '[') {
		const char *rb = strchr(spec, ']');

		if (!rb || rb[1] != ':')
			goto bad;
		h = spec + 1;
		hl = rb - h;
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			goto bad;
		hl = colon - spec;
	}
	if (hl == 0 || hl >= hostsz)
		goto bad;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = p;
	return 0;
bad:
	snprintf(err, errsz, "metrics address must be HOST:PORT (e.g. 127.0.0.1:9464), not '%s'",
		 spec ? spec : "");
	return -1;
}

/* A bound, listening, non-blocking socket; -errno with the message. */
static int listen_on(const char *spec, char *addr, size_t addrsz, char *err, size_t errsz)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64], ps[8], hb[64];
	unsigned port;
	int fd = -1, one = 1, r;

	if (metrics_parse_listen(spec, host, sizeof(host), &port, err, errsz))
		return -EINVAL;
	snprintf(ps, sizeof(ps), "%u", port);
	if (strcmp(host, "localhost"))
		hints.ai_flags |= AI_NUMERICHOST;
	if ((r = getaddrinfo(host, ps, &hints, &ai))) {
		snprintf(err, errsz, "metrics address '%s': %s (a numeric address or localhost)", spec,
			 gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16))
		goto fail;
	freeaddrinfo(ai);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6)
		snprintf(addr, addrsz, "[%s]:%u", inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
							   hb, sizeof(hb)) ?: "?",
			 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	else
		snprintf(addr, addrsz, "%s:%u", inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
							  hb, sizeof(hb)) ?: "?",
			 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	return fd;
fail:
	r = -errno;
	snprintf(err, errsz, "metrics: cannot listen on %s: %s%s", spec, strerror(errno),
		 errno == EADDRINUSE ? " (another process holds the port; pick another with --metrics)" : "");
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

static void refuse_count(struct metrics *m, enum refusal why)
{
	__atomic_add_fetch(&m->refused[why], 1, __ATOMIC_RELAXED);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->resp);
	c->resp = NULL;
	c->fd = -1;
}

/* Prepare the answer to a whole request head in c->req. */
static void conn_answer(struct metrics *m, struct conn *c)
{
	char method[8] = "", target[64] = "";
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
	const char *body = NULL;
	size_t bodylen = 0, hl;
	char head[256];
	int head_only = 0;

	c->req[c->reqlen < sizeof(c->req) ? c->reqlen : sizeof(c->req) - 1] = 0;
	if (sscanf(c->req, "%7[A-Z] %63s HTTP/1.", method, target) != 2) {
		status = "400 Bad Request";
		refuse_count(m, R_BAD_REQUEST);
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = "405 Method Not Allowed";
		refuse_count(m, R_METHOD);
	} else if (strcmp(target, "/metrics") && strncmp(target, "/metrics?", 9)) {
		status = "404 Not Found";
		refuse_count(m, R_NOT_FOUND);
	} else {
		head_only = !strcmp(method, "HEAD");
		__atomic_add_fetch(&m->served, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_lock(&m->mu);
	if (status[0] == '2') {
		body = m->snap ? m->snap : "";
		bodylen = m->snap ? m->snaplen : 0;
	} else {
		ctype = "text/plain; charset=utf-8";
		body = status;
		bodylen = strlen(status);
	}
	hl = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n", status, ctype, bodylen);
	c->resp = malloc(hl + bodylen);
	if (c->resp) {
		memcpy(c->resp, head, hl);
		if (!head_only)
			memcpy(c->resp + hl, body, bodylen);
		c->resplen = hl + (head_only ? 0 : bodylen);
		c->sent = 0;
	}
	pthread_mutex_unlock(&m->mu);
	if (!c->resp)
		conn_close(c);
}

/* Bytes came in, or there is room to write: step the connection. */
static void conn_step(struct metrics *m, struct conn *c, short revents)
{
	ssize_t n;

	if (!c->resp) {
		n = read(c->fd, c->req + c->reqlen, sizeof(c->req) - 1 - c->reqlen);
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				conn_close(c);
			return;
		}
		c->reqlen += n;
		c->req[c->reqlen] = 0;
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			conn_answer(m, c);
		} else if (c->reqlen == sizeof(c->req) - 1) {
			refuse_count(m, R_TOO_LARGE);
			conn_close(c);
		}
		return;
	}
	if (!(revents & POLLOUT))
		return;
	n = write(c->fd, c->resp + c->sent, c->resplen - c->sent);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (c->sent += n) == c->resplen)
		conn_close(c);
}

static void accept_one(struct metrics *m)
{
	int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		if (m->conns[i].fd < 0) {
			m->conns[i].fd = fd;
			m->conns[i].reqlen = 0;
			m->conns[i].deadline_ns = util_now_ns(CLOCK_MONOTONIC) +
						  METRICS_TIMEOUT_MS * 1000000ull;
			return;
		}
	refuse_count(m, R_BUSY);
	close(fd);
}

static void *serve(void *arg)
{
	struct metrics *m = arg;
	struct pollfd pf[METRICS_MAX_CONNS + 2];
	int map[METRICS_MAX_CONNS + 2];

	for (;;) {
		int n = 0;
		uint64_t now;

		pf[n++] = (struct pollfd){ .fd = m->stop[0], .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
		for (int i = 0; i < METRICS_MAX_CONNS; i++)
			if (m->conns[i].fd >= 0) {
				map[n] = i;
				pf[n++] = (struct pollfd){ .fd = m->conns[i].fd,
							   .events = m->conns[i].resp ? POLLOUT : POLLIN };
			}
		if (poll(pf, n, 200) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		for (int k = 2; k < n; k++)
			if (pf[k].revents)
				conn_step(m, &m->conns[map[k]], pf[k].revents);
		if (pf[1].revents & POLLIN)
			accept_one(m);
		now = util_now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < METRICS_MAX_CONNS; i++)
			if (m->conns[i].fd >= 0 && now >= m->conns[i].deadline_ns) {
				refuse_count(m, R_TIMEOUT);
				conn_close(&m->conns[i]);
			}
	}
	return NULL;
}

int metrics_open(const char *spec, struct metrics **out, char *err, size_t errsz)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int r;

	*out = NULL;
	if (!m) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	m->lfd = m->stop[0] = m->stop[1] = -1;
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		m->conns[i].fd = -1;
	pthread_mutex_init(&m->mu, NULL);
	if ((r = listen_on(spec, m->addr, sizeof(m->addr), err, errsz)) < 0)
		goto fail;
	m->lfd = r;
	if (pipe2(m->stop, O_CLOEXEC)) {
		r = -errno;
		snprintf(err, errsz, "metrics: %s", strerror(errno));
		goto fail;
	}
	if ((r = -pthread_create(&m->th, NULL, serve, m))) {
		snprintf(err, errsz, "metrics: cannot start its thread: %s", strerror(-r));
		goto fail;
	}
	m->started = 1;
	*out = m;
	return 0;
fail:
	metrics_close(m);
	return r;
}

void metrics_publish(struct metrics *m, const cJSON *status)
{
	size_t len;
	char *text;

	if (!m || !(text = promtext_render(status, &len)))
		return;
	pthread_mutex_lock(&m->mu);
	free(m->snap);
	m->snap = text;
	m->snaplen = len;
	pthread_mutex_unlock(&m->mu);
}

void metrics_status(struct metrics *m, cJSON *served_into, cJSON *refused_into)
{
	if (!m)
		return;
	cJSON_AddNumberToObject(served_into, "metrics_scrapes",
				(double)__atomic_load_n(&m->served, __ATOMIC_RELAXED));
	for (int i = 0; i < R__COUNT; i++)
		cJSON_AddNumberToObject(refused_into, refusal_names[i],
					(double)__atomic_load_n(&m->refused[i], __ATOMIC_RELAXED));
}

const char *metrics_address(const struct metrics *m)
{
	return m ? m->addr : "";
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	if (m->started) {
		if (write(m->stop[1], "x", 1) < 0) {
			/* the pipe is ours and empty: cannot fail */
		}
		pthread_join(m->th, NULL);
	}
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		conn_close(&m->conns[i]);
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->stop[0] >= 0)
		close(m->stop[0]);
	if (m->stop[1] >= 0)
		close(m->stop[1]);
	pthread_mutex_destroy(&m->mu);
	free(m->snap);
	free(m);
}
