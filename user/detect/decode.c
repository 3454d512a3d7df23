/* Decoders for the detector's decoded views (see decode.h). */
#include <string.h>
#include <immintrin.h>
#include "detect/decode.h"

static const char *const names[DECODE_NKINDS] = { "percent", "json", "base64", "html" };

const char *decode_name(enum decode_kind k)
{
	return (unsigned)k < DECODE_NKINDS ? names[k] : "?";
}

/* Hex digits' values plus one, 0 for other bytes: a lookup, not two
 * range tests and a fold, per digit of every %XX and \uXXXX decoded. */
static const unsigned char hex1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline int hexval(unsigned char c)
{
	return (int)hex1[c] - 1;
}

/* Bytes that may sit in a URL or an HTML attribute value: a region of
 * percent-encoding or entities stops at white space, quotes and tags. */
static int attr_byte(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '"' && c != '\'' && c != '<' && c != '>' && c != '`';
}

#ifdef __SSE2__
/* Bit k set where p[k] (k < 16) is not an attr byte. */
static inline unsigned attr_stops16(const unsigned char *p)
{
	const __m128i sp = _mm_set1_epi8(0x21);
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	/* c >= 0x21 unsigned: max(c, 0x21) == c */
	__m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(v, sp), v);
	__m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)), _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
				   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\'')), _mm_cmpeq_epi8(v, _mm_set1_epi8('`'))));

	bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('<')), _mm_cmpeq_epi8(v, _mm_set1_epi8('>'))));
	return (unsigned)_mm_movemask_epi8(_mm_andnot_si128(bad, ok)) ^ 0xffff;
}
#endif

/* The first byte at or after e (before hi) that is not an attr byte, or
 * hi. Sixteen bytes a step where they fit: a query string's region runs
 * to the end of its URL, a hundred bytes and more per line of an access
 * log, walked once per region. */
static size_t attr_end(const unsigned char *p, size_t e, size_t hi)
{
#ifdef __SSE2__
	for (; e + 16 <= hi; e += 16) {
		unsigned m = attr_stops16(p + e);
		if (m)
			return e + (size_t)__builtin_ctz(m);
	}
#endif
	while (e < hi && attr_byte(p[e]))
		e++;
	return e;
}

/* The start of the run of attr bytes that ends at s, not before lo: the
 * same sixteen bytes a step, backwards (a URL's path and query before its
 * first %XX were a third of a scan's finder time, byte by byte). */
static size_t attr_start(const unsigned char *p, size_t lo, size_t s)
{
#ifdef __SSE2__
	for (; s - lo >= 16; s -= 16) {
		unsigned m = attr_stops16(p + s - 16);
		if (m)
			return s - 16 + (size_t)(32 - __builtin_clz(m));
	}
#endif
	while (s > lo && attr_byte(p[s - 1]))
		s--;
	return s;
}

/* The run of attr bytes around p[i], not before from: [*a, *b). */
static void attr_region(const unsigned char *p, size_t n, size_t from, size_t i, size_t *a, size_t *b,
			int *cut)
{
	size_t lo = i - from > DECODE_REGION_MAX / 2 ? i - DECODE_REGION_MAX / 2 : from;
	size_t s = attr_start(p, lo, i), e, hi;

	hi = n - s > DECODE_REGION_MAX ? s + DECODE_REGION_MAX : n;
	e = attr_end(p, i + 1, hi);
	*cut = e == hi && hi < n && attr_byte(p[hi]);
	*a = s;
	*b = e;
}

/* ---- finders ---- */

static int find_percent(const unsigned char *p, size_t n, size_t lo, size_t from, size_t *a, size_t *b,
			int *cut)
{
	const unsigned char *q;

	for (size_t i = from; i + 2 < n && (q = memchr(p + i, '%', n - i - 2)); i = (size_t)(q - p) + 1) {
		size_t at = (size_t)(q - p);
		if (hexval(p[at + 1]) >= 0 && hexval(p[at + 2]) >= 0) {
			attr_region(p, n, lo, at, a, b, cut);
			return 1;
		}
	}
	return 0;
}

static int json_escape_at(const unsigned char *p, size_t n, size_t i)
{
	if (i + 1 >= n)
		return 0;
	switch (p[i + 1]) {
	case 'n': case 't': case 'r': case 'b': case 'f': case '"': case '\\': case '/': case '\'':
		return 1;
	case 'u':
		return i + 5 < n && hexval(p[i + 2]) >= 0 && hexval(p[i + 3]) >= 0 && hexval(p[i + 4]) >= 0 &&
		       hexval(p[i + 5]) >= 0;
	case 'x':
		return i + 3 < n && hexval(p[i + 2]) >= 0 && hexval(p[i + 3]) >= 0;
	}
	return 0;
}

/* The last byte in p[lo..s) that is a or b, or SIZE_MAX; sixteen bytes a
 * step back. */
static size_t last_of2(const unsigned char *p, size_t lo, size_t s, unsigned char a, unsigned char b)
{
#ifdef __SSE2__
	const __m128i av = _mm_set1_epi8((char)a), bv = _mm_set1_epi8((char)b);

	for (; s - lo >= 16; s -= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + s - 16));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, av), _mm_cmpeq_epi8(v, bv)));
		if (m)
			return s - 16 + (size_t)(31 - __builtin_clz(m));
	}
#endif
	for (; s > lo; s--)
		if (p[s - 1] == a || p[s - 1] == b)
			return s - 1;
	return SIZE_MAX;
}

static int use_avx2 = -1; /* -1 until decode_set_simd (or the first search) sets it */

/* Whether to take the AVX2 paths; the CPU is asked on the first call. */
static inline int avx2_on(void)
{
	if (use_avx2 < 0)
		decode_set_simd(1);
	return use_avx2;
}

/* first_of3's long stretches with AVX2, 64 bytes a step: every raw buffer
 * is searched for an escape's opener whole (decode_next_opener), and most
 * hold none, so this was about a tenth of a service log's scan. Returns
 * the offset at which the caller goes on (a step holding one, or the
 * last 63 bytes). */
__attribute__((target("avx2"))) static size_t first_of3_avx2(const unsigned char *p, size_t e, size_t hi,
							      unsigned char a, unsigned char b, unsigned char c)
{
	const __m256i av = _mm256_set1_epi8((char)a), bv = _mm256_set1_epi8((char)b), cv = _mm256_set1_epi8((char)c);

	for (; e + 64 <= hi; e += 64) {
		__m256i v0 = _mm256_loadu_si256((const __m256i *)(p + e));
		__m256i v1 = _mm256_loadu_si256((const __m256i *)(p + e + 32));
		__m256i m0 = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v0, av), _mm256_cmpeq_epi8(v0, bv)),
					     _mm256_cmpeq_epi8(v0, cv));
		__m256i m1 = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v1, av), _mm256_cmpeq_epi8(v1, bv)),
					     _mm256_cmpeq_epi8(v1, cv));

		if (!_mm256_testz_si256(_mm256_or_si256(m0, m1), _mm256_or_si256(m0, m1)))
			break;
	}
	return e;
}

