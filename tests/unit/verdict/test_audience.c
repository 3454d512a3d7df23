/* Tests for user/verdict/audience.c: every audience form, matching, SNI and Host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <cmocka.h>
#include "verdict/audience.h"

/* ---- fake DNS ---- */
static int resolves;

static void put4(struct sockaddr_storage *ss, const char *ip)
{
	struct sockaddr_in *in = (void *)ss;
	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &in->sin_addr);
}

static void put6(struct sockaddr_storage *ss, const char *ip)
{
	struct sockaddr_in6 *in6 = (void *)ss;
	memset(ss, 0, sizeof(*ss));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &in6->sin6_addr);
}

static int fake_resolver(const char *host, struct sockaddr_storage *a, int max)
{
	(void)max;
	resolves++;
	if (!strcmp(host, "api.example.test")) {
		put4(&a[0], "203.0.113.7");
		put6(&a[1], "2001:db8::7");
		return 2;
	}
	if (!strcmp(host, "other.example.test")) {
		put4(&a[0], "203.0.113.99");
		return 1;
	}
	if (!strcmp(host, "sneaky.example.test")) { /* a public name pointing at loopback */
		put4(&a[0], "127.0.0.1");
		return 1;
	}
	if (!strcmp(host, "localhost")) {
		put4(&a[0], "127.0.0.1");
		put6(&a[1], "::1");
		return 2;
	}
	return -1;
}

static int setup(void **state)
{
	(void)state;
	audience_set_resolver(fake_resolver);
	resolves = 0;
	return 0;
}

static struct sockaddr_storage d4(const char *ip, int port)
{
	struct sockaddr_storage ss;
	put4(&ss, ip);
	((struct sockaddr_in *)&ss)->sin_port = htons(port);
	return ss;
}

