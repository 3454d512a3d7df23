/*
 * Redaction: nothing tokenward prints, logs or stores may hold a raw
 * secret. A secret is shown as at most its first 6 characters plus a
 * fingerprint, the hex SHA-256 of the secret (sha256_hex(), lib/sha256.h).
 */
#ifndef TW_REDACT_H
#define TW_REDACT_H

#include <stddef.h>
#include <stdint.h>

#define REDACT_PREFIX_LEN 6

/* "ghp_ab…" : the first REDACT_PREFIX_LEN characters and an ellipsis
 * (fewer for short secrets, so that at most half is ever shown). */
void redact_short(const void *secret, size_t n, char *out, size_t outsz);

/*
 * Return a new NUL-terminated copy of s[0..n) in which every run that
 * looks like a credential is replaced by its short form and a fingerprint
 * prefix, "ghp_ab…[sha256:1a2b3c4d]". Used for free text such as argv
 * before it leaves the process. Masks both what the built-in rule pack
 * detects (user/detect/detect.h) and, generically, long mixed-class runs.
 * Thread-safe (one detector per thread, made on first use). The caller
 * frees the result; NULL only when out of memory.
 */
char *redact_text(const char *s, size_t n);

#endif
