/* Tests for user/detect/decode.c and views.c: each decoder, the finders'
 * triggers, tokens at the seam of an escape, the decoding chain and the raw
 * range of a finding, nesting depth, the bounds (each counted), and no
 * second report of a token already found. Tokens are minted at run time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "detect/coverage.h"
#include "detect/decode.h"
#include "detect/detect.h"
#include "detect/redact.h"
#include "detect/rules.h"
#include "detect/views.h"
#include "tokmint.h"

#define MAXF 64

struct found {
	struct detect_match m[MAXF];
	char secret[MAXF][128];
	char chain[MAXF][32];
	size_t n;
};

static int collect(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct found *f = ctx;
	(void)len;
	if (f->n < MAXF) {
		f->m[f->n] = *m;
		snprintf(f->secret[f->n], sizeof(f->secret[0]), "%.*s", (int)m->len, (const char *)buf + m->start);
		snprintf(f->chain[f->n], sizeof(f->chain[0]), "%s", m->decoded ? m->decoded : "");
		f->n++;
	}
	return 0;
}

static struct ruleset *rs;

static int setup(void **state)
{
	char err[256];
	(void)state;
	return rules_load_builtin(&rs, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	rules_free(rs);
	return 0;
}

static struct detector *newdet(void)
{
	char err[256];
	struct detector *d = detector_new(rs, err, sizeof(err));
	assert_non_null(d);
	return d;
}

static struct found *scan(struct detector *d, const char *text)
{
	static struct found f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(detector_scan(d, text, strlen(text), collect, &f), 0);
	return &f;
}

/* Standard base64 with padding. */
static void b64(const char *in, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)strlen(in));
}

static void pct_all(const char *in, char *out)
{
	for (; *in; in++, out += 3)
		sprintf(out, "%%%02X", (unsigned char)*in);
	*out = 0;
}

/* ---- decoders ---- */

static size_t dec(enum decode_kind k, const char *in, char *out, uint32_t *map)
{
	size_t n = decode_run(k, (const unsigned char *)in, strlen(in), (unsigned char *)out, map);
	out[n] = 0;
	return n;
}

static void test_decode_percent(void **state)
{
	char out[64];
	uint32_t map[65];
	(void)state;
	assert_int_equal(dec(DECODE_PERCENT, "a%3Db%2f%zz%4", out, map), 9);
	assert_string_equal(out, "a=b/%zz%4");
	assert_int_equal(map[1], 1); /* '=' from "%3D" */
	assert_int_equal(map[2], 4);
	assert_int_equal(map[9], 13);
	assert_int_equal(dec(DECODE_PERCENT, "%2541", out, map), 3);
	assert_string_equal(out, "%41"); /* one layer at a time */
}

static void test_decode_json(void **state)
{
	char out[64];
	uint32_t map[65];
	(void)state;
	dec(DECODE_JSON, "a\\nb\\t\\\"c\\/d\\\\e\\u003d\\x41", out, map);
	assert_string_equal(out, "a\nb\t\"c/d\\e=A");
	assert_int_equal(map[1], 1);
	assert_int_equal(map[2], 3);
	/* a surrogate pair is one code point, four UTF-8 bytes */
	assert_int_equal(dec(DECODE_JSON, "\\ud83d\\ude00!", out, map), 5);
	assert_memory_equal(out, "\xf0\x9f\x98\x80!", 5);
	assert_int_equal(map[3], 0);
	assert_int_equal(map[4], 12);
	/* not an escape: kept */
	dec(DECODE_JSON, "\\q\\u12", out, map);
	assert_string_equal(out, "\\q\\u12");
}

static void test_decode_base64(void **state)
{
	char out[64];
	uint32_t map[65];
	(void)state;
	assert_int_equal(dec(DECODE_BASE64, "dXNlcjpwYXNzd29yZA==", out, map), 13);
	assert_string_equal(out, "user:password");
	assert_int_equal(map[3], 4);  /* byte 3 starts quantum 1 */
	assert_int_equal(map[13], 20);
	dec(DECODE_BASE64, "dXNlcjpwYXNzd29yZA", out, map); /* unpadded */
	assert_string_equal(out, "user:password");
	dec(DECODE_BASE64, "P_8-", out, map);                /* URL-safe alphabet */
	assert_memory_equal(out, "\x3f\xff\x3e", 3);
	/* bytes that are not text: not a view */
	assert_int_equal(dec(DECODE_BASE64, "AAECAwQFBgcICQoLDA0ODw", out, map), 0);
	/* a run cut at any character: where its quanta begin, from what they decode to */
	{
		char txt[] = "The quick brown fox jumps over the lazy dog; NOTE=fine\nAPI_URL=https://x.test/\n";
		char enc[160];
		b64(txt, enc);
		for (size_t s = 0; s < 8; s++)
			assert_int_equal(decode_b64_quantum((const unsigned char *)enc + s, strlen(enc) - s), (4 - s % 4) % 4);
	}
}

static void test_decode_html(void **state)
{
	char out[64];
	uint32_t map[65];
	(void)state;
	dec(DECODE_HTML, "a&amp;b&#61;c&#x3D;d&quot;&lt;&gt;&apos;&nbsp;&bogus;&#xZZ;", out, map);
	assert_string_equal(out, "a&b=c=d\"<>' &bogus;&#xZZ;");
	assert_int_equal(map[2], 6);
	dec(DECODE_HTML, "&#233;", out, map);
	assert_string_equal(out, "\xc3\xa9");
	/* every named entity the decoder knows (entity_at's first-letter table) */
	dec(DECODE_HTML, "&equals;&sol;&colon;&plus;&percnt;&num;&lowbar;&hyphen;&period;&quest;&comma;&semi;", out, map);
	assert_string_equal(out, "=/:+%#_-.?,;");
}

/* ---- finders ---- */

static int find(enum decode_kind k, const char *s, size_t from, size_t *a, size_t *b)
{
	int cut;
	return decode_find(k, (const unsigned char *)s, strlen(s), from, a, b, &cut);
}

static void test_find_regions(void **state)
{
	size_t a, b;
	(void)state;
	/* percent: the URL around the escape, to white space or a quote */
	assert_true(find(DECODE_PERCENT, "GET /x?a%3Db HTTP", 0, &a, &b));
	assert_int_equal(a, 4);
	assert_int_equal(b, 12);
	assert_false(find(DECODE_PERCENT, "100% sure %zz", 0, &a, &b));
	/* json: the string around the escape */
	assert_true(find(DECODE_JSON, "{\"a\":\"x\\ny\",\"b\":1}", 0, &a, &b));
	assert_int_equal(a, 6);
	assert_int_equal(b, 10);
	assert_false(find(DECODE_JSON, "C:\\Users path\\", 0, &a, &b));
	/* html: an entity, not a query string's & */
	assert_false(find(DECODE_HTML, "/q?a=1&b=2&c=3", 0, &a, &b));
	assert_true(find(DECODE_HTML, "x=1&amp;y=2", 0, &a, &b));
	/* base64: mixed case, one alphabet, long enough; not hex, UUIDs, words, paths */
	assert_true(find(DECODE_BASE64, "Authorization: Basic dXNlcjpjb3JyZWN0aG9yc2ViYXR0ZXJ5\r\n", 0, &a, &b));
	assert_int_equal(a, 21);
	assert_int_equal(b, 53);
	assert_false(find(DECODE_BASE64, "sha=0123456789abcdef0123456789abcdef01234567", 0, &a, &b));
	assert_false(find(DECODE_BASE64, "id=550e8400-e29b-41d4-a716-446655440000", 0, &a, &b));
	assert_false(find(DECODE_BASE64, "the quick brown fox jumps over the lazy dog", 0, &a, &b));
	assert_false(find(DECODE_BASE64, "/usr/lib/x86_64-linux-gnu/libpcre2-8.so", 0, &a, &b));
	assert_false(find(DECODE_BASE64, "dXNlcjpwYXNzd29yZA==", 0, &a, &b)); /* shorter than DECODE_B64_MIN */
}

