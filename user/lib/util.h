/* Small helpers shared across the controller. */
#ifndef TW_UTIL_H
#define TW_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Format a CLOCK_REALTIME nanosecond timestamp as RFC 3339 with
 * microseconds in UTC, e.g. 2026-11-27T06:24:16.123456Z. */
void util_rfc3339(uint64_t realtime_ns, char *out, size_t outsz);

/* Offset to add to a CLOCK_BOOTTIME timestamp to get CLOCK_REALTIME. */
int64_t util_boot_to_realtime_offset(void);
/* The same from the clock reader now(), over tries samples (for tests). */
int64_t util_clock_offset(uint64_t (*now)(int clock_id), int tries);

uint64_t util_now_ns(int clock_id);

/* Parse a size such as 4096, 64K, 16M. Returns 0 on success. */
int util_parse_size(const char *s, uint64_t *out);

/* A marker file (a ready file): content written to a new file that is
 * then renamed over path (safefile_replace). 0 or -errno. */
int util_touch(const char *path, const char *content);

/* printf into a caller's error buffer; a NULL or empty buffer is fine
 * (the caller did not want the message). */
void util_seterr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
