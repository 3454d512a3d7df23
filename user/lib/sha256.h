/*
 * SHA-256, the one hash tokenward names secrets by: the ledger's key, the
 * detector's lookup, the revocation queue's job key and the fingerprint
 * every redacted line prints are all this digest of the secret's bytes.
 */
#ifndef TW_SHA256_H
#define TW_SHA256_H

#include <stddef.h>

#define SHA256_LEN     32
#define SHA256_HEX_LEN 64 /* without the NUL */

/* The digest of p[0..n). */
void sha256_digest(const void *p, size_t n, unsigned char out[SHA256_LEN]);

/* A hasher kept for many short digests (one per thread; the detector
 * hashes every candidate). With OpenSSL 3's low-level digest it holds
 * nothing and sha256_ctx_digest is sha256_digest; with EVP only, a kept
 * context saves the fetch per digest. NULL when out of memory;
 * sha256_ctx_digest with NULL falls back to sha256_digest. */
struct sha256_ctx;
struct sha256_ctx *sha256_ctx_new(void);
void sha256_ctx_digest(struct sha256_ctx *c, const void *p, size_t n, unsigned char out[SHA256_LEN]);
void sha256_ctx_free(struct sha256_ctx *c);

/* The digest of p[0..n) as lower-case hex: the fingerprint. */
void sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1]);

/* A digest as lower-case hex. */
void sha256_to_hex(const unsigned char sha[SHA256_LEN], char out[SHA256_HEX_LEN + 1]);

/* 64 hex digits (either case) back to a digest. 0, or -EINVAL for
 * anything else (NULL, another length, a non-hex character). */
int sha256_from_hex(const char *hex, unsigned char sha[SHA256_LEN]);

#endif
