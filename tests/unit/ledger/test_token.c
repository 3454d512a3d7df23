/* Tests for user/ledger/token.c: format, encoding round trip, checksum, validation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>
#include "ledger/token.h"

/* An independent base62 reading, to check the encoder against. */
static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int val(char c)
{
	const char *p = strchr(alpha, c);
	return p && c ? (int)(p - alpha) : -1;
}

/* Decode 43 base62 digits into 33 big-endian bytes (1 spare). */
static void decode_body(const char *body, unsigned char out[33])
{
	memset(out, 0, 33);
	for (int d = 0; d < TOKEN_BODY_LEN; d++) {
		unsigned carry = val(body[d]);
		for (int i = 32; i >= 0; i--) {
			unsigned cur = out[i] * 62u + carry;
			out[i] = cur & 0xff;
			carry = cur >> 8;
		}
	}
}

static void expected_check(const char *body, char out[7])
{
	unsigned long crc = crc32(0, (const Bytef *)body, TOKEN_BODY_LEN);
	for (int i = 5; i >= 0; i--) {
		out[i] = alpha[crc % 62];
		crc /= 62;
	}
	out[6] = 0;
}

static void test_mint_shape(void **state)
{
	char t[TOKEN_LEN + 1], check[7];
	(void)state;
	assert_int_equal(token_mint(t), 0);
	assert_int_equal(strlen(t), TOKEN_LEN);
	assert_memory_equal(t, "twd_", 4);
	for (int i = 4; i < TOKEN_LEN; i++)
		assert_true(val(t[i]) >= 0);
	expected_check(t + 4, check);
	assert_memory_equal(t + 4 + TOKEN_BODY_LEN, check, 6);
	assert_true(token_validate(t, TOKEN_LEN));
}

static void test_round_trip(void **state)
{
	unsigned char rnd[32], back[33];
	char t[TOKEN_LEN + 1];
	(void)state;
	for (int k = 0; k < 200; k++) {
		for (int i = 0; i < 32; i++)
			rnd[i] = (unsigned char)(k * 31 + i * 7 + (k ^ i));
		token_from_bytes(rnd, t);
		decode_body(t + 4, back);
		assert_int_equal(back[0], 0);
		assert_memory_equal(back + 1, rnd, 32);
		assert_true(token_validate(t, TOKEN_LEN));
	}
}

static void test_extremes(void **state)
{
	unsigned char zero[32] = { 0 }, ones[32], back[33];
	char t[TOKEN_LEN + 1], check[7];
	(void)state;
	token_from_bytes(zero, t);
	for (int i = 4; i < 4 + TOKEN_BODY_LEN; i++)
		assert_int_equal(t[i], '0'); /* left-padded with '0' */
	expected_check(t + 4, check);
	assert_memory_equal(t + 4 + TOKEN_BODY_LEN, check, 6);
	assert_true(token_validate(t, TOKEN_LEN));

	memset(ones, 0xff, 32);
	token_from_bytes(ones, t);
	decode_body(t + 4, back);
	assert_memory_equal(back + 1, ones, 32);
	assert_true(token_validate(t, TOKEN_LEN));
}

static void test_rejects(void **state)
{
	char t[TOKEN_LEN + 1], bad[TOKEN_LEN + 2], check[7];
	(void)state;
	assert_int_equal(token_mint(t), 0);
	/* every single-character change breaks it */
	for (int i = 0; i < TOKEN_LEN; i++) {
		memcpy(bad, t, TOKEN_LEN + 1);
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		assert_false(token_validate(bad, TOKEN_LEN));
	}
	assert_false(token_validate(t, TOKEN_LEN - 1));
	memcpy(bad, t, TOKEN_LEN);
	bad[TOKEN_LEN] = 'x';
	assert_false(token_validate(bad, TOKEN_LEN + 1));
	memcpy(bad, t, TOKEN_LEN + 1);
	bad[10] = '-';
	assert_false(token_validate(bad, TOKEN_LEN));
	assert_false(token_validate("", 0));
	/* a body above 2^256-1 is not one we minted, even with a good checksum */
	memcpy(bad, "twd_", 4);
	memset(bad + 4, 'z', TOKEN_BODY_LEN);
	expected_check(bad + 4, check);
	memcpy(bad + 4 + TOKEN_BODY_LEN, check, 6);
	bad[TOKEN_LEN] = 0;
	assert_false(token_validate(bad, TOKEN_LEN));
}

static void test_expiry_bounds(void **state)
{
	char err[160];
	int64_t now = 1800000000;
	(void)state;
	assert_int_equal(token_check_expiry(now + 1, now, err, sizeof(err)), 0);
	assert_int_equal(token_check_expiry(now + TOKEN_EXPIRY_AHEAD_MAX, now, err, sizeof(err)), 0);
	assert_int_equal(token_check_expiry(now, now, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expired"));
	assert_int_equal(token_check_expiry(INT64_MIN, now, err, sizeof(err)), -EINVAL);
	assert_int_equal(token_check_expiry(now + TOKEN_EXPIRY_AHEAD_MAX + 1, now, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "10 years"));
	assert_int_equal(token_check_expiry(INT64_MAX, now, err, sizeof(err)), -EINVAL);
	/* every accepted expiry converts to nanoseconds without overflow */
	assert_true(now + TOKEN_EXPIRY_AHEAD_MAX < INT64_MAX / 1000000000ll / 2);
}

static void test_unique(void **state)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	(void)state;
	assert_int_equal(token_mint(a), 0);
	assert_int_equal(token_mint(b), 0);
	assert_memory_not_equal(a, b, TOKEN_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mint_shape),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_expiry_bounds),
		cmocka_unit_test(test_unique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
