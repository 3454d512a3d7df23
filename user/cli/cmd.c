/* Helpers shared by the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include "cli/cmd.h"
#include "detect/redact.h"

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

const char *cmd_safe_arg(const char *arg, char *buf, size_t bufsz)
{
	char *r = redact_text(arg, strnlen(arg, 256));

	snprintf(buf, bufsz, "%s", r ? r : "?");
	free(r);
	return buf;
}

/* getopt_long's own complaint would print the argument as it is; this
 * one is redacted, because the bad argument may be a token. */
int cmd_opt_error(const char *cmd, char **argv, int c)
{
	char safe[128];

	return cmd_usage_error(cmd, c == ':' ? "option '%s' needs a value" : "unknown or incomplete option '%s'",
			       cmd_safe_arg(argv[optind > 0 ? optind - 1 : 0], safe, sizeof(safe)));
}

int cmd_extra_arg(const char *cmd, const char *arg)
{
	char safe[128];

	return cmd_usage_error(cmd, "unexpected argument '%s'", cmd_safe_arg(arg, safe, sizeof(safe)));
}

int cmd_print_json(FILE *f, const cJSON *o, int pretty)
{
	char *s = pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o);

	if (!s)
		return -1;
	fputs(s, f);
	fputc('\n', f);
	free(s);
	return 0;
}
