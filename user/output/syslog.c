/* Verdict lines to syslog, RFC 5424 (see syslog.h). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "lib/log.h"
#include "lib/util.h"
#include "output/syslog.h"

/* One formatted message: the frame as it goes on the wire. */
struct frame {
	size_t len;
	char b[];
};

struct syslog_out {
	char *address;
	int facility;
	unsigned queue;           /* messages that may wait */
	struct sockaddr_storage sa;
	socklen_t salen;
	int socktype;             /* SOCK_DGRAM or SOCK_STREAM */
	int fd;                   /* -1: not connected */
	int connecting;           /* a TCP connect in progress on fd */
	uint64_t connect_started_ns, next_try_ns;
	unsigned backoff_ms;
	int down_warned;          /* "cannot connect" said since the last connect */
	char host[256];
	struct frame **q;         /* ring of queue slots */
	size_t head, n, bytes;
	size_t off;               /* bytes of q[head] already on a stream */
	uint64_t sent, failed, dropped, connects;
	char *buf;
};

/* Split "udp://HOST:PORT" and resolve it; 0 or -1. */
static int resolve(struct syslog_out *s, const char *hp, int socktype, char *err, size_t errsz)
{
	struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	char host[256];
	const char *colon = strrchr(hp, ':'), *h = hp;
	size_t hl;
	int r;

	if (!colon || colon == hp || !colon[1])
		goto bad;
	hl = colon - hp;
	if (*hp == '[' && colon[-1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	if ((r = getaddrinfo(host, colon + 1, &hints, &ai))) {
		snprintf(err, errsz, "syslog address '%s': %s does not resolve: %s", s->address, host,
			 gai_strerror(r));
		return -1;
	}
	memcpy(&s->sa, ai->ai_addr, ai->ai_addrlen);
	s->salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	s->socktype = socktype;
	return 0;
bad:
	snprintf(err, errsz, "syslog address must be /PATH, unix:/PATH, udp://HOST:PORT or "
		 "tcp://HOST:PORT, not '%s'", s->address);
	return -1;
}

static int parse_address(struct syslog_out *s, const char *a, char *err, size_t errsz)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&s->sa;

	if (!strncmp(a, "udp://", 6))
		return resolve(s, a + 6, SOCK_DGRAM, err, errsz);
	if (!strncmp(a, "tcp://", 6))
		return resolve(s, a + 6, SOCK_STREAM, err, errsz);
	if (!strncmp(a, "unix:", 5))
		a += 5;
	if (*a != '/' || strlen(a) >= sizeof(un->sun_path)) {
		snprintf(err, errsz, "syslog address must be /PATH, unix:/PATH, udp://HOST:PORT or "
			 "tcp://HOST:PORT (a path shorter than %zu bytes), not '%s'",
			 sizeof(un->sun_path), s->address);
		return -1;
	}
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, a);
	s->salen = sizeof(*un);
	s->socktype = SOCK_DGRAM;
	return 0;
}

static void pop_head(struct syslog_out *s)
{
	s->bytes -= s->q[s->head]->len;
	free(s->q[s->head]);
	s->head = (s->head + 1) % s->queue;
	s->n--;
}

static void conn_drop(struct syslog_out *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->connecting = 0;
	/* a stream cut in the middle of a message has lost its framing: that
	 * message is lost; the next connection starts with the next one */
	if (s->off) {
		s->off = 0;
		s->failed++;
		pop_head(s);
	}
}

