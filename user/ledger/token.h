/*
 * tokenward's own delegation tokens, in the spirit of GitHub's format:
 *
 *   twd_ BODY CHECK
 *
 * BODY is 43 base62 characters: 256 bits from getrandom() read as one
 * big-endian integer, written in base62 and left-padded with '0'.
 * CHECK is 6 base62 characters: zlib's crc32 of the 43 BODY characters,
 * left-padded with '0'. The prefix makes the token recognisable to
 * scanners; the checksum lets them reject look-alikes without a lookup.
 * Alphabet: 0-9, A-Z, a-z (the order GitHub's checksum uses).
 */
#ifndef TW_TOKEN_H
#define TW_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX      "twd_"
#define TOKEN_PREFIX_LEN  4
#define TOKEN_BODY_LEN    43
#define TOKEN_CHECK_LEN   6
#define TOKEN_LEN         (TOKEN_PREFIX_LEN + TOKEN_BODY_LEN + TOKEN_CHECK_LEN) /* 53 */

/* Mint a fresh token into out (TOKEN_LEN + 1 bytes, NUL-terminated).
 * Returns 0, or -errno when the kernel CSPRNG cannot be read. */
int token_mint(char out[TOKEN_LEN + 1]);

/* Build a token from 32 given random bytes (tests, and token_mint). */
void token_from_bytes(const unsigned char rnd[32], char out[TOKEN_LEN + 1]);

/* True when s[0..n) is exactly a well-formed token: prefix, alphabet,
 * length, a body that fits in 256 bits, and a matching checksum. */
bool token_validate(const char *s, size_t n);

/*
 * The expiry times the ledger records: after now, and at most
 * TOKEN_EXPIRY_AHEAD_MAX seconds ahead (10 years, as for --ttl). A
 * delegation token outliving that is a typo or hostile input, and the
 * bound keeps every nanosecond timestamp made from it (the ledger's
 * JSON, reports) far from overflowing int64. Returns 0, or -EINVAL with
 * a message in err.
 */
#define TOKEN_EXPIRY_AHEAD_MAX (10ll * 366 * 86400)
int token_check_expiry(int64_t expires_at, int64_t now, char *err, size_t errsz);

#endif
