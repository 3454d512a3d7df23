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

#endif
