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

int64_t util_clock_offset(uint64_t (*now)(int clock_id), int tries)
{
	uint64_t best = UINT64_MAX;
	int64_t off = 0;

	for (int i = 0; i < tries; i++) {
		uint64_t b1 = now(CLOCK_BOOTTIME);
		uint64_t rt = now(CLOCK_REALTIME);
		uint64_t b2 = now(CLOCK_BOOTTIME);

		if (b2 - b1 < best) {
			best = b2 - b1;
			off = (int64_t)(rt - (b1 + (b2 - b1) / 2));
		}
	}
	return off;
}

int64_t util_boot_to_realtime_offset(void)
{
	/* Two reads back to back are not one instant: on a loaded machine a
	 * preemption between them (tens of milliseconds) shifted every event
	 * time by its length, and put a sighting before its token's issue.
	 * The realtime read is bracketed by two boottime reads, the tightest
	 * bracket of a few kept. */
	return util_clock_offset(util_now_ns, 8);
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