/* The first byte in p[e..hi) that is a, b or c, or hi; sixteen bytes a
 * step, 64 with AVX2 past the first sixteen. */
static size_t first_of3(const unsigned char *p, size_t e, size_t hi, unsigned char a, unsigned char b, unsigned char c)
{
#ifdef __SSE2__
	const __m128i av = _mm_set1_epi8((char)a), bv = _mm_set1_epi8((char)b), cv = _mm_set1_epi8((char)c);
#define FIRST16(e)                                                                                                   \
	do {                                                                                                         \
		__m128i v = _mm_loadu_si128((const __m128i *)(p + (e)));                                             \
		unsigned m = (unsigned)_mm_movemask_epi8(                                                            \
			_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, av), _mm_cmpeq_epi8(v, bv)), _mm_cmpeq_epi8(v, cv))); \
		if (m)                                                                                               \
			return (e) + (size_t)__builtin_ctz(m);                                                       \
	} while (0)

	/* the first 16 before the long steps: json_region's walk asks from
	 * each escape for the next, a few bytes on in a string of \u escapes */
	if (e + 16 <= hi) {
		FIRST16(e);
		e += 16;
	}
	if (hi - e >= 64 && avx2_on())
		e = first_of3_avx2(p, e, hi, a, b, c);
	for (; e + 16 <= hi; e += 16)
		FIRST16(e);
#undef FIRST16
#endif
	for (; e < hi; e++)
		if (p[e] == a || p[e] == b || p[e] == c)
			return e;
	return hi;
}

size_t decode_next_opener(const unsigned char *p, size_t n)
{
	return first_of3(p, 0, n, '%', '\\', '&');
}

/*
 * The JSON string around an escape: from the quote before it (or the
 * line's start) to the unescaped quote after it (or the line's end).
 * Both walks jump from quote to quote (last_of2, first_of3): a string's
 * text between them is not looked at byte by byte.
 */
static void json_region(const unsigned char *p, size_t n, size_t from, size_t i, size_t *a, size_t *b,
			int *cut)
{
	size_t lo = i - from > DECODE_REGION_MAX / 2 ? i - DECODE_REGION_MAX / 2 : from;
	size_t s = i, e = i, hi, q;

	/* back to a newline or a quote not escaped by the byte before it */
	while ((q = last_of2(p, lo, s, '\n', '"')) != SIZE_MAX) {
		s = q;
		if (p[q] == '\n' || q < 1 || p[q - 1] != '\\') {
			s = q + 1;
			break;
		}
	}
	if (q == SIZE_MAX)
		s = lo;
	hi = n - s > DECODE_REGION_MAX ? s + DECODE_REGION_MAX : n;
	/* on to a quote or newline; a backslash takes the byte after it along */
	while ((e = first_of3(p, e, hi, '"', '\n', '\\')) < hi && p[e] == '\\')
		e += e + 1 < hi ? 2 : 1;
	*cut = e == hi && hi < n && p[hi] != '"' && p[hi] != '\n';
	*a = s;
	*b = e;
}

static int find_json(const unsigned char *p, size_t n, size_t lo, size_t from, size_t *a, size_t *b, int *cut)
{
	const unsigned char *q;

	for (size_t i = from; i + 1 < n && (q = memchr(p + i, '\\', n - i - 1)); i = (size_t)(q - p) + 2) {
		size_t at = (size_t)(q - p);
		if (json_escape_at(p, n, at)) {
			json_region(p, n, lo, at, a, b, cut);
			return 1;
		}
	}
	return 0;
}

/* base64 classes: 1 letters and digits, 2 '+' '/', 4 '-' '_' (URL-safe);
 * 8 upper case, 16 lower case (the mix a base64 run has and words lack). */
static const unsigned char *b64_class(void)
{
	static unsigned char t[256];
	static int init;

	if (!init) {
		for (int c = 0; c < 256; c++) {
			unsigned char v = 0;
			if (c >= 'A' && c <= 'Z')
				v = 1 | 8;
			else if (c >= 'a' && c <= 'z')
				v = 1 | 16;
			else if (c >= '0' && c <= '9')
				v = 1;
			else if (c == '+' || c == '/')
				v = 2;
			else if (c == '-' || c == '_')
				v = 4;
			t[c] = v;
		}
		init = 1;
	}
	return t;
}

int decode_b64_byte(unsigned char c)
{
	return b64_class()[c] != 0;
}

/* A run's class mix (b64_class's bits) worth decoding: both cases, one
 * alphabet. Hex ids, UUIDs and words lack a case; a path with both '/'
 * and '-' is not base64. */
static inline int b64_mix_ok(unsigned mix)
{
	return (mix & 24) == 24 && (mix & 6) != 6;
}

/*
 * Bit k of *any set where p[k] (k < 64) is a base64 byte, of *up where
 * it is an upper-case letter. With AVX2, 32 bytes by two nibble lookups
 * (pshufb): a byte's class is where the bits of its low and its high
 * nibble's entries meet (bit 0: + /, bit 1: digits, bits 2-3: A-O P-Z,
 * bit 4: _, bits 5-6: a-o p-z, bit 7: -). Else 16 bytes by range
 * compares (letters folded with 0x20, which makes no other byte a
 * lower-case letter).
 */
static const unsigned char b64_nib_lo[16] = {
	2 | 8 | 64, 2 | 4 | 8 | 32 | 64, 2 | 4 | 8 | 32 | 64, 2 | 4 | 8 | 32 | 64, 2 | 4 | 8 | 32 | 64,
	2 | 4 | 8 | 32 | 64, 2 | 4 | 8 | 32 | 64, 2 | 4 | 8 | 32 | 64, 2 | 4 | 8 | 32 | 64, 2 | 4 | 8 | 32 | 64,
	4 | 8 | 32 | 64, 1 | 4 | 32, 4 | 32, 128 | 4 | 32, 4 | 32, 1 | 4 | 16 | 32,
};
static const unsigned char b64_nib_hi[16] = { 0, 0, 1 | 128, 2, 4, 8 | 16, 32, 64 };

/*
 * b64_run_end's first steps with AVX2, 32 bytes a step by the nibble
 * classes above: the classes' union over the run's bytes is kept as a
 * vector and turned into mix bits once. *done: the run ended below
 * e + 32 <= hi (at the returned offset); else the caller goes on from it.
 * A run of keyword soup is about a hundred bytes: 16 a step with the
 * mix taken at each was most of a region's finding.
 */
