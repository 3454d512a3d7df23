/*
 * TLS SNI extraction (audience_tls_sni) on arbitrary bytes: total, reads
 * only what it is given (ASan checks the copy below is exact), and a name
 * it returns is a short, lower-case, printable host name.
 */
#include <ctype.h>
#include <errno.h>
#include "verdict/audience.h"
#include "fuzz.h"

static void check_name(int r, const char *out, size_t outsz)
{
	FUZZ_CHECK(r == 0 || r == -EAGAIN || r == -EINVAL || r == -ENOENT, "returned %d", r);
	if (r)
		return;
	size_t n = strlen(out);
	FUZZ_CHECK(n > 0 && n < outsz && n < AUDIENCE_HOST_MAX, "name of %zu bytes", n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(isprint((unsigned char)out[i]) && !isupper((unsigned char)out[i]) && out[i] != ' ',
			   "byte 0x%02x in a name", (unsigned char)out[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy: one byte past it is an ASan report */
	uint8_t *buf = malloc(size ? size : 1);
	char out[AUDIENCE_HOST_MAX], small[8];

	memcpy(buf, data, size);
	check_name(audience_tls_sni(buf, size, out, sizeof(out)), out, sizeof(out));
	check_name(audience_tls_sni(buf, size, small, sizeof(small)), small, sizeof(small));
	free(buf);
	return 0;
}
