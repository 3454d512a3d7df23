/* Helpers shared by the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include "cli/cmd.h"

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tokenward %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tokenward %s --help'.\n", cmd);
	return EXIT_USAGE;
}
