/*
 * The checks that drop look-alikes a pattern cannot tell from a secret:
 * documentation placeholders and low-entropy strings. They run once per
 * regex match, and hostile text can make a match every twenty bytes
 * (AKIA + 16 letters, over and over), so each is one pass over the
 * string: the placeholder markers are looked up by their first byte, and
 * the entropy sums c * log2(c) over the distinct bytes only, from a table.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "detect/detect.h"

#define CLOG_MAX 1024

/*
 * Documentation samples are not findings. The markers are chosen so that
 * a random base62 string contains one with probability ~1e-5 or less;
 * a secret whose checksum verifies never reaches this test.
 *
 * Words count only as words: at an end of the string or beside a
 * separator ("YOUR_API_KEY", "my-dummy-key"). Inside a run of letters
 * and digits they are chance: a random 40-character secret holds "your"
 * about once in 25 000, and a random 100-character one "xxxx" (either
 * case) about once in 10 000, so "xxxx" is a word too ("XXXX-XXXX",
 * "sk_live_xxxx"); eight x's in a row are a run of one character.
 */
static const struct marker {
	const char *s;
	unsigned char len, word;
} markers[] = {
	{ "example", 7, 1 }, { "your", 4, 1 }, { "placeholder", 11, 1 }, { "redacted", 8, 1 },
	{ "changeme", 8, 1 }, { "dummy", 5, 1 }, { "insert", 6, 1 }, { "token_here", 10, 1 },
	{ "token-here", 10, 1 }, { "key_here", 8, 1 }, { "key-here", 8, 1 },
	{ "xxxx", 4, 1 }, { "<", 1, 0 }, { ">", 1, 0 }, { "${", 2, 0 }, { "{{", 2, 0 },
	{ "****", 4, 0 }, { "....", 4, 0 }, { "0000000", 7, 0 }, { "1234567", 7, 0 },
};
#define NMARKERS (sizeof(markers) / sizeof(markers[0]))

static uint32_t by_first[256];   /* bit i: markers[i] starts with this byte (lower case) */
/* Does a marker start with these two bytes (lower case), or is one byte
 * long and this its byte? Most bytes of a random secret start a marker
 * ("e", "k", "t", "1" ...); few pairs do, and a secret every twenty bytes
 * is what a dense hostile input is made of. */
static uint8_t pair_start[65536 / 8];
static uint8_t one_byte[256];
/* The same question asked of the raw bytes, every case variant folded in
 * at start: bit (s[i] | s[i+1] << 8) is set when lower(s[i]) is a
 * one-byte marker or the lower-cased pair starts a marker. One load a
 * byte instead of two case folds, a byte lookup and a bit lookup. */
static uint64_t raw_start[65536 / 64];
static unsigned char lower_tab[256];
static double clog_tab[CLOG_MAX + 1]; /* c * log2(c) */
/* The same in fixed point (2^-ENT_FRAC), as the step from c to c + 1:
 * the sum over a string's bytes of step[count so far] is the sum of
 * c log2 c over its distinct bytes, in integer adds that do not wait on
 * each other as a chain of floating-point adds does. */
#define ENT_FRAC 40
static uint64_t clog_step[CLOG_MAX];
/* The markers' first two bytes (lower case), each pair once, and the
 * one-byte markers: what the AVX2 test compares 32 positions with. */
static unsigned char pair_a[NMARKERS], pair_b[NMARKERS], single[NMARKERS];
static unsigned npairs, nsingles;
static int have_avx2;
static uint64_t clog_fix[CLOG_MAX + 1];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
	for (int c = 0; c < 256; c++)
		lower_tab[c] = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : (unsigned char)c;
	for (size_t i = 0; i < NMARKERS; i++)
		by_first[(unsigned char)markers[i].s[0]] |= 1u << i;
	/* a marker's first byte in either case */
	for (int c = 'A'; c <= 'Z'; c++)
		by_first[c] = by_first[c + 32];
	for (size_t i = 0; i < NMARKERS; i++) {
		unsigned a = (unsigned char)markers[i].s[0], b = (unsigned char)markers[i].s[1];

		if (markers[i].len == 1) {
			one_byte[a] = 1;
			single[nsingles++] = (unsigned char)a;
			continue;
		}
		if (!(pair_start[(a | b << 8) >> 3] >> (b << 8 | a) % 8 & 1)) {
			pair_a[npairs] = (unsigned char)a;
			pair_b[npairs++] = (unsigned char)b;
		}
		pair_start[(a | b << 8) >> 3] |= (uint8_t)(1u << (b << 8 | a) % 8);
	}
	have_avx2 = __builtin_cpu_supports("avx2");
	for (unsigned c = 1; c <= CLOG_MAX; c++) {
		clog_tab[c] = c * log2((double)c);
		clog_fix[c] = (uint64_t)llround(ldexp(clog_tab[c], ENT_FRAC));
	}
	for (unsigned c = 0; c < CLOG_MAX; c++)
		clog_step[c] = clog_fix[c + 1] - clog_fix[c];
	for (unsigned raw = 0; raw < 65536; raw++) {
		unsigned a = lower_tab[raw & 255], pair = a | (unsigned)lower_tab[raw >> 8] << 8;

		if (one_byte[a] || (pair_start[pair >> 3] >> (pair & 7) & 1))
			raw_start[raw >> 6] |= 1ULL << (raw & 63);
	}
}

