/*
 * Audience parsing is strict because a malformed audience silently widens
 * or narrows what counts as "use": anything we cannot read exactly is an
 * error at registration time, never a guess at sighting time.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <time.h>
#include "verdict/audience.h"

/* ---- parsing ---------------------------------------------------------- */

static int parse_port(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*out = v;
	return 0;
}

/* RFC 1123 host name: labels of [a-z0-9-], 1..63 chars, no leading or
 * trailing hyphen; the last label not all digits (that would be an IP). */
static bool hostname_valid(const char *h)
{
	size_t n = strlen(h), lab = 0;
	bool alldigit = true;

	if (n == 0 || n >= AUDIENCE_HOST_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = h[i];
		if (c == '.' || c == 0) {
			if (lab == 0 || h[i - 1] == '-')
				return false;
			if (c == 0)
				break;
			lab = 0;
			alldigit = true;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-') || (lab == 0 && c == '-'))
			return false;
		if (!isdigit((unsigned char)c))
			alldigit = false;
		if (++lab > 63)
			return false;
	}
	return !alldigit;
}

static void mask_addr(unsigned char *a, unsigned len_bytes, unsigned prefix)
{
	for (unsigned i = 0; i < len_bytes; i++) {
		unsigned bit = i * 8;
		if (bit >= prefix)
			a[i] = 0;
		else if (prefix - bit < 8)
			a[i] &= (unsigned char)(0xff << (8 - (prefix - bit)));
	}
}

/* An IPv4-mapped IPv6 network (::ffff:a.b.c.d/96+n) is the IPv4 network
 * a.b.c.d/n: a dual-stack socket's v4-mapped peer is read as IPv4 (see
 * dest_from_sockaddr), so a mapped audience kept as IPv6 would never
 * match, and the canonical text should not hide that it is IPv4. */
static void unmap_v4(struct audience *a)
{
	if (a->family != AF_INET6 || a->prefix < 96 ||
	    !IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a->addr))
		return;
	memmove(a->addr, a->addr + 12, 4);
	memset(a->addr + 4, 0, 12);
	a->family = AF_INET;
	a->prefix -= 96;
}

/*
 * "1.2.3.4", "2001:db8::1", optionally followed by "/len". Returns 0,
 * -EINVAL when s is not an address at all (no message: the caller may
 * try a host name), or -ERANGE with a message when it is one but cannot
 * be an audience: host bits set under the prefix are refused, since
 * "10.1.2.3/8" is either a typo for another network or a host written
 * with a stray "/8", and masking it quietly widens the audience.
 */
static int parse_ip_or_cidr(const char *s, struct audience *a, char *err, size_t errsz)
{
	char buf[INET6_ADDRSTRLEN + 8], net[INET6_ADDRSTRLEN];
	unsigned char orig[16];
	char *slash;
	unsigned maxp;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (inet_pton(AF_INET, buf, a->addr) == 1) {
		a->family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, buf, a->addr) == 1) {
		a->family = AF_INET6;
		maxp = 128;
	} else {
		return -EINVAL;
	}
	a->prefix = maxp;
	if (slash) {
		const char *p = slash + 1;
		unsigned v = 0;
		if (!*p || strlen(p) > 3)
			return -EINVAL;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			v = v * 10 + (*p - '0');
		}
		if (v > maxp)
			return -EINVAL;
		a->prefix = v;
		memcpy(orig, a->addr, sizeof(orig));
		mask_addr(a->addr, maxp / 8, v);
		if (memcmp(orig, a->addr, maxp / 8)) {
			inet_ntop(a->family, a->addr, net, sizeof(net));
			snprintf(err, errsz, "'%s' has host bits set under /%u: the network is %s/%u, "
				 "a single address is written without a prefix", s, v, net, v);
			return -ERANGE;
		}
	}
	unmap_v4(a);
	a->kind = AUD_IP;
	return 0;
}

