/*
 * Audiences: where a delegation token may be sent. Forms accepted
 *
 *   https://api.example.com[:port][/path]   URL: scheme, host, port (path ignored);
 *                                            default ports http/ws 80, https/wss 443
 *   api.example.com:8443                     host:port (a port is required)
 *   203.0.113.7[:443]  [2001:db8::7][:443]   IP, any port unless one is given
 *   2001:db8::7                              bare IPv6, any port
 *   10.0.0.0/8[:443]  [2001:db8::/32][:443]  CIDR, any port unless one is given;
 *                                            host bits under the prefix are refused
 *                                            (10.1.2.3/8 is an error, not 10.0.0.0/8)
 *   unix:/run/agent.sock, unix:///run/a.sock a Unix socket path ("unix:443" is the
 *                                            host "unix" with a port)
 *
 * An IPv4-mapped IPv6 address or network (::ffff:203.0.113.7,
 * [::ffff:10.0.0.0/104]) is read as the IPv4 one (203.0.113.7,
 * 10.0.0.0/8), as a v4-mapped destination is. audience_format writes the
 * canonical text, and that text always parses back to the same audience.
 *
 * Matching a destination: IP/CIDR entries compare the address; hostname
 * entries resolve the name (cached) and require the destination address
 * to be one of its addresses, and when the connection told us a name (TLS
 * SNI or the HTTP Host header) that name must be the entry's host.
 * Loopback and Unix-socket destinations match only entries that name them
 * (a loopback IP/CIDR, the host "localhost", or unix:PATH); a public name
 * that happens to resolve to 127.0.0.1 does not make loopback an audience.
 */
#ifndef TW_AUDIENCE_H
#define TW_AUDIENCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define AUDIENCE_HOST_MAX 254
#define AUDIENCE_PATH_MAX 108
#define AUDIENCE_STR_MAX  (AUDIENCE_HOST_MAX + 32)

enum audience_kind { AUD_HOST = 1, AUD_IP, AUD_UNIX };

struct audience {
	enum audience_kind kind;
	char scheme[16];               /* "" unless given as a URL */
	int tls;                       /* 1 https/wss, 0 http/ws, -1 unknown */
	uint16_t port;                 /* 0: any port */
	char host[AUDIENCE_HOST_MAX];  /* AUD_HOST: lower case, no trailing dot */
	int family;                    /* AUD_IP: AF_INET or AF_INET6 */
	unsigned char addr[16];        /* AUD_IP: network address, masked */
	unsigned prefix;               /* AUD_IP: 32/128 for a single address */
	char path[AUDIENCE_PATH_MAX];  /* AUD_UNIX */
};

struct audience_list {
	size_t n;
	struct audience *v;
};

/* Parse one audience. Returns 0, or -EINVAL with err naming the problem. */
int audience_parse(const char *s, struct audience *out, char *err, size_t errsz);

/* Canonical text of an audience, e.g. "https://api.example.com:443". */
void audience_format(const struct audience *a, char *out, size_t outsz);

/* Parse n strings into l (l->v allocated). 0 or -EINVAL/-ENOMEM. */
int audience_list_parse(const char *const *strs, size_t n, struct audience_list *l,
			char *err, size_t errsz);
void audience_list_free(struct audience_list *l);

enum audience_result {
	AUD_MATCH = 0,
	AUD_MISS_ADDR,      /* no entry for this address and port */
	AUD_MISS_NAME,      /* the SNI/Host names a host that is not the audience's */
	AUD_MISS_LOOPBACK,  /* loopback destination, not named by the audience */
	AUD_MISS_UNIX,      /* Unix socket not named by the audience */
	AUD_MISS_UNKNOWN,   /* no usable destination */
};

/*
 * Does the destination belong to the audience? dest may be AF_INET,
 * AF_INET6 (v4-mapped addresses count as IPv4) or AF_UNIX. sni is the TLS
 * server name when the connection is TLS, http_host the Host header when
 * it is plaintext HTTP (a ":port" suffix is ignored); either may be NULL.
 */
enum audience_result audience_match(const struct audience_list *l, const struct sockaddr *dest,
				    socklen_t destlen, const char *sni, const char *http_host);
const char *audience_result_str(enum audience_result r);

/*
 * Name resolution, cached for AUDIENCE_CACHE_TTL seconds (failures for
 * less). A miss against an entry older than a few seconds re-resolves
 * once, so a rotated DNS answer does not read as an exposure for a minute.
 * Not thread-safe: call from one thread (the monitor's loop).
 */
#define AUDIENCE_CACHE_TTL 60
#define AUDIENCE_ADDRS_MAX 16
typedef int (*audience_resolver_fn)(const char *host, struct sockaddr_storage *addrs, int max);
/* Replace getaddrinfo (tests); NULL restores it. Flushes the cache. */
void audience_set_resolver(audience_resolver_fn fn);
void audience_cache_flush(void);
/* Resolve every hostname entry now (warm the cache off the hot path). */
void audience_prefetch(const struct audience_list *l);

/*
 * Destination names from the first bytes of a connection. Both are total
 * over hostile input: they read only buf[0..n), and return 0 with a
 * NUL-terminated lower-case name in out, -ENOENT when the bytes are of the
 * right kind but carry no name, -EAGAIN when they are cut short, or
 * -EINVAL when they are not a TLS ClientHello / HTTP/1.x request.
 */
int audience_tls_sni(const void *buf, size_t n, char *out, size_t outsz);
int audience_http_host(const void *buf, size_t n, char *out, size_t outsz);

#endif