static double entropy_long(const unsigned char *s, size_t n)
{
	uint64_t cnt[256] = { 0 };
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		cnt[s[i]]++;
	for (int c = 0; c < 256; c++)
		if (cnt[c])
			sum += cnt[c] <= CLOG_MAX ? clog_tab[cnt[c]] : (double)cnt[c] * log2((double)cnt[c]);
	return log2((double)n) - sum / (double)n;
}

double detect_entropy(const unsigned char *s, size_t n)
{
	/* zero between calls: each call clears the counts it set */
	static __thread uint16_t cnt[256];
	unsigned char seen[256];
	unsigned ns = 0;
	double sum = 0;

	if (!n)
		return 0;
	pthread_once(&tables_once, tables_init);
	if (n > CLOG_MAX)
		return entropy_long(s, n);
	/* branch-free: whether a byte is new is a coin toss in a secret */
	for (size_t i = 0; i < n; i++) {
		seen[ns] = s[i];
		ns += !cnt[s[i]]++;
	}
	/* H = -sum p log p = log2(n) - (1/n) sum c log2 c */
	for (unsigned j = 0; j < ns; j++) {
		sum += clog_tab[cnt[seen[j]]];
		cnt[seen[j]] = 0;
	}
	return (clog_tab[n] - sum) / (double)n;
}

/*
 * detect_entropy(s, n) < min, decided as that would decide it: the
 * fixed-point sum is within n * 2^-ENT_FRAC of the real one, so only an
 * entropy within ENT_NEAR of min is computed again exactly. Per regex
 * match of a dense hostile input this was a fifth of the scan.
 */
#define ENT_NEAR 1e-6
int detect_entropy_below(const unsigned char *s, size_t n, double min)
{
	static __thread uint16_t cnt[256]; /* zero between calls */
	uint64_t sum = 0;
	double h;

	if (!n || n > CLOG_MAX)
		return detect_entropy(s, n) < min;
	pthread_once(&tables_once, tables_init);
	for (size_t i = 0; i < n; i++)
		sum += clog_step[cnt[s[i]]++];
	for (size_t i = 0; i < n; i++)
		cnt[s[i]] = 0;
	h = ldexp((double)(clog_fix[n] - sum), -ENT_FRAC) / (double)n;
	if (h - min > ENT_NEAR || min - h > ENT_NEAR)
		return h < min;
	return detect_entropy(s, n) < min;
}

static inline unsigned char lower(unsigned char c)
{
	return lower_tab[c];
}

/* Is s[i] outside the string or not a letter or digit? */
static int word_edge(const unsigned char *s, size_t m, size_t i)
{
	unsigned char c;

	if (i >= m)
		return 1;
	c = lower(s[i]);
	return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
}

static int marker_at(const unsigned char *s, size_t m, size_t i)
{
	uint32_t set = by_first[s[i]];

	while (set) {
		const struct marker *k = &markers[__builtin_ctz(set)];
		unsigned c = 1;

		set &= set - 1;
		if (i + k->len > m)
			continue;
		while (c < k->len && lower(s[i + c]) == (unsigned char)k->s[c])
			c++;
		if (c < k->len)
			continue;
		if (!k->word || i == 0 || word_edge(s, m, i - 1) || word_edge(s, m, i + k->len))
			return 1;
	}
	return 0;
}

