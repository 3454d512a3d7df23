/*
 * Redaction (user/detect/redact.c) on arbitrary bytes with a secret
 * planted in them: the raw secret never appears in the output, and the
 * output is one C string of valid UTF-8.
 *
 * Input: byte 0 picks the kind of secret, bytes 1..32 are its random
 * part, bytes 33..34 where it goes; the rest is the text around it. The
 * secret is made here from those bytes, in the real format (checksums
 * valid), so a crash reproduces from the saved input; no token is in the
 * committed seeds. It is planted between a space and a newline, as a
 * value in a log line or an argument would be.
 */
#include "detect/checksum.h"
#include "detect/redact.h"
#include "ledger/token.h"
#include "fuzz.h"

#define HEAD 35

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
		out[o++] = b64u[v >> 18];
		out[o++] = b64u[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64u[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = b64u[v & 63];
	}
	out[o] = 0;
	return o;
}

static void chars(char *out, const char *alpha, size_t na, const unsigned char *r, size_t n)
{
	for (size_t i = 0; i < n; i++) /* positions past 32 differ too */
		out[i] = alpha[(r[i % 32] + i / 32 * 31) % na];
	out[n] = 0;
}

/* One secret of the given kind from 32 random bytes. */
static size_t make_secret(unsigned kind, const unsigned char r[32], char *out)
{
	char hdr[64], pay[96];
	size_t o;

	switch (kind % 7) {
	case 0: /* tokenward's own */
		token_from_bytes(r, out);
		return TOKEN_LEN;
	case 1: /* GitHub classic: ghp_ + 30 base62 + CRC32 */
		memcpy(out, "ghp_", 4);
		chars(out + 4, checksum_b62, 62, r, 30);
		checksum_base62_crc32(out + 4, 30, out + 34);
		return 40;
	case 2: /* a JWT */
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
		snprintf(pay, sizeof(pay), "{\"sub\":\"agent-%02x%02x%02x\",\"exp\":1900000000}", r[0], r[1], r[2]);
		o = b64url((const unsigned char *)hdr, strlen(hdr), out);
		out[o++] = '.';
		o += b64url((const unsigned char *)pay, strlen(pay), out + o);
		out[o++] = '.';
		return o + b64url(r, 32, out + o);
	case 3: /* an AWS access key id: upper case only, past the generic masker */
		memcpy(out, "AKIA", 4);
		chars(out + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32, r, 16);
		return 20;
	case 4: /* Slack */
		memcpy(out, "xoxb-", 5);
		chars(out + 5, "0123456789", 10, r, 12);
		out[17] = '-';
		chars(out + 18, checksum_b62, 62, r + 7, 24);
		return 42;
	case 5: /* Anthropic */
		memcpy(out, "sk-ant-api03-", 13);
		chars(out + 13, b64u, 64, r, 93);
		return 106;
	default: /* an opaque token no rule knows: the generic masker's job */
		chars(out, checksum_b62, 62, r, 40);
		out[0] = 'Q'; out[1] = 'z'; out[2] = '7'; /* all three classes */
		return 40;
	}
}

static int utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
		if (!k || i + k > n)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char secret[160], *text, *out;
	size_t slen, rest, at, n;

	if (size < HEAD)
		return 0;
	slen = make_secret(data[0], data + 1, secret);
	rest = size - HEAD;
	at = (data[33] | (size_t)data[34] << 8) % (rest + 1);
	n = rest + slen + 2;
	text = malloc(n);
	memcpy(text, data + HEAD, at);
	text[at] = ' ';
	memcpy(text + at + 1, secret, slen);
	text[at + 1 + slen] = '\n';
	memcpy(text + at + 2 + slen, data + HEAD + at, rest - at);

	out = redact_text(text, n);
	FUZZ_CHECK(out, "redact_text failed");
	FUZZ_CHECK(!strstr(out, secret), "secret kind %u (%zu chars) raw in the output", data[0] % 7u, slen);
	FUZZ_CHECK(utf8_ok((const unsigned char *)out, strlen(out)), "output is not UTF-8");
	free(out);
	free(text);
	return 0;
}
