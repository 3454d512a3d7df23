/*
 * The generic masker here errs on the side of hiding: any long run of
 * token alphabet characters that mixes letter cases and digits is treated
 * as a secret. That catches opaque tokens no rule knows about; the cost is
 * an occasional masked identifier in argv, which is the right trade for
 * a security tool's own output.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "redact.h"

#define RUN_MIN 20

void redact_fingerprint(const void *secret, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(secret, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = 0;
}

void redact_short(const void *secret, size_t n, char *out, size_t outsz)
{
	size_t keep = n / 2 < REDACT_PREFIX_LEN ? n / 2 : REDACT_PREFIX_LEN;

	snprintf(out, outsz, "%.*s\u2026", (int)keep, (const char *)secret);
}

static bool is_token_char(unsigned char c)
{
	/* '/' separates: paths are common in argv, and base64url tokens
	 * (the usual alphabet for bearer tokens) never contain it. */
	return isalnum(c) || c == '_' || c == '-' || c == '+' ||
	       c == '=' || c == '.' || c == '~';
}

/* Mixed classes: paths and words rarely have upper, lower and digits. */
static bool looks_secret(const char *s, size_t n)
{
	bool up = false, lo = false, dig = false;

	if (n < RUN_MIN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		up |= isupper(c) != 0;
		lo |= islower(c) != 0;
		dig |= isdigit(c) != 0;
	}
	return up + lo + dig >= 3 || (n >= 32 && up + lo + dig >= 2);
}

char *redact_text(const char *s, size_t n)
{
	/* Worst case every 20 bytes become ~40; 3x + slack is ample. */
	size_t cap = n * 3 + 64, o = 0, i = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (i < n) {
		size_t j = i;

		while (j < n && is_token_char((unsigned char)s[j]))
			j++;
		if (j > i && looks_secret(s + i, j - i)) {
			char shortf[32], fp[65];

			redact_short(s + i, j - i, shortf, sizeof(shortf));
			redact_fingerprint(s + i, j - i, fp);
			o += snprintf(out + o, cap - o, "%s[sha256:%.12s]", shortf, fp);
			i = j;
			continue;
		}
		if (j == i) {
			/* Non-printable bytes become '?', keeping the output text. */
			unsigned char c = s[i];
			out[o++] = (c >= 0x20 && c < 0x7f) || c >= 0x80 ? (char)c : '?';
			i++;
		} else {
			memcpy(out + o, s + i, j - i);
			o += j - i;
			i = j;
		}
	}
	out[o] = 0;
	return out;
}