/* The finder as it was before runs were found sixteen bytes a step
 * (sampling a byte every DECODE_B64_MIN): the new one must give the same
 * regions, in the same order. */
static int ref_cls(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? 1 | 8 : c >= 'a' && c <= 'z' ? 1 | 16 : c >= '0' && c <= '9' ? 1
	       : c == '+' || c == '/' ? 2 : c == '-' || c == '_' ? 4 : 0;
}

static int ref_find_base64(const unsigned char *p, size_t n, size_t from, size_t *a, size_t *b, int *cut)
{
	size_t i = from + DECODE_B64_MIN - 1;

	*cut = 0;
	while (i < n) {
		if (!ref_cls(p[i])) {
			i += DECODE_B64_MIN;
			continue;
		}
		size_t s = i, e = i + 1, hi;
		unsigned mix = (unsigned)ref_cls(p[i]);
		while (s > from && ref_cls(p[s - 1]) && i - s < DECODE_REGION_MAX / 2)
			mix |= (unsigned)ref_cls(p[--s]);
		hi = n - s > DECODE_REGION_MAX ? s + DECODE_REGION_MAX : n;
		while (e < hi && ref_cls(p[e]))
			mix |= (unsigned)ref_cls(p[e++]);
		if (e - s >= DECODE_B64_MIN && (mix & 24) == 24 && (mix & 6) != 6) {
			*cut = e == hi && hi < n && ref_cls(p[hi]);
			if (*cut)
				e = s + ((e - s) & ~(size_t)3);
			for (int k = 0; k < 2 && e < n && !*cut && p[e] == '='; k++)
				e++;
			*a = s;
			*b = e;
			return 1;
		}
		i = e + DECODE_B64_MIN;
	}
	return 0;
}

/* Random text of words, hex and base64 ids, punctuation and runs of every
 * length around DECODE_B64_MIN, at every alignment: all regions, both
 * finders, from every start a region search can have. */
static void test_find_base64_same_as_sampling(void **state)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
	static const char other[] = " \n\t\".:,;=%&\\{}[]()<>\x80\xff";
	unsigned char buf[3000];
	unsigned seed = 12345;
	(void)state;
	for (int round = 0; round < 2400; round++) {
		decode_set_simd(round & 1);
		size_t n = 0, lim = 40 + (size_t)(round * 7 % 2900);
		while (n < lim) {
			seed = seed * 1103515245 + 12345;
			unsigned r = seed >> 8, len = 1 + r % (r & 1 ? 60 : 20), kind = (r >> 8) % 4;
			for (unsigned k = 0; k < len && n < lim; k++) {
				seed = seed * 1103515245 + 12345;
				unsigned c = seed >> 10;
				buf[n++] = (unsigned char)(kind == 0 ? "0123456789abcdef"[c % 16]
							   : kind == 1 ? "abcdefghijklmnopqrstuvwxyz"[c % 26]
							   : alpha[c % (kind == 2 ? 64 : 66)]);
			}
			if (n < lim)
				buf[n++] = (unsigned char)other[(r >> 12) % (sizeof(other) - 1)];
			if (n < lim && (r >> 20) % 5 == 0)
				buf[n++] = '=';
		}
		for (size_t from = 0; from < n; from += 1 + (size_t)round % 17) {
			size_t a1 = 0, b1 = 0, a2 = 0, b2 = 0, at = from;
			int c1 = 0, c2 = 0, r1, r2;
			do {
				r1 = decode_find(DECODE_BASE64, buf, n, at, &a1, &b1, &c1);
				r2 = ref_find_base64(buf, n, at, &a2, &b2, &c2);
				assert_int_equal(r1, r2);
				if (r1) {
					assert_int_equal(a1, a2);
					assert_int_equal(b1, b2);
					assert_int_equal(c1, c2);
					at = b1 > at ? b1 : at + 1;
				}
			} while (r1 && at < n);
		}
	}
	decode_set_simd(1);
}

/* The base64 finder's definition, byte by byte: the first maximal run
 * of base64 bytes at or after from, at least DECODE_B64_MIN long, with
 * both cases and one alphabet; up to two '=' after it. */
static int b64_ref(const unsigned char *p, size_t n, size_t from, size_t *a, size_t *b)
{
	for (size_t s = from; s < n;) {
		size_t e = s;
		int up = 0, lo = 0, std = 0, url = 0;
		while (e < n && decode_b64_byte(p[e])) {
			up |= p[e] >= 'A' && p[e] <= 'Z';
			lo |= p[e] >= 'a' && p[e] <= 'z';
			std |= p[e] == '+' || p[e] == '/';
			url |= p[e] == '-' || p[e] == '_';
			e++;
		}
		if (e - s >= DECODE_B64_MIN && up && lo && !(std && url)) {
			for (int k = 0; k < 2 && e < n && p[e] == '='; k++)
				e++;
			*a = s;
			*b = e;
			return 1;
		}
		s = e + 1;
	}
	return 0;
}

/* The finder (sampled, 16 bytes a step where it can) gives the same
 * regions as the definition, on random runs of every length around the
 * 16-byte steps and the sample stride, from every start. */
static void test_find_base64_matches_definition(void **state)
{
	/* hex, standard, URL-safe, both alphabets with spaces; separators */
	static const char *const alpha[] = { "0123456789abcdef", "AZaz09Qq+/", "AZaz09Qq-_", "AZaz09+/-_ " };
	static const char sep[] = " .=\n\"";
	unsigned char buf[600];
	unsigned seed = 12;
	(void)state;
	for (int round = 0; round < 8000; round++) {
		decode_set_simd(round & 1); /* the SSE2 path and, where the CPU has it, AVX2 */
		size_t n = 0, want = 40 + (size_t)(round % 560);
		while (n < want) {
			/* a run of base64 bytes (mostly one alphabet), then a separator */
			size_t len = (seed = seed * 1103515245u + 12345u) >> 16 & 63;
			int kind = (int)(seed >> 8 & 3);
			for (size_t k = 0; k < len && n < want; k++) {
				seed = seed * 1103515245u + 12345u;
				unsigned r = seed >> 16;
				buf[n++] = (unsigned char)alpha[kind][r % strlen(alpha[kind])];
			}
			if (n < want)
				buf[n++] = (unsigned char)sep[(seed >> 20) % (sizeof(sep) - 1)];
		}
		for (size_t from = 0; from < n; from += 1 + (size_t)(round & 7)) {
			size_t a, b, ra, rb;
			int cut, got = decode_find(DECODE_BASE64, buf, n, from, &a, &b, &cut);
			int ref = b64_ref(buf, n, from, &ra, &rb);
			if (got != ref || (got && (a != ra || b != rb)))
				fail_msg("round %d from %zu of %zu: finder %d [%zu, %zu), definition %d [%zu, %zu)", round,
					 from, n, got, got ? a : 0, got ? b : 0, ref, ref ? ra : 0, ref ? rb : 0);
		}
	}
	decode_set_simd(1);
}

/* A percent or entity region is the whole run of URL / attribute bytes
 * around its escape (found sixteen bytes a step): on random text of
 * every stop byte, high bytes and escapes, each region found is such a
 * run, maximal, and holds an escape. */