/* The connection failed (err): try again after the backoff, doubled. */
static void conn_failed(struct syslog_out *s, int err)
{
	uint64_t now = util_now_ns(CLOCK_MONOTONIC);

	conn_drop(s);
	if (!s->down_warned) {
		log_warn("syslog %s: %s; %zu verdicts queued, retrying with backoff (dropped when %u are waiting)",
			 s->address, strerror(err), s->n, s->queue);
		s->down_warned = 1;
	}
	s->next_try_ns = now + (uint64_t)s->backoff_ms * 1000000ull;
	s->backoff_ms = s->backoff_ms * 2 > SYSLOG_BACKOFF_MAX_MS ? SYSLOG_BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static void conn_up(struct syslog_out *s)
{
	s->connecting = 0;
	s->connects++;
	s->backoff_ms = SYSLOG_BACKOFF_MIN_MS;
	if (s->down_warned)
		log_info("syslog %s: connected; sending the %zu queued verdicts", s->address, s->n);
	s->down_warned = 0;
}

/* Start a connection when the backoff allows; never waits. 1 when fd is
 * connected, 0 when not (yet). */
static int conn_step(struct syslog_out *s)
{
	uint64_t now = util_now_ns(CLOCK_MONOTONIC);
	int sndbuf = SYSLOG_SNDBUF, e = 0;
	socklen_t el = sizeof(e);
	struct pollfd pf;

	if (s->fd >= 0 && !s->connecting)
		return 1;
	if (s->fd >= 0) {
		pf = (struct pollfd){ .fd = s->fd, .events = POLLOUT };
		if (poll(&pf, 1, 0) <= 0) {
			if (now - s->connect_started_ns > SYSLOG_CONNECT_TIMEOUT_MS * 1000000ull)
				conn_failed(s, ETIMEDOUT);
			return 0;
		}
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) || e) {
			conn_failed(s, e ? e : errno);
			return 0;
		}
		conn_up(s);
		return 1;
	}
	if (now < s->next_try_ns)
		return 0;
	s->fd = socket(s->sa.ss_family, s->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		conn_failed(s, errno);
		return 0;
	}
	/* our queue is the one counted: keep the kernel's small */
	if (s->socktype == SOCK_STREAM)
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	s->connect_started_ns = now;
	if (connect(s->fd, (struct sockaddr *)&s->sa, s->salen) == 0) {
		conn_up(s);
		return 1;
	}
	if (errno == EINPROGRESS) {
		s->connecting = 1;
		return 0;
	}
	conn_failed(s, errno);
	return 0;
}

