/* Logging for the controller: one line per message on stderr. */
#ifndef TW_LOG_H
#define TW_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pass every message through fn before it is written (fn returns a new
 * string the logger frees, NULL when out of memory): main() sets
 * redact_text() so that nothing logged holds a secret. NULL: none. */
typedef char *(*log_filter_fn)(const char *s, size_t n);
void log_set_filter(log_filter_fn fn);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
