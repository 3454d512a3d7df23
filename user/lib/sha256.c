/*
 * SHA-256 from OpenSSL's libcrypto, which picks the CPU's SHA extensions
 * when there are any (the detector hashes every candidate). The helpers
 * live here, apart from the detector and the ledger, so that a module
 * that only prints a fingerprint (the revoker) links neither.
 *
 * Why SHA256_Init/Update/Final and not EVP: OpenSSL 3.0's EVP frees and
 * allocates the provider's context on every EVP_DigestInit_ex2, even
 * with the same EVP_MD, and EVP_Digest also fetches or allocates; for a
 * 20-byte AWS key id that was 150-200 ns a digest against ~95 ns here
 * (the same assembly does the compression either way), and a finding-
 * dense input hashes a candidate every 21 bytes (issue 13). The
 * low-level calls are deprecated in 3.0 but present in every 3.x; a
 * libcrypto without them gets the EVP path below.
 */
/* before any OpenSSL header: the low-level digest (see above) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/opensslv.h>
#if OPENSSL_VERSION_MAJOR < 4
#define TW_SHA256_LOWLEVEL 1
#include <openssl/sha.h>
#endif
#include <openssl/evp.h>
#include "lib/sha256.h"

#ifdef TW_SHA256_LOWLEVEL
void sha256_digest(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
	SHA256_CTX c;

	/* SHA256_Final wipes c: no copy of the secret's state is left */
	SHA256_Init(&c);
	SHA256_Update(&c, p, n);
	SHA256_Final(out, &c);
}

/* Nothing to keep: the low-level context lives on the stack. */
struct sha256_ctx {
	int unused;
};

struct sha256_ctx *sha256_ctx_new(void)
{
	return calloc(1, sizeof(struct sha256_ctx));
}

void sha256_ctx_digest(struct sha256_ctx *c, const void *p, size_t n, unsigned char out[SHA256_LEN])
{
	(void)c;
	sha256_digest(p, n, out);
}

void sha256_ctx_free(struct sha256_ctx *c)
{
	free(c);
}
#else
void sha256_digest(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
	unsigned int len = SHA256_LEN;

	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

struct sha256_ctx {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

struct sha256_ctx *sha256_ctx_new(void)
{
	struct sha256_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->ctx = EVP_MD_CTX_new();
	if (!c->md || !c->ctx) {
		sha256_ctx_free(c);
		return NULL;
	}
	return c;
}

void sha256_ctx_digest(struct sha256_ctx *c, const void *p, size_t n, unsigned char out[SHA256_LEN])
{
	unsigned int len = SHA256_LEN;

	if (!c || !EVP_DigestInit_ex2(c->ctx, c->md, NULL) || !EVP_DigestUpdate(c->ctx, p, n) ||
	    !EVP_DigestFinal_ex(c->ctx, out, &len))
		sha256_digest(p, n, out);
}

void sha256_ctx_free(struct sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->ctx);
	EVP_MD_free(c->md);
	free(c);
}
#endif

/* Two hex digits a byte, one copy from a table: every finding prints
 * one (a flood of them, millions). */
void sha256_to_hex(const unsigned char sha[SHA256_LEN], char out[SHA256_HEX_LEN + 1])
{
	static const char pairs[513] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
		"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
		"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

	for (int i = 0; i < SHA256_LEN; i++)
		memcpy(out + 2 * i, pairs + 2 * sha[i], 2);
	out[SHA256_HEX_LEN] = 0;
}

void sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1])
{
	unsigned char sha[SHA256_LEN];

	sha256_digest(p, n, sha);
	sha256_to_hex(sha, out);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sha256_from_hex(const char *hex, unsigned char sha[SHA256_LEN])
{
	if (!hex || strlen(hex) != SHA256_HEX_LEN)
		return -EINVAL;
	for (int i = 0; i < SHA256_LEN; i++) {
		int a = hexval(hex[2 * i]), b = hexval(hex[2 * i + 1]);

		if (a < 0 || b < 0)
			return -EINVAL;
		sha[i] = a << 4 | b;
	}
	return 0;
}