/* An authority: "host", "host:port", "1.2.3.4[/n][:port]", "[v6[/n]][:port]", bare v6[/n]. */
static int parse_authority(const char *s, size_t n, struct audience *a, bool need_port,
			   char *err, size_t errsz)
{
	char host[AUDIENCE_HOST_MAX + 8];
	const char *colon = NULL;
	size_t hlen;
	int r = 0;

	if (n == 0) {
		snprintf(err, errsz, "empty host");
		return -EINVAL;
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close) {
			snprintf(err, errsz, "unclosed '[' in IPv6 address");
			return -EINVAL;
		}
		hlen = close - s - 1;
		if (hlen >= sizeof(host))
			goto bad_ip;
		memcpy(host, s + 1, hlen);
		host[hlen] = 0;
		if (close + 1 < s + n) {
			if (close[1] != ':' ||
			    parse_port(close + 2, s + n - close - 2, &a->port)) {
				snprintf(err, errsz, "bad port after ']'");
				return -EINVAL;
			}
		}
		if (!strchr(host, ':'))
			goto bad_ip;
		if ((r = parse_ip_or_cidr(host, a, err, errsz)))
			goto bad_ip;
		return 0;
	}
	/* Two or more colons without brackets: a bare IPv6 address, any port. */
	colon = memchr(s, ':', n);
	if (colon && memchr(colon + 1, ':', s + n - colon - 1)) {
		if (n >= sizeof(host))
			goto bad_ip;
		memcpy(host, s, n);
		host[n] = 0;
		if ((r = parse_ip_or_cidr(host, a, err, errsz)))
			goto bad_ip;
		return 0;
	}
	hlen = colon ? (size_t)(colon - s) : n;
	if (colon && parse_port(colon + 1, s + n - colon - 1, &a->port)) {
		snprintf(err, errsz, "bad port '%.*s' (want 1..65535)", (int)(s + n - colon - 1 > 16 ? 16 : s + n - colon - 1), colon + 1);
		return -EINVAL;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errsz, "bad host length");
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = 0;
	if ((r = parse_ip_or_cidr(host, a, err, errsz)) != -EINVAL)
		return r ? -EINVAL : 0;
	r = 0;
	if (strchr(host, '/') || strspn(host, "0123456789.") == hlen)
		goto bad_ip;
	if (host[hlen - 1] == '.')
		host[--hlen] = 0;
	for (size_t i = 0; i < hlen; i++)
		host[i] = tolower((unsigned char)host[i]);
	if (!hostname_valid(host)) {
		snprintf(err, errsz, "'%.64s' is not a valid host name", host);
		return -EINVAL;
	}
	if (need_port && !a->port) {
		snprintf(err, errsz, "host '%.64s' needs a port (host:port) or a URL", host);
		return -EINVAL;
	}
	a->kind = AUD_HOST;
	strcpy(a->host, host);
	return 0;
bad_ip:
	if (r != -ERANGE) /* -ERANGE brought its own message */
		snprintf(err, errsz, "bad IP address or CIDR");
	return -EINVAL;
}

static const struct { const char *scheme; uint16_t port; int tls; } schemes[] = {
	{ "http", 80, 0 }, { "https", 443, 1 }, { "ws", 80, 0 }, { "wss", 443, 1 },
};

static int parse_url(const char *s, const char *sep, struct audience *a, char *err, size_t errsz)
{
	size_t slen = sep - s, alen;
	const char *auth = sep + 3, *end;

	if (slen == 0 || slen >= sizeof(a->scheme) || !isalpha((unsigned char)s[0])) {
		snprintf(err, errsz, "bad URL scheme");
		return -EINVAL;
	}
	for (size_t i = 0; i < slen; i++) {
		char c = s[i];
		if (!(isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.')) {
			snprintf(err, errsz, "bad URL scheme");
			return -EINVAL;
		}
		a->scheme[i] = tolower((unsigned char)c);
	}
	a->scheme[slen] = 0;
	if (!strcmp(a->scheme, "unix")) { /* "unix:" in another case */
		snprintf(err, errsz, "unix:// takes no host: write unix:/path or unix:///path");
		return -EINVAL;
	}
	end = auth + strcspn(auth, "/?#");
	alen = end - auth;
	if (memchr(auth, '@', alen)) {
		snprintf(err, errsz, "a URL audience must not carry user information");
		return -EINVAL;
	}
	if (parse_authority(auth, alen, a, false, err, errsz))
		return -EINVAL;
	a->tls = -1;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strcmp(a->scheme, schemes[i].scheme)) {
			a->tls = schemes[i].tls;
			if (!a->port)
				a->port = schemes[i].port;
		}
	if (!a->port) {
		snprintf(err, errsz, "scheme '%s' has no default port: give one", a->scheme);
		return -EINVAL;
	}
	return 0;
}