__attribute__((target("avx2"))) static size_t b64_run_end_avx2(const unsigned char *p, size_t e, size_t hi,
								unsigned *mix, int *done)
{
	const __m256i lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b64_nib_lo));
	const __m256i hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b64_nib_hi));
	const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
	__m256i acc = zero;
	__m128i o;
	unsigned u;

	*done = 0;
	for (; e + 32 <= hi; e += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(p + e));
		__m256i c = _mm256_and_si256(_mm256_shuffle_epi8(lo_t, _mm256_and_si256(v, nib)),
					     _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
		uint32_t inv = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, zero));

		if (inv) {
			const __m256i idx = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
							     18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
			unsigned k = (unsigned)__builtin_ctz(inv);

			acc = _mm256_or_si256(acc, _mm256_and_si256(c, _mm256_cmpgt_epi8(_mm256_set1_epi8((char)k), idx)));
			e += k;
			*done = 1;
			break;
		}
		acc = _mm256_or_si256(acc, c);
	}
	o = _mm_or_si128(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
	o = _mm_or_si128(o, _mm_srli_si128(o, 8));
	o = _mm_or_si128(o, _mm_srli_si128(o, 4));
	o = _mm_or_si128(o, _mm_srli_si128(o, 2));
	o = _mm_or_si128(o, _mm_srli_si128(o, 1));
	u = (unsigned)_mm_cvtsi128_si32(o) & 0xff;
	/* the nibble classes to b64_class's bits */
	*mix |= (u & (4 | 8) ? 1 | 8u : 0) | (u & (32 | 64) ? 1 | 16u : 0) | (u & 2 ? 1u : 0) | (u & 1 ? 2u : 0) |
		(u & (16 | 128) ? 4u : 0);
	return e;
}

/*
 * The end of the run of base64 bytes from p[e] on (not past hi), its
 * classes ORed into *mix (b64_class's bits). Sixteen bytes a step where
 * they fit: hex ids of 32 and 64 characters are measured whole and then
 * rejected for their case; 32 a step first with AVX2. Not inlined: in
 * find_base64's loop it cost every 64-byte step of ordinary text more
 * than the call costs a run.
 */
static __attribute__((noinline)) size_t b64_run_end(const unsigned char *p, size_t e, size_t hi, unsigned *mix)
{
	const unsigned char *cls = b64_class();

	/* use_avx2 is set: find_base64, the one caller, saw to it */
	if (use_avx2) {
		int done;
		e = b64_run_end_avx2(p, e, hi, mix, &done);
		if (done)
			return e;
	}
#ifdef __SSE2__
	const __m128i up_lo = _mm_set1_epi8((char)(-'A' - 128)), lo_lo = _mm_set1_epi8((char)(-'a' - 128));
	const __m128i w26 = _mm_set1_epi8(26 - 128), w10 = _mm_set1_epi8(10 - 128), d_lo = _mm_set1_epi8((char)(-'0' - 128));

	for (; e + 16 <= hi; e += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + e));
		unsigned up = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, up_lo), w26));
		unsigned lo = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, lo_lo), w26));
		unsigned dg = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, d_lo), w10));
		unsigned st = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')),
								       _mm_cmpeq_epi8(v, _mm_set1_epi8('/'))));
		unsigned ur = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
								       _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
		/* the classes' union is the base64 bytes: the run ends at the first other */
		unsigned inv = ~(up | lo | dg | st | ur) & 0xffff;
		unsigned keep = inv ? (1u << __builtin_ctz(inv)) - 1 : 0xffff; /* the run's bytes here */

		*mix |= (up & keep ? 1 | 8u : 0) | (lo & keep ? 1 | 16u : 0) | (dg & keep ? 1u : 0) |
			(st & keep ? 2u : 0) | (ur & keep ? 4u : 0);
		if (inv)
			return e + (size_t)__builtin_ctz(inv);
	}
#endif
	while (e < hi && cls[p[e]])
		*mix |= cls[p[e++]];
	return e;
}

/*
 * A run of DECODE_B64_MIN base64 bytes or more starts at s: measured to
 * its end, or to its piece's end DECODE_REGION_MAX on. 1 with the region
 * when its mix is worth decoding; else 0 and *next, where the search goes
 * on (the run's end, or its piece's end where it goes on: the rest is a
 * run of its own).
 */
static int b64_try(const unsigned char *p, size_t n, size_t s, size_t *next, size_t *a, size_t *b, int *cut)
{
	size_t hi = n - s > DECODE_REGION_MAX ? s + DECODE_REGION_MAX : n, e;
	unsigned mix = 0;

	e = b64_run_end(p, s, hi, &mix);
	if (e - s >= DECODE_B64_MIN && b64_mix_ok(mix)) {
		*cut = e == hi && hi < n && decode_b64_byte(p[hi]);
		for (int k = 0; k < 2 && e < n && !*cut && p[e] == '='; k++)
			e++;
		*a = s;
		*b = e;
		return 1;
	}
	*next = e;
	return 0;
}

__attribute__((target("avx2"))) static void b64_masks64_avx2(const unsigned char *p, uint64_t *any, uint64_t *up)
{
	const __m256i lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b64_nib_lo));
	const __m256i hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)b64_nib_hi));
	const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256(), upper = _mm256_set1_epi8(4 | 8);
	uint64_t m = 0, u = 0;

	for (int h = 1; h >= 0; h--) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * h));
		/* a byte >= 0x80 has its high bit set: pshufb gives 0 for it */
		__m256i c = _mm256_and_si256(_mm256_shuffle_epi8(lo_t, v),
					     _mm256_shuffle_epi8(hi_t, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));

		m = m << 32 | (uint32_t)~_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, zero));
		u = u << 32 | (uint32_t)~_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(c, upper), zero));
	}
	*any = m;
	*up = u;
}

static void b64_masks64(const unsigned char *p, int avx2, uint64_t *any, uint64_t *up)
{
	uint64_t m = 0, u = 0;

	if (avx2) {
		b64_masks64_avx2(p, any, up);
		return;
	}
#ifdef __SSE2__
	for (int q = 3; q >= 0; q--) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * q));
		__m128i f = _mm_or_si128(v, _mm_set1_epi8(0x20));
		/* c in [lo, lo + w) as one signed compare: c - lo - 128 < w - 128 */
		__m128i let = _mm_cmplt_epi8(_mm_add_epi8(f, _mm_set1_epi8((char)(-'a' - 128))), _mm_set1_epi8(26 - 128));
		__m128i upc = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(-'A' - 128))), _mm_set1_epi8(26 - 128));
		__m128i dig = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(-'0' - 128))), _mm_set1_epi8(10 - 128));
		__m128i pun = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')), _mm_cmpeq_epi8(v, _mm_set1_epi8('/'))),
					   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')), _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));

		m = m << 16 | (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(let, dig), pun));
		u = u << 16 | (unsigned)_mm_movemask_epi8(upc);
	}
