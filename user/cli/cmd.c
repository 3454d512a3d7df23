/* Helpers shared by the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include "cli/cmd.h"
#include "detect/redact.h"

#define MSG_MAX 2048
#define ARG_REDACT_MAX (64 * 1024)

/* fmt and its arguments, redacted as a whole: a message may quote an
 * argument, a path or a value read from a file, any of which may hold a
 * token, and a caller may forget cmd_safe_arg(). The caller frees. */
static char *safe_vformat(const char *fmt, va_list ap)
{
	char *buf = NULL, *r;
	int n = vasprintf(&buf, fmt, ap);

	if (n < 0)
		return NULL;
	/* Redacted whole, then cut: see cmd_safe_arg(). */
	r = redact_text(buf, (size_t)n);
	free(buf);
	if (r && strlen(r) > MSG_MAX)
		strcpy(r + MSG_MAX - 4, "...");
	return r;
}

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = safe_vformat(fmt, ap);
	va_end(ap);
	fprintf(stderr, "tokenward %s: %s\nTry 'tokenward %s --help'.\n", cmd, m ? m : "[message redacted]", cmd);
	free(m);
	return EXIT_USAGE;
}

void cmd_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = safe_vformat(fmt, ap);
	va_end(ap);
	fprintf(stderr, "tokenward %s: %s\n", cmd, m ? m : "[message redacted]");
	free(m);
}

/* The whole argument is redacted before it is cut to size: cutting first
 * could leave a token's head too short to be recognised, and print it. */
const char *cmd_safe_arg(const char *arg, char *buf, size_t bufsz)
{
	size_t n = strnlen(arg, ARG_REDACT_MAX + 1);
	char *r = n > ARG_REDACT_MAX ? strdup("[argument too long to show]") : redact_text(arg, n);

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
