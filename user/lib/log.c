/*
 * Messages go to stderr with a level prefix, one write per line so lines
 * from threads do not interleave. Callers must never pass raw token bytes;
 * format findings with redact.h first. The command line sets a filter
 * (redact_text) so that a path, a name or a value from a request that
 * holds a token is hidden even where a caller forgot.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/log.h"

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static log_filter_fn log_filter;

void log_set_filter(log_filter_fn fn)
{
	log_filter = fn;
}

/* The message through the filter: formatted whole, filtered, then cut to
 * fit, so that the filter sees every byte it must hide. */
static int filtered(char *out, size_t outsz, const char *fmt, va_list ap)
{
	char *m = NULL, *f;
	int n = vasprintf(&m, fmt, ap);

	if (n < 0)
		return snprintf(out, outsz, "[message lost: out of memory]");
	f = log_filter(m, (size_t)n);
	free(m);
	n = snprintf(out, outsz, "%s", f ? f : "[message redacted: out of memory]");
	free(f);
	return n;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (lvl > log_threshold)
		return;
	n = snprintf(line, sizeof(line), "tokenward: %s: ", level_names[lvl]);
	va_start(ap, fmt);
	if (log_filter)
		n += filtered(line + n, sizeof(line) - n, fmt, ap);
	else
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}
