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

/* What the command line asked for. */
struct report_args {
	const char *path, *output, *state_dir, *config_path, *events, *since, *until;
	struct report_filter filter;
	enum report_format fmt;
	char evpath[4096];
};

/* The options: -1 to go on, else the exit code (help, a usage error). */
static int report_parse_args(int argc, char **argv, struct report_args *a)
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
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'L': a->path = optarg; break;
		case 't': a->filter.task = optarg; break;
		case 'T': a->filter.token_id = optarg; break;
		case 'a': a->filter.all = 1; break;
		case 'S': a->state_dir = optarg; break;
		case 'c': a->config_path = optarg; break;
		case 'E': a->events = optarg; break;
		case 's': a->since = optarg; break;
		case 'u': a->until = optarg; break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (!*optarg || *end || n < 1 || n > 10000)
				return cmd_usage_error("report", "--top must be 1..10000");
			a->filter.top_n = (int)n;
			break;
		}
		case 'f':
			if (report_parse_format(optarg, &a->fmt))
				return cmd_usage_error("report", "--format must be json, md or html");
			break;
		case 'o': a->output = optarg; break;
		case 'h': fputs(report_help, stdout); return 0;
		default: return cmd_opt_error("report", argv, c);
		}
	}
	if (optind < argc)
		return cmd_extra_arg("report", argv[optind]);
	return -1;
}

/* The defaults (from --config's file when given), the time window and the
 * event store's path. 0, or the exit code. */
static int report_resolve(struct report_args *a, int64_t now)
{
	/* --config here is `tokenward --config FILE report`: every default
	 * (ledger, state_dir) then comes from that one file */
	if (a->config_path && setenv(CONFIG_ENV, a->config_path, 1))
		return cmd_usage_error("report", "cannot use --config: %s", strerror(errno));
	if (!a->path && !(a->path = cmd_default_ledger("report")))
		return EXIT_USAGE;
	if (timeparse_point(a->since, now, &a->filter.since_ns))
		return cmd_usage_error("report", "--since: not RFC 3339 or an age (2h, 7d)");
	a->filter.until_ns = now;
	if (a->until && timeparse_point(a->until, now, &a->filter.until_ns))
		return cmd_usage_error("report", "--until: not RFC 3339 or an age (2h, 7d)");
	if (a->filter.until_ns < a->filter.since_ns)
		return cmd_usage_error("report", "the window ends (--until) before it starts (--since)");
	/* The store is where the monitor keeps it: the config's state_dir. */
	if (!a->events && !a->state_dir && !(a->state_dir = cmd_default_state_dir("report")))
		return EXIT_USAGE;
	if (!a->events) {
		snprintf(a->evpath, sizeof(a->evpath), "%s/%s", a->state_dir, EVSTORE_FILE);
		a->events = a->evpath;
	}
	return 0;
}

/* The report's document, from the ledger and the event store. No store (a
 * monitor never ran here): the report says so and takes the sightings
 * from the ledger's history. 0, or the exit code. */
static int report_collect(const struct report_args *a, cJSON **r)
{
	const struct report_filter *f = &a->filter;
	struct ledger *l = NULL;
	sqlite3 *ev = NULL;
	char err[1024];
	int rc;

	if (ledger_open(a->path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err))) {
		cmd_error("report", "%s", err);
		return EXIT_USAGE;
	}
	if ((rc = evstore_open_reader(a->events, &ev, err, sizeof(err))) && rc != -ENOENT) {
		cmd_error("report", "%s", err);
		ledger_close(l);
		return EXIT_USAGE;
	}
	rc = report_build(l, ev, f, r);
	sqlite3_close(ev);
	if (rc == -ENOENT)
		cmd_error("report", "no token%s%s%s%s%s in ledger %s", f->token_id ? " " : "",
			  f->token_id ? f->token_id : "", f->task ? " of task '" : "", f->task ? f->task : "",
			  f->task ? "'" : "", a->path);
	else if (rc)
		cmd_error("report", "reading %s failed: %s", a->path, ledger_errmsg(l));
	ledger_close(l);
	return !rc ? 0 : rc == -ENOENT ? EXIT_USAGE : 1;
}

/* Rendered to stdout, or with -o to a new file beside the old one, renamed
 * over it once complete, so a failed write (a full disk) never leaves half
 * a report in place of the previous one; never written through a link. */
static int report_write(const cJSON *r, enum report_format fmt, const char *output)
{
	struct safefile_tmp tmp = { .fd = -1 };
	FILE *out = stdout;
	char err[1024];
	int rc;

	if (output && (safefile_tmp_open(&tmp, output, 0644, err, sizeof(err)) ||
		       !(out = safefile_tmp_stream(&tmp)))) {
		if (tmp.fd >= 0)
			snprintf(err, sizeof(err), "%s: %s", output, strerror(errno));
		cmd_error("report", "%s", err);
		safefile_tmp_abort(&tmp);
		return EXIT_USAGE;
	}
	rc = report_render(r, fmt, out);
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

int cmd_report(int argc, char **argv)
{
	struct report_args a = { .since = "24h", .fmt = REPORT_MARKDOWN };
	cJSON *r = NULL;
	int rc;

	if ((rc = report_parse_args(argc, argv, &a)) >= 0)
		return rc;
	if ((rc = report_resolve(&a, (int64_t)util_now_ns(CLOCK_REALTIME))) ||
	    (rc = report_collect(&a, &r)))
		return rc;
	rc = report_write(r, a.fmt, a.output);
	cJSON_Delete(r);
	return rc;
}