static int ref_attr(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '"' && c != '\'' && c != '<' && c != '>' && c != '`';
}

static void test_attr_region_is_maximal_run(void **state)
{
	static const unsigned char pick[] = "aZ09%%%41&amp;=?/.-_ \"'<>`\x7f\x80\xff\x20\x09\x21\x7e";
	unsigned char buf[700];
	unsigned seed = 99;
	(void)state;
	for (int round = 0; round < 3000; round++) {
		size_t n = 20 + (size_t)round % 680, a, b, at = 0;
		int cut;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			unsigned r = seed >> 9;
			/* long runs of attr bytes, now and then a stop byte */
			buf[i] = r % 9 ? (unsigned char)"abcXYZ019%41&;=/"[r % 16] : pick[r % (sizeof(pick) - 1)];
		}
		for (int k = DECODE_PERCENT; k <= DECODE_HTML; k += DECODE_HTML - DECODE_PERCENT) {
			for (at = 0; at < n && decode_find((enum decode_kind)k, buf, n, at, &a, &b, &cut); at = b > at ? b : at + 1) {
				assert_true(a >= at && a < b && b <= n);
				for (size_t i = a; i < b; i++)
					assert_true(ref_attr(buf[i]));
				assert_true(b == n || !ref_attr(buf[b]));
				assert_true(a == at || !ref_attr(buf[a - 1]));
				assert_non_null(memchr(buf + a, k == DECODE_PERCENT ? '%' : '&', b - a));
			}
		}
	}
}


/* A run longer than DECODE_REGION_MAX is judged and returned in pieces
 * of that length: a piece worth decoding is cut (the next starts where
 * it ends), one that is not (all lower case) is passed over and the rest
 * of the run is a run of its own. */
static void test_find_base64_long_runs(void **state)
{
	const size_t M = DECODE_REGION_MAX, n = 2 * M + 5000;
	unsigned char *p = malloc(n + 1);
	size_t a, b;
	int cut;
	(void)state;
	assert_non_null(p);
	for (int simd = 0; simd < 2; simd++) {
		decode_set_simd(simd);
		for (size_t i = 0; i < n; i++)
			p[i] = (unsigned char)"aB3x"[i % 4];
		p[n] = 0;
		assert_true(decode_find(DECODE_BASE64, p, n, 0, &a, &b, &cut));
		assert_true(a == 0 && b == M && cut);
		assert_true(decode_find(DECODE_BASE64, p, n, b, &a, &b, &cut));
		assert_true(a == M && b == 2 * M && cut);
		assert_true(decode_find(DECODE_BASE64, p, n, b, &a, &b, &cut));
		assert_true(a == 2 * M && b == n && !cut);
		/* the first piece all lower case: passed over, the rest found */
		memset(p, 'a', M + 7);
		assert_true(decode_find(DECODE_BASE64, p, n, 0, &a, &b, &cut));
		assert_int_equal(a, M);
		assert_int_equal(b, 2 * M);
		assert_true(cut);
	}
	decode_set_simd(1);
	free(p);
}

/* The decoders against their plain definitions, byte by byte, out and
 * map, on random text dense with escapes (valid and not) at every
 * alignment around the 16-byte copies. */
static int ref_hex(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static size_t ref_percent(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		map[o] = (uint32_t)i;
		if (r[i] == '%' && i + 2 < n && ref_hex(r[i + 1]) >= 0 && ref_hex(r[i + 2]) >= 0) {
			out[o++] = (unsigned char)(ref_hex(r[i + 1]) * 16 + ref_hex(r[i + 2]));
			i += 3;
		} else {
			out[o++] = r[i++];
		}
	}
	map[o] = (uint32_t)n;
	return o;
}

/* JSON: the one-character escapes and \u00XX (the alphabet makes no
 * other \u, and no \x). */
static size_t ref_json(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	static const char one[] = "n\nt\tr\rb\bf\f\"\"\\\\//''";
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		const char *e = NULL;
		map[o] = (uint32_t)i;
		for (size_t k = 0; r[i] == '\\' && i + 1 < n && k < sizeof(one) - 1; k += 2)
			if (one[k] == (char)r[i + 1])
				e = one + k;
		if (e) {
			out[o++] = (unsigned char)e[1];
			i += 2;
		} else if (r[i] == '\\' && i + 5 < n && r[i + 1] == 'u' && r[i + 2] == '0' && r[i + 3] == '0' &&
			   ref_hex(r[i + 4]) >= 0 && ref_hex(r[i + 5]) >= 0) {
			unsigned cp = (unsigned)(ref_hex(r[i + 4]) * 16 + ref_hex(r[i + 5]));
			if (cp >= 0x80) { /* two bytes of UTF-8, both from the escape */
				out[o++] = (unsigned char)(0xc0 | cp >> 6);
				map[o] = (uint32_t)i;
				cp = 0x80 | (cp & 0x3f);
			}
			out[o++] = (unsigned char)cp;
			i += 6;
		} else {
			out[o++] = r[i++];
		}
	}
	map[o] = (uint32_t)n;
	return o;
}

/* HTML: &amp; and &#NN; (decimal, ASCII) only, as the alphabet makes them. */
static size_t ref_html(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		map[o] = (uint32_t)i;
		if (r[i] == '&' && i + 4 < n && !memcmp(r + i, "&amp;", 5)) {
			out[o++] = '&';
			i += 5;
		} else if (r[i] == '&' && i + 4 < n && r[i + 1] == '#' && r[i + 2] >= '1' && r[i + 2] <= '9' &&
			   r[i + 3] >= '0' && r[i + 3] <= '9' && r[i + 4] == ';') {
			out[o++] = (unsigned char)((r[i + 2] - '0') * 10 + r[i + 3] - '0');
			i += 5;
		} else {
			out[o++] = r[i++];
		}
	}
	map[o] = (uint32_t)n;
	return o;
}

static void test_decoders_match_definition(void **state)
{
	static const char *const pieces[] = { "%3D", "%2f", "%zz", "%4", "\\n", "\\\"", "\\\\", "\\/", "\\u0041",
					      "\\u00", "\\q", "&amp;", "&#61;", "&#6", "&am", "a", "Zz", "0123456789",
					      "the quick brown fox ", "%", "\\", "&", "=", "/" };
	unsigned char in[400], out[400], rout[400];
	uint32_t map[401], rmap[401];
	unsigned seed = 7;
	(void)state;
	for (int round = 0; round < 6000; round++) {
		size_t n = 0, want = (size_t)round % 380;
		while (n < want) {
			const char *pc;
			seed = seed * 1103515245u + 12345u;
			pc = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			/* mostly text: the long literal spans the copies take 16 at a time */
			if ((seed >> 8) % 4)
				pc = (seed >> 12) & 1 ? "abcdefghij" : "ABCDEFGHIJKLMNOPQRSTU";
			for (; *pc && n < want; pc++)
				in[n++] = (unsigned char)*pc;
		}
		for (int k = 0; k < 3; k++) {
			enum decode_kind kind = k == 0 ? DECODE_PERCENT : k == 1 ? DECODE_JSON : DECODE_HTML;
			size_t got = decode_run(kind, in, n, out, map);
			size_t ref = k == 0 ? ref_percent(in, n, rout, rmap) : k == 1 ? ref_json(in, n, rout, rmap)
										: ref_html(in, n, rout, rmap);
			if (got != ref || memcmp(out, rout, ref) || memcmp(map, rmap, (ref + 1) * sizeof(map[0])))
				fail_msg("round %d kind %s: %zu bytes, definition %zu", round, decode_name(kind), got, ref);
		}
	}
}