#else
	for (int k = 63; k >= 0; k--) {
		m = m << 1 | (uint64_t)decode_b64_byte(p[k]);
		u = u << 1 | (uint64_t)(p[k] >= 'A' && p[k] <= 'Z');
	}
#endif
	*any = m;
	*up = u;
}

void decode_set_simd(int on)
{
	use_avx2 = on && __builtin_cpu_supports("avx2");
}

/* Bit k set where x[k .. k + DECODE_B64_MIN) are all set (within x). */
static inline uint64_t runs24(uint64_t x)
{
	_Static_assert(DECODE_B64_MIN == 24, "runs24 finds runs of 24");
	x &= x >> 1;  /* 2 */
	x &= x >> 2;  /* 4 */
	x &= x >> 4;  /* 8 */
	x &= x >> 8;  /* 16 */
	return x & x >> 8; /* 24 */
}

/* Bits [lo, hi) of a 64-bit word, hi <= 64. */
static inline uint64_t bits_range(unsigned lo, unsigned hi)
{
	return (hi >= 64 ? ~0ull : (1ull << hi) - 1) & ~((1ull << lo) - 1);
}

/*
 * The first maximal run of base64 bytes at or after from (counted from
 * from), DECODE_B64_MIN or more long, whose mix is worth decoding
 * (b64_mix_ok); a run longer than DECODE_REGION_MAX is judged and
 * returned in pieces of that length. 64 bytes a step by class masks
 * (b64_masks64): a run of DECODE_B64_MIN is the run going on from the
 * step before with the step's leading bytes, or one inside the step
 * (runs24). Such a run that ends within the step with no upper-case
 * letter (the 32- and 64-character hex ids of logs) is passed over
 * there; the others are measured and their mix taken (b64_try).
 */
static int find_base64(const unsigned char *p, size_t n, size_t from, size_t *a, size_t *b, int *cut)
{
	size_t i = from, carry = 0, s; /* carry: base64 bytes just before i, counted from from */
	int carry_up = 0;              /* an upper-case letter among them */
	const int avx2 = avx2_on();
	while (i < n) {
		uint64_t m, u, y;
		unsigned lead, off, end;

		if (i + 64 <= n) {
			b64_masks64(p + i, avx2, &m, &u);
		} else {
			/* the last bytes (most of a short view), padded with
			 * zeros, which are not base64 */
			unsigned char t[64] = { 0 };
			memcpy(t, p + i, n - i);
			b64_masks64(t, avx2, &m, &u);
		}
		lead = ~m ? (unsigned)__builtin_ctzll(~m) : 64;
		if (carry + lead >= DECODE_B64_MIN) {
			s = i - carry;
			off = 0;
		} else if ((y = runs24(m & (m + 1)))) { /* the leading run cleared */
			off = (unsigned)__builtin_ctzll(y);
			s = i + off;
			carry_up = 0;
		} else {
			if (i + 64 >= n)
				return 0;
			carry = (size_t)__builtin_clzll(~m); /* m has a 0: lead < 64 */
			carry_up = carry && u >> (64 - carry) != 0;
			i += 64;
			continue;
		}
		/* where the run ends, if within this step (at a byte that is
		 * not base64, or at n) */
		y = ~(m >> off);
		end = y ? off + (unsigned)__builtin_ctzll(y) : 64;
		if (end < 64 && !carry_up && !(u & bits_range(off, end))) {
			i += end; /* no upper case: not base64 worth decoding */
			carry = 0;
			continue;
		}
		if (b64_try(p, n, s, &i, a, b, cut))
			return 1;
		carry = 0;
		carry_up = 0;
	}
	return 0;
}

struct entity {
	const char *name;
	unsigned char len, ch;
};
static const struct entity entities[] = {
	{ "amp", 3, '&' }, { "lt", 2, '<' }, { "gt", 2, '>' }, { "quot", 4, '"' }, { "apos", 4, '\'' },
	{ "nbsp", 4, ' ' }, { "equals", 6, '=' }, { "sol", 3, '/' }, { "colon", 5, ':' }, { "plus", 4, '+' },
	{ "percnt", 6, '%' }, { "num", 3, '#' }, { "lowbar", 6, '_' }, { "hyphen", 6, '-' },
	{ "period", 6, '.' }, { "quest", 5, '?' }, { "comma", 5, ',' }, { "semi", 4, ';' },
};

/* The first letters of the names in entities[] (keep in step). */
static const unsigned char entity_first[256] = { ['a'] = 1, ['l'] = 1, ['g'] = 1, ['q'] = 1, ['n'] = 1, ['e'] = 1,
						 ['s'] = 1, ['c'] = 1, ['p'] = 1, ['h'] = 1 };

/* The entity at p[i] ('&'): its length with the ';' and the code point
 * (a named one's byte), or 0. */
static size_t entity_at(const unsigned char *p, size_t n, size_t i, unsigned long *cp)
{
	size_t j = i + 1;
	unsigned long v = 0;

	if (j < n && p[j] == '#') {
		int hex = j + 1 < n && (p[j + 1] | 0x20) == 'x', d, k = 0;
		for (j += 1 + hex; j < n && k < 8 && (d = hex ? hexval(p[j]) : (p[j] >= '0' && p[j] <= '9' ? p[j] - '0' : -1)) >= 0; j++, k++)
			v = v * (hex ? 16 : 10) + (unsigned long)d;
		if (!k || j >= n || p[j] != ';' || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
			return 0;
		*cp = v;
		return j + 1 - i;
	}
	/* a query string's "&page=" costs a byte compare per name, not a
	 * memcmp call; "&filter=", "&x=" (no name starts so) not even that */
	if (j >= n || !entity_first[p[j]])
		return 0;
	for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
		size_t l = entities[e].len;
		if (entities[e].name[0] == p[j] && i + 2 + l <= n && !memcmp(p + j, entities[e].name, l) &&
		    p[i + 1 + l] == ';') {
			*cp = entities[e].ch;
			return l + 2;
		}
	}
	return 0;
}

static int find_html(const unsigned char *p, size_t n, size_t lo, size_t from, size_t *a, size_t *b, int *cut)
{
	const unsigned char *q;
	unsigned long cp;

	for (size_t i = from; i + 3 < n && (q = memchr(p + i, '&', n - i - 3)); i = (size_t)(q - p) + 1) {
		size_t at = (size_t)(q - p);
		if (entity_at(p, n, at, &cp)) {
			attr_region(p, n, lo, at, a, b, cut);
			return 1;
		}
	}
	return 0;
}

