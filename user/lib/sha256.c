/*
 * SHA-256 through OpenSSL's EVP interface, which picks the CPU's SHA
 * extensions when there are any (the detector hashes every candidate).
 * The helpers live here, apart from the detector and the ledger, so that
 * a module that only prints a fingerprint (the revoker) links neither.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "lib/sha256.h"

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

void sha256_to_hex(const unsigned char sha[SHA256_LEN], char out[SHA256_HEX_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = hx[sha[i] >> 4];
		out[2 * i + 1] = hx[sha[i] & 15];
	}
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
