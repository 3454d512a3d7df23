/*
 * Test-time token minting for unit tests: nothing token-shaped is
 * committed. The checksum is computed here with zlib and an encoder of
 * the test's own, so tests cross-check user/detect/checksum.c rather than trust it.
 * Every token minted is recorded in the suite's token registry when
 * TW_TOKENS names it (tools/run-tests.sh), for the redaction audit
 * (tools/redaction-audit.py).
 */
#ifndef TW_TEST_TOKMINT_H
#define TW_TEST_TOKMINT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zlib.h>

static const char tm_b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char tm_b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * The random bytes behind every minted token come from one seeded stream
 * (splitmix64), so a failure can be replayed: the seed is printed on
 * stderr the first time it is used (it goes to the test's log; it is
 * not a token), and TW_SEED=N runs the same bytes again. Without
 * TW_SEED the seed is drawn from getrandom. Not for secrets: test data.
 */
static inline uint64_t tm_next(void)
{
	static uint64_t state;
	static int seeded;
	uint64_t z;

	if (!seeded) {
		const char *e = getenv("TW_SEED");
		if (e && *e)
			state = strtoull(e, NULL, 0);
		else
			while (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state))
				;
		fprintf(stderr, "tokmint: TW_SEED=%llu replays this test's tokens\n", (unsigned long long)state);
		seeded = 1;
	}
	z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void tm_rand(void *p, size_t n)
{
	unsigned char *o = p;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = tm_next();
		memcpy(o + i, &v, n - i < 8 ? n - i : 8);
	}
}

static inline void tm_chars(char *out, const char *alpha, size_t na, size_t n)
{
	unsigned char r[512];
	tm_rand(r, n);
	for (size_t i = 0; i < n; i++)
		out[i] = alpha[r[i] % na];
	out[n] = 0;
}

/* Append "TEST<TAB>HEX\n" to the registry in one write, never through a
 * symlink; a no-op outside tools/run-tests.sh. HEX is the token's bytes
 * reversed, in hex, as tests/live/lib.sh tw_token_record writes it. The
 * line is as long as the token needs: a fixed buffer once left every
 * token over a thousand bytes (large JWTs) out of the audit, silently. */
static inline void tm_record(const char *tok)
{
	const char *path = getenv("TW_TOKENS"), *test = getenv("TW_TEST");
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(tok), cap;
	char *line;
	int fd, n;

	if (!path || !*path)
		return;
	if (!test)
		test = "?";
	cap = strlen(test) + 2 * len + 3;
	if (!(line = malloc(cap)))
		abort();        /* a test that cannot record its token must not pass */
	n = snprintf(line, cap, "%s\t", test);
	for (size_t i = len; i-- > 0;) {
		line[n++] = hex[(unsigned char)tok[i] >> 4];
		line[n++] = hex[(unsigned char)tok[i] & 15];
	}
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "tokmint: cannot record a token in %s\n", path);
		abort();
	}
	close(fd);
	free(line);
}

/* 6 base62 digits of crc32(body), most significant first. */
static inline void tm_crc6(const char *body, size_t n, char out[7])
{
	uint32_t v = (uint32_t)crc32(0, (const Bytef *)body, (uInt)n);
	for (int i = 5; i >= 0; i--) {
		out[i] = tm_b62[v % 62];
		v /= 62;
	}
	out[6] = 0;
}

/* prefix + 30 random base62 + CRC: GitHub classic / npm (41 bytes max). */
static inline void tm_github(char *out, const char *prefix)
{
	size_t p = strlen(prefix);
	memcpy(out, prefix, p);
	tm_chars(out + p, tm_b62, 62, 30);
	tm_crc6(out + p, 30, out + p + 30);
	tm_record(out);
}

/* twd_ + 43 base62 digits of 32 random bytes + CRC (54 bytes with NUL). */
static inline void tm_twd(char *out)
{
	unsigned char num[32];
	tm_rand(num, 32);
	memcpy(out, "twd_", 4);
	for (int d = 42; d >= 0; d--) {
		unsigned rem = 0;
		for (int i = 0; i < 32; i++) {
			unsigned cur = (rem << 8) | num[i];
			num[i] = (unsigned char)(cur / 62);
			rem = cur % 62;
		}
		out[4 + d] = tm_b62[rem];
	}
	tm_crc6(out + 4, 43, out + 47);
	tm_record(out);
}

static inline size_t tm_b64url(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, i;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
		out[o++] = tm_b64u[v >> 18];
		out[o++] = tm_b64u[(v >> 12) & 63];
		out[o++] = tm_b64u[(v >> 6) & 63];
		out[o++] = tm_b64u[v & 63];
	}
	if (n - i >= 1) {
		unsigned v = p[i] << 16 | (n - i == 2 ? p[i + 1] << 8 : 0);
		out[o++] = tm_b64u[v >> 18];
		out[o++] = tm_b64u[(v >> 12) & 63];
		if (n - i == 2)
			out[o++] = tm_b64u[(v >> 6) & 63];
	}
	out[o] = 0;
	return o;
}

/* A JWT with a random jti and signature; header names alg unless !alg. */
static inline void tm_jwt(char *out, const char *typ, int alg)
{
	char hdr[128], pay[160];
	unsigned char r[48];
	size_t o;
	tm_rand(r, sizeof(r));
	snprintf(hdr, sizeof(hdr), alg ? "{\"alg\":\"ES256\",\"typ\":\"%s\"}" : "{\"typ\":\"%s\"}", typ);
	snprintf(pay, sizeof(pay), "{\"sub\":\"agent\",\"jti\":\"%02x%02x%02x%02x%02x%02x\",\"exp\":1900000000}",
		 r[0], r[1], r[2], r[3], r[4], r[5]);
	o = tm_b64url(hdr, strlen(hdr), out);
	out[o++] = '.';
	o += tm_b64url(pay, strlen(pay), out + o);
	out[o++] = '.';
	tm_b64url(r + 16, 32, out + o);
	tm_record(out);
}

#endif