/* P follows "unix:". "unix:///p" (curl's and docker's spelling) is the
 * path "/p". Any other "//" would name a host, which a socket has not:
 * and the URL "UNIX://h:443" formats as "unix://h:443", so reading that
 * text as a path would turn a network audience into a socket one. */
static int parse_unix(const char *p, struct audience *a, char *err, size_t errsz)
{
	if (!strncmp(p, "//", 2)) {
		if (p[2] != '/' || p[3] == 0) {
			snprintf(err, errsz, "unix:// takes no host: write unix:/path or unix:///path");
			return -EINVAL;
		}
		p += 2;
	}
	if (p[0] != '/' || strlen(p) >= AUDIENCE_PATH_MAX) {
		snprintf(err, errsz, "unix: needs an absolute socket path under %d bytes", AUDIENCE_PATH_MAX);
		return -EINVAL;
	}
	a->kind = AUD_UNIX;
	strcpy(a->path, p);
	return 0;
}

int audience_parse(const char *s, struct audience *a, char *err, size_t errsz)
{
	const char *sep;
	size_t n = s ? strlen(s) : 0;

	memset(a, 0, sizeof(*a));
	a->tls = -1;
	if (n == 0 || n > 1024) {
		snprintf(err, errsz, "empty or overlong audience");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) {
			snprintf(err, errsz, "audience contains a space or control byte");
			return -EINVAL;
		}
	/* "unix:/path" is a socket; "unix:443" is the host "unix" with a
	 * port, which is also how audience_format writes that host, so
	 * every accepted audience reads back as itself. */
	if (!strncmp(s, "unix:", 5) && !isdigit((unsigned char)s[5]))
		return parse_unix(s + 5, a, err, errsz);
	if ((sep = strstr(s, "://")))
		return parse_url(s, sep, a, err, errsz);
	return parse_authority(s, n, a, true, err, errsz);
}

void audience_format(const struct audience *a, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN], host[AUDIENCE_HOST_MAX + 64];
	const char *scheme = a->scheme[0] ? a->scheme : NULL;

	switch (a->kind) {
	case AUD_UNIX: /* a path that starts "//" is written unix:////p, which
			* parse_unix reads back as //p */
		snprintf(out, outsz, "unix:%s%s", strncmp(a->path, "//", 2) ? "" : "//", a->path);
		return;
	case AUD_IP:
		inet_ntop(a->family, a->addr, ip, sizeof(ip));
		if (a->prefix != (a->family == AF_INET ? 32u : 128u))
			snprintf(host, sizeof(host), a->family == AF_INET6 && (a->port || scheme) ? "[%s/%u]" : "%s/%u", ip, a->prefix);
		else
			snprintf(host, sizeof(host), a->family == AF_INET6 && (a->port || scheme) ? "[%s]" : "%s", ip);
		break;
	case AUD_HOST:
		snprintf(host, sizeof(host), "%s", a->host);
		break;
	default:
		snprintf(out, outsz, "?");
		return;
	}
	if (scheme)
		snprintf(out, outsz, "%s://%s:%u", scheme, host, a->port);
	else if (a->port)
		snprintf(out, outsz, "%s:%u", host, a->port);
	else
		snprintf(out, outsz, "%s", host);
}

int audience_list_parse(const char *const *strs, size_t n, struct audience_list *l,
			char *err, size_t errsz)
{
	l->n = 0;
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (audience_parse(strs[i], &l->v[i], err, errsz)) {
			audience_list_free(l);
			return -EINVAL;
		}
		l->n++;
	}
	return 0;
}

