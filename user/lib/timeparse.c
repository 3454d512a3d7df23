/* Ages and points in time from the command line and the config file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/timeparse.h"

#define AGE_MAX_S (100ull * 366 * 86400)

int timeparse_age_s(const char *s, uint64_t *out_s)
{
	char *end;
	unsigned long long v;
	uint64_t mult;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (!*end || !strcmp(end, "s"))
		mult = 1;
	else if (!strcmp(end, "m"))
		mult = 60;
	else if (!strcmp(end, "h"))
		mult = 3600;
	else if (!strcmp(end, "d"))
		mult = 86400;
	else if (!strcmp(end, "w"))
		mult = 7 * 86400;
	else
		return -1;
	if (v > AGE_MAX_S / mult)
		return -1;
	*out_s = v * mult;
	return 0;
}

/* Two digits at s, or -1. */
static int two(const char *s)
{
	return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) ? (s[0] - '0') * 10 + s[1] - '0'
									    : -1;
}

static int rfc3339(const char *s, int64_t *out_ns)
{
	struct tm tm = { 0 };
	int64_t frac_ns = 0, off_s = 0, scale = 100000000;
	const char *p;

	if (strlen(s) < 20 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    two(s + 2) < 0 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	tm.tm_year = two(s) * 100 + two(s + 2) - 1900;
	tm.tm_mon = two(s + 5) - 1;
	tm.tm_mday = two(s + 8);
	tm.tm_hour = two(s + 11);
	tm.tm_min = two(s + 14);
	tm.tm_sec = two(s + 17);
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
	    tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			frac_ns += scale ? (*p - '0') * scale : 0;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && two(p + 1) >= 0 && p[3] == ':' && two(p + 4) >= 0) {
		off_s = (two(p + 1) * 3600 + two(p + 4) * 60) * (*p == '+' ? 1 : -1);
		if (two(p + 1) > 23 || two(p + 4) > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*out_ns = ((int64_t)timegm(&tm) - off_s) * 1000000000ll + frac_ns;
	return 0;
}

int timeparse_point(const char *s, int64_t now_ns, int64_t *out_ns)
{
	uint64_t age;

	if (!s)
		return -1;
	if (timeparse_age_s(s, &age) == 0) {
		*out_ns = now_ns - (int64_t)age * 1000000000ll;
		return 0;
	}
	return rfc3339(s, out_ns);
}