/* base64 against a bit-at-a-time decoder, every length and padding. */
static void test_decode_base64_matches_definition(void **state)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char txt[300], enc[420];
	unsigned char out[420];
	uint32_t map[421];
	unsigned seed = 3;
	(void)state;
	for (size_t len = 0; len < 300; len++) {
		size_t n, got;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			txt[i] = (char)(' ' + (seed >> 16) % 95);
		}
		txt[len] = 0;
		b64(txt, enc);
		n = strlen(enc);
		for (int strip = 0; strip < 3; strip++) {
			size_t m = n, o = 0;
			uint32_t acc = 0;
			int bits = 0;
			unsigned char rout[420];
			uint32_t rmap[421];
			for (int k = 0; k < strip && m && enc[m - 1] == '='; k++)
				m--; /* unpadded too */
			got = decode_run(DECODE_BASE64, (const unsigned char *)enc, m, out, map);
			for (size_t i = 0; i < m && enc[i] != '='; i++) {
				acc = acc << 6 | (uint32_t)(strchr(alpha, enc[i]) - alpha);
				if ((bits += 6) >= 8) {
					bits -= 8;
					rmap[o] = (uint32_t)(i - 1);
					rout[o++] = (unsigned char)(acc >> bits);
				}
			}
			rmap[o] = (uint32_t)m;
			assert_int_equal(got, len ? o : 0);
			assert_int_equal(o, len);
			if (!len)
				continue; /* nothing decoded, nothing mapped */
			assert_memory_equal(out, rout, o);
			assert_memory_equal(map, rmap, (o + 1) * sizeof(map[0]));
		}
	}
}

/* The plain definition of a base64 region's decoding: padding and a lone
 * last sextet dropped, every character decoded bit by bit; 0 for a
 * character in neither alphabet, for more control bytes among the first
 * 48 bytes than looks_text allows (decoding stops there), or among all. */
static size_t ref_base64(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	size_t m = n, o = 0, bad = 0;
	uint32_t acc = 0;
	int bits = 0;
	while (m && r[m - 1] == '=')
		m--;
	if (m % 4 == 1)
		m--;
	for (size_t i = 0; i < m; i++) {
		const char *p = r[i] ? strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", r[i]) : NULL;
		int v = r[i] == '-' ? 62 : r[i] == '_' ? 63 : p ? (int)(p - "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") : -1;
		if (v < 0)
			return 0;
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			unsigned char c = (unsigned char)(acc >> (bits -= 8));
			bad += (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
			map[o] = (uint32_t)(i - 1);
			out[o++] = c;
			if (o == 48 && m >= 64 && bad * 32 > 48)
				return 0;
		}
	}
	map[o] = (uint32_t)n;
	return bad * 32 <= o ? o : 0;
}

/* base64 regions as the views meet them: keyword soup, text, control
 * bytes ("AAAA" is three zeros), both alphabets, padding, a stray byte;
 * every length to 200. The AVX2 rejection of a region's first 64
 * characters and the byte-by-byte decoder must both give the plain
 * definition's answer, and its bytes and map where it keeps the view. */
static void test_decode_base64_rejects_as_definition(void **state)
{
	static const char *const pieces[] = { "eyJ", "ghp_", "sk-", "xoxb-", "AKIA", "twd_", "AIza", "glpat-", "npm_",
					      "dGhlIHF1aWNr", "IGJyb3du", "AAAA", "AA", "/w", "-_", "+/", "Zm9v", "=",
					      ".", "7", "Q", "Bearer" };
	unsigned char in[256], out[256], rout[256];
	uint32_t map[257], rmap[257];
	unsigned seed = 11, kept = 0, rejected = 0;
	(void)state;
	for (int round = 0; round < 40000; round++) {
		size_t n = 0, want = (size_t)round % 201;
		int text = round % 5 == 0;
		while (n < want) {
			const char *pc;
			seed = seed * 1103515245u + 12345u;
			pc = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			if (text || (pc[0] == '=' && (seed >> 4) % 8) || (pc[0] == '.' && (seed >> 4) % 16))
				pc = (seed >> 9) & 1 ? "dGhlIHF1aWNr" : "IGJyb3du"; /* text, mostly */
			for (; *pc && n < want; pc++)
				in[n++] = (unsigned char)*pc;
		}
		if (n && (seed >> 20) % 3 == 0)
			in[n - 1] = '=';
		size_t ref = ref_base64(in, n, rout, rmap);
		/* a copy of exactly n bytes: the sanitizers see a read past it */
		unsigned char *exact = malloc(n ? n : 1);
		assert_non_null(exact);
		memcpy(exact, in, n);
		for (int simd = 0; simd < 2; simd++) {
			decode_set_simd(simd);
			size_t got = decode_run(DECODE_BASE64, exact, n, out, map);
			if (got != ref || memcmp(out, rout, ref) || (ref && memcmp(map, rmap, (ref + 1) * sizeof(map[0]))))
				fail_msg("round %d simd %d: %zu bytes of %zu, definition %zu", round, simd, got, n, ref);
		}
		free(exact);
		kept += ref != 0;
		rejected += ref == 0;
	}
	decode_set_simd(1);
	/* both answers common enough to mean something */
	assert_true(kept > 4000 && rejected > 4000);
}

/* decode_next_opener against its definition, the first '%', '\\' or '&':
 * none, one at every place of buffers up to 300 bytes (the AVX2 steps
 * of 64, the SSE2 steps of 16 and the bytes after them), and many. */
static void test_next_opener_matches_definition(void **state)
{
	static const char openers[] = "%\\&";
	unsigned char buf[300];
	unsigned seed = 5;
	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)round % 300, want = n;
		seed = seed * 1103515245u + 12345u;
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)('a' + (i * 7 + seed) % 26);
		if (round % 4) { /* one opener at a random place, or two */
			size_t at = n ? (seed >> 8) % n : 0;
			if (n)
				buf[at] = (unsigned char)openers[(seed >> 4) % 3];
			if (n && round % 4 == 3)
				buf[(at + n / 2) % n] = (unsigned char)openers[(seed >> 6) % 3];
		}
		for (size_t i = 0; i < n; i++)
			if (buf[i] == '%' || buf[i] == '\\' || buf[i] == '&') {
				want = i;
				break;
			}
		for (int simd = 0; simd < 2; simd++) {
			decode_set_simd(simd);
			unsigned char *exact = malloc(n ? n : 1); /* reads past n show under the sanitizers */
			assert_non_null(exact);
			memcpy(exact, buf, n);
			size_t got = decode_next_opener(exact, n);
			free(exact);
			if (got != want)
				fail_msg("round %d simd %d: %zu of %zu, definition %zu", round, simd, got, n, want);
		}
	}
	decode_set_simd(1);
}

/* A JSON region is the string around its escape: back to an unescaped
 * quote or a newline, on to the next quote or newline not taken by a
 * backslash; checked against those walks byte by byte on random text of
 * quotes, backslashes, newlines and letters. */