void audience_list_free(struct audience_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- resolution cache ------------------------------------------------- */

#define CACHE_SLOTS 256
#define NEG_TTL 10
#define RETRY_AFTER 5

struct resolved {
	char host[AUDIENCE_HOST_MAX];
	time_t at;
	int n; /* addresses, or -1 when resolution failed */
	struct sockaddr_storage addrs[AUDIENCE_ADDRS_MAX];
};

static struct resolved cache[CACHE_SLOTS];
static audience_resolver_fn resolver;

static int resolve_gai(const char *host, struct sockaddr_storage *addrs, int max)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *p;
	int n = 0;

	if (getaddrinfo(host, NULL, &hints, &res))
		return -1;
	for (p = res; p && n < max; p = p->ai_next)
		if (p->ai_addrlen <= sizeof(*addrs)) {
			memset(&addrs[n], 0, sizeof(addrs[n]));
			memcpy(&addrs[n++], p->ai_addr, p->ai_addrlen);
		}
	freeaddrinfo(res);
	return n;
}

void audience_cache_flush(void)
{
	memset(cache, 0, sizeof(cache));
}

void audience_set_resolver(audience_resolver_fn fn)
{
	resolver = fn;
	audience_cache_flush();
}

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1; /* never 0: 0 marks an empty slot */
}

static unsigned host_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Cached addresses of host; force re-resolves regardless of age. */
static struct resolved *resolve(const char *host, bool force)
{
	unsigned h = host_hash(host);
	struct resolved *r = NULL;
	time_t now = mono_now();

	/* Open addressing over 4 probes; the oldest of them is evicted. */
	for (unsigned i = 0; i < 4; i++) {
		struct resolved *c = &cache[(h + i) % CACHE_SLOTS];
		if (c->at && !strcmp(c->host, host)) {
			r = c;
			break;
		}
		if (!r || c->at < r->at)
			r = c;
	}
	if (r->at && !strcmp(r->host, host) && !force &&
	    now - r->at < (r->n < 0 ? NEG_TTL : AUDIENCE_CACHE_TTL))
		return r;
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->n = (resolver ? resolver : resolve_gai)(host, r->addrs, AUDIENCE_ADDRS_MAX);
	if (r->n > AUDIENCE_ADDRS_MAX)
		r->n = AUDIENCE_ADDRS_MAX;
	r->at = now;
	return r;
}

void audience_prefetch(const struct audience_list *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (l->v[i].kind == AUD_HOST)
			resolve(l->v[i].host, false);
}

/* ---- matching --------------------------------------------------------- */

struct dest {
	int family; /* AF_INET, AF_INET6, AF_UNIX */
	unsigned char addr[16];
	uint16_t port;
	char path[AUDIENCE_PATH_MAX];
};

static int dest_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct dest *d)
{
	memset(d, 0, sizeof(*d));
	if (!sa || len < sizeof(sa_family_t))
		return -EINVAL;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		d->family = AF_INET;
		memcpy(d->addr, &in->sin_addr, 4);
		d->port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		d->port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			d->family = AF_INET;
			memcpy(d->addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			d->family = AF_INET6;
			memcpy(d->addr, &in6->sin6_addr, 16);
		}
		return 0;
	}
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)sa;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (len <= offsetof(struct sockaddr_un, sun_path))
			return -EINVAL;
		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		if (n >= sizeof(d->path))
			n = sizeof(d->path) - 1;
		d->family = AF_UNIX;
		/* An abstract socket (leading NUL) is shown with '@'. */
		memcpy(d->path, un->sun_path, n);
		d->path[n] = 0;
		if (n && un->sun_path[0] == 0)
			d->path[0] = '@';
		return 0;
	}
	return -EAFNOSUPPORT;
}

static bool dest_is_loopback(const struct dest *d)
{
	static const unsigned char v6lo[16] = { [15] = 1 };

	return (d->family == AF_INET && d->addr[0] == 127) ||
	       (d->family == AF_INET6 && !memcmp(d->addr, v6lo, 16));
}

static bool prefix_contains(int family, const unsigned char *net, unsigned prefix,
			    const struct dest *d)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (family != d->family)
		return false;
	if (memcmp(net, d->addr, full))
		return false;
	if (rest && ((net[full] ^ d->addr[full]) & (0xff << (8 - rest)) & 0xff))
		return false;
	return true;
}