int decode_find_from(enum decode_kind k, const unsigned char *p, size_t n, size_t lo, size_t from,
		     size_t *a, size_t *b, int *cut)
{
	*cut = 0;
	if (from >= n)
		return 0;
	switch (k) {
	case DECODE_PERCENT: return find_percent(p, n, lo, from, a, b, cut);
	case DECODE_JSON: return find_json(p, n, lo, from, a, b, cut);
	case DECODE_BASE64: return find_base64(p, n, from, a, b, cut);
	case DECODE_HTML: return find_html(p, n, lo, from, a, b, cut);
	default: return 0;
	}
}

int decode_find(enum decode_kind k, const unsigned char *p, size_t n, size_t from,
		size_t *a, size_t *b, int *cut)
{
	return decode_find_from(k, p, n, from, from, a, b, cut);
}

/* Where decode_find would find a region of an escape kind: at a '%'
 * followed by two hex digits, a '\\' opening a JSON escape, an '&'
 * opening an entity (the finders' own tests, one pass for the three). */
int decode_holds_escape(const unsigned char *p, size_t n)
{
	unsigned long cp;

	for (size_t i = decode_next_opener(p, n); i < n; i = i + 1 + decode_next_opener(p + i + 1, n - i - 1)) {
		if (p[i] == '%' ? i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0
		    : p[i] == '\\' ? json_escape_at(p, n, i)
				   : i + 3 < n && entity_at(p, n, i, &cp) != 0)
			return 1;
	}
	return 0;
}


static size_t utf8_put(unsigned long cp, unsigned char *out);
static size_t json_one(const unsigned char *r, size_t n, size_t i, unsigned char *out, size_t *used);

/* The one escape of kind k at r[i] inside a region r[0..n), as decode_run
 * decodes it: its bytes into out (*olen, 1-4) and its length in r; 0 when
 * r[i] opens none (then decode_run copies r[i] as it is). */
static inline size_t escape_at(enum decode_kind k, const unsigned char *r, size_t n, size_t i, unsigned char out[4],
			       size_t *olen)
{
	unsigned long cp;
	size_t used = 0;
	int hi, lo;

	switch (k) {
	case DECODE_PERCENT:
		if (r[i] != '%' || i + 2 >= n || (hi = hexval(r[i + 1])) < 0 || (lo = hexval(r[i + 2])) < 0)
			return 0;
		out[0] = (unsigned char)(hi << 4 | lo);
		*olen = 1;
		return 3;
	case DECODE_JSON:
		if (r[i] != '\\' || !json_escape_at(r, n, i))
			return 0;
		*olen = json_one(r, n, i, out, &used);
		return used;
	case DECODE_HTML:
		if (r[i] != '&' || !(used = entity_at(r, n, i, &cp)))
			return 0;
		*olen = utf8_put(cp, out);
		return used;
	default:
		return 0;
	}
}

/* The one-character JSON escapes' values (json_escape_at says which:
 * exactly the bytes with a value here). */
static const unsigned char json_one_char[256] = { ['n'] = '\n', ['t'] = '\t', ['r'] = '\r', ['b'] = '\b', ['f'] = '\f',
						  ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['\''] = '\'' };

/* ---- decode_inert ---- */

enum { C_B64 = 1, C_EQ = 2, C_SEMI = 4, C_AMP = 8, C_STOP = 16, C_KW = 32 };

void decode_inert_classes(const unsigned char kw[256], unsigned char cls[256])
{
	for (int c = 0; c < 256; c++)
		cls[c] = (unsigned char)((decode_b64_byte((unsigned char)c) ? C_B64 : 0) | (c == '=' ? C_EQ : 0) |
					  (c == ';' ? C_SEMI : 0) | (c == '&' ? C_AMP : 0) |
					  (c == '%' || c == '\\' ? C_STOP : 0) | (kw[c] ? C_KW : 0));
}

/*
 * The walk of decode_inert (decode.h) over a region's raw bytes: the
 * literal bytes between escapes sixteen a step, each escape decoded on
 * its own as decode_run would (escape_at), not copied. What it looks for
 * in the view:
 *  - a '%' or '\\' (one the decoder leaves as it is, or one decoded): a
 *    further escape may start there; a ';' and an '&' both (an entity
 *    needs both); an escape's byte that is a keyword byte (cls);
 *  - a run of DECODE_B64_MIN or more base64 bytes that is not a plain
 *    copy: an escape's byte in it, or just after an escape whose last
 *    raw byte is base64 (the %20 of "%20AAAA...": raw's run holds "20"),
 *    or against a base64 byte past the region's ends, or followed by an
 *    '=' (padding that level would count in): level decodes such a run
 *    again, where it passes a plain copy over (views.c same_one_up).
 */
/* raw_inert's walk: the base64 run the view is in (its length so far,
 * and whether it is a plain copy of raw bytes, frame_same_up), and
 * whether the view holds a ';' and an '&'. */
struct walk {
	size_t len;
	int plain;
	unsigned semi, amp;
};

/* The run ends at a byte that is not base64 (eq: an '='): 1 when level
 * could have decoded it (24 bytes or more, and not a plain copy bounded
 * the same way, or followed by padding). */
static int run_close(const struct walk *w, int eq)
{
	return w->len >= DECODE_B64_MIN && (!w->plain || eq);
}

/* One byte an escape decoded to: 1 when it may take part in something (a
 * keyword, a further escape, a base64 run raw does not have). after: the
 * escape's last raw byte, against which a run starting next is bounded raw. */
static inline int inert_decoded(const unsigned char *cls, struct walk *w, unsigned char c, unsigned char after)
{
	unsigned k = cls[c], b64 = k & C_B64;
	/* without branches on the byte's class: an escape's byte is base64
	 * or not about as often as not (%2F, %3A, \/ ...) */
	int bad = (k & (C_KW | C_STOP)) != 0 || (!b64 && run_close(w, k & C_EQ));

	w->semi |= k & C_SEMI;
	w->amp |= k & C_AMP;
	w->len = b64 ? w->len + 1 : 0;
	/* a base64 byte from an escape: raw has no such run; after one that
	 * is not, the next run is bounded raw by the escape's last byte */
	w->plain = !b64 && !(cls[after] & C_B64);
	return bad;
}

/* Bit masks over up to 16 literal bytes. */
struct lit16 {
	unsigned b64, stop, semi, amp, eq, op;
};

