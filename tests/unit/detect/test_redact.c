/* Tests for user/detect/redact.c: no raw secret survives, ordinary text does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "detect/redact.h"
#include "lib/sha256.h"
#include "tokmint.h"

/* Built at run time so the source holds no token-shaped literal. */
static void make_secret(char *out, size_t n)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	for (size_t i = 0; i < n; i++)
		out[i] = alpha[(i * 7 + 3 + (i % 5) * 11) % 62];
	out[n] = 0;
}

static void test_fingerprint_is_sha256(void **state)
{
	char fp[65];
	(void)state;
	sha256_hex("abc", 3, fp);
	assert_string_equal(fp, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_short_shows_at_most_six(void **state)
{
	char out[32];
	(void)state;
	redact_short("abcdefghijklmnop", 16, out, sizeof(out));
	assert_string_equal(out, "abcdef\u2026");
	/* a short secret shows at most half of itself */
	redact_short("abcd", 4, out, sizeof(out));
	assert_string_equal(out, "ab\u2026");
}

static void test_text_masks_secret(void **state)
{
	char secret[41], text[128];
	(void)state;
	make_secret(secret, 40);
	snprintf(text, sizeof(text), "--token=%s --verbose", secret);
	char *r = redact_text(text, strlen(text));
	assert_non_null(r);
	assert_null(strstr(r, secret));
	assert_non_null(strstr(r, "[sha256:"));
	assert_non_null(strstr(r, "--verbose"));
	free(r);
}

static void test_text_keeps_paths_and_words(void **state)
{
	const char *t = "/usr/lib/x86_64-linux-gnu/libc.so.6 --config /etc/tokenward.yaml";
	(void)state;
	char *r = redact_text(t, strlen(t));
	assert_string_equal(r, t);
	free(r);
}

static void test_text_handles_nul_and_binary(void **state)
{
	const char t[] = { 'a', 0, 'b', 1, (char)0xff, 'c' };
	(void)state;
	char *r = redact_text(t, sizeof(t));
	/* controls become '?'; a byte that is not UTF-8 becomes \xNN */
	assert_string_equal(r, "a?b?\\xffc");
	free(r);
}

/* Each must go, whole: rule findings are masked even where the generic
 * heuristic would pass them (an AWS key id is upper case and digits). */
static void test_text_masks_rule_findings(void **state)
{
	char aws[21], ghp[48], bad[48], twd[64], jwt[512], text[1024];
	(void)state;
	memcpy(aws, "AKIA", 4);
	tm_chars(aws + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32, 16);
	tm_github(ghp, "ghp_");
	tm_github(bad, "gho_");
	bad[39] = bad[39] == 'Q' ? 'R' : 'Q'; /* a look-alike is masked too */
	tm_twd(twd);
	tm_jwt(jwt, "at+jwt", 1);
	snprintf(text, sizeof(text), "AWS_ACCESS_KEY_ID=%s GH=%s X=%s --tok %s -H Authorization: Bearer %s", aws, ghp,
		 bad, twd, jwt);
	char *r = redact_text(text, strlen(text));
	assert_non_null(r);
	assert_null(strstr(r, aws));
	assert_null(strstr(r, aws + 4));
	assert_null(strstr(r, ghp));
	assert_null(strstr(r, ghp + 6));
	assert_null(strstr(r, bad + 6));
	assert_null(strstr(r, twd + 6));
	assert_null(strstr(r, jwt + 6));
	assert_non_null(strstr(r, "AWS_ACCESS_KEY_ID=AKIA"));
	assert_non_null(strstr(r, "--tok twd_"));
	free(r);
}

static void test_text_rule_mask_in_threads(void **state);

/* Regression: a unix socket or file path holding bytes that are not UTF-8
 * went into the JSON lines raw, making lines no JSON parser accepts.
 * Invalid bytes come out as \xNN; valid UTF-8 passes unchanged. */
static void test_text_output_is_valid_utf8(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "/tmp/s\xff\xfe.sock", "/tmp/s\\xff\\xfe.sock" },
		{ "caf\xc3\xa9 \xf0\x9f\x94\x91 ok", "caf\xc3\xa9 \xf0\x9f\x94\x91 ok" },
		{ "cut \xe2\x82", "cut \\xe2\\x82" },          /* sequence cut at the end */
		{ "over \xc0\xaf long", "over \\xc0\\xaf long" }, /* overlong '/' */
		{ "sur \xed\xa0\x80 x", "sur \\xed\\xa0\\x80 x" }, /* UTF-16 surrogate */
		{ "big \xf4\x90\x80\x80", "big \\xf4\\x90\\x80\\x80" }, /* past U+10FFFF */
		{ "lone \x80 cont", "lone \\x80 cont" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = redact_text(cases[i].in, strlen(cases[i].in));
		assert_non_null(r);
		assert_string_equal(r, cases[i].out);
		free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint_is_sha256),
		cmocka_unit_test(test_short_shows_at_most_six),
		cmocka_unit_test(test_text_masks_secret),
		cmocka_unit_test(test_text_keeps_paths_and_words),
		cmocka_unit_test(test_text_handles_nul_and_binary),
		cmocka_unit_test(test_text_masks_rule_findings),
		cmocka_unit_test(test_text_rule_mask_in_threads),
		cmocka_unit_test(test_text_output_is_valid_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <pthread.h>

static void *mask_many(void *arg)
{
	long bad = 0;
	(void)arg;
	for (int i = 0; i < 200; i++) {
		char aws[21], text[64];
		memcpy(aws, "ASIA", 4);
		tm_chars(aws + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32, 16);
		snprintf(text, sizeof(text), "id %s end", aws);
		char *r = redact_text(text, strlen(text));
		bad += !r || strstr(r, aws + 4) != NULL;
		free(r);
	}
	return (void *)bad;
}

/* redact_text is called from several threads (the monitor's sinks). */
static void test_text_rule_mask_in_threads(void **state)
{
	pthread_t t[4];
	void *ret;
	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, mask_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &ret);
		assert_int_equal((long)ret, 0);
	}
}
