/*
 * JWTs (user/ledger/jwt.c) and the registration shape check
 * (user/detect/opaque.c) on arbitrary bytes: what `ledger register`
 * reads from standard input.
 */
#include "detect/opaque.h"
#include "ledger/jwt.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct jwt_claims c;
	char err[256];
	unsigned char *out = malloc(size * 3 / 4 + 4);
	long n;

	if (!out)
		return 0;
	n = jwt_b64url_decode(s, size, out);
	FUZZ_CHECK(n <= (long)(size * 3 / 4 + 3), "decoded %ld bytes from %zu", n, size);
	free(out);
	jwt_looks_like(s, size);
	if (jwt_parse(s, size, &c, err, sizeof(err)) == 0) {
		/* every string claim is a complete C string; aud entries exist */
		for (size_t i = 0; i < c.naud; i++)
			FUZZ_CHECK(c.aud[i] == NULL || strlen(c.aud[i]) < size, "aud %zu", i);
		FUZZ_CHECK(!c.actor_chain || strlen(c.actor_chain) < 1024, "actor chain %zu", strlen(c.actor_chain));
		FUZZ_CHECK(c.exp >= 0 && c.exp <= 253402300799LL, "exp %lld", (long long)c.exp);
		jwt_claims_free(&c);
	} else {
		FUZZ_CHECK(err[0], "refused without a reason");
	}
	if (detect_opaque_check(s, size, err, sizeof(err)) == 0) {
		FUZZ_CHECK(size >= DETECT_OPAQUE_MIN_LEN, "short opaque accepted");
		for (size_t i = 0; i < size; i++)
			FUZZ_CHECK(detect_opaque_byte(data[i]), "byte 0x%02x accepted", data[i]);
	}
	return 0;
}
