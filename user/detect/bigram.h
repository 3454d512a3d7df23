/*
 * The prefilter's first step: where, in a buffer, does the next pair of
 * bytes start some keyword? Nearly every byte of a log is not such a
 * position, so this is the detector's inner loop (a quarter of the
 * reader's CPU under redis-benchmark, most of a scan's).
 *
 * The set of pairs is exact (a bit per pair, 8 KiB). With AVX2 the
 * search tests 32 positions at a time first: each keyword's bucket (its
 * first two bytes, folded to lower case) is looked up by the nibbles of
 * its first three bytes (six pshufb), which admits every keyword start
 * and some more; the exact pair bits then decide. The third byte is what
 * makes it pay: "ey" starts a JWT keyword and a tenth of English words
 * ("they", "key"), "eyJ" almost none. Without AVX2 it tests the pair bits
 * byte by byte. A position the AVX2 search skips starts no keyword; one
 * it returns is in the pair set (tests/unit/detect/test_bigram.c).
 */
#ifndef TW_DETECT_BIGRAM_H
#define TW_DETECT_BIGRAM_H

#include <stddef.h>
#include <stdint.h>

struct bigram_filter {
	uint64_t bits[65536 / 64];   /* bit (b0 | b1 << 8): the pair starts a keyword */
	unsigned char lo[3][16], hi[3][16]; /* bucket masks of byte 0..2, by nibble */
	unsigned char keys[256][2];  /* the buckets' keys, folded */
	unsigned nkeys;
	int simd;                    /* use the AVX2 search */
};

void bigram_filter_init(struct bigram_filter *f);
/* Adds a keyword (at least 2 bytes), matched without regard to ASCII case. */
void bigram_filter_add(struct bigram_filter *f, const unsigned char *kw, size_t len);
/* simd: 1 to use AVX2 where the CPU has it, 0 never (tests compare both). */
void bigram_filter_finish(struct bigram_filter *f, int simd);

/* The least j in [i, end) where a keyword may start: at least every j
 * where one does, none whose pair is not in the set; end if none. Reads
 * buf[i .. end + 1]: the caller guarantees both exist. */
size_t bigram_filter_next(const struct bigram_filter *f, const unsigned char *buf, size_t i, size_t end);

static inline int bigram_filter_has(const struct bigram_filter *f, unsigned k)
{
	return f->bits[k >> 6] >> (k & 63) & 1;
}

/*
 * The AVX2 test of 32 positions, for a caller's own loop over blocks
 * (the detector's prefilter, where keywords are dense: a call to
 * bigram_filter_next per hit recomputed the hit's whole block, ten times
 * over in "eyJ" repeated). Load the tables once with bigram_vec_load,
 * then bigram_vec_mask(v, p) has bit k set where p[k] may start a
 * keyword (the same admission as bigram_filter_next, before the exact
 * pair bits); it reads p[0 .. 33]. Only where f->simd, from a function
 * compiled for AVX2.
 */
#include <immintrin.h>

struct bigram_vec {
	__m256i lo0, hi0, lo1, hi1, lo2, hi2;
};

__attribute__((target("avx2"))) static inline __m256i bigram_vec_table(const unsigned char t[16])
{
	return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
}

__attribute__((target("avx2"))) static inline void bigram_vec_load(const struct bigram_filter *f, struct bigram_vec *v)
{
	v->lo0 = bigram_vec_table(f->lo[0]);
	v->hi0 = bigram_vec_table(f->hi[0]);
	v->lo1 = bigram_vec_table(f->lo[1]);
	v->hi1 = bigram_vec_table(f->hi[1]);
	v->lo2 = bigram_vec_table(f->lo[2]);
	v->hi2 = bigram_vec_table(f->hi[2]);
}

/* The bucket masks of 32 bytes, by their two nibbles. */
__attribute__((target("avx2"))) static inline __m256i bigram_vec_nibbles(__m256i x, __m256i lo, __m256i hi)
{
	const __m256i low4 = _mm256_set1_epi8(0x0f);

	return _mm256_and_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(x, low4)),
				_mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
}

__attribute__((target("avx2"))) static inline uint32_t bigram_vec_mask(const struct bigram_vec *v, const unsigned char *p)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)p);
	__m256i b = _mm256_loadu_si256((const __m256i *)(p + 1));
	__m256i c = _mm256_loadu_si256((const __m256i *)(p + 2));
	__m256i m = _mm256_and_si256(_mm256_and_si256(bigram_vec_nibbles(a, v->lo0, v->hi0),
						      bigram_vec_nibbles(b, v->lo1, v->hi1)),
				     bigram_vec_nibbles(c, v->lo2, v->hi2));

	return ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, _mm256_setzero_si256()));
}

#endif
