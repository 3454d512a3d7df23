/* Tests for user/detect/opaque.c: the registration check for opaque
 * tokens accepts exactly what the detector's opaque pass finds. Every
 * token here is made at run time from random bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "detect/detect.h"
#include "detect/opaque.h"
#include "detect/rules.h"
#include "lib/sha256.h"
#include "tokmint.h"

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

struct known {
	unsigned char sha[32];
	int found;          /* an exact, known report of the token */
	size_t start, len;
};

static int lookup(void *ctx, const unsigned char s[32], long long *id)
{
	struct known *k = ctx;
	*id = 42;
	return !memcmp(s, k->sha, 32);
}

static int on_match(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct known *k = ctx;
	(void)buf;
	(void)len;
	if (m->known && m->token_id == 42 && m->start == k->start && m->len == k->len)
		k->found = 1;
	return 0;
}

/* n random base64url bytes (tm_chars takes at most 512 at a time). */
static void fill_b64u(char *out, size_t n)
{
	for (size_t i = 0; i < n; i += 500)
		tm_chars(out + i, tm_b64u, 64, n - i < 500 ? n - i : 500);
	out[n] = 0;
}

/* Would the detector, with tok registered (as the ledger registers it:
 * its hash and its length), report tok in ordinary text around it? */
static int detector_finds(const char *tok, size_t n)
{
	struct known k = { .start = 14, .len = n };
	unsigned lens[1] = { (unsigned)n };
	char err[256], *text = malloc(n + 64);
	struct detector *d = detector_new(rs, err, sizeof(err));
	size_t tl;

	assert_non_null(d);
	assert_non_null(text);
	sha256_digest(tok, n, k.sha);
	detector_set_known(d, lookup, &k, lens, 1);
	memcpy(text, "Bearer token: ", 14);
	memcpy(text + 14, tok, n);
	memcpy(text + 14 + n, "\nnext line\n", 11);
	tl = 14 + n + 11;
	assert_int_equal(detector_scan(d, text, tl, on_match, &k), 0);
	detector_free(d);
	free(text);
	return k.found;
}

/* One byte of every value in the middle of a random base64url token:
 * accepted exactly when the detector then finds the whole token. */
static void test_every_byte_agrees(void **state)
{
	char tok[33], why[128];
	(void)state;
	for (int c = 1; c < 256; c++) {
		tm_chars(tok, tm_b64u, 64, 32);
		tok[16] = (char)c;
		int ok = detect_opaque_check(tok, 32, why, sizeof(why)) == 0;
		int found = detector_finds(tok, 32);
		if (ok != found)
			fail_msg("byte 0x%02x: check says %s, detector %s", c, ok ? "yes" : "no",
				 found ? "finds it" : "does not find it");
		if (!ok && !strstr(why, "0x"))
			fail_msg("byte 0x%02x: the reason does not name the byte: %s", c, why);
	}
}

/* The lengths at both ends of what is findable. */
static void test_lengths_agree(void **state)
{
	static const size_t lens[] = { 1, 7, DETECT_OPAQUE_MIN_LEN, 9, 43, 1000,
				       DETECT_MAX_OPAQUE_LEN - 1, DETECT_MAX_OPAQUE_LEN,
				       DETECT_MAX_OPAQUE_LEN + 1, 65536 };
	char why[128];
	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char *tok = malloc(lens[i] + 1);
		assert_non_null(tok);
		fill_b64u(tok, lens[i]);
		int ok = detect_opaque_check(tok, lens[i], why, sizeof(why)) == 0;
		int found = detector_finds(tok, lens[i]);
		if (ok != found)
			fail_msg("length %zu: check says %s, detector %s", lens[i], ok ? "yes" : "no",
				 found ? "finds it" : "does not find it");
		if (!ok && !strstr(why, "characters"))
			fail_msg("length %zu: unhelpful reason: %s", lens[i], why);
		free(tok);
	}
	/* the shapes the issue named: short, '.', '~' */
	assert_int_equal(detect_opaque_check("abc1234", 7, why, sizeof(why)), -EINVAL);
	assert_int_equal(detect_opaque_check("abcd.efgh1234", 13, why, sizeof(why)), -EINVAL);
	assert_int_equal(detect_opaque_check("abcd~efgh1234", 13, why, sizeof(why)), -EINVAL);
	assert_int_equal(detect_opaque_check("abcd-efgh_1234", 14, why, sizeof(why)), 0);
}

/* The reason never carries the token, only its length or one byte. */
static void test_reason_holds_no_token(void **state)
{
	char tok[41], why[128];
	(void)state;
	tm_chars(tok, tm_b64u, 64, 40);
	tok[39] = '.';
	assert_int_equal(detect_opaque_check(tok, 40, why, sizeof(why)), -EINVAL);
	for (size_t i = 0; i + 6 <= 39; i++)
		if (memmem(why, strlen(why), tok + i, 6))
			fail_msg("reason holds part of the token: %s", why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_agrees),
		cmocka_unit_test(test_lengths_agree),
		cmocka_unit_test(test_reason_holds_no_token),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
