/* Tests for user/lib/sha256.c: the digest every secret is named by. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include "lib/sha256.h"

/* FIPS 180-2 appendix B.1 */
static const char abc_hex[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void test_digest_and_hex_agree(void **state)
{
	unsigned char sha[SHA256_LEN];
	char a[SHA256_HEX_LEN + 1], b[SHA256_HEX_LEN + 1];

	(void)state;
	sha256_digest("abc", 3, sha);
	sha256_to_hex(sha, a);
	sha256_hex("abc", 3, b);
	assert_string_equal(a, abc_hex);
	assert_string_equal(b, abc_hex);
	/* the empty input is a digest too */
	sha256_hex("", 0, b);
	assert_string_equal(b, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* A kept context gives the one-shot digest, input after input; without
 * one (NULL) it falls back to it. */
static void test_kept_context_agrees(void **state)
{
	struct sha256_ctx *c = sha256_ctx_new();
	unsigned char buf[300], a[SHA256_LEN], b[SHA256_LEN];
	(void)state;
	assert_non_null(c);
	for (size_t n = 0; n < sizeof(buf); n++) {
		buf[n] = (unsigned char)(n * 131 + 7);
		sha256_digest(buf, n, a);
		sha256_ctx_digest(c, buf, n, b);
		assert_memory_equal(a, b, SHA256_LEN);
		sha256_ctx_digest(NULL, buf, n, b);
		assert_memory_equal(a, b, SHA256_LEN);
	}
	sha256_ctx_free(c);
	sha256_ctx_free(NULL);
}

static void test_from_hex_round_trip(void **state)
{
	unsigned char sha[SHA256_LEN], back[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], upper[SHA256_HEX_LEN + 1];

	(void)state;
	sha256_digest("abc", 3, sha);
	sha256_to_hex(sha, hex);
	assert_int_equal(sha256_from_hex(hex, back), 0);
	assert_memory_equal(sha, back, SHA256_LEN);
	for (int i = 0; i <= SHA256_HEX_LEN; i++)
		upper[i] = hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 32 : hex[i];
	assert_int_equal(sha256_from_hex(upper, back), 0);
	assert_memory_equal(sha, back, SHA256_LEN);
}

static void test_from_hex_rejects(void **state)
{
	unsigned char sha[SHA256_LEN];
	char bad[SHA256_HEX_LEN + 1];

	(void)state;
	assert_int_equal(sha256_from_hex(NULL, sha), -EINVAL);
	assert_int_equal(sha256_from_hex("", sha), -EINVAL);
	assert_int_equal(sha256_from_hex("ba7816bf", sha), -EINVAL);
	memcpy(bad, abc_hex, sizeof(bad));
	bad[63] = 'g';
	assert_int_equal(sha256_from_hex(bad, sha), -EINVAL);
}

/* The digest is libcrypto's, whichever of its interfaces sha256.c uses:
 * it agrees with EVP's one-shot digest at every length around the block
 * and padding edges (55, 56, 64 bytes) and on a long input. */
static void test_digest_agrees_with_evp(void **state)
{
	size_t big = 1u << 20;
	unsigned char *buf = malloc(big), a[SHA256_LEN], b[SHA256_LEN];
	unsigned int len;

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < big; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	for (size_t n = 0; n <= 300; n++) {
		len = SHA256_LEN;
		assert_int_equal(EVP_Digest(buf, n, b, &len, EVP_sha256(), NULL), 1);
		sha256_digest(buf, n, a);
		assert_memory_equal(a, b, SHA256_LEN);
	}
	len = SHA256_LEN;
	assert_int_equal(EVP_Digest(buf, big, b, &len, EVP_sha256(), NULL), 1);
	sha256_digest(buf, big, a);
	assert_memory_equal(a, b, SHA256_LEN);
	free(buf);
}

/* Every byte value prints as its two lower-case hex digits. */
static void test_to_hex_every_byte(void **state)
{
	unsigned char sha[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], want[8];

	(void)state;
	for (int base = 0; base < 256; base += SHA256_LEN) {
		for (int i = 0; i < SHA256_LEN; i++)
			sha[i] = (unsigned char)(base + i);
		memset(hex, '?', sizeof(hex));
		sha256_to_hex(sha, hex);
		assert_int_equal(hex[SHA256_HEX_LEN], 0);
		for (int i = 0; i < SHA256_LEN; i++) {
			snprintf(want, sizeof(want), "%02x", (unsigned)(base + i) & 0xff);
			assert_memory_equal(hex + 2 * i, want, 2);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_and_hex_agree),
		cmocka_unit_test(test_kept_context_agrees),
		cmocka_unit_test(test_from_hex_round_trip),
		cmocka_unit_test(test_from_hex_rejects),
		cmocka_unit_test(test_digest_agrees_with_evp),
		cmocka_unit_test(test_to_hex_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
