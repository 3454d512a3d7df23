/*
 * `tokenward status`: print what the running monitor last wrote to
 * STATE_DIR/status.json. Sections come from whichever modules registered
 * a status provider, so this prints them generically.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli/cmd.h"
#include "ledger/freetext.h"
#include "lib/config.h"
#include "lib/status.h"

static const char status_help[] =
	"usage: tokenward status [OPTIONS]\n\n"
	"Show the running monitor's counters: events, drops and truncations per\n"
	"reason, ring buffer size, and each module's own section.\n\n"
	"  --state-dir DIR  state directory of the monitor (default: the config's state_dir, " CONFIG_DEFAULT_STATE_DIR ")\n"
	"  --json           print the status object as JSON\n"
	"  -h, --help       this text\n\n"
	"Exit status: 0 shown, 2 no status (no monitor has run with DIR).\n";

static void print_value(const char *prefix, const cJSON *v)
{
	if (cJSON_IsObject(v)) {
		const cJSON *c;
		char key[512];

		cJSON_ArrayForEach(c, v) {
			snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", c->string);
			print_value(key, c);
		}
		return;
	}
	printf("  %-40s ", prefix);
	if (cJSON_IsString(v))
		printf("%s\n", v->valuestring);
	else if (cJSON_IsBool(v))
		printf("%s\n", cJSON_IsTrue(v) ? "yes" : "no");
	else if (cJSON_IsNumber(v))
		printf("%.0f\n", v->valuedouble);
	else {
		char *s = cJSON_PrintUnformatted(v);
		printf("%s\n", s ? s : "?");
		free(s);
	}
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL;
	const cJSON *pid, *running, *updated, *sec;
	int json = 0, c, r, alive;
	char err[512] = "";
	cJSON *st;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': dir = optarg; break;
		case 'j': json = 1; break;
		case 'h': fputs(status_help, stdout); return 0;
		default: return cmd_opt_error("status", argv, c);
		}
	}
	if (optind < argc)
		return cmd_extra_arg("status", argv[optind]);
	if (!dir && !(dir = cmd_default_state_dir("status")))
		return EXIT_USAGE;

	r = status_read(dir, &st, err, sizeof(err));
	if (r == -ENOENT) {
		cmd_error("status", "no monitor status in %s (is 'tokenward run --state-dir %s' running?)", dir, dir);
		return EXIT_USAGE;
	}
	if (r) {
		cmd_error("status", "%s", err[0] ? err : strerror(-r));
		return EXIT_USAGE;
	}
	/* Paths, names and failure texts in it came from outside. */
	freetext_redact_json(st);
	pid = cJSON_GetObjectItemCaseSensitive(st, "pid");
	running = cJSON_GetObjectItemCaseSensitive(st, "running");
	updated = cJSON_GetObjectItemCaseSensitive(st, "updated");
	/* A monitor killed without cleanup leaves running=true behind. */
	alive = cJSON_IsTrue(running) && cJSON_IsNumber(pid) &&
		(kill((pid_t)pid->valuedouble, 0) == 0 || errno == EPERM);
	if (json) {
		cJSON_ReplaceItemInObjectCaseSensitive(st, "running", cJSON_CreateBool(alive));
		cmd_print_json(stdout, st, 1);
		cJSON_Delete(st);
		return 0;
	}
	printf("tokenward monitor: %s (pid %.0f), status of %s\n",
	       alive ? "running" : "not running", cJSON_IsNumber(pid) ? pid->valuedouble : 0,
	       cJSON_IsString(updated) ? updated->valuestring : "?");
	cJSON_ArrayForEach(sec, st) {
		if (!cJSON_IsObject(sec))
			continue;
		printf("%s:\n", sec->string);
		print_value("", sec);
	}
	cJSON_Delete(st);
	return 0;
}