static void lit16_scalar(const unsigned char *cls, const unsigned char *p, size_t n, unsigned char op, struct lit16 *m)
{
	*m = (struct lit16){ 0 };
	for (size_t j = 0; j < n && j < 16; j++) {
		unsigned bit = 1u << j, c = cls[p[j]];
		m->b64 |= c & C_B64 ? bit : 0;
		m->stop |= c & C_STOP ? bit : 0;
		m->semi |= c & C_SEMI ? bit : 0;
		m->amp |= c & C_AMP ? bit : 0;
		m->eq |= c & C_EQ ? bit : 0;
		m->op |= p[j] == op ? bit : 0;
	}
}

#ifdef __SSE2__
/* The same for 16 bytes that are all there, by compares (the base64
 * bytes as b64_run_end finds them). */
static void lit16_sse2(const unsigned char *p, unsigned char op, struct lit16 *m)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)p);
	const __m128i f = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* letters folded: no other byte becomes a-z */
	__m128i let = _mm_cmplt_epi8(_mm_add_epi8(f, _mm_set1_epi8((char)(-'a' - 128))), _mm_set1_epi8(26 - 128));
	__m128i dg = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(-'0' - 128))), _mm_set1_epi8(10 - 128));
	__m128i sym = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')), _mm_cmpeq_epi8(v, _mm_set1_epi8('/'))),
				   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')), _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
#define MASK(x) ((unsigned)_mm_movemask_epi8(x))
	m->b64 = MASK(_mm_or_si128(_mm_or_si128(let, dg), sym));
	m->stop = MASK(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
	m->semi = MASK(_mm_cmpeq_epi8(v, _mm_set1_epi8(';')));
	m->amp = MASK(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')));
	m->eq = MASK(_mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
	m->op = MASK(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)op)));
#undef MASK
}
#endif

/* The literal bytes r[i..i+l) (l <= 16; m their masks) in the walk: 1
 * when one may take part in something. Runs inside them, between two
 * bytes that are not base64, are shorter than 16 and plain: only the
 * run going on from before and the one going on after count. */
static int inert_literal(struct walk *w, const struct lit16 *m, unsigned l)
{
	unsigned all = l == 16 ? 0xffffu : (1u << l) - 1, b = m->b64 & all, lead, last;

	if (m->stop & all)
		return 1;
	w->semi |= m->semi & all;
	w->amp |= m->amp & all;
	if (b == all) {
		w->len += l;
		return 0;
	}
	lead = (unsigned)__builtin_ctz(~b);
	w->len += lead;
	if (run_close(w, m->eq >> lead & 1))
		return 1;
	last = 31 - (unsigned)__builtin_clz(~b & all);
	w->len = l - 1 - last;
	w->plain = 1;
	return 0;
}

int decode_inert(enum decode_kind k, const unsigned char *buf, size_t len, size_t a, size_t b, const unsigned char cls[256])
{
	static const unsigned char opener[DECODE_NKINDS] = { [DECODE_PERCENT] = '%', [DECODE_JSON] = '\\',
							     [DECODE_HTML] = '&' };
	const unsigned char *r = buf + a, op = opener[k];
	struct walk w = { 0, a == 0 || !(cls[buf[a - 1]] & C_B64), 0, 0 };
	size_t n = b - a;

	for (size_t i = 0; i < n;) {
		unsigned char dec[4];
		size_t used, nd;
		struct lit16 m;
		unsigned l, rest, hi, lo;

		if (k == DECODE_PERCENT && r[i] == '%' && i + 2 < n && (hi = hex1[r[i + 1]]) && (lo = hex1[r[i + 2]])) {
			/* the common escape, its byte kept in a register */
			if (inert_decoded(cls, &w, (unsigned char)((hi - 1) << 4 | (lo - 1)), r[i + 2]))
				return 0;
			i += 3;
			continue;
		}
		if (k == DECODE_JSON && r[i] == '\\' && i + 1 < n && (hi = json_one_char[r[i + 1]])) {
			if (inert_decoded(cls, &w, (unsigned char)hi, r[i + 1]))
				return 0;
			i += 2;
			continue;
		}
		if (r[i] == op && (used = escape_at(k, r, n, i, dec, &nd))) {
			for (size_t j = 0; j < nd; j++)
				if (inert_decoded(cls, &w, dec[j], r[i + used - 1]))
					return 0;
			i += used;
			continue;
		}
#ifdef __SSE2__
		if (a + i + 16 <= len) /* past the region's end: masked off below */
			lit16_sse2(r + i, op, &m);
		else
#endif
			lit16_scalar(cls, r + i, n - i, op, &m);
		/* up to the next opener; r[i] itself is literal (a '%' or '\\'
		 * that opens nothing stops the walk: it stays in the view) */
		rest = n - i < 16 ? (unsigned)(n - i) : 16;
		m.op &= ~1u & (rest == 16 ? 0xffffu : (1u << rest) - 1);
		l = m.op ? (unsigned)__builtin_ctz(m.op) : rest;
		if (inert_literal(&w, &m, l))
			return 0;
		i += l;
	}
	if (w.len >= DECODE_B64_MIN && (!w.plain || (b < len && (cls[buf[b]] & C_B64))))
		return 0;
	return !(w.semi && w.amp);
}


/* ---- decoders ---- */

/* UTF-8 of cp into out; its length (1-4). */
static size_t utf8_put(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* out[o..o+k) all came from r[i]. */
static void map_fill(uint32_t *map, size_t o, size_t k, size_t i)
{
	while (k--)
		map[o++] = (uint32_t)i;
}

/*
 * The literal bytes before the next c in r[i..n), copied to out + o with
 * their map entries, sixteen a step: the regions decoded are mostly text
 * between escapes (a JSON string with one \n, a URL between its %XX),
 * and a byte-by-byte copy with its map store was most of decode_run.
 * Returns how many were copied (then r[i + that] is c, or the end is
 * near). Writes up to 16 bytes of out and 16 entries of map past o, all
 * within the region's length: a decoded region is never longer than
 * what it decodes (o <= i), and i + 16 <= n here.
 */
static size_t copy_literal(const unsigned char *r, size_t n, size_t i, unsigned char c, unsigned char *out,
			   uint32_t *map, size_t o)
{
	size_t k = 0;
#ifdef __SSE2__
	const __m128i cv = _mm_set1_epi8((char)c), four = _mm_set1_epi32(4);

	while (i + k + 16 <= n) {
		__m128i v = _mm_loadu_si128((const __m128i *)(r + i + k));
		__m128i at = _mm_add_epi32(_mm_set1_epi32((int)(i + k)), _mm_setr_epi32(0, 1, 2, 3));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cv));

		_mm_storeu_si128((__m128i *)(out + o + k), v);
		for (int q = 0; q < 4; q++, at = _mm_add_epi32(at, four))
			_mm_storeu_si128((__m128i *)(map + o + k) + q, at);
		if (m)
			return k + (size_t)__builtin_ctz(m);
		k += 16;
	}