static void test_json_region_matches_walk(void **state)
{
	unsigned char buf[500];
	unsigned seed = 5;
	(void)state;
	for (int round = 0; round < 4000; round++) {
		size_t n = 10 + (size_t)round % 490, a, b, at;
		int cut;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = seed >> 12;
			buf[i] = (unsigned char)(r % 23 == 0 ? '"' : r % 29 == 0 ? '\\' : r % 97 == 0 ? '\n' : "nt/u0abcXYZ "[r % 12]);
		}
		for (at = 0; at < n && decode_find(DECODE_JSON, buf, n, at, &a, &b, &cut); at = b > at ? b : at + 1) {
			const unsigned char *q = memchr(buf + at, '\\', n - at);
			size_t i, s, e;
			assert_non_null(q);
			/* the first backslash at or after at that is an escape */
			for (i = (size_t)(q - buf); i + 1 < n; i++)
				if (buf[i] == '\\' && ((strchr("nt\"\\/'rbf", buf[i + 1]) && buf[i + 1]) ||
						       (buf[i + 1] == 'u' && i + 5 < n && ref_hex(buf[i + 2]) >= 0 &&
							ref_hex(buf[i + 3]) >= 0 && ref_hex(buf[i + 4]) >= 0 &&
							ref_hex(buf[i + 5]) >= 0)))
					break;
			for (s = i; s > at && buf[s - 1] != '\n' && !(buf[s - 1] == '"' && (s < 2 || buf[s - 2] != '\\')); s--)
				;
			for (e = i; e < n && buf[e] != '"' && buf[e] != '\n';)
				e += buf[e] == '\\' && e + 1 < n ? 2 : 1;
			if (a != s || b != e)
				fail_msg("round %d at %zu i %zu: region [%zu, %zu), walks [%zu, %zu)", round, at, i, a, b, s, e);
		}
	}
}

/* ---- the detector's views ---- */

static void expect_one(struct found *f, const char *tok, const char *chain)
{
	assert_int_equal(f->n, 1);
	assert_string_equal(f->secret[0], tok);
	assert_string_equal(f->chain[0], chain);
}

static void test_views_each_encoding(void **state)
{
	struct detector *d = newdet();
	char ghp[48], twd[64], enc[512], cred[256], text[1024];
	struct found *f;
	(void)state;
	tm_github(ghp, "ghp_");
	tm_twd(twd);

	/* the seam of a partial escape: "%3D" leaves a D against the token */
	snprintf(text, sizeof(text), "GET /cb?next=token%%3D%s HTTP/1.1\n", ghp);
	f = scan(d, text);
	expect_one(f, ghp, "percent");
	assert_int_equal(f->m[0].raw_start, strstr(text, ghp) - text);
	assert_int_equal(f->m[0].raw_len, 40);
	/* a fully encoded run: the raw range is the encoded bytes */
	pct_all(ghp, enc);
	snprintf(text, sizeof(text), "x=%s\n", enc);
	f = scan(d, text);
	expect_one(f, ghp, "percent");
	assert_int_equal(f->m[0].raw_start, 2);
	assert_int_equal(f->m[0].raw_len, 120);

	/* JSON: "\n" leaves an n against the token */
	snprintf(text, sizeof(text), "{\"msg\":\"failed\\n%s\"}\n", twd);
	expect_one(scan(d, text), twd, "json");
	snprintf(text, sizeof(text), "{\"msg\":\"token\\u003d%s\"}\n", twd);
	expect_one(scan(d, text), twd, "json");
	snprintf(text, sizeof(text), "{\"url\":\"https:\\/\\/x\\/?t=%s\\/y\"}\n", ghp);
	f = scan(d, text); /* found raw already ('/' is a boundary): once */
	assert_int_equal(f->n, 1);

	/* HTTP Basic: the password, then the user name */
	snprintf(cred, sizeof(cred), "user:%s", ghp);
	b64(cred, enc);
	snprintf(text, sizeof(text), "Authorization: Basic %s\r\n", enc);
	f = scan(d, text);
	expect_one(f, ghp, "base64>http-basic"); /* the chain says what revealed it */
	assert_int_equal(f->m[0].raw_start, 21 + 6); /* byte 5 of "user:…" starts in sextet 6 */
	snprintf(text, sizeof(text), "x-creds: %s\r\n", enc); /* the same base64, not after "Basic " */
	expect_one(scan(d, text), ghp, "base64");
	snprintf(cred, sizeof(cred), "%s:x-oauth-basic", twd);
	b64(cred, enc);
	snprintf(text, sizeof(text), "authorization: basic\t %s\r\n", enc);
	expect_one(scan(d, text), twd, "base64>http-basic");
	snprintf(text, sizeof(text), "authorization: notbasic %s\r\n", enc);
	expect_one(scan(d, text), twd, "base64");
	/* base64 of a JSON blob and of an env file (URL-safe, unpadded) */
	snprintf(cred, sizeof(cred), "{\"token\":\"%s\"}", ghp);
	b64(cred, enc);
	snprintf(text, sizeof(text), "secret: %s\n", enc);
	expect_one(scan(d, text), ghp, "base64");
	snprintf(cred, sizeof(cred), "GITHUB_TOKEN=%s\nOTHER=1\n", ghp);
	tm_b64url(cred, strlen(cred), enc);
	snprintf(text, sizeof(text), "env=%s\n", enc);
	expect_one(scan(d, text), ghp, "base64");

	/* HTML: entity-encoded first byte (raw sees "hp_…") */
	snprintf(text, sizeof(text), "<a href=\"/x?t=&#103;%s&amp;y=1\">\n", ghp + 1);
	expect_one(scan(d, text), ghp, "html");
	snprintf(text, sizeof(text), "<i>&#x67;%s</i>\n", ghp + 1);
	expect_one(scan(d, text), ghp, "html");
	detector_free(d);
}

static void test_views_nesting_and_depth(void **state)
{
	struct detector *d = newdet();
	char ghp[48], l1[256], l2[512], l3[768], l4[1100], l5[1500], text[1200];
	struct detect_stats st;
	struct found *f;
	uint64_t depth0;
	(void)state;
	tm_github(ghp, "ghp_");
	/* base64 of a JSON log line whose string escapes the token's seam */
	snprintf(l1, sizeof(l1), "{\"msg\":\"failed\\n%s\"}", ghp);
	b64(l1, l2);
	snprintf(text, sizeof(text), "blob %s\n", l2);
	expect_one(scan(d, text), ghp, "base64>json");
	/* percent-encoding of a JSON escape */
	snprintf(text, sizeof(text), "GET /?q=%%22failed%%5Cn%s%%22 HTTP/1.1\n", ghp);
	expect_one(scan(d, text), ghp, "percent>json");
	/* three layers of base64: found; four: not, and the depth bound counted */
	snprintf(l1, sizeof(l1), "token:%s", ghp);
	b64(l1, l2);
	b64(l2, l3);
	b64(l3, l4);
	snprintf(text, sizeof(text), "x %s\n", l4);
	expect_one(scan(d, text), ghp, "base64>base64>base64");
	detector_stats(d, &st);
	depth0 = st.view_depth;
	b64(l4, l5);
	f = scan(d, l5);
	assert_int_equal(f->n, 0);
	detector_stats(d, &st);
	assert_true(st.view_depth > depth0);
	assert_true(detect_coverage_losses(&st) >= 1);
	detector_free(d);
}

static void test_no_second_report(void **state)
{
	struct detector *d = newdet();
	char ghp[48], text[512];
	struct detect_stats st;
	struct found *f;
	(void)state;
	tm_github(ghp, "ghp_");
	/* raw in a JSON string that also has an escape: the JSON view sees it too */
	snprintf(text, sizeof(text), "{\"msg\":\"a\\tb %s c\\n\"}\n", ghp);
	f = scan(d, text);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->chain[0], "");
	/* raw in a URL that has other escapes */
	snprintf(text, sizeof(text), "GET /?a=%%20&t=%s&b=%%3D HTTP/1.1\n", ghp);
	f = scan(d, text);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->chain[0], "");
	detector_stats(d, &st);
	assert_true(st.view_dups >= 2);
	/* the same token twice, once raw and once encoded elsewhere: both */
	snprintf(text, sizeof(text), "a=%s b=token%%3D%s\n", ghp, ghp);
	f = scan(d, text);
	assert_int_equal(f->n, 2);
	detector_free(d);
}

