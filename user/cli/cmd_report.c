/* `tokenward report`: an exposure report from the ledger, for incident reviews. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli/cmd.h"
#include "ledger/ledger.h"
#include "ledger/report.h"
#include "lib/safefile.h"
#include "lib/config.h"
#include "lib/timeparse.h"
#include "lib/util.h"
#include "ledger/evstore.h"
#include <stdlib.h>
#include <time.h>

static const char report_help[] =
	"usage: tokenward report [OPTIONS]\n\n"
	"Write an exposure report for a time window from the ledger and the event\n"
	"store: coverage (what the monitor lost), a summary (counts, time to revoke,\n"
	"top processes, files, destinations, containers, unmanaged secrets, tokens\n"
	"still active), and per token its issuance, every sighting with its process,\n"
	"exposures, revocation at the issuer and blast radius. Never shows a raw token.\n"
	"docs/REPORTS.md describes the JSON (\"schema\": 1).\n\n"
	"  --ledger PATH     ledger (default $TOKENWARD_LEDGER, else /var/lib/tokenward/ledger.db)\n"
	"  --config PATH     config file (default " CONFIG_DEFAULT_PATH " if present): its state_dir\n"
	"  --state-dir DIR   where the monitor keeps events.db (default: the config's state_dir)\n"
	"  --events PATH     the event store itself (default STATE_DIR/events.db)\n"
	"  --since T         window start: RFC 3339 or an age (2h, 7d); default 24h\n"
	"  --until T         window end, the same forms; default now\n"
	"  --task ID         only this task's tokens\n"
	"  --token ID        only this token (shown even if never seen)\n"
	"  --all             also tokens that were never seen\n"
	"  --top N           rows in each summary table (default 10)\n"
	"  --format F        json, md or html (default md)\n"
	"  -o, --output PATH write to PATH instead of stdout: a new file, renamed over\n"
	"                    PATH once complete (a failed write keeps the old one)\n"
	"  -h, --help        this text\n";

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'L' },
		{ "task", required_argument, NULL, 't' },
		{ "token", required_argument, NULL, 'T' },
		{ "all", no_argument, NULL, 'a' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'c' },
		{ "events", required_argument, NULL, 'E' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "top", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = NULL, *output = NULL, *state_dir = NULL, *config_path = NULL;
	const char *events = NULL, *since = "24h", *until = NULL;
	char evpath[4096];
	sqlite3 *ev = NULL;
	int64_t now = (int64_t)util_now_ns(CLOCK_REALTIME);
	struct report_filter filter = { 0 };
	enum report_format fmt = REPORT_MARKDOWN;
	struct ledger *l = NULL;
	cJSON *r = NULL;
	struct safefile_tmp tmp = { .fd = -1 };
	FILE *out = stdout;
	char err[1024];
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'L': path = optarg; break;
		case 't': filter.task = optarg; break;
		case 'T': filter.token_id = optarg; break;
		case 'a': filter.all = 1; break;
		case 'S': state_dir = optarg; break;
		case 'c': config_path = optarg; break;
		case 'E': events = optarg; break;
		case 's': since = optarg; break;
		case 'u': until = optarg; break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (!*optarg || *end || n < 1 || n > 10000)
				return cmd_usage_error("report", "--top must be 1..10000");
			filter.top_n = (int)n;
			break;
		}
		case 'f':
			if (report_parse_format(optarg, &fmt))
				return cmd_usage_error("report", "--format must be json, md or html");
			break;
		case 'o': output = optarg; break;
		case 'h': fputs(report_help, stdout); return 0;
		default: return cmd_opt_error("report", argv, c);
		}
	}
	if (optind < argc)
		return cmd_extra_arg("report", argv[optind]);
	/* --config here is `tokenward --config FILE report`: every default
	 * (ledger, state_dir) then comes from that one file */
	if (config_path && setenv(CONFIG_ENV, config_path, 1))
		return cmd_usage_error("report", "cannot use --config: %s", strerror(errno));
	if (!path && !(path = cmd_default_ledger("report")))
		return EXIT_USAGE;
	if (timeparse_point(since, now, &filter.since_ns))
		return cmd_usage_error("report", "--since: not RFC 3339 or an age (2h, 7d)");
	filter.until_ns = now;
	if (until && timeparse_point(until, now, &filter.until_ns))
		return cmd_usage_error("report", "--until: not RFC 3339 or an age (2h, 7d)");
	if (filter.until_ns < filter.since_ns)
		return cmd_usage_error("report", "the window ends (--until) before it starts (--since)");
	/* The store is where the monitor keeps it: the config's state_dir. */
	if (!events && !state_dir && !(state_dir = cmd_default_state_dir("report")))
		return EXIT_USAGE;
	if (!events) {
		snprintf(evpath, sizeof(evpath), "%s/%s", state_dir, EVSTORE_FILE);
		events = evpath;
	}
	if ((rc = ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err)))) {
		cmd_error("report", "%s", err);
		return EXIT_USAGE;
	}
	/* No store (a monitor never ran here): the report says so and takes
	 * the sightings from the ledger's history. */
	if ((rc = evstore_open_reader(events, &ev, err, sizeof(err))) && rc != -ENOENT) {
		cmd_error("report", "%s", err);
		ledger_close(l);
		return EXIT_USAGE;
	}
	rc = report_build(l, ev, &filter, &r);
	sqlite3_close(ev);
	if (rc) {
		if (rc == -ENOENT)
			cmd_error("report", "no token%s%s%s%s%s in ledger %s", filter.token_id ? " " : "",
				  filter.token_id ? filter.token_id : "", filter.task ? " of task '" : "",
				  filter.task ? filter.task : "", filter.task ? "'" : "", path);
		else
			cmd_error("report", "reading %s failed: %s", path, ledger_errmsg(l));
		ledger_close(l);
		return rc == -ENOENT ? EXIT_USAGE : 1;
	}
	ledger_close(l);
	/* -o: a new file beside the old one, renamed over it once complete, so
	 * a failed write (a full disk) never leaves half a report in place of
	 * the previous one; never written through a link. */
	if (output && (safefile_tmp_open(&tmp, output, 0644, err, sizeof(err)) ||
		       !(out = safefile_tmp_stream(&tmp)))) {
		if (tmp.fd >= 0)
			snprintf(err, sizeof(err), "%s: %s", output, strerror(errno));
		cmd_error("report", "%s", err);
		safefile_tmp_abort(&tmp);
		cJSON_Delete(r);
		return EXIT_USAGE;
	}
	rc = report_render(r, fmt, out);
	cJSON_Delete(r);
	if (output && rc) {
		snprintf(err, sizeof(err), "%s: %s; the previous file, if any, is left as it was", output,
			 strerror(-rc));
		safefile_tmp_abort(&tmp);
	} else if (output) {
		rc = safefile_tmp_commit(&tmp, 0, err, sizeof(err));
	} else if (rc || fflush(stdout)) {
		snprintf(err, sizeof(err), "standard output: %s", strerror(rc ? -rc : errno));
		rc = rc ? rc : -EIO;
	}
	if (rc) {
		cmd_error("report", "writing the report failed: %s", err);
		return 1;
	}
	return 0;
}