#endif
	while (i + k < n && r[i + k] != c) {
		map[o + k] = (uint32_t)(i + k);
		out[o + k] = r[i + k];
		k++;
	}
	return k;
}

static size_t run_percent(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		size_t k = copy_literal(r, n, i, '%', out, map, o);
		int hi, lo;

		i += k;
		o += k;
		if (i >= n)
			break;
		map[o] = (uint32_t)i;
		if (r[i] == '%' && i + 2 < n && (hi = hexval(r[i + 1])) >= 0 && (lo = hexval(r[i + 2])) >= 0) {
			out[o++] = (unsigned char)(hi << 4 | lo);
			i += 3;
		} else {
			out[o++] = r[i++];
		}
	}
	return o;
}

static unsigned long hex4(const unsigned char *p)
{
	return (unsigned long)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

/* One escape at r[i] ('\\'): its bytes into out, its length in r. */
static size_t json_one(const unsigned char *r, size_t n, size_t i, unsigned char *out, size_t *used)
{
	if (!json_escape_at(r, n, i)) {
		*used = 1;
		out[0] = r[i];
		return 1;
	}
	if (r[i + 1] == 'x') {
		*used = 4;
		out[0] = (unsigned char)(hexval(r[i + 2]) << 4 | hexval(r[i + 3]));
		return 1;
	}
	if (r[i + 1] == 'u') {
		unsigned long cp = hex4(r + i + 2);
		*used = 6;
		if (cp >= 0xd800 && cp < 0xdc00 && json_escape_at(r, n, i + 6) && r[i + 7] == 'u') {
			unsigned long lo = hex4(r + i + 8);
			if (lo >= 0xdc00 && lo < 0xe000) {
				*used = 12;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
		}
		if (cp >= 0xd800 && cp < 0xe000)
			cp = 0xfffd; /* a lone surrogate */
		return utf8_put(cp, out);
	}
	*used = 2;
	out[0] = json_one_char[r[i + 1]];
	return 1;
}

static size_t run_json(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	size_t o = 0, used;

	for (size_t i = 0; i < n; i += used) {
		size_t k = copy_literal(r, n, i, '\\', out, map, o);

		i += k;
		o += k;
		if (i >= n)
			break;
		if (r[i] != '\\') {
			map[o] = (uint32_t)i;
			out[o++] = r[i];
			used = 1;
			continue;
		}
		k = json_one(r, n, i, out + o, &used);
		map_fill(map, o, k, i);
		o += k;
	}
	return o;
}

static size_t run_html(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	size_t o = 0;
	unsigned long cp;

	for (size_t i = 0; i < n;) {
		size_t k = copy_literal(r, n, i, '&', out, map, o), l;

		i += k;
		o += k;
		if (i >= n)
			break;
		l = r[i] == '&' ? entity_at(r, n, i, &cp) : 0;
		if (!l) {
			map[o] = (uint32_t)i;
			out[o++] = r[i++];
			continue;
		}
		k = utf8_put(cp, out + o);
		map_fill(map, o, k, i);
		o += k;
		i += l;
	}
	return o;
}

/* Sextet values of both alphabets, -1 for other bytes. */
static const signed char *b64_vals(void)
{
	static signed char t[256];
	static int init;

	if (!init) {
		for (int c = 0; c < 256; c++)
			t[c] = c >= 'A' && c <= 'Z' ? (signed char)(c - 'A')
			       : c >= 'a' && c <= 'z' ? (signed char)(c - 'a' + 26)
			       : c >= '0' && c <= '9' ? (signed char)(c - '0' + 52)
			       : c == '+' || c == '-' ? 62 : c == '/' || c == '_' ? 63 : -1;
		init = 1;
	}
	return t;
}

/* Bytes that text has few of: control bytes other than tab, newline and
 * carriage return, and DEL (random bytes have one in eight of them). */
static size_t bad_bytes(const unsigned char *s, size_t n)
{
	size_t bad = 0, i = 0;
#ifdef __SSE2__
	const __m128i c1f = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
	const __m128i tab = _mm_set1_epi8('\t'), nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');

	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
		__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v); /* v <= 0x1f */
		__m128i ok = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, nl)), _mm_cmpeq_epi8(v, cr));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(ok, ctl), _mm_cmpeq_epi8(v, del)));

		for (; m; m &= m - 1) /* no popcnt in the baseline ISA: a few bits at most */
			bad++;
	}
#endif
	for (; i < n; i++)
		bad += (s[i] < 0x20 && s[i] != '\n' && s[i] != '\r' && s[i] != '\t') || s[i] == 0x7f;
	return bad;
}

/* Text, as far as a token is concerned: a few control bytes at most
 * (UTF-8 is let through). */
static int looks_text(const unsigned char *s, size_t n)
{
	return bad_bytes(s, n) * 32 <= n;
}

/*
 * Thirty-two base64 characters of either alphabet, decoded in place: each
 * 32-bit lane q of the result holds the three bytes quantum q decodes to
 * in its bytes 2, 1, 0 (first to last; byte 3 is 0). Returns a mask of the
 * characters in neither alphabet (bit k for p[k]). The sextets by range
 * compares, then packed as in Mula and Lemire's decoder: pairs to 12 bits
 * (maddubs), pairs of those to 24 (madd). The bytes stay out of order:
 * the caller only counts them.
 */
__attribute__((target("avx2"), always_inline)) static inline uint32_t b64_dec32_avx2(__m256i v, __m256i *out)
{
	/* c in [lo, lo + w) as one signed compare: c - lo - 128 < w - 128 */
#define IN_RANGE(lo, w) _mm256_cmpgt_epi8(_mm256_set1_epi8((char)((w) - 128)), \
					  _mm256_add_epi8(v, _mm256_set1_epi8((char)(-(lo) - 128))))
	const __m256i up = IN_RANGE('A', 26), lo = IN_RANGE('a', 26), dg = IN_RANGE('0', 10);
#undef IN_RANGE
	const __m256i s62 = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('+')),
					    _mm256_cmpeq_epi8(v, _mm256_set1_epi8('-')));
	const __m256i s63 = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('/')),
					    _mm256_cmpeq_epi8(v, _mm256_set1_epi8('_')));
	__m256i off = _mm256_or_si256(_mm256_and_si256(up, _mm256_set1_epi8(-'A')),
				      _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi8(26 - 'a')),
						      _mm256_and_si256(dg, _mm256_set1_epi8(52 - '0'))));
	__m256i alnum = _mm256_or_si256(up, _mm256_or_si256(lo, dg));
	__m256i sx = _mm256_or_si256(_mm256_and_si256(_mm256_add_epi8(v, off), alnum),
				     _mm256_or_si256(_mm256_and_si256(s62, _mm256_set1_epi8(62)),
						     _mm256_and_si256(s63, _mm256_set1_epi8(63))));
	uint32_t ok = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(alnum, _mm256_or_si256(s62, s63)));

	*out = _mm256_madd_epi16(_mm256_maddubs_epi16(sx, _mm256_set1_epi32(0x01400140)), _mm256_set1_epi32(0x00011000));
	return ~ok;
}

