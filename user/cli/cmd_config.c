/*
 * The one config file every command reads, and `tokenward config`:
 *
 *   config check [FILE]   load FILE (default: the config in use) and every
 *                         file it names; exit 0, or 2 with each error as
 *                         FILE:LINE: what (an unknown key with the known
 *                         key it is closest to)
 *   config show [FILE]    the effective config, each value with its source
 *
 * Which file: --config (a command's flag, or `tokenward --config FILE
 * COMMAND`), else $TOKENWARD_CONFIG, else /etc/tokenward/tokenward.yaml if
 * it exists, else the defaults. The ledger: --ledger, else
 * $TOKENWARD_LEDGER, else the file's `ledger`, else the default; so
 * `mint`, `ledger`, `report` and `run` agree on it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cmd.h"
#include "detect/redact.h"
#include "detect/rules.h"
#include "ledger/ledger.h"
#include "lib/config.h"

static struct tw_config *shared;      /* the default config, loaded once */

const char *cmd_config_path(const char *flag)
{
	const char *e = getenv(CONFIG_ENV);

	if (flag)
		return flag;
	return e && *e ? e : NULL;
}

/* one error a line, each FILE:LINE: what */
static void print_errors(const char *cmd, char *err)
{
	for (char *line = err, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')))
			*nl = 0;
		cmd_error(cmd, "%s", line);
	}
}

int cmd_load_config(const char *cmd, const char *path, struct tw_config **out, char *err, size_t errsz)
{
	if (config_load(cmd_config_path(path), out, err, errsz)) {
		print_errors(cmd, err);
		return EXIT_USAGE;
	}
	return 0;
}

/* The default config, loaded on first use and kept: NULL after the error
 * was printed. */
static const struct tw_config *shared_config(const char *cmd)
{
	char err[8192];

	if (shared)
		return shared;
	/* secrets are for revoking, which these callers never do */
	if (config_load_flags(cmd_config_path(NULL), CONFIG_NO_SECRETS, &shared, err, sizeof(err))) {
		print_errors(cmd, err);
		return NULL;
	}
	return shared;
}

const char *cmd_default_ledger(const char *cmd)
{
	const char *e = getenv(LEDGER_ENV);
	const struct tw_config *c;

	if (e && *e)
		return e;
	return (c = shared_config(cmd)) ? c->ledger_path : NULL;
}

char *const *cmd_default_rules_dirs(const char *cmd)
{
	const struct tw_config *c = shared_config(cmd);

	return c ? c->rules_dirs : NULL;
}

const char *cmd_default_state_dir(const char *cmd)
{
	const struct tw_config *c = shared_config(cmd);

	return c ? c->state_dir : NULL;
}

static const char config_help[] =
	"usage: tokenward config check [FILE]\n"
	"       tokenward config show [FILE] [-- RUN-FLAGS]\n\n"
	"check: load FILE (default: $" CONFIG_ENV ", else " CONFIG_DEFAULT_PATH ")\n"
	"and the files it names (secret files, their owner and mode); print each\n"
	"error as FILE:LINE: what. Exit 0 when it is valid, 2 when not.\n"
	"show: the effective configuration, each value with where it came from\n"
	"(default, FILE:LINE, flag); after --, `run`'s flags as they would apply.\n"
	"Every key: docs/CONFIG.md.\n";

/* paths and names came from a file or argv: shown as any message is, a
 * line at a time (redaction masks control bytes) */
static void show(const struct tw_config *c)
{
	char *text = NULL, *safe;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return;
	config_show(c, m);
	fclose(m);
	for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		safe = redact_text(line, nl ? (size_t)(nl - line) : strlen(line));
		printf("%s\n", safe ? safe : "[line redacted]");
		free(safe);
	}
	free(text);
}

static int config_sub(const char *sub, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	char cmd[32], err[8192];
	struct tw_config *c = NULL;
	const char *file = NULL;
	char **run_argv = NULL;
	int o, run_argc = 0;

	snprintf(cmd, sizeof(cmd), "config %s", sub);
	/* show ... -- RUN-FLAGS: run's flags are not ours to parse */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--") && !strcmp(sub, "show")) {
			run_argv = argv + i;
			run_argc = argc - i;
			argc = i;
			break;
		}
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (o == 'h') {
			fputs(config_help, stdout);
			return 0;
		}
		return cmd_opt_error(cmd, argv, o);
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return cmd_extra_arg(cmd, argv[optind]);
	/* show [FILE] -- RUN FLAGS: the values run would use with those flags */
	if (run_argv) {
		int r;

		if (file)
			setenv(CONFIG_ENV, file, 1);
		run_argv[0] = "run";
		if ((r = cmd_run_config(run_argc, run_argv, &c)))
			return r;
		show(c);
		config_free(c);
		return 0;
	}
	if (optind < argc)
		return cmd_extra_arg(cmd, argv[optind]);
	file = cmd_config_path(file);
	if (!file && !strcmp(sub, "check"))
		file = CONFIG_DEFAULT_PATH;   /* checking means there is a file to check */
	if (cmd_load_config(cmd, file, &c, err, sizeof(err)))
		return EXIT_USAGE;
	if (!strcmp(sub, "check")) {
		/* the rules it names must compile, as run would find at start */
		for (char **d = c->rules_dirs; *d; d++) {
			struct ruleset *rs = NULL;

			if (rules_load_builtin(&rs, err, sizeof(err)) || rules_load_dir(rs, *d, err, sizeof(err))) {
				cmd_error(cmd, "%s: rules_dirs: %s", c->path ? c->path : file, err);
				rules_free(rs);
				config_free(c);
				return EXIT_USAGE;
			}
			rules_free(rs);
		}
		printf("%s: ok\n", c->path ? c->path : file);
	} else {
		show(c);
	}
	config_free(c);
	return 0;
}

int cmd_config(int argc, char **argv)
{
	char safe[128];

	if (argc < 2)
		return cmd_usage_error("config", "which? check or show");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(config_help, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "check") || !strcmp(argv[1], "show"))
		return config_sub(argv[1], argc - 1, argv + 1);
	return cmd_usage_error("config", "unknown subcommand '%s' (check, show)",
			       cmd_safe_arg(argv[1], safe, sizeof(safe)));
}