/* Byte by byte (see detect_is_placeholder). */
static int placeholder_scalar(const unsigned char *s, size_t m)
{
	unsigned run = 0, prev = 256, longest = 0;

	for (size_t i = 0; i < m; i++) {
		unsigned c = lower(s[i]);
		unsigned raw = s[i] | (unsigned)(i + 1 < m ? s[i + 1] : 0) << 8;

		run = c == prev ? run + 1 : 1;
		prev = c;
		longest = run > longest ? run : longest;
		if (__builtin_expect(raw_start[raw >> 6] >> (raw & 63) & 1, 0) && marker_at(s, m, i))
			return 1;
	}
	return longest >= 8;
}

__attribute__((target("avx2"))) static inline __m256i fold32(__m256i v)
{
	__m256i up = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('A' - 1)),
				      _mm256_cmpgt_epi8(_mm256_set1_epi8('Z' + 1), v));

	return _mm256_or_si256(v, _mm256_and_si256(up, _mm256_set1_epi8(0x20)));
}

/* Of 32 positions (folded bytes v, the next ones v1): where a marker may
 * start (its first two bytes, or a one-byte marker). */
__attribute__((target("avx2"))) static inline uint32_t starts32(__m256i v, __m256i v1)
{
	__m256i hit = _mm256_setzero_si256();

	for (unsigned k = 0; k < npairs; k++)
		hit = _mm256_or_si256(hit, _mm256_and_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8((char)pair_a[k])),
							    _mm256_cmpeq_epi8(v1, _mm256_set1_epi8((char)pair_b[k]))));
	for (unsigned k = 0; k < nsingles; k++)
		hit = _mm256_or_si256(hit, _mm256_cmpeq_epi8(v, _mm256_set1_epi8((char)single[k])));
	return (uint32_t)_mm256_movemask_epi8(hit);
}

/*
 * The same answer for m <= 64, 32 positions at a time: the bytes are
 * copied into a zeroed block (a zero after the string, as the scalar
 * test reads one), folded, compared with every marker's first two bytes
 * (marker_at confirms where they match), and with their neighbours: a
 * run of 8 equal bytes is 7 equal neighbours in a row. A dense hostile
 * input asks this of every match, 3 million times in 64 MiB.
 */
__attribute__((target("avx2"))) static int placeholder_avx2(const unsigned char *s, size_t m)
{
	unsigned char blk[96] = { 0 };
	uint64_t starts = 0, eq = 0, r;

	memcpy(blk, s, m);
	for (unsigned k = 0; k < 2 && 32 * k < m; k++) {
		__m256i v = fold32(_mm256_loadu_si256((const __m256i *)(blk + 32 * k)));
		__m256i v1 = fold32(_mm256_loadu_si256((const __m256i *)(blk + 32 * k + 1)));

		starts |= (uint64_t)starts32(v, v1) << (32 * k);
		eq |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, v1)) << (32 * k);
	}
	/* positions i < m; equal neighbours only where i + 1 < m */
	starts &= m == 64 ? ~0ULL : (1ULL << m) - 1;
	eq &= m >= 65 ? ~0ULL : (1ULL << (m - 1)) - 1;
	while (starts) {
		if (marker_at(s, m, (size_t)__builtin_ctzll(starts)))
			return 1;
		starts &= starts - 1;
	}
	r = eq & eq >> 1;   /* 2 equal neighbours from i */
	r &= r >> 2;        /* 4 */
	r &= eq >> 4 & eq >> 5 & eq >> 6; /* 7 */
	return r != 0;
}

/*
 * Only the first 255 bytes count: a placeholder is short.
 *
 * Two questions a byte, neither waiting on the other: does a marker
 * start here (raw_start; marker_at confirms, about one byte in a hundred
 * of a random key), and is this byte the eighth of a run of one
 * character ("aaaaaaaa", "--------", either case)? A dense hostile input
 * asks this of a candidate every 21 bytes (issue 13).
 */
int detect_is_placeholder(const unsigned char *s, size_t m0)
{
	size_t m = m0 < 255 ? m0 : 255;

	pthread_once(&tables_once, tables_init);
	if (m && m <= 64 && have_avx2)
		return placeholder_avx2(s, m);
	return placeholder_scalar(s, m);
}

/* For tests: the byte-by-byte answer, whatever the CPU. */
int detect_is_placeholder_scalar(const unsigned char *s, size_t m0)
{
	pthread_once(&tables_once, tables_init);
	return placeholder_scalar(s, m0 < 255 ? m0 : 255);
}