static struct sockaddr_storage d6(const char *ip, int port)
{
	struct sockaddr_storage ss;
	put6(&ss, ip);
	((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	return ss;
}

static enum audience_result match1(const char *aud, struct sockaddr_storage d, const char *sni, const char *host)
{
	struct audience_list l;
	char err[160];
	const char *v[] = { aud };
	enum audience_result r;
	assert_int_equal(audience_list_parse(v, 1, &l, err, sizeof(err)), 0);
	r = audience_match(&l, (struct sockaddr *)&d, sizeof(d), sni, host);
	audience_list_free(&l);
	return r;
}

static void canon(const char *in, const char *want)
{
	struct audience a;
	char err[160], out[AUDIENCE_STR_MAX];
	int r = audience_parse(in, &a, err, sizeof(err));
	if (r)
		fail_msg("'%s' did not parse: %s", in, err);
	audience_format(&a, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_parse_forms(void **state)
{
	(void)state;
	canon("https://API.Example.test/v1/x?y#z", "https://api.example.test:443");
	canon("http://api.example.test", "http://api.example.test:80");
	canon("wss://api.example.test", "wss://api.example.test:443");
	canon("https://api.example.test:8443", "https://api.example.test:8443");
	canon("grpc://api.example.test:50051", "grpc://api.example.test:50051");
	canon("https://203.0.113.7", "https://203.0.113.7:443");
	canon("https://[2001:db8::7]:8443/", "https://[2001:db8::7]:8443");
	canon("api.example.test:8443", "api.example.test:8443");
	canon("api.example.test.:8443", "api.example.test:8443");
	canon("203.0.113.7", "203.0.113.7");
	canon("203.0.113.7:443", "203.0.113.7:443");
	canon("[2001:db8::7]:443", "[2001:db8::7]:443");
	canon("2001:db8::7", "2001:db8::7");
	canon("10.0.0.0/8", "10.0.0.0/8");
	canon("10.0.0.0/8:443", "10.0.0.0/8:443");
	canon("2001:db8::/32", "2001:db8::/32");
	canon("[2001:db8::/32]:443", "[2001:db8::/32]:443");
	canon("[2001:db8::/32]", "2001:db8::/32");
	canon("unix:/run/agent.sock", "unix:/run/agent.sock");
	canon("unix:///run/agent.sock", "unix:/run/agent.sock");
	canon("unix:////aes@", "unix:////aes@"); /* the path //aes@ (fuzz_audience) */
	canon("unix://///x", "unix://///x");
	canon("localhost:8080", "localhost:8080");
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "api.example.test", "https://", "https:///x", "http://h:0", "h:65536", "h:-1", "h:",
		"h:8a", "10.0.0.0/33", "2001:db8::/129", "300.1.1.1", "1.2.3", "1.2.3.4/", "[::1", "[::1]x",
		"[::1]:0", "[1.2.3.4]:80", "ftp://h", "https://user:pw@h", "bad host:1", "h\t:1", "unix:",
		"unix:rel/x", "-bad.example:1", "bad-.example:1", "a..b:1", "://h", "1http://h",
		"https://h:99999", "x.example:1:2",
		/* host bits under a prefix: a typo for another network, or a
		 * host meant without "/n"; never silently widened */
		"10.1.2.3/8", "10.1.2.3/8:443", "192.168.4.1/22", "2001:db8::1/32",
		"[2001:db8::1/32]:443", "[::ffff:10.1.2.3/104]:443",
		/* "unix:" takes a socket path or, for the host "unix", a port */
		"unix:x", "unix:3x",
		/* "unix://" names no host: a socket path is "unix:/p" or
		 * "unix:///p"; any case of the scheme, so that the canonical
		 * "unix://h:443" can never be read back as a socket path
		 * (found by fuzz_audience) */
		"unix://0eft:443", "UNIX://0eft:443", "Unix://h.example", "unix://", "unix:///",
	};
	struct audience a;
	char err[160];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (audience_parse(bad[i], &a, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(err[0] != 0);
	}
	/* a 64-character label and an overlong name */
	char longlab[100];
	memset(longlab, 'a', 64);
	strcpy(longlab + 64, ".example:1");
	assert_int_equal(audience_parse(longlab, &a, err, sizeof(err)), -EINVAL);
	char *huge = malloc(5000);
	memset(huge, 'a', 4999);
	huge[4999] = 0;
	assert_int_equal(audience_parse(huge, &a, err, sizeof(err)), -EINVAL);
	free(huge);
}

/* IPv4-mapped IPv6 audiences are IPv4 audiences: the destination side
 * already reads a v4-mapped peer as IPv4, so a mapped audience kept as
 * IPv6 could never match anything. */
static void test_v4_mapped(void **state)
{
	(void)state;
	canon("[::ffff:203.0.113.7]:443", "203.0.113.7:443");
	canon("::ffff:203.0.113.7", "203.0.113.7");
	canon("::FFFF:cb00:7107", "203.0.113.7");
	canon("https://[::ffff:203.0.113.7]", "https://203.0.113.7:443");
	canon("[::ffff:203.0.113.0/120]:443", "203.0.113.0/24:443");
	canon("::ffff:0.0.0.0/96", "0.0.0.0/0");
	assert_int_equal(match1("[::ffff:203.0.113.7]:443", d4("203.0.113.7", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("[::ffff:203.0.113.7]:443", d6("::ffff:203.0.113.7", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("[::ffff:203.0.113.0/120]:443", d4("203.0.113.200", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("[::ffff:203.0.113.7]:443", d4("203.0.113.8", 443), NULL, NULL), AUD_MISS_ADDR);
	/* a wider IPv6 range stays IPv6 */
	canon("::/0", "::/0");
}

/* Whatever audience_parse accepts, its canonical text parses back to
 * the same audience: the ledger stores the canonical text. */
static void test_round_trip(void **state)
{
	static const char *const good[] = {
		"unix.:3", "UNIX:3", "unix:3", "unix.example:3", "https://unix", "unix:/run/x.sock",
		"https://api.example.test/v1", "grpc://h.example:1", "203.0.113.7", "[2001:db8::7]:1",
		"2001:db8::/32", "[2001:db8::/32]:443", "10.0.0.0/8:443",
		"::", "::/0", "[::]:1", "0.0.0.0/0", "https://0.0.0.0/0", "localhost:1", "a-b.c-d.e:65535",
		"[::ffff:1.2.3.4]:443", "ws://h.example", "x+y://h.example:9",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct audience a, b;
		char err[160], s1[AUDIENCE_STR_MAX], s2[AUDIENCE_STR_MAX];
		if (audience_parse(good[i], &a, err, sizeof(err)))
			fail_msg("'%s' did not parse: %s", good[i], err);
		audience_format(&a, s1, sizeof(s1));
		if (audience_parse(s1, &b, err, sizeof(err)))
			fail_msg("'%s' -> '%s', which does not parse: %s", good[i], s1, err);
		audience_format(&b, s2, sizeof(s2));
		if (strcmp(s1, s2) || a.kind != b.kind || a.port != b.port)
			fail_msg("'%s' -> '%s' -> '%s'", good[i], s1, s2);
	}
	canon("unix.:3", "unix:3");
}

static void test_host_bits_message(void **state)
{
	struct audience a;
	char err[160];
	(void)state;
	assert_int_equal(audience_parse("10.1.2.3/8", &a, err, sizeof(err)), -EINVAL);
	if (!strstr(err, "host bits") || !strstr(err, "10.0.0.0/8"))
		fail_msg("unhelpful message: %s", err);
}

static void test_match_ip_and_cidr(void **state)
{
	(void)state;
	assert_int_equal(match1("203.0.113.7", d4("203.0.113.7", 9999), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("203.0.113.7:443", d4("203.0.113.7", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("203.0.113.7:443", d4("203.0.113.7", 80), NULL, NULL), AUD_MISS_ADDR);
	assert_int_equal(match1("203.0.113.7:443", d4("203.0.113.8", 443), NULL, NULL), AUD_MISS_ADDR);
	assert_int_equal(match1("10.0.0.0/8:443", d4("10.200.3.4", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("10.0.0.0/8:443", d4("11.0.0.1", 443), NULL, NULL), AUD_MISS_ADDR);
	assert_int_equal(match1("192.168.4.0/22", d4("192.168.7.255", 1), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("192.168.4.0/22", d4("192.168.8.0", 1), NULL, NULL), AUD_MISS_ADDR);
	assert_int_equal(match1("0.0.0.0/0:443", d4("198.51.100.1", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("[2001:db8::7]:443", d6("2001:db8::7", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("2001:db8::/32", d6("2001:db8:ffff::1", 5), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("2001:db8::/32", d6("2001:db9::1", 5), NULL, NULL), AUD_MISS_ADDR);
	/* IPv4 audience, IPv4-mapped IPv6 destination (dual-stack socket) */
	assert_int_equal(match1("203.0.113.7:443", d6("::ffff:203.0.113.7", 443), NULL, NULL), AUD_MATCH);
	/* families never mix otherwise */
	assert_int_equal(match1("0.0.0.0/0", d6("2001:db8::1", 1), NULL, NULL), AUD_MISS_ADDR);
}

static void test_match_hostnames(void **state)
{
	(void)state;
	/* by resolved address, with and without a name on the wire */
	assert_int_equal(match1("https://api.example.test", d4("203.0.113.7", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("https://api.example.test", d6("2001:db8::7", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("https://api.example.test", d4("203.0.113.7", 443), "api.example.test", NULL), AUD_MATCH);
	assert_int_equal(match1("https://api.example.test", d4("203.0.113.7", 443), "API.Example.Test.", NULL), AUD_MATCH);
	/* wrong port, wrong address */
	assert_int_equal(match1("https://api.example.test", d4("203.0.113.7", 80), NULL, NULL), AUD_MISS_ADDR);
	assert_int_equal(match1("https://api.example.test", d4("203.0.113.99", 443), NULL, NULL), AUD_MISS_ADDR);
	/* the right address, but the SNI names another host (shared front end) */
	assert_int_equal(match1("https://api.example.test", d4("203.0.113.7", 443), "other.example.test", NULL), AUD_MISS_NAME);
	/* the right name, but an address the name does not resolve to (fronting) */
	assert_int_equal(match1("https://api.example.test", d4("198.51.100.66", 443), "api.example.test", NULL), AUD_MISS_ADDR);
	/* plaintext Host header; its port suffix is ignored */
	assert_int_equal(match1("http://api.example.test:8080", d4("203.0.113.7", 8080), NULL, "api.example.test:8080"), AUD_MATCH);
	assert_int_equal(match1("http://api.example.test:8080", d4("203.0.113.7", 8080), NULL, "other.example.test"), AUD_MISS_NAME);
	/* https audience met by a plaintext request, http by a TLS handshake: no */
	assert_int_equal(match1("https://api.example.test", d4("203.0.113.7", 443), NULL, "api.example.test"), AUD_MISS_ADDR);
	assert_int_equal(match1("http://api.example.test", d4("203.0.113.7", 80), "api.example.test", NULL), AUD_MISS_ADDR);
	/* host:port form */
	assert_int_equal(match1("api.example.test:8443", d4("203.0.113.7", 8443), "api.example.test", NULL), AUD_MATCH);
	/* an unresolvable name matches nothing */
	assert_int_equal(match1("nx.example.test:443", d4("203.0.113.7", 443), NULL, NULL), AUD_MISS_ADDR);
}

static void test_resolution_cached(void **state)
{
	(void)state;
	audience_cache_flush();
	resolves = 0;
	for (int i = 0; i < 100; i++)
		assert_int_equal(match1("https://api.example.test", d4("203.0.113.7", 443), NULL, NULL), AUD_MATCH);
	assert_int_equal(resolves, 1);
	/* a miss against a fresh entry does not hammer DNS either */
	for (int i = 0; i < 100; i++)
		assert_int_equal(match1("https://api.example.test", d4("203.0.113.8", 443), NULL, NULL), AUD_MISS_ADDR);
	assert_int_equal(resolves, 1);
}

static void test_loopback_and_unix(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct audience_list l;
	char err[160];
	const char *v[] = { "unix:/run/agent.sock", "https://api.example.test" };
	(void)state;
	/* loopback is outside unless named */
	assert_int_equal(match1("https://api.example.test", d4("127.0.0.1", 443), NULL, NULL), AUD_MISS_LOOPBACK);
	assert_int_equal(match1("sneaky.example.test:443", d4("127.0.0.1", 443), NULL, NULL), AUD_MISS_LOOPBACK);
	assert_int_equal(match1("0.0.0.0/0:443", d4("127.0.0.1", 443), NULL, NULL), AUD_MATCH); /* names it */
	assert_int_equal(match1("127.0.0.1:8080", d4("127.0.0.1", 8080), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("127.0.0.1:8080", d4("127.0.0.1", 8081), NULL, NULL), AUD_MISS_LOOPBACK);
	assert_int_equal(match1("[::1]:8080", d6("::1", 8080), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("http://localhost:8080", d4("127.0.0.1", 8080), NULL, "localhost:8080"), AUD_MATCH);
	assert_int_equal(match1("http://localhost:8080", d6("::1", 8080), NULL, NULL), AUD_MATCH);
	assert_int_equal(match1("127.0.0.0/8", d4("127.3.4.5", 1), NULL, NULL), AUD_MATCH);

	assert_int_equal(audience_list_parse(v, 2, &l, err, sizeof(err)), 0);
	strcpy(un.sun_path, "/run/agent.sock");
	assert_int_equal(audience_match(&l, (struct sockaddr *)&un, sizeof(un), NULL, NULL), AUD_MATCH);
	strcpy(un.sun_path, "/run/other.sock");
	assert_int_equal(audience_match(&l, (struct sockaddr *)&un, sizeof(un), NULL, NULL), AUD_MISS_UNIX);
	/* abstract socket, never named by a path */
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path + 1, "run/agent.sock", 14);
	assert_int_equal(audience_match(&l, (struct sockaddr *)&un,
					offsetof(struct sockaddr_un, sun_path) + 15, NULL, NULL), AUD_MISS_UNIX);
	/* no usable destination */
	assert_int_equal(audience_match(&l, NULL, 0, "api.example.test", NULL), AUD_MISS_UNKNOWN);
	struct sockaddr bogus = { .sa_family = AF_PACKET };
	assert_int_equal(audience_match(&l, &bogus, sizeof(bogus), NULL, NULL), AUD_MISS_UNKNOWN);
	struct sockaddr_storage s4 = d4("203.0.113.7", 443);
	assert_int_equal(audience_match(&l, (struct sockaddr *)&s4, 4, NULL, NULL), AUD_MISS_UNKNOWN); /* short */
	audience_list_free(&l);
	/* an empty list matches nothing */
	struct audience_list empty = { 0 };
	assert_int_equal(audience_match(&empty, (struct sockaddr *)&s4, sizeof(s4), NULL, NULL), AUD_MISS_ADDR);
}

/* ---- SNI ---- */

static size_t put16(unsigned char *p, unsigned v) { p[0] = v >> 8; p[1] = v; return 2; }

/* A ClientHello like curl/OpenSSL send, with the given server name. */
static size_t client_hello(unsigned char *buf, const char *name, int with_sni)
{
	unsigned char body[1024], ext[600];
	size_t b = 0, e = 0, nl = strlen(name);

	/* extensions: supported_groups first, then server_name */
	e += put16(ext + e, 10);
	e += put16(ext + e, 4);
	e += put16(ext + e, 2);
	e += put16(ext + e, 29);
	if (with_sni) {
		e += put16(ext + e, 0);
		e += put16(ext + e, nl + 5);
		e += put16(ext + e, nl + 3);
		ext[e++] = 0;
		e += put16(ext + e, nl);
		memcpy(ext + e, name, nl);
		e += nl;
	}
	body[b++] = 3; body[b++] = 3;              /* client_version */
	memset(body + b, 0xab, 32); b += 32;        /* random */
	body[b++] = 32; memset(body + b, 0xcd, 32); b += 32; /* session id */
	b += put16(body + b, 4);                    /* cipher suites */
	b += put16(body + b, 0x1301); b += put16(body + b, 0x1302);
	body[b++] = 1; body[b++] = 0;               /* compression */
	b += put16(body + b, e);
	memcpy(body + b, ext, e); b += e;

	buf[0] = 0x16; buf[1] = 3; buf[2] = 1;
	put16(buf + 3, b + 4);
	buf[5] = 1; buf[6] = b >> 16; buf[7] = b >> 8; buf[8] = b;
	memcpy(buf + 9, body, b);
	return 9 + b;
}

static void test_sni(void **state)
{
	unsigned char buf[2048];
	char out[AUDIENCE_HOST_MAX];
	size_t n;
	(void)state;
	n = client_hello(buf, "API.Example.test", 1);
	assert_int_equal(audience_tls_sni(buf, n, out, sizeof(out)), 0);
	assert_string_equal(out, "api.example.test");
	/* cut at every length: never a crash, never a wrong name */
	for (size_t k = 0; k < n; k++) {
		int r = audience_tls_sni(buf, k, out, sizeof(out));
		assert_true(r == -EAGAIN || r == -EINVAL || r == -ENOENT);
	}
	n = client_hello(buf, "api.example.test", 0);
	assert_int_equal(audience_tls_sni(buf, n, out, sizeof(out)), -ENOENT);
	/* not TLS, not a ClientHello, a name with bad bytes, a name too long for out */
	assert_int_equal(audience_tls_sni("GET / HTTP/1.1\r\n", 16, out, sizeof(out)), -EINVAL);
	n = client_hello(buf, "api.example.test", 1);
	buf[5] = 2;
	assert_int_equal(audience_tls_sni(buf, n, out, sizeof(out)), -EINVAL);
	n = client_hello(buf, "bad name\n.test", 1);
	assert_int_equal(audience_tls_sni(buf, n, out, sizeof(out)), -EINVAL);
	n = client_hello(buf, "api.example.test", 1);
	assert_int_equal(audience_tls_sni(buf, n, out, 8), -EINVAL);
	/* lengths that claim more than is there */
	n = client_hello(buf, "api.example.test", 1);
	buf[n - 17] = 0xff; /* the name length's high byte */
	assert_true(audience_tls_sni(buf, n, out, sizeof(out)) < 0);
}

static void test_sni_fuzz(void **state)
{
	unsigned char buf[600], orig[600];
	char out[AUDIENCE_HOST_MAX];
	size_t n;
	unsigned seed = 12345;
	(void)state;
	n = client_hello(orig, "api.example.test", 1);
	for (int it = 0; it < 200000; it++) {
		memcpy(buf, orig, n);
		int flips = 1 + (rand_r(&seed) % 4);
		for (int f = 0; f < flips; f++)
			buf[rand_r(&seed) % n] = rand_r(&seed);
		size_t len = rand_r(&seed) % (n + 1);
		int r = audience_tls_sni(buf, len, out, sizeof(out));
		if (r == 0)
			assert_true(strlen(out) < AUDIENCE_HOST_MAX);
	}
	for (int it = 0; it < 50000; it++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = rand_r(&seed);
		buf[0] = 0x16;
		buf[1] = 3;
		buf[5] = 1;
		audience_tls_sni(buf, rand_r(&seed) % sizeof(buf), out, sizeof(out));
		audience_http_host(buf, rand_r(&seed) % sizeof(buf), out, sizeof(out));
	}
}

static void test_http_host(void **state)
{
	char out[AUDIENCE_HOST_MAX];
	const char *req = "POST /v1/x HTTP/1.1\r\nUser-Agent: t\r\nhOsT:  API.example.test:8080 \r\nAccept: */*\r\n\r\n";
	(void)state;
	assert_int_equal(audience_http_host(req, strlen(req), out, sizeof(out)), 0);
	assert_string_equal(out, "api.example.test:8080");
	for (size_t k = 0; k < strlen(req); k++) {
		int r = audience_http_host(req, k, out, sizeof(out));
		if (r == 0) /* only once the whole Host line is in */
			assert_string_equal(out, "api.example.test:8080");
		else
			assert_true(r == -EAGAIN);
	}
	const char *nohost = "GET / HTTP/1.0\r\nAccept: */*\r\n\r\nHost: late.example\r\n";
	assert_int_equal(audience_http_host(nohost, strlen(nohost), out, sizeof(out)), -ENOENT);
	const char *lf = "GET / HTTP/1.1\nHost: a.example\n\n";
	assert_int_equal(audience_http_host(lf, strlen(lf), out, sizeof(out)), 0);
	assert_string_equal(out, "a.example");
	const char *notreq = "SSH-2.0-OpenSSH_9.2\r\n";
	assert_int_equal(audience_http_host(notreq, strlen(notreq), out, sizeof(out)), -EINVAL);
	const char *h2 = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	assert_int_equal(audience_http_host(h2, strlen(h2), out, sizeof(out)), -EINVAL);
	const char *badver = "GET / FTP/1.1\r\nHost: a\r\n\r\n";
	assert_int_equal(audience_http_host(badver, strlen(badver), out, sizeof(out)), -EINVAL);
	const char *evil = "GET / HTTP/1.1\r\nHost: a.example\x01\r\n\r\n";
	assert_int_equal(audience_http_host(evil, strlen(evil), out, sizeof(out)), -EINVAL);
	const char *empty = "GET / HTTP/1.1\r\nHost: \r\n\r\n";
	assert_int_equal(audience_http_host(empty, strlen(empty), out, sizeof(out)), -ENOENT);
	assert_int_equal(audience_http_host("", 0, out, sizeof(out)), -EAGAIN);
	assert_int_equal(audience_http_host("GE", 2, out, sizeof(out)), -EAGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test_setup(test_v4_mapped, setup),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_host_bits_message),
		cmocka_unit_test_setup(test_match_ip_and_cidr, setup),
		cmocka_unit_test_setup(test_match_hostnames, setup),
		cmocka_unit_test_setup(test_resolution_cached, setup),
		cmocka_unit_test_setup(test_loopback_and_unix, setup),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_sni_fuzz),
		cmocka_unit_test(test_http_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
