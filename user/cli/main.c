/* tokenward: entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>
#include "cli/cmd.h"
#include "detect/redact.h"
#include "lib/config.h"
#include "lib/log.h"
#include <stdlib.h>

#define TOKENWARD_VERSION "0.1.0"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "load the sensors and watch for token exposure" },
	{ "mint", cmd_mint, "issue a delegation token for one task" },
	{ "ledger", cmd_ledger, "register, list, show, complete and revoke tokens" },
	{ "status", cmd_status, "show the running monitor's counters and drops" },
	{ "scan", cmd_scan, "scan files, directories or stdin for tokens (offline)" },
	{ "rules", cmd_rules, "list the detection rules, test them, measure them" },
	{ "report", cmd_report, "write an exposure report from the ledger (md, html, json)" },
	{ "revoke-queue", cmd_revoke_queue, "inspect and operate the revocation queue" },
	{ "config", cmd_config, "check the config file, show the effective config" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tokenward [--version] [--help] [--config FILE] COMMAND [ARGS]\n\n"
		   "Runtime monitor for delegation-token exposure.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'tokenward COMMAND --help' describes a command's flags.\n");
}

int main(int argc, char **argv)
{
	char safe[128];

	/* Every log line is redacted: paths, names and values in messages come
	 * from argv, files and requests, any of which may hold a token. */
	log_set_filter(redact_text);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	/* --config FILE before the command: the file every command reads */
	if (!strcmp(argv[1], "--config") || !strncmp(argv[1], "--config=", 9)) {
		const char *f = argv[1][8] == '=' ? argv[1] + 9 : argc > 2 ? argv[2] : NULL;
		int used = argv[1][8] == '=' ? 1 : 2;

		if (!f || !*f) {
			fprintf(stderr, "tokenward: --config needs a file\n");
			return EXIT_USAGE;
		}
		setenv(CONFIG_ENV, f, 1);
		argc -= used;
		argv += used;
		if (argc < 2) {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!strcmp(argv[1], "--version")) {
		printf("tokenward %s\n", TOKENWARD_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tokenward: unknown command '%s'\n", cmd_safe_arg(argv[1], safe, sizeof(safe)));
	usage(stderr);
	return EXIT_USAGE;
}