static void test_views_off(void **state)
{
	struct detector *d = newdet();
	char ghp[48], text[512];
	(void)state;
	tm_github(ghp, "ghp_");
	snprintf(text, sizeof(text), "token%%3D%s\n", ghp);
	detector_set_flags(d, DETECT_NO_VIEWS);
	assert_int_equal(scan(d, text)->n, 0);
	detector_set_flags(d, 0);
	assert_int_equal(scan(d, text)->n, 1);
	detector_free(d);
}

static void test_bounds_counted(void **state)
{
	struct detector *d = newdet();
	struct detect_stats st;
	size_t n = 300 << 10;
	char *big = malloc(n + 1), msg[512];
	(void)state;
	assert_non_null(big);
	/* a run of %41 longer than DECODE_REGION_MAX: decoded in pieces, counted */
	for (size_t i = 0; i < n; i += 3)
		memcpy(big + i, "%41", 3);
	big[n] = 0;
	scan(d, big);
	detector_stats(d, &st);
	assert_true(st.view_cut >= 4);
	/* "AAAA...": decoded, nothing in it to find (views_skipped) */
	assert_true(st.views + st.views_skipped >= 5);
	detect_coverage_text(&st, msg, sizeof(msg));
	assert_non_null(strstr(msg, "decoded in pieces"));
	/* every kind in one run, each layer holding the others: the budget */
	for (size_t i = 0; i + 12 <= n; i += 12)
		memcpy(big + i, "%2541\\t&amp;", 12);
	big[n - n % 12] = 0;
	scan(d, big);
	detector_stats(d, &st);
	assert_true(st.view_budget >= 1);
	/* decoded bytes stay within the budget: 4x the input plus the minimum */
	assert_true(st.view_bytes <= (uint64_t)2 * (n * VIEWS_BUDGET_PER_BYTE + VIEWS_BUDGET_MIN));
	free(big);
	detector_free(d);
}

static void test_cut_buffer_view(void **state)
{
	struct detector *d = newdet();
	char ghp[48], text[512];
	struct found f = { 0 };
	struct detect_stats st;
	(void)state;
	tm_github(ghp, "ghp_");
	/* the encoded token runs into the end of a cut capture: not judged */
	snprintf(text, sizeof(text), "x token%%3D%.30s", ghp);
	assert_int_equal(detector_scan_cut(d, text, strlen(text), collect, &f), 0);
	assert_int_equal(f.n, 0);
	detector_stats(d, &st);
	assert_true(st.cut_short >= 1);
	/* whole, and not at the end: found in the cut buffer */
	snprintf(text, sizeof(text), "x token%%3D%s and more", ghp);
	assert_int_equal(detector_scan_cut(d, text, strlen(text), collect, &f), 0);
	assert_int_equal(f.n, 1);
	detector_free(d);
}

struct known1 {
	unsigned char sha[32];
};

static int known_cb(void *ctx, const unsigned char s[32], long long *id)
{
	struct known1 *k = ctx;
	*id = 7;
	return !memcmp(k->sha, s, 32);
}

static void test_opaque_in_basic(void **state)
{
	struct detector *d = newdet();
	char tok[44], cred[80], enc[160], text[256];
	unsigned lens[] = { 43 };
	unsigned l = 32;
	struct known1 k;
	struct found *f;
	(void)state;
	tm_chars(tok, tm_b64u, 64, 43);
	tm_record(tok);
	EVP_Digest(tok, 43, k.sha, &l, EVP_sha256(), NULL);
	detector_set_known(d, known_cb, &k, lens, 1);
	snprintf(cred, sizeof(cred), "git:%s", tok);
	b64(cred, enc);
	snprintf(text, sizeof(text), "Authorization: Basic %s\r\n", enc);
	f = scan(d, text);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->m[0].rule_id, DETECT_OPAQUE_RULE);
	assert_int_equal(f->m[0].known, 1);
	assert_string_equal(f->chain[0], "base64>http-basic");
	detector_free(d);
}

/* ---- views that can give nothing, not scanned (views.c view_inert, decode_inert) ---- */

static uint64_t skipped(struct detector *d)
{
	struct detect_stats st;
	detector_stats(d, &st);
	return st.views_skipped;
}

/* An escape region whose view holds no keyword and nothing to decode
 * further: skipped and counted; scanned with the skip off. */
static void test_inert_skipped_counted(void **state)
{
	struct detector *d = newdet();
	const char *text = "GET /search?q=cart%20checkout%3A%20item&page=2 HTTP/1.1\n"
			   "{\"msg\":\"failed\\n\\tat handler (worker.go:12)\",\"user\":\"Jos\\u00e9\"}\n";
	struct detect_stats st;
	uint64_t views0;
	(void)state;
	uint64_t s0 = skipped(d);
	assert_int_equal(scan(d, text)->n, 0);
	assert_int_equal(skipped(d) - s0, 3); /* the URL, the two JSON strings */
	views_set_skip(0);
	detector_stats(d, &st);
	views0 = st.views;
	assert_int_equal(scan(d, text)->n, 0);
	detector_stats(d, &st);
	assert_int_equal(st.views - views0, 3);
	views_set_skip(1);
	detector_free(d);
}

/* Each reason a region must be decoded and scanned: the token is found,
 * with the chain it has when nothing is skipped (a skipped region would
 * lose it, or leave it to another region with another chain). */
static void test_inert_not_skipped(void **state)
{
	struct detector *d = newdet();
	char ghp[48], cred[128], enc[256], esc[300], text[1024], tok[44], aws[24];
	unsigned lens[] = { 43 };
	unsigned l = 32;
	struct known1 k;
	uint64_t s0;
	char *q;
	(void)state;
	tm_github(ghp, "ghp_");
	memcpy(aws, "AKIA", 4);
	tm_chars(aws + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32, 16);
	tm_record(aws);
	for (int mode = 0; mode <= 1; mode++) {
		views_set_skip(mode);
		/* a keyword across an escape: gh%70_ is ghp_ decoded */
		snprintf(text, sizeof(text), "GET /?t=gh%%70%s&x=1 HTTP/1.1\n", ghp + 3);
		expect_one(scan(d, text), ghp, "percent");
		/* %2F inside a base64 run: raw holds two runs, the view one */
		snprintf(cred, sizeof(cred), "???user:%s", ghp); /* base64 "Pz8/..." */
		b64(cred, enc);
		assert_non_null(q = strchr(enc, '/'));
		snprintf(esc, sizeof(esc), "%.*s%%2F%s", (int)(q - enc), enc, q + 1);
		snprintf(text, sizeof(text), "GET /?blob=%s HTTP/1.1\n", esc);
		expect_one(scan(d, text), ghp, "percent>base64");
		/* %22 opening a JSON string that holds an escape */
		snprintf(text, sizeof(text), "GET /?q=%%22msg%%22:%%22failed\\n%s%%22 HTTP/1.1\n", ghp);
		expect_one(scan(d, text), ghp, "percent>json");
		/* a base64 run just after %20: raw's run starts with "20" */
		snprintf(cred, sizeof(cred), "user:%s", ghp);
		b64(cred, enc);
		snprintf(text, sizeof(text), "GET /?q=x%%20%s HTTP/1.1\n", enc);
		expect_one(scan(d, text), ghp, "percent>base64");
		/* an entity across percent-encoding: %26%23103; is &#103; is g */
		snprintf(text, sizeof(text), "GET /?t=%%26%%23103;%s HTTP/1.1\n", ghp + 1);
		expect_one(scan(d, text), ghp, "percent>html");
		/* a keyword byte from an escape where no base64 run of 24 is
		 * there to keep the region (an AWS key id is 20 bytes) */
		snprintf(text, sizeof(text), "GET /?k=%%41%s&x=1 HTTP/1.1\n", aws + 1);
		expect_one(scan(d, text), aws, "percent");
		/* a JSON string whose escape decodes to the token's first byte */
		snprintf(text, sizeof(text), "{\"msg\":\"a \\u0067%s\"}\n", ghp + 1);
		expect_one(scan(d, text), ghp, "json");
	}
	/* an opaque token next to an escape, with a ledger that holds its
	 * length: found by length, not keyword, so nothing is skipped */
	tm_chars(tok, tm_b64u, 64, 43);
	tm_record(tok);
	EVP_Digest(tok, 43, k.sha, &l, EVP_sha256(), NULL);
	detector_set_known(d, known_cb, &k, lens, 1);
	for (int mode = 0; mode <= 1; mode++) {
		views_set_skip(mode);
		snprintf(text, sizeof(text), "GET /?x=%%20%s HTTP/1.1\n", tok);
		s0 = skipped(d);
		struct found *f = scan(d, text);
		assert_int_equal(f->n, 1);
		assert_string_equal(f->m[0].rule_id, DETECT_OPAQUE_RULE);
		assert_string_equal(f->chain[0], "percent");
		assert_int_equal(skipped(d), s0);
		/* with the ledger, not even an inert-looking region is skipped */
		scan(d, "GET /search?q=cart%20checkout HTTP/1.1\n");
		assert_int_equal(skipped(d), s0);
	}
	views_set_skip(1);
	detector_free(d);
}

