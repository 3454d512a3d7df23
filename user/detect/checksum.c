/*
 * GitHub's token checksum is the CRC32 of the random part, as a base62
 * number in the last six characters. It is what makes `ghp_` tokens
 * cheap to validate offline: a random 36-character look-alike passes
 * with probability 62^-6. tokenward's `twd_` tokens reuse the scheme.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "detect/checksum.h"

const char checksum_b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int checksum_b62_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

void checksum_base62_crc32(const char *body, size_t n, char out[7])
{
	unsigned long crc = crc32(0L, (const Bytef *)body, (uInt)n);

	for (int i = CHECKSUM_B62_LEN - 1; i >= 0; i--) {
		out[i] = checksum_b62[crc % 62];
		crc /= 62;
	}
	out[CHECKSUM_B62_LEN] = 0;
}

static const struct {
	const char *name;
	enum checksum_kind kind;
} names[] = {
	{ "none", CHECKSUM_NONE },
	{ "github_crc32", CHECKSUM_GITHUB_CRC32 },
	{ "tokenward_crc32", CHECKSUM_TOKENWARD_CRC32 },
	{ "jwt", CHECKSUM_JWT },
};

int checksum_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i].name))
			return names[i].kind;
	return -1;
}

const char *checksum_name(enum checksum_kind k)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].kind == k)
			return names[i].name;
	return "?";
}

/* BODY CRC after the first '_': the last 6 characters check the rest. */
static bool verify_suffix_crc(const char *s, size_t n, size_t body_len)
{
	const char *us = memchr(s, '_', n);
	char want[7];
	size_t rest;

	if (!us)
		return false;
	us++;
	rest = n - (size_t)(us - s);
	if (rest != body_len + CHECKSUM_B62_LEN)
		return false;
	for (size_t i = 0; i < rest; i++)
		if (checksum_b62_value((unsigned char)us[i]) < 0)
			return false;
	checksum_base62_crc32(us, body_len, want);
	return memcmp(want, us + body_len, CHECKSUM_B62_LEN) == 0;
}

/* num = num * 62 + digit, in 264 bits; anything in the top byte means
 * the number does not fit in 256 bits. */
bool checksum_b62_fits256(const char *body, size_t n)
{
	unsigned char num[33] = { 0 }; /* one spare byte catches overflow */

	for (size_t d = 0; d < n; d++) {
		int v = checksum_b62_value((unsigned char)body[d]);
		unsigned carry = (unsigned)v;

		if (v < 0)
			return false;
		for (int i = 32; i >= 0; i--) {
			unsigned cur = num[i] * 62u + carry;
			num[i] = cur & 0xff;
			carry = cur >> 8;
		}
		if (carry || num[0])
			return false;
	}
	return true;
}

long checksum_b64url_decode(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		int v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-' || c == '+')
			v = 62;
		else if (c == '_' || c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outsz)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

/*
 * A JWT's header is a JSON object naming its "alg"; checking that (not
 * the signature, which needs the key) rejects the many eyJ... strings
 * that are only base64 of some other JSON.
 */
static bool verify_jwt(const char *s, size_t n)
{
	const char *dot = memchr(s, '.', n);
	unsigned char small[1024], *hdr = small;
	size_t cap = sizeof(small);
	bool ok;
	long h;

	if (!dot)
		return false;
	/* Headers are short, but one holding a certificate chain (x5c) is
	 * not, and `ledger register` reads all of it: so do we. */
	if ((size_t)(dot - s) / 4 * 3 + 3 > cap - 1) {
		cap = (size_t)(dot - s) / 4 * 3 + 4;
		if (!(hdr = malloc(cap)))
			return false;
	}
	h = checksum_b64url_decode(s, (size_t)(dot - s), hdr, cap - 1);
	ok = h >= 2;
	if (ok) {
		hdr[h] = 0;
		ok = hdr[0] == '{' && memchr(hdr, '}', (size_t)h) && memmem(hdr, (size_t)h, "\"alg\"", 5);
	}
	if (hdr != small)
		free(hdr);
	return ok;
}

bool checksum_verify(enum checksum_kind k, const char *s, size_t n)
{
	switch (k) {
	case CHECKSUM_NONE:
		return true;
	case CHECKSUM_GITHUB_CRC32:
		return verify_suffix_crc(s, n, 30);
	case CHECKSUM_TOKENWARD_CRC32:
		return n == 53 && !memcmp(s, "twd_", 4) && verify_suffix_crc(s, n, 43) &&
		       checksum_b62_fits256(s + 4, 43); /* 62^43 > 2^256 */
	case CHECKSUM_JWT:
		return verify_jwt(s, n);
	}
	return false;
}