static bool addr_in_resolved(const struct resolved *r, const struct dest *d)
{
	for (int i = 0; i < r->n; i++) {
		struct dest a;
		if (dest_from_sockaddr((const struct sockaddr *)&r->addrs[i], sizeof(r->addrs[i]), &a))
			continue;
		if (a.family == d->family && !memcmp(a.addr, d->addr, a.family == AF_INET ? 4 : 16))
			return true;
	}
	return false;
}

static bool is_localhost_name(const char *h)
{
	size_t n = strlen(h);

	return !strcmp(h, "localhost") || (n > 10 && !strcmp(h + n - 10, ".localhost"));
}

/* Lower-case the name, drop a ":port" suffix, brackets and a trailing dot. */
static void norm_name(const char *in, char *out, size_t outsz)
{
	size_t n = 0;
	const char *p = in;

	if (*p == '[') {
		p++;
		while (*p && *p != ']' && n + 1 < outsz)
			out[n++] = tolower((unsigned char)*p++);
	} else {
		while (*p && *p != ':' && n + 1 < outsz)
			out[n++] = tolower((unsigned char)*p++);
	}
	if (n && out[n - 1] == '.')
		n--;
	out[n] = 0;
}

enum audience_result audience_match(const struct audience_list *l, const struct sockaddr *sa,
				    socklen_t salen, const char *sni, const char *http_host)
{
	char name[AUDIENCE_HOST_MAX] = "";
	bool loop, name_miss = false;
	struct dest d;

	if (dest_from_sockaddr(sa, salen, &d))
		return AUD_MISS_UNKNOWN;
	if (d.family == AF_UNIX) {
		for (size_t i = 0; l && i < l->n; i++)
			if (l->v[i].kind == AUD_UNIX && !strcmp(l->v[i].path, d.path))
				return AUD_MATCH;
		return AUD_MISS_UNIX;
	}
	if (sni && *sni)
		norm_name(sni, name, sizeof(name));
	else if (http_host && *http_host)
		norm_name(http_host, name, sizeof(name));
	loop = dest_is_loopback(&d);

	for (size_t i = 0; l && i < l->n; i++) {
		const struct audience *a = &l->v[i];
		struct resolved *r;

		if (a->kind == AUD_UNIX || (a->port && a->port != d.port))
			continue;
		/* The wire tells TLS from plaintext: an https audience is not
		 * met by a plaintext request, nor http by a TLS handshake. */
		if ((a->tls == 1 && !(sni && *sni) && http_host && *http_host) ||
		    (a->tls == 0 && sni && *sni))
			continue;
		if (a->kind == AUD_IP) {
			if (prefix_contains(a->family, a->addr, a->prefix, &d))
				return AUD_MATCH;
			continue;
		}
		if (name[0] && strcmp(name, a->host)) {
			name_miss = true;
			continue;
		}
		if (loop && !is_localhost_name(a->host))
			continue;
		r = resolve(a->host, false);
		if (addr_in_resolved(r, &d))
			return AUD_MATCH;
		if (mono_now() - r->at >= RETRY_AFTER) {
			r = resolve(a->host, true);
			if (addr_in_resolved(r, &d))
				return AUD_MATCH;
		}
	}
	if (loop)
		return AUD_MISS_LOOPBACK;
	return name_miss ? AUD_MISS_NAME : AUD_MISS_ADDR;
}

const char *audience_result_str(enum audience_result r)
{
	switch (r) {
	case AUD_MATCH: return "in_audience";
	case AUD_MISS_ADDR: return "address_not_in_audience";
	case AUD_MISS_NAME: return "name_not_in_audience";
	case AUD_MISS_LOOPBACK: return "loopback_not_in_audience";
	case AUD_MISS_UNIX: return "unix_socket_not_in_audience";
	case AUD_MISS_UNKNOWN: return "destination_unknown";
	}
	return "?";
}

/* ---- names from the wire ---------------------------------------------- */

/* Copy a DNS name: printable host characters only, lower-cased. */
static int copy_name(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	if (n == 0)
		return -ENOENT;
	if (n >= outsz || n >= AUDIENCE_HOST_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']'))
			return -EINVAL;
		out[i] = tolower(c);
	}
	out[n] = 0;
	return 0;
}

