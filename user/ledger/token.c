/*
 * The body is a 256-bit number in base62 rather than 256 bits chopped into
 * characters, so that every token has exactly the same length and every
 * body decodes back to the bits it came from. 62^43 > 2^256, so 43
 * characters always suffice; a body above 2^256-1 is not one we minted.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <zlib.h>
#include "detect/checksum.h"
#include "ledger/token.h"
#include "lib/util.h"

void token_from_bytes(const unsigned char rnd[32], char out[TOKEN_LEN + 1])
{
	unsigned char num[32];
	char *body = out + TOKEN_PREFIX_LEN;

	memcpy(num, rnd, 32);
	memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	/* Long division of the big-endian number by 62, digit by digit from
	 * the right; 43 rounds leave the number at zero (62^43 > 2^256). */
	for (int d = TOKEN_BODY_LEN - 1; d >= 0; d--) {
		unsigned rem = 0;
		for (int i = 0; i < 32; i++) {
			unsigned cur = (rem << 8) | num[i];
			num[i] = cur / 62;
			rem = cur % 62;
		}
		body[d] = checksum_b62[rem];
	}
	checksum_base62_crc32(body, TOKEN_BODY_LEN, out + TOKEN_PREFIX_LEN + TOKEN_BODY_LEN);
	out[TOKEN_LEN] = 0;
	memset(num, 0, sizeof(num));
}

int token_mint(char out[TOKEN_LEN + 1])
{
	unsigned char rnd[32];
	size_t got = 0;

	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += r;
	}
	token_from_bytes(rnd, out);
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

bool token_validate(const char *s, size_t n)
{
	char check[TOKEN_CHECK_LEN + 1];
	const char *body = s + TOKEN_PREFIX_LEN;

	if (n != TOKEN_LEN || memcmp(s, TOKEN_PREFIX, TOKEN_PREFIX_LEN))
		return false;
	for (size_t i = TOKEN_PREFIX_LEN; i < TOKEN_LEN; i++)
		if (checksum_b62_value((unsigned char)s[i]) < 0)
			return false;
	if (!checksum_b62_fits256(body, TOKEN_BODY_LEN))
		return false;
	checksum_base62_crc32(body, TOKEN_BODY_LEN, check);
	return memcmp(check, body + TOKEN_BODY_LEN, TOKEN_CHECK_LEN) == 0;
}

int token_check_expiry(int64_t expires_at, int64_t now, char *err, size_t errsz)
{
	if (expires_at <= now) {
		util_seterr(err, errsz, "the token has already expired");
		return -EINVAL;
	}
	/* now + the limit cannot overflow: now is a clock reading. */
	if (expires_at > now + TOKEN_EXPIRY_AHEAD_MAX) {
		util_seterr(err, errsz, "the expiry (unix time %lld) is more than 10 years from now, "
			    "the most the ledger records", (long long)expires_at);
		return -EINVAL;
	}
	return 0;
}