int syslog_out_open(const char *address, int facility, unsigned queue, struct syslog_out **out,
		    char *err, size_t errsz)
{
	struct syslog_out *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (queue < 1)
		queue = 1;
	if (!s || !(s->address = strdup(address)) || !(s->buf = malloc(SYSLOG_MSG_MAX + 600)) ||
	    !(s->q = calloc(queue, sizeof(*s->q)))) {
		if (s) {
			free(s->address);
			free(s->buf);
		}
		free(s);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	s->fd = -1;
	s->facility = facility;
	s->queue = queue;
	s->backoff_ms = SYSLOG_BACKOFF_MIN_MS;
	if (gethostname(s->host, sizeof(s->host) - 1) || !s->host[0])
		strcpy(s->host, "-");
	if (parse_address(s, address, err, errsz)) {
		syslog_out_close(s);
		return -1;
	}
	/* Not there yet (syslog starts later, a remote one is down): the
	 * verdicts wait in the queue; conn_failed says so once. */
	conn_step(s);
	*out = s;
	return 0;
}

int syslog_out_same(const struct syslog_out *s, const char *address, int facility, unsigned queue)
{
	return !strcmp(s->address, address) && s->facility == facility && s->queue == queue;
}

/* The queue's head on the socket, as far as it takes it now. 1 sent
 * whole, 0 the socket is full (try later), -1 the connection failed. */
static int send_head(struct syslog_out *s)
{
	struct frame *f = s->q[s->head];
	ssize_t w = send(s->fd, f->b + s->off, f->len - s->off, MSG_DONTWAIT | MSG_NOSIGNAL);
	int lost = 0;

	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* a datagram too large for this socket never fits: lost, counted */
	if (w < 0 && s->socktype == SOCK_DGRAM && errno == EMSGSIZE) {
		lost = 1;
		w = (ssize_t)f->len;
	} else if (w < 0) {
		conn_failed(s, errno);
		return -1;
	}
	if ((s->off += (size_t)w) < f->len)
		return 0;
	s->off = 0;
	if (lost)
		s->failed++;
	else
		s->sent++;
	pop_head(s);
	return 1;
}

void syslog_out_pump(struct syslog_out *s)
{
	while (s->n && conn_step(s))
		if (send_head(s) <= 0)
			return;
}

void syslog_out_flush(struct syslog_out *s, unsigned ms)
{
	uint64_t end = util_now_ns(CLOCK_MONOTONIC) + ms * 1000000ull, now;

	for (syslog_out_pump(s); s->n && (now = util_now_ns(CLOCK_MONOTONIC)) < end; syslog_out_pump(s)) {
		struct pollfd pf = { .fd = s->fd, .events = POLLOUT };
		int left = (int)((end - now) / 1000000ull) + 1;

		/* not connected: wait for the backoff (bounded by what is left) */
		if (s->fd < 0)
			left = left < SYSLOG_BACKOFF_MIN_MS ? left : SYSLOG_BACKOFF_MIN_MS;
		if (s->fd < 0 ? poll(NULL, 0, left) < 0 : poll(&pf, 1, left) < 0)
			break;
	}
}

/* The wire form: RFC 5424 header, the message, and for TCP "LEN " in
 * front (octet counting). The header is under 600 bytes. */
static struct frame *format(struct syslog_out *s, int severity, const char *msgid, const char *msg,
			    size_t mlen)
{
	char ts[40], *p = s->buf + 16;
	size_t n;
	int hl;
	struct frame *f;

	util_rfc3339(util_now_ns(CLOCK_REALTIME), ts, sizeof(ts));
	hl = snprintf(p, 584, "<%d>1 %s %s tokenward %d %s - ", s->facility * 8 + (severity & 7), ts,
		      s->host, (int)getpid(), msgid);
	if (hl < 0 || hl >= 584)
		return NULL;
	memcpy(p + hl, msg, mlen);
	n = hl + mlen;
	if (s->socktype == SOCK_STREAM) {
		char len[16];
		int ll = snprintf(len, sizeof(len), "%zu ", n);

		p -= ll;
		memcpy(p, len, ll);
		n += ll;
	}
	if (!(f = malloc(sizeof(*f) + n)))
		return NULL;
	f->len = n;
	memcpy(f->b, p, n);
	return f;
}

int syslog_out_send(struct syslog_out *s, int severity, const char *msgid, const char *msg)
{
	size_t mlen = strlen(msg);
	struct frame *f;

	if (mlen > SYSLOG_MSG_MAX || s->n == s->queue || s->bytes + mlen + 600 > SYSLOG_QUEUE_BYTES ||
	    !(f = format(s, severity, msgid, msg, mlen))) {
		s->dropped++;
		return -1;
	}
	s->q[(s->head + s->n++) % s->queue] = f;
	s->bytes += f->len;
	syslog_out_pump(s);
	return 0;
}

uint64_t syslog_out_sent(const struct syslog_out *s) { return s->sent; }
uint64_t syslog_out_failed(const struct syslog_out *s) { return s->failed + s->dropped; }
size_t syslog_out_pending(const struct syslog_out *s) { return s->n; }
const char *syslog_out_address(const struct syslog_out *s) { return s->address; }

void syslog_out_status(const struct syslog_out *s, cJSON *o)
{
	cJSON_AddNumberToObject(o, "sent", (double)s->sent);
	cJSON_AddNumberToObject(o, "failed", (double)s->failed);
	cJSON_AddNumberToObject(o, "dropped", (double)s->dropped);
	cJSON_AddNumberToObject(o, "queued_now", (double)s->n);
	cJSON_AddBoolToObject(o, "connected", s->fd >= 0 && !s->connecting);
	cJSON_AddNumberToObject(o, "connects", (double)s->connects);
}

void syslog_out_close(struct syslog_out *s)
{
	if (!s)
		return;
	if (s->n)
		log_warn("syslog %s: %zu verdicts not sent at close", s->address, s->n);
	s->dropped += s->n;
	for (; s->n; s->n--, s->head = (s->head + 1) % s->queue)
		free(s->q[s->head]);
	if (s->fd >= 0)
		close(s->fd);
	free(s->q);
	free(s->address);
	free(s->buf);
	free(s);
}