#define NEED(k) do { if ((size_t)(k) > (size_t)(end - p)) return -EAGAIN; } while (0)

int audience_tls_sni(const void *buf, size_t n, char *out, size_t outsz)
{
	const unsigned char *p = buf, *end, *ext_end;
	size_t reclen, hslen, l;

	if (n < 1)
		return -EAGAIN;
	if (p[0] != 0x16) /* handshake record */
		return -EINVAL;
	if (n < 5)
		return -EAGAIN;
	if (p[1] != 3)
		return -EINVAL;
	reclen = (size_t)p[3] << 8 | p[4];
	end = p + 5 + reclen;
	if (end > p + n)
		end = p + n; /* parse what we have; running out is -EAGAIN */
	p += 5;
	NEED(4);
	if (p[0] != 1) /* ClientHello */
		return -EINVAL;
	hslen = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	p += 4;
	if (hslen < (size_t)(end - p))
		end = p + hslen;
	NEED(2 + 32);                   /* client_version, random */
	p += 34;
	NEED(1); l = p[0]; p += 1;      /* session id */
	NEED(l); p += l;
	NEED(2); l = (size_t)p[0] << 8 | p[1]; p += 2; /* cipher suites */
	NEED(l); p += l;
	NEED(1); l = p[0]; p += 1;      /* compression methods */
	NEED(l); p += l;
	if (p == end)
		return -ENOENT;         /* no extensions at all */
	NEED(2); l = (size_t)p[0] << 8 | p[1]; p += 2;
	ext_end = p + l;
	if (ext_end < end)
		end = ext_end;
	while (p < end) {
		unsigned type;
		NEED(4);
		type = (unsigned)p[0] << 8 | p[1];
		l = (size_t)p[2] << 8 | p[3];
		p += 4;
		NEED(l);
		if (type == 0) { /* server_name */
			const unsigned char *q = p, *qe = p + l;
			size_t list;
			if (qe - q < 2)
				return -EINVAL;
			list = (size_t)q[0] << 8 | q[1];
			q += 2;
			if (list < (size_t)(qe - q))
				qe = q + list;
			while (qe - q >= 3) {
				unsigned nt = q[0];
				size_t nl = (size_t)q[1] << 8 | q[2];
				q += 3;
				if (nl > (size_t)(qe - q))
					return -EINVAL;
				if (nt == 0)
					return copy_name(q, nl, out, outsz);
				q += nl;
			}
			return -ENOENT;
		}
		p += l;
	}
	/* Every extension read and none named the server; or the bytes ran
	 * out before the extensions did. */
	return p < ext_end ? -EAGAIN : -ENOENT;
}

int audience_http_host(const void *buf, size_t n, char *out, size_t outsz)
{
	static const char *const methods[] = {
		"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
	};
	const char *s = buf, *end = s + n, *line, *eol;
	bool method = false;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t ml = strlen(methods[i]);
		if (n >= ml ? !memcmp(s, methods[i], ml) : !memcmp(s, methods[i], n)) {
			method = n >= ml;
			if (!method)
				return -EAGAIN;
			break;
		}
	}
	if (!method)
		return -EINVAL;
	eol = memchr(s, '\n', n);
	if (!eol)
		return -EAGAIN;
	/* The request line must end in HTTP/1.x. */
	{
		const char *v = eol - (eol > s && eol[-1] == '\r' ? 1 : 0);
		if (v - s < 9 || memcmp(v - 8, "HTTP/1.", 7))
			return -EINVAL;
	}
	for (line = eol + 1; line < end; line = eol + 1) {
		const char *v, *ve;
		eol = memchr(line, '\n', end - line);
		if (!eol)
			return -EAGAIN;
		if (eol == line || (eol == line + 1 && line[0] == '\r'))
			return -ENOENT; /* end of headers */
		if (eol - line < 5 || strncasecmp(line, "host:", 5))
			continue;
		v = line + 5;
		ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		return copy_name((const unsigned char *)v, ve - v, out, outsz);
	}
	return -EAGAIN;
}
