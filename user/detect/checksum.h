/*
 * Checksums that let a scanner reject look-alike tokens without asking
 * anyone: GitHub's (and npm's) CRC32-in-base62 suffix, tokenward's own
 * delegation tokens (same idea), and a structural check for JWTs.
 *
 * Base62 alphabet everywhere: 0-9, A-Z, a-z (the order GitHub uses).
 */
#ifndef TW_CHECKSUM_H
#define TW_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>

enum checksum_kind {
	CHECKSUM_NONE = 0,
	CHECKSUM_GITHUB_CRC32,    /* PREFIX_ BODY(30) CRC(6): ghp_ gho_ ghu_ ghs_, npm_ */
	CHECKSUM_TOKENWARD_CRC32, /* twd_ BODY(43, a 256-bit number) CRC(6) */
	CHECKSUM_JWT,             /* header decodes to a JSON object with "alg" */
};

#define CHECKSUM_B62_LEN 6

/*
 * out = zlib crc32 of body[0..n) written in base62, left-padded with '0'
 * to 6 characters, NUL-terminated. Used to mint tokenward tokens and to
 * validate GitHub-style ones.
 */
/* Base62 in GitHub's order (0-9A-Za-z), shared by minting and checking. */
extern const char checksum_b62[];
/* A base62 digit's value, or -1 for a byte outside the alphabet. */
int checksum_b62_value(unsigned char c);

void checksum_base62_crc32(const char *body, size_t n, char out[7]);

/* body[0..n) is base62 digits whose number is below 2^256 (a tokenward
 * token's body: a 256-bit number, so a larger one was not minted). */
bool checksum_b62_fits256(const char *body, size_t n);

/* "github_crc32" -> CHECKSUM_GITHUB_CRC32 ...; -1 for an unknown name. */
int checksum_parse(const char *name);
const char *checksum_name(enum checksum_kind k);

/*
 * Validate a whole secret (prefix included) against its scheme.
 * CHECKSUM_NONE is always true.
 */
bool checksum_verify(enum checksum_kind k, const char *s, size_t n);

/* Decode base64url (no padding needed) into out; returns the length or -1. */
long checksum_b64url_decode(const char *s, size_t n, unsigned char *out, size_t outsz);

#endif
