/* Verdict lines to syslog, RFC 5424 (see syslog.h). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"
#include "lib/util.h"
#include "output/syslog.h"

struct syslog_out {
	char *address;
	int facility;
	struct sockaddr_storage sa;
	socklen_t salen;
	int socktype;             /* SOCK_DGRAM or SOCK_STREAM */
	int fd;                   /* -1: not connected */
	uint64_t last_connect_ns;
	char host[256];
	uint64_t sent, failed;
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

/* (Re)connect, at most once a second. 0 or -1. */
static int syslog_connect(struct syslog_out *s)
{
	uint64_t now = util_now_ns(CLOCK_MONOTONIC);
	struct timeval tv = { 0, SYSLOG_SEND_TIMEOUT_MS * 1000 };

	if (s->fd >= 0)
		return 0;
	if (s->last_connect_ns && now - s->last_connect_ns < 1000000000ull)
		return -1;
	s->last_connect_ns = now;
	s->fd = socket(s->sa.ss_family, s->socktype | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	/* connect() on a TCP socket honours SO_SNDTIMEO too */
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s->fd, (struct sockaddr *)&s->sa, s->salen)) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	return 0;
}

int syslog_out_open(const char *address, int facility, struct syslog_out **out, char *err,
		    size_t errsz)
{
	struct syslog_out *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->address = strdup(address)) || !(s->buf = malloc(SYSLOG_MSG_MAX + 600))) {
		if (s)
			free(s->address);
		free(s);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	s->fd = -1;
	s->facility = facility;
	if (gethostname(s->host, sizeof(s->host) - 1) || !s->host[0])
		strcpy(s->host, "-");
	if (parse_address(s, address, err, errsz)) {
		syslog_out_close(s);
		return -1;
	}
	/* Not there yet (syslog starts later, a remote one is down): each
	 * message tries again, and is counted while it fails. */
	if (syslog_connect(s))
		log_warn("syslog %s: cannot connect yet (%s); verdicts are counted as not sent until it answers",
			 address, strerror(errno));
	*out = s;
	return 0;
}

int syslog_out_send(struct syslog_out *s, int severity, const char *msgid, const char *msg)
{
	char ts[40], *p;
	size_t mlen = strlen(msg), n;
	ssize_t w;
	int hl;

	if (mlen > SYSLOG_MSG_MAX || syslog_connect(s))
		goto fail;
	util_rfc3339(util_now_ns(CLOCK_REALTIME), ts, sizeof(ts));
	/* TCP: "LEN " in front (octet counting); the header is under 600 bytes */
	p = s->buf + 16;
	hl = snprintf(p, 584, "<%d>1 %s %s tokenward %d %s - ", s->facility * 8 + (severity & 7), ts,
		      s->host, (int)getpid(), msgid);
	if (hl < 0 || hl >= 584)
		goto fail;
	memcpy(p + hl, msg, mlen);
	n = hl + mlen;
	if (s->socktype == SOCK_STREAM) {
		char len[16];
		int ll = snprintf(len, sizeof(len), "%zu ", n);

		p -= ll;
		memcpy(p, len, ll);
		n += ll;
	}
	w = send(s->fd, p, n, s->socktype == SOCK_DGRAM ? MSG_DONTWAIT | MSG_NOSIGNAL : MSG_NOSIGNAL);
	if (w == (ssize_t)n) {
		s->sent++;
		return 0;
	}
	/* a stream cut mid-message has lost its framing; a datagram socket
	 * whose server went away (ECONNREFUSED, ENOENT) is made again */
	if (s->socktype == SOCK_STREAM || (w < 0 && errno != EAGAIN)) {
		close(s->fd);
		s->fd = -1;
	}
fail:
	s->failed++;
	return -1;
}

uint64_t syslog_out_sent(const struct syslog_out *s) { return s->sent; }
uint64_t syslog_out_failed(const struct syslog_out *s) { return s->failed; }
const char *syslog_out_address(const struct syslog_out *s) { return s->address; }

void syslog_out_close(struct syslog_out *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->address);
	free(s->buf);
	free(s);
}