/* A JSON string longer than DECODE_REGION_MAX, cut inside a base64 run:
 * the first piece's view ends in the run's head, the second's begins in
 * its tail. Neither is a plain copy bounded the same way (raw's run goes
 * on past the piece), so level decodes them, and the skip must too: the
 * counters of the work done agree with a scan that skips nothing. */
static void test_inert_region_edges(void **state)
{
	struct detector *d0 = newdet(), *d1 = newdet();
	size_t piece = DECODE_REGION_MAX, n = 0;
	char *text = malloc(piece + 4096), run[400];
	struct detect_stats s0, s1;
	(void)state;
	assert_non_null(text);
	/* base64 of text: its pieces decode to text again */
	b64("the quick brown fox jumps over the lazy dog, again and again and again, "
	    "the quick brown fox jumps over the lazy dog, again and again and again", run);
	*strchr(run, '=') = 0; /* no padding: an '=' after a run keeps its view anyway */
	n += (size_t)sprintf(text, "{\"m\":\"\\n");
	while (n < 6 + piece - 100)
		n += (size_t)sprintf(text + n, "x ");
	n += (size_t)sprintf(text + n, "%s \\t\"}\n", run);
	views_set_skip(0);
	scan(d0, text);
	views_set_skip(1);
	scan(d1, text);
	detector_stats(d0, &s0);
	detector_stats(d1, &s1);
	assert_true(s0.view_cut >= 1);
	assert_int_equal(s0.views, s1.views + s1.views_skipped);
	assert_int_equal(s0.views_rejected, s1.views_rejected);
	assert_int_equal(s0.view_bytes >= s1.view_bytes, 1);
	free(text);
	detector_free(d0);
	detector_free(d1);
}

/* Random text dense in escapes, keywords, base64, tokens and their
 * pieces: with the skip on, the findings and every counter but the
 * views' own are those of the scan that skips nothing. */
static void frag(char *o, size_t *n, size_t cap, const char *ghp, const char *cred64)
{
	static const char *const pieces[] = {
		"%20", "%22", "%2F", "%3D", "%26", "%3B", "%5C", "%25", "%41", "%67", "%70", "%5F", "%2B", "%0A",
		"\\n", "\\t", "\\\"", "\\/", "\\\\", "\\u00e9", "\\u0067", "\\u003d", "\\x41", "\\q",
		"&amp;", "&#61;", "&#103;", "&lt;", "&x", ";", "&", "=", "==", "\"", "'", " ", "\n", ":", "?",
		"gh", "p_", "ghp_", "ey", "J", "eyJ", "AKIA", "bearer ", "Basic ", "sk-", "xoxb-", "npm_",
		"abc", "Zm9v", "YmFy", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "0123456789abcdef", "%",
		"/v1/items", "https://x.test/cb?x=", "{\"k\":\"", "\"}",
	};
	const char *p;
	unsigned r = (unsigned)tm_next();

	switch (r % 16) {
	case 0: p = ghp; break;
	case 1: p = cred64; break;
	default: p = pieces[(r >> 4) % (sizeof(pieces) / sizeof(pieces[0]))];
	}
	size_t l = strlen(p);
	if (*n + l < cap) {
		memcpy(o + *n, p, l);
		*n += l;
	}
}

struct allf {
	size_t n;
	char line[4096][160];
};

static int collect_all(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct allf *f = ctx;
	char hex[17];
	(void)buf;
	(void)len;
	for (int i = 0; i < 8; i++)
		sprintf(hex + 2 * i, "%02x", m->sha256[i]);
	if (f->n < 4096)
		snprintf(f->line[f->n++], sizeof(f->line[0]), "%s %zu %zu %zu %zu %s %d %s", m->rule_id, m->start,
			 m->len, m->raw_start, m->raw_len, m->decoded ? m->decoded : "-", m->checksum_valid, hex);
	return 0;
}

static void test_inert_same_findings(void **state)
{
	static struct allf f0, f1;
	struct detector *d0 = newdet(), *d1 = newdet();
	char ghp[48], cred[128], cred64[200], *buf = malloc(1 << 16);
	struct detect_stats s0, s1;
	size_t total = 0;
	(void)state;
	assert_non_null(buf);
	tm_github(ghp, "ghp_");
	snprintf(cred, sizeof(cred), "u:%s", ghp);
	b64(cred, cred64);
	for (int round = 0; round < 3000; round++) {
		size_t n = 0, want = 64 + tm_next() % 1500;
		while (n < want)
			frag(buf, &n, (1 << 16) - 1, ghp, cred64);
		buf[n] = 0;
		views_set_skip(0);
		memset(&f0, 0, sizeof(f0));
		assert_int_equal(detector_scan(d0, buf, n, collect_all, &f0), 0);
		views_set_skip(1);
		memset(&f1, 0, sizeof(f1));
		assert_int_equal(detector_scan(d1, buf, n, collect_all, &f1), 0);
		assert_int_equal(f0.n, f1.n);
		for (size_t i = 0; i < f0.n; i++)
			assert_string_equal(f0.line[i], f1.line[i]);
		total += f0.n;
	}
	views_set_skip(1);
	detector_stats(d0, &s0);
	detector_stats(d1, &s1);
	/* the work the skip leaves out, and nothing else */
	assert_true(s1.views_skipped > 1000);
	assert_int_equal(s0.views_skipped, 0);
	assert_int_equal(s0.views, s1.views + s1.views_skipped);
	assert_int_equal(s0.view_findings, s1.view_findings);
	assert_int_equal(s0.keyword_hits, s1.keyword_hits);
	assert_int_equal(s0.regex_calls + s0.shape_calls, s1.regex_calls + s1.shape_calls);
	assert_int_equal(s0.rejected, s1.rejected);
	assert_int_equal(s0.views_rejected, s1.views_rejected);
	assert_int_equal(s0.view_cut, s1.view_cut);
	assert_int_equal(s0.view_budget, s1.view_budget);
	assert_int_equal(s0.view_depth, s1.view_depth);
	assert_true(total > 1000);
	free(buf);
	detector_free(d0);
	detector_free(d1);
}

