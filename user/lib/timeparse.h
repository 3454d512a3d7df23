/*
 * Times a user types: an age ("90s", "15m", "2h", "7d", a bare number of
 * seconds) and a point in time (RFC 3339, or an age meaning that long
 * before now). Both refuse anything else, so a typo is a usage error, not
 * a window that silently covers nothing.
 */
#ifndef TW_TIMEPARSE_H
#define TW_TIMEPARSE_H

#include <stdint.h>

/* "2h" -> 7200. 0 or -1 (malformed, negative, over 100 years). */
int timeparse_age_s(const char *s, uint64_t *out_s);

/* RFC 3339 ("2026-12-02T05:00:00Z", "...T05:00:00.25+01:00", "2026-12-02 05:00:00Z")
 * or an age before now_ns -> ns since the epoch. 0 or -1. */
int timeparse_point(const char *s, int64_t now_ns, int64_t *out_ns);

#endif
