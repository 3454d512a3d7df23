/* Where the next keyword may start: see bigram.h. */
#include <string.h>
#include "detect/bigram.h"

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* c (folded) and its upper case: the two bytes a keyword's c may be. */
static void variants(unsigned char c, unsigned char v[2])
{
	v[0] = c;
	v[1] = c >= 'a' && c <= 'z' ? c - 32 : c;
}

void bigram_filter_init(struct bigram_filter *f)
{
	memset(f, 0, sizeof(*f));
}

/* A keyword's bucket is its first two bytes'; past eight, buckets are
 * shared: still every keyword admitted, a few more positions let through. */
static unsigned char bucket_bit(struct bigram_filter *f, unsigned char a, unsigned char b)
{
	unsigned k = 0;

	while (k < f->nkeys && (f->keys[k][0] != a || f->keys[k][1] != b))
		k++;
	if (k == f->nkeys && f->nkeys < 256) {
		f->keys[k][0] = a;
		f->keys[k][1] = b;
		f->nkeys++;
	}
	return (unsigned char)(1u << (k % 8));
}

/* Every case variant of c is admitted at position pos for bucket bit. */
static void admit(struct bigram_filter *f, int pos, unsigned char c, unsigned char bit)
{
	unsigned char v[2];

	variants(c, v);
	for (int i = 0; i < 2; i++) {
		f->lo[pos][v[i] & 15] |= bit;
		f->hi[pos][v[i] >> 4] |= bit;
	}
}

void bigram_filter_add(struct bigram_filter *f, const unsigned char *kw, size_t len)
{
	unsigned char a = fold(kw[0]), b = fold(kw[1]), bit = bucket_bit(f, a, b), av[2], bv[2];

	variants(a, av);
	variants(b, bv);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++) {
			unsigned k = av[i] | bv[j] << 8;
			f->bits[k >> 6] |= 1ull << (k & 63);
		}
	admit(f, 0, a, bit);
	admit(f, 1, b, bit);
	if (len > 2) {
		admit(f, 2, fold(kw[2]), bit);
		return;
	}
	for (int n = 0; n < 16; n++) { /* a two-byte keyword: any third byte */
		f->lo[2][n] |= bit;
		f->hi[2][n] |= bit;
	}
}

void bigram_filter_finish(struct bigram_filter *f, int simd)
{
	f->simd = simd && __builtin_cpu_supports("avx2");
}

static size_t next_scalar(const struct bigram_filter *f, const unsigned char *buf, size_t i, size_t end)
{
	for (; i < end; i++)
		if (__builtin_expect(bigram_filter_has(f, buf[i] | buf[i + 1] << 8), 0))
			return i;
	return end;
}

__attribute__((target("avx2"))) static size_t next_avx2(const struct bigram_filter *f, const unsigned char *buf,
							 size_t i, size_t end)
{
	struct bigram_vec v;

	bigram_vec_load(f, &v);
	/* i + 32 <= end: the third load reads up to buf[i + 33], which the
	 * caller guarantees (buf[end + 1] exists) */
	for (; i + 32 <= end; i += 32) {
		uint32_t maybe = bigram_vec_mask(&v, buf + i);

		while (maybe) {
			size_t j = i + (size_t)__builtin_ctz(maybe);

			if (bigram_filter_has(f, buf[j] | buf[j + 1] << 8))
				return j;
			maybe &= maybe - 1;
		}
	}
	return next_scalar(f, buf, i, end);
}

size_t bigram_filter_next(const struct bigram_filter *f, const unsigned char *buf, size_t i, size_t end)
{
	return f->simd ? next_avx2(f, buf, i, end) : next_scalar(f, buf, i, end);
}
