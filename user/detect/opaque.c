/*
 * The registration side of detect/opaque.h. Kept beside the detector so
 * that a change to what the opaque pass finds is a change here too.
 */
#include <errno.h>
#include <stdio.h>
#include "detect/detect.h"
#include "detect/opaque.h"
#include "lib/util.h"

int detect_opaque_check(const void *vs, size_t n, char *why, size_t whysz)
{
	const unsigned char *s = vs;

	if (n < DETECT_OPAQUE_MIN_LEN || n > DETECT_MAX_OPAQUE_LEN) {
		util_seterr(why, whysz, "an opaque token must be %d to %d characters, this one has %zu",
			    DETECT_OPAQUE_MIN_LEN, DETECT_MAX_OPAQUE_LEN, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!detect_opaque_byte(s[i])) {
			util_seterr(why, whysz, "an opaque token may hold only A-Z a-z 0-9 - _ "
				    "characters, this one holds byte 0x%02x at offset %zu", s[i], i);
			return -EINVAL;
		}
	return 0;
}
