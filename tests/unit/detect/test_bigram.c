/* Tests for the prefilter's first step (user/detect/bigram.c): the AVX2
 * search never skips a position where a keyword starts, in any case, at
 * any offset or length, and returns only positions whose pair is in the
 * set; the byte-by-byte search returns exactly the pair set. The
 * reference here is a plain loop over the keywords. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include "detect/bigram.h"

/* The built-in rules' keywords, and a few with non-letters in them. */
static const char *kws[] = { "sk-ant-", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
			     "glpat-", "AIza", "bearer", "eyJ", "eyI", "eyA", "ew", "npm_", "sk-proj-",
			     "sk-", "xoxb-", "sk_live_", "rk_live_", "twd_", "1_x", "9z", "a.b" };
#define NKW (sizeof(kws) / sizeof(kws[0]))

static struct bigram_filter *make(int simd)
{
	struct bigram_filter *f = malloc(sizeof(*f));

	assert_non_null(f);
	bigram_filter_init(f);
	for (size_t i = 0; i < NKW; i++)
		bigram_filter_add(f, (const unsigned char *)kws[i], strlen(kws[i]));
	bigram_filter_finish(f, simd);
	return f;
}

static int keyword_at(const unsigned char *buf, size_t len, size_t j)
{
	for (size_t k = 0; k < NKW; k++) {
		size_t n = strlen(kws[k]);
		if (j + n <= len && !strncasecmp((const char *)buf + j, kws[k], n))
			return 1;
	}
	return 0;
}

static int pair_in_set(const unsigned char *buf, size_t j)
{
	for (size_t k = 0; k < NKW; k++)
		if (!strncasecmp((const char *)buf + j, kws[k], 2))
			return 1;
	return 0;
}

/* Text rich in the keywords' letters, with keywords dropped in, in
 * random case, and bytes above 0x7f (pshufb zeroes on the top bit). */
static void fill(unsigned char *buf, size_t len, unsigned seed)
{
	static const char soup[] = "eyJgGhHsSkKaAiIbBnNxXtTwWrR_-.19 \n\xe9\xff";

	srand(seed);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)soup[rand() % (sizeof(soup) - 1)];
	for (size_t n = len / 16; n-- > 0;) {
		const char *k = kws[rand() % NKW];
		size_t at = (size_t)rand() % len, m = strlen(k);
		for (size_t c = 0; c < m && at + c < len; c++)
			buf[at + c] = rand() % 2 ? (unsigned char)k[c] : (unsigned char)(k[c] ^ (k[c] >= 'a' ? 0x20 : 0));
	}
}

/* Walks [from, end) as the detector does; checks each position. */
static void walk(const struct bigram_filter *f, const unsigned char *buf, size_t len, size_t from, size_t end,
		 int exact)
{
	size_t want = from;

	for (size_t j = from; j < end; j++) {
		size_t got = bigram_filter_next(f, buf, j, end);
		for (; want < got; want++) /* every skipped position starts nothing */
			assert_false(exact ? pair_in_set(buf, want) : keyword_at(buf, len, want));
		if (got == end)
			return;
		assert_true(pair_in_set(buf, got));
		j = got;
		want = got + 1;
	}
}

static void test_never_skips_a_keyword(void **state)
{
	(void)state;
	struct bigram_filter *simd = make(1), *plain = make(0);
	unsigned char buf[700];

	assert_int_equal(plain->simd, 0);
	if (!simd->simd)
		print_message("no AVX2 here: both walks are byte by byte\n");
	for (unsigned seed = 1; seed <= 300; seed++) {
		size_t len = 2 + seed % (sizeof(buf) - 2);
		fill(buf, len, seed);
		for (size_t from = 0; from < 40 && from + 1 < len; from += 7) {
			walk(simd, buf, len, from, len - 1, 0);
			walk(plain, buf, len, from, len - 1, 1);
		}
	}
	free(simd);
	free(plain);
}

/* The third byte is what the AVX2 search adds: "they key" holds the pair
 * "ey" twice and no keyword, so nothing is returned; "eyJ" is. */
static void test_third_byte_rejects(void **state)
{
	(void)state;
	struct bigram_filter *f = make(1);
	unsigned char buf[200];

	if (!f->simd) {
		free(f);
		skip();
	}
	memset(buf, ' ', sizeof(buf));
	memcpy(buf + 3, "they key money", 14);
	assert_int_equal(bigram_filter_next(f, buf, 0, 100), 100);
	memcpy(buf + 70, "EYj", 3);
	assert_int_equal(bigram_filter_next(f, buf, 0, 100), 70);
	assert_int_equal(bigram_filter_next(f, buf, 71, 100), 100);
	free(f);
}

__attribute__((target("avx2"))) static uint32_t block_mask(const struct bigram_filter *f, const unsigned char *p)
{
	struct bigram_vec v;

	bigram_vec_load(f, &v);
	return bigram_vec_mask(&v, p);
}

/* The block test the detector's own loop uses (bigram_vec_mask): every
 * keyword start in the block has its bit, at every alignment, and its
 * first admitted position in the pair set is the one
 * bigram_filter_next returns. */
static void test_block_mask_admits_every_keyword(void **state)
{
	(void)state;
	struct bigram_filter *f = make(1);
	unsigned char buf[700];

	if (!f->simd) {
		free(f);
		skip();
	}
	for (unsigned seed = 1; seed <= 300; seed++) {
		size_t len = 40 + seed % (sizeof(buf) - 40);
		fill(buf, len, seed);
		for (size_t i = 0; i + 34 <= len; i += 1 + seed % 5) {
			uint32_t m = block_mask(f, buf + i), exact = 0;
			for (unsigned k = 0; k < 32; k++) {
				if (keyword_at(buf, len, i + k))
					assert_true(m >> k & 1);
				if (m >> k & 1 && bigram_filter_has(f, buf[i + k] | buf[i + k + 1] << 8))
					exact |= 1u << k;
			}
			size_t want = exact ? i + (size_t)__builtin_ctz(exact) : i + 32;
			assert_int_equal(bigram_filter_next(f, buf, i, i + 32), want);
		}
	}
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_skips_a_keyword),
		cmocka_unit_test(test_third_byte_rejects),
		cmocka_unit_test(test_block_mask_admits_every_keyword),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