static void test_redact_masks_encoded(void **state)
{
	char ghp[48], cred[128], enc[256], text[512], *r;
	(void)state;
	tm_github(ghp, "ghp_");
	snprintf(cred, sizeof(cred), "user:%s", ghp);
	b64(cred, enc);
	snprintf(text, sizeof(text), "curl -H 'Authorization: Basic %s' https://x", enc);
	r = redact_text(text, strlen(text));
	assert_non_null(r);
	assert_null(strstr(r, enc));
	assert_null(strstr(r, enc + 8));
	assert_null(strstr(r, ghp + 4));
	free(r);
	snprintf(text, sizeof(text), "next=token%%3D%s", ghp);
	r = redact_text(text, strlen(text));
	assert_non_null(r);
	assert_null(strstr(r, ghp + 6));
	free(r);
}

/* ---- a stream's seam: an encoded run split between two buffers ---- */

struct seamctx {
	size_t carry;   /* findings wholly inside it were the first buffer's */
	int hits;
	const char *tok;
};

static int on_seam(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct seamctx *c = ctx;
	(void)len;
	if (m->raw_start + m->raw_len <= c->carry)
		return 0;
	if (m->len == strlen(c->tok) && !memcmp(buf + m->start, c->tok, m->len))
		c->hits++;
	return 0;
}

/* What the live monitor does with two writes on one stream: scan the
 * first, keep detector_tail_need() of it (at most the capture layer's
 * stream tail, 1 KiB by default), scan that carry and the second. The
 * token must be found once, whichever side of the seam it is on. */
static int split_hits(struct detector *d, const char *text, size_t cut, const char *tok)
{
	static unsigned char b[16384];
	struct seamctx c = { 0, 0, tok };
	size_t need, n = strlen(text);

	assert_int_equal(detector_scan(d, text, cut, on_seam, &c), 0);
	need = detector_tail_need(d);
	if (need > cut)
		need = cut;
	if (need > 1024)
		need = 1024;
	memcpy(b, text + cut - need, need);
	memcpy(b + need, text + cut, n - cut);
	c.carry = need;
	assert_int_equal(detector_scan(d, b, need + n - cut, on_seam, &c), 0);
	return c.hits;
}

static void test_split_encoded_run(void **state)
{
	struct detector *d = newdet();
	char twd[64], cred[1024], enc[4400], text[4600], pad[401];
	const char *at;
	(void)state;
	tm_twd(twd);
	for (int i = 0; i < 400; i++)
		pad[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	pad[400] = 0;
	for (int shape = 0; shape < 5; shape++) {
		size_t o = 0;
		switch (shape) {
		case 0: /* \u-escaped in a JSON string: 6 bytes a character */
			for (const char *p = twd; *p; p++)
				o += (size_t)sprintf(enc + o, "\\u%04x", (unsigned char)*p);
			snprintf(text, sizeof(text), "{\"msg\":\"%s\"}\n", enc);
			break;
		case 1: /* HTML entities */
			for (const char *p = twd; *p; p++)
				o += (size_t)sprintf(enc + o, "&#%d;", (unsigned char)*p);
			snprintf(text, sizeof(text), "<a href=\"/x?t=%s\">x</a>\n", enc);
			break;
		case 2: /* base64 of an env file (no JSON: no "eyJ" keyword) */
			snprintf(cred, sizeof(cred), "NOTE=%s\nAPI_TOKEN=%s\nMORE=%.100s\n", pad, twd, pad);
			b64(cred, enc);
			snprintf(text, sizeof(text), "data: %s\n", enc);
			break;
		case 3: /* the same, URL-safe and unpadded, at the end of a line without newline */
			snprintf(cred, sizeof(cred), "NOTE=%s\nAPI_TOKEN=%s\n", pad, twd);
			tm_b64url(cred, strlen(cred), enc);
			snprintf(text, sizeof(text), "data=%s", enc);
			break;
		default: /* percent-encoding of the whole line */
			snprintf(cred, sizeof(cred), "next=https://x.test/cb?token=%s", twd);
			pct_all(cred, enc);
			snprintf(text, sizeof(text), "GET /cb?r=%s HTTP/1.1\n", enc);
			break;
		}
		at = strstr(text, enc);
		assert_non_null(at);
		if (shape == 2) {
			/* a run longer than the 1 KiB carry, the token near its end:
			 * the carry is cut mid-run at any quantum and still decodes */
			struct detect_stats st;
			char big[3200];
			snprintf(big, sizeof(big), "NOTE=%s%s%s%s%s\nAPI_TOKEN=%s\n", pad, pad, pad, pad, pad, twd);
			b64(big, enc);
			snprintf(text, sizeof(text), "data: %s\n", enc);
			for (size_t cut = strlen(text) - 30; cut > strlen(text) - 42; cut--)
				if (split_hits(d, text, cut, twd) != 1)
					fail_msg("long run cut at %zu of %zu: not found once", cut, strlen(text));
			assert_true(detector_scan(d, text, strlen(text) - 30, on_seam, &(struct seamctx){ 0, 0, twd }) == 0);
			assert_true(detector_tail_need(d) > 1024); /* what the capture layer cuts and counts */
			detector_stats(d, &st);
			assert_int_equal(st.view_budget, 0);
			snprintf(cred, sizeof(cred), "NOTE=%s\nAPI_TOKEN=%s\nMORE=%.100s\n", pad, twd, pad);
			b64(cred, enc);
			snprintf(text, sizeof(text), "data: %s\n", enc);
		}
		/* every cut from well before the encoded run to its end */
		for (size_t cut = (size_t)(at - text); cut <= (size_t)(at - text) + strlen(enc); cut += 7) {
			if (split_hits(d, text, cut, twd) != 1)
				fail_msg("shape %d cut at %zu of %zu: found %d times", shape, cut, strlen(text),
					 split_hits(d, text, cut, twd));
		}
	}
	detector_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_percent),
		cmocka_unit_test(test_decode_json),
		cmocka_unit_test(test_decode_base64),
		cmocka_unit_test(test_decode_html),
		cmocka_unit_test(test_find_regions),
		cmocka_unit_test(test_find_base64_matches_definition),
		cmocka_unit_test(test_find_base64_same_as_sampling),
		cmocka_unit_test(test_attr_region_is_maximal_run),
		cmocka_unit_test(test_find_base64_long_runs),
		cmocka_unit_test(test_decoders_match_definition),
		cmocka_unit_test(test_decode_base64_matches_definition),
		cmocka_unit_test(test_decode_base64_rejects_as_definition),
		cmocka_unit_test(test_next_opener_matches_definition),
		cmocka_unit_test(test_json_region_matches_walk),
		cmocka_unit_test(test_views_each_encoding),
		cmocka_unit_test(test_views_nesting_and_depth),
		cmocka_unit_test(test_no_second_report),
		cmocka_unit_test(test_views_off),
		cmocka_unit_test(test_bounds_counted),
		cmocka_unit_test(test_cut_buffer_view),
		cmocka_unit_test(test_opaque_in_basic),
		cmocka_unit_test(test_redact_masks_encoded),
		cmocka_unit_test(test_split_encoded_run),
		cmocka_unit_test(test_inert_skipped_counted),
		cmocka_unit_test(test_inert_not_skipped),
		cmocka_unit_test(test_inert_region_edges),
		cmocka_unit_test(test_inert_same_findings),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
