/* Tests for user/detect/checksum.c, against tokens minted here (tokmint.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "detect/checksum.h"
#include "tokmint.h"

static void test_base62_crc32_known_answer(void **state)
{
	char out[7];
	(void)state;
	/* crc32("abc") = 0x352441c2 = 891568578 = base62 "0yKviM" */
	checksum_base62_crc32("abc", 3, out);
	assert_string_equal(out, "0yKviM");
	checksum_base62_crc32("", 0, out);
	assert_string_equal(out, "000000");
}

static void test_base62_matches_independent_encoder(void **state)
{
	char body[31], a[7], b[7];
	(void)state;
	for (int i = 0; i < 200; i++) {
		tm_chars(body, tm_b62, 62, 30);
		checksum_base62_crc32(body, 30, a);
		tm_crc6(body, 30, b);
		assert_string_equal(a, b);
	}
}

static void test_github_valid_and_tampered(void **state)
{
	char t[48];
	(void)state;
	for (int i = 0; i < 50; i++) {
		tm_github(t, i % 2 ? "ghp_" : "npm_");
		assert_true(checksum_verify(CHECKSUM_GITHUB_CRC32, t, 40));
		/* every single-character change of the body is caught */
		char saved = t[10];
		t[10] = saved == 'a' ? 'b' : 'a';
		assert_false(checksum_verify(CHECKSUM_GITHUB_CRC32, t, 40));
		t[10] = saved;
		t[39] = t[39] == 'Z' ? 'Y' : 'Z';
		assert_false(checksum_verify(CHECKSUM_GITHUB_CRC32, t, 40));
	}
	tm_github(t, "ghp_");
	assert_false(checksum_verify(CHECKSUM_GITHUB_CRC32, t, 39));
	t[5] = '-';
	assert_false(checksum_verify(CHECKSUM_GITHUB_CRC32, t, 40));
	assert_false(checksum_verify(CHECKSUM_GITHUB_CRC32, "nounderscore", 12));
}

static void test_tokenward_valid_and_tampered(void **state)
{
	char t[64];
	(void)state;
	for (int i = 0; i < 50; i++) {
		tm_twd(t);
		assert_true(checksum_verify(CHECKSUM_TOKENWARD_CRC32, t, 53));
		t[20] = t[20] == '0' ? '1' : '0';
		assert_false(checksum_verify(CHECKSUM_TOKENWARD_CRC32, t, 53));
	}
	/* 43 'z' is above 2^256: not a minted body, even with a matching CRC */
	memcpy(t, "twd_", 4);
	memset(t + 4, 'z', 43);
	tm_crc6(t + 4, 43, t + 47);
	assert_false(checksum_verify(CHECKSUM_TOKENWARD_CRC32, t, 53));
	/* the right scheme with another prefix is not a tokenward token */
	tm_twd(t);
	t[0] = 'x';
	assert_false(checksum_verify(CHECKSUM_TOKENWARD_CRC32, t, 53));
}

static void test_jwt_header(void **state)
{
	char t[512];
	(void)state;
	tm_jwt(t, "at+jwt", 1);
	assert_true(checksum_verify(CHECKSUM_JWT, t, strlen(t)));
	tm_jwt(t, "JWT", 0);
	assert_false(checksum_verify(CHECKSUM_JWT, t, strlen(t)));
	assert_false(checksum_verify(CHECKSUM_JWT, "eyJ!!!.eyJ.x", 12));
	assert_false(checksum_verify(CHECKSUM_JWT, "nodots", 6));
}

static void test_b64url_decode(void **state)
{
	unsigned char out[16];
	(void)state;
	assert_int_equal(checksum_b64url_decode("aGVsbG8", 7, out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(checksum_b64url_decode("a$b", 3, out, sizeof(out)), -1);
	assert_int_equal(checksum_b64url_decode("aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ", 31, out, 4), -1);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(checksum_parse("github_crc32"), CHECKSUM_GITHUB_CRC32);
	assert_int_equal(checksum_parse("tokenward_crc32"), CHECKSUM_TOKENWARD_CRC32);
	assert_int_equal(checksum_parse("jwt"), CHECKSUM_JWT);
	assert_int_equal(checksum_parse("md5"), -1);
	assert_string_equal(checksum_name(CHECKSUM_GITHUB_CRC32), "github_crc32");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base62_crc32_known_answer),
		cmocka_unit_test(test_base62_matches_independent_encoder),
		cmocka_unit_test(test_github_valid_and_tampered),
		cmocka_unit_test(test_tokenward_valid_and_tampered),
		cmocka_unit_test(test_jwt_header),
		cmocka_unit_test(test_b64url_decode),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
