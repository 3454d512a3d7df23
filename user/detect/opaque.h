/*
 * What an opaque token is, to tokenward: the one definition shared by the
 * detector's opaque pass (detect.c finds runs of these bytes whose length
 * is a registered length) and by registration (`ledger register` refuses
 * what the detector could never find), so the two cannot drift apart.
 *
 * An opaque token is DETECT_OPAQUE_MIN_LEN..DETECT_MAX_OPAQUE_LEN bytes of
 * the base64url alphabet A-Z a-z 0-9 - _. Shorter runs are everywhere in
 * ordinary text (hashing each would cost the hot path and find words);
 * other bytes ('.', '~', '+', '/', '=') end a run, so a token holding one
 * would be seen only in pieces.
 */
#ifndef TW_OPAQUE_H
#define TW_OPAQUE_H

#include <stdbool.h>
#include <stddef.h>

#define DETECT_OPAQUE_MIN_LEN 8

static inline bool detect_opaque_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* 0 when s[0..n) is a token the opaque pass finds once registered, else
 * -EINVAL with why saying which rule it breaks (its length, or the first
 * byte outside the alphabet as a hex value: never the token itself). */
int detect_opaque_check(const void *s, size_t n, char *why, size_t whysz);

#endif