/* Bit k set where byte k of v is one bad_bytes counts. */
__attribute__((target("avx2"), always_inline)) static inline uint32_t bad_mask_avx2(__m256i v)
{
	__m256i ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v); /* v <= 0x1f */
	__m256i ok = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t')),
						     _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n'))),
				     _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\r')));

	return (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(_mm256_andnot_si256(ok, ctl),
							      _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f))));
}

/*
 * 1 when run_base64 would give 0 for r[0..n) at or before its check of
 * the first 48 bytes (a character in neither alphabet, or more control
 * bytes than looks_text lets through), told from its first 64 characters
 * at once; 0 when it cannot say so (the caller decodes). Most runs of
 * token-byte soup (keywords back to back) decode to such bytes: each was
 * decoded byte by byte and then rejected. m: the characters run_base64
 * decodes (n less its padding and a lone last sextet).
 */
__attribute__((target("avx2,popcnt"))) static int b64_rejects_avx2(const unsigned char *r, size_t n, size_t m)
{
	size_t q = m < 64 ? m / 4 : 16, o = m >= 64 ? 48 : q * 3 + (m % 4 ? m % 4 - 1 : 0);
	/* the bytes counted, in b64_dec32_avx2's order: three of each whole
	 * quantum's lane, and of a partial last quantum its first byte or
	 * two (lane bytes 2, 1) */
	uint64_t keep = (q == 16 ? ~0ull : (1ull << 4 * q) - 1) & 0x7777777777777777ull;
	uint64_t inval, bad;
	__m256i v0, v1, d0, d1;

	if (q < 16)
		keep |= (uint64_t)(m % 4 == 3 ? 6 : m % 4 == 2 ? 4 : 0) << 4 * q;
	if (n >= 64) {
		v0 = _mm256_loadu_si256((const __m256i *)r);
		v1 = _mm256_loadu_si256((const __m256i *)(r + 32));
	} else {
		unsigned char t[64] = { 0 };
		memcpy(t, r, n);
		v0 = _mm256_loadu_si256((const __m256i *)t);
		v1 = _mm256_loadu_si256((const __m256i *)(t + 32));
	}
	if (m < 64) {
		/* past the m characters 'A', sextet 0, as run_base64's partial
		 * quantum pads them (only the bytes in keep are counted) */
		const __m256i idx = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
						     19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
		const __m256i lim = _mm256_set1_epi8((char)m), a = _mm256_set1_epi8('A');
		v0 = _mm256_blendv_epi8(a, v0, _mm256_cmpgt_epi8(lim, idx));
		v1 = _mm256_blendv_epi8(a, v1, _mm256_cmpgt_epi8(lim, _mm256_add_epi8(idx, _mm256_set1_epi8(32))));
	}
	inval = (uint64_t)b64_dec32_avx2(v0, &d0) | (uint64_t)b64_dec32_avx2(v1, &d1) << 32;
	if (inval)
		return 1;
	bad = ((uint64_t)bad_mask_avx2(d0) | (uint64_t)bad_mask_avx2(d1) << 32) & keep;
	/* looks_text: bad * 32 <= o; at 48 bytes run_base64 stops there
	 * only when m >= 64, and else decides at the end on all o */
	return (size_t)__builtin_popcountll(bad) * 32 > o;
}

/*
 * Four characters, three bytes a step (the bytes of quantum q map to its
 * sextets 4q, 4q+1, 4q+2: byte k starts in sextet k); the last partial
 * quantum byte by byte. A character outside both alphabets ends it: not
 * a view (the finder never gives one; a caller may).
 */
static size_t run_base64(const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	const signed char *val = b64_vals();
	size_t m = n, o = 0, i = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (m && r[m - 1] == '=')
		m--;
	if (m % 4 == 1)
		m--; /* a lone sextet holds no byte */
	if (avx2_on() && b64_rejects_avx2(r, n, m))
		return 0;
	for (; i + 4 <= m; i += 4) {
		int32_t a = val[r[i]], b = val[r[i + 1]], c = val[r[i + 2]], d = val[r[i + 3]];
		uint32_t q = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;

		if ((a | b | c | d) < 0)
			return 0;
		out[o] = (unsigned char)(q >> 16);
		out[o + 1] = (unsigned char)(q >> 8);
		out[o + 2] = (unsigned char)q;
		map[o] = (uint32_t)i;
		map[o + 1] = (uint32_t)i + 1;
		map[o + 2] = (uint32_t)i + 2;
		o += 3;
		/* random bytes show themselves early: a long run that is not
		 * text costs 48 bytes of decoding, not the run */
		if (o == 48 && !looks_text(out, o))
			return 0;
	}
	for (; i < m; i++) {
		int v = val[r[i]];
		if (v < 0)
			return 0;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			map[o] = (uint32_t)(i - 1);
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	map[o] = (uint32_t)n;
	return looks_text(out, o) ? o : 0;
}

/* Printable ASCII (and tab, newline) among the bytes the run decodes to
 * from r[s..], on its first 64 characters. */
static int b64_score(const unsigned char *r, size_t n, size_t s)
{
	const signed char *val = b64_vals();
	uint32_t acc = 0;
	int bits = 0, score = 0;

	for (size_t i = s; i < n && i < s + 64; i++) {
		int v = val[r[i]];
		if (v < 0)
			break;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			unsigned char c = (unsigned char)(acc >> (bits -= 8));
			score += (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' || c == '\r';
		}
	}
	return score;
}

size_t decode_b64_quantum(const unsigned char *r, size_t n)
{
	size_t best = 0;
	int top = -1;

	for (size_t s = 0; s < 4 && s < n; s++) {
		int sc = b64_score(r, n, s);
		if (sc > top) {
			top = sc;
			best = s;
		}
	}
	return best;
}

size_t decode_run(enum decode_kind k, const unsigned char *r, size_t n, unsigned char *out, uint32_t *map)
{
	size_t o;

	switch (k) {
	case DECODE_PERCENT: o = run_percent(r, n, out, map); break;
	case DECODE_JSON: o = run_json(r, n, out, map); break;
	case DECODE_BASE64: return n ? run_base64(r, n, out, map) : 0;
	case DECODE_HTML: o = run_html(r, n, out, map); break;
	default: return 0;
	}
	map[o] = (uint32_t)n;
	return o;
}
