#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/safefile.h"
#include "lib/util.h"

uint64_t util_now_ns(int clock_id)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int64_t util_boot_to_realtime_offset(void)
{
	/* Read both clocks back to back; the skew is well under a microsecond. */
	uint64_t rt = util_now_ns(CLOCK_REALTIME);
	uint64_t bt = util_now_ns(CLOCK_BOOTTIME);

	return (int64_t)(rt - bt);
}

void util_rfc3339(uint64_t ns, char *out, size_t outsz)
{
	time_t secs = ns / 1000000000ull;
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%06lluZ", base, (unsigned long long)(ns % 1000000000ull) / 1000);
}

int util_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int util_touch(const char *path, const char *content)
{
	/* A new file renamed into place: never through a link someone left
	 * at path, and a reader polling for it sees it whole. */
	return safefile_replace(path, content ? content : "", content ? strlen(content) : 0, 0644,
				SAFEFILE_NOSYNC, NULL, 0);
}

void util_seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}
