/*
 * Messages go to stderr with a level prefix, one write per line so lines
 * from threads do not interleave. Callers must never pass raw token bytes;
 * format findings with redact.h first.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "lib/log.h"

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (lvl > log_threshold)
		return;
	n = snprintf(line, sizeof(line), "tokenward: %s: ", level_names[lvl]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}
