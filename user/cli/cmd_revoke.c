/*
 * `tokenward revoke-queue`: inspect and operate the revocation queue
 * (status, list, history, retry), and `serve`, which runs the revoker on
 * its own and takes requests as JSON lines on stdin. `serve` exists for
 * scripts, tests and the benchmark until the live pipeline feeds the
 * revoker directly; it is also a way to revoke by hand:
 *
 *   echo '{"verdict_class":"file_write","token":"..."}' | tokenward revoke-queue serve --exit-after 5
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cli/cmd.h"
#include "lib/config.h"
#include "lib/log.h"
#include "revoke/revoke.h"
#include "detect/redact.h"
#include "lib/util.h"

#define LINE_MAX_BYTES (256 * 1024)

static const char revoke_help[] =
	"usage: tokenward revoke-queue [OPTIONS] COMMAND [ARG]\n\n"
	"Inspect and operate the durable revocation queue.\n\n"
	"commands:\n"
	"  status          queue figures as JSON (part of 'tokenward status')\n"
	"  list            every job as a JSON line (never the token)\n"
	"  history [SHA]   revocation history as JSON lines, for one token hash or all\n"
	"  retry JOB|all   re-arm failed jobs (e.g. after fixing issuer credentials)\n"
	"  serve           run the revoker alone; read requests as JSON lines on stdin:\n"
	"                  {\"verdict_class\":\"file_write\", \"token\":\"RAW\" | \"token_sha256\":\"HEX\",\n"
	"                   \"token_id\":\"...\", \"issuer\":\"NAME\", \"verdict\":{...}}\n"
	"                  and answer one JSON line per request on stdout\n\n"
	"options:\n"
	"  --config PATH       config file (default " CONFIG_DEFAULT_PATH " if present)\n"
	"  --db PATH           queue database (default: the config's ledger path)\n"
	"  --ready-file PATH   serve: create PATH once the workers run\n"
	"  --exit-after SEC    serve: stop after SEC seconds\n"
	"  -v, --verbose       debug messages\n"
	"  -h, --help          this text\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void print_json(cJSON *o)
{
	cmd_print_json(stdout, o, 0);
}

static void print_lines(cJSON *arr)
{
	cJSON *it;

	cJSON_ArrayForEach(it, arr)
		print_json(it);
	fflush(stdout);
}

static const char *jstr(cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void answer(long line, const char *result, const char *error)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "line", line);
	cJSON_AddStringToObject(o, "result", result);
	if (error)
		cJSON_AddStringToObject(o, "error", error);
	print_json(o);
	fflush(stdout);
	cJSON_Delete(o);
}

/* A string field of a request, redacted: token_id, issuer and the
 * verdict are stored, logged and sent to issuers, and only "token" may
 * hold the secret. NULL when absent; the caller frees. */
static char *safe_field(cJSON *o, const char *k)
{
	const char *v = jstr(o, k);

	return v ? redact_text(v, strlen(v)) : NULL;
}

/* Every string in a request's verdict, redacted in place. */
static void redact_tree(cJSON *o)
{
	cJSON *it;

	cJSON_ArrayForEach(it, o) {
		if (cJSON_IsString(it)) {
			char *r = redact_text(it->valuestring, strlen(it->valuestring));

			explicit_bzero(it->valuestring, strlen(it->valuestring));
			cJSON_SetValuestring(it, r ? r : "[redacted]");
			free(r);
		} else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
			redact_tree(it);
		}
	}
}

static void serve_answer(long lineno, int rc)
{
	if (rc == REVOKE_QUEUED)
		answer(lineno, "queued", NULL);
	else if (rc == REVOKE_DUPLICATE)
		answer(lineno, "duplicate", NULL);
	else if (rc == REVOKE_ALERT_ONLY)
		answer(lineno, "alert", NULL);
	else if (rc == REVOKE_FAILED)
		answer(lineno, "failed", REVOKE_ERR_UNCONFIGURED "; the job is kept as failed and "
		       "re-armed when a config names the issuer");
	else
		answer(lineno, "error", rc == -EINVAL ? "bad request: verdict_class and token or "
		       "token_sha256 (64 hex) required; a given hash must match the token"
		       : rc == -ENOENT ? "no issuer named and no default issuer" : strerror(-rc));
}

/* One request line. The line holds the raw token; it is wiped by the
 * caller, and the parsed copy here before it is freed. */
static void serve_line(struct revoker *r, char *line, long lineno)
{
	cJSON *o = cJSON_Parse(line), *tok, *verdict;
	struct revoke_request req = { 0 };
	char *vjson = NULL, *id, *issuer;

	if (!cJSON_IsObject(o)) {
		answer(lineno, "error", "not a JSON object");
		cJSON_Delete(o);
		return;
	}
	tok = cJSON_GetObjectItemCaseSensitive(o, "token");
	verdict = cJSON_GetObjectItemCaseSensitive(o, "verdict");
	req.token_id = id = safe_field(o, "token_id");
	req.token_sha256 = jstr(o, "token_sha256");
	req.issuer = issuer = safe_field(o, "issuer");
	req.verdict_class = jstr(o, "verdict_class");
	if (cJSON_IsObject(verdict)) {
		redact_tree(verdict);
		vjson = cJSON_PrintUnformatted(verdict);
	}
	req.verdict_json = vjson;
	if (cJSON_IsString(tok)) {
		req.token = tok->valuestring;
		req.token_len = strlen(tok->valuestring);
	}
	serve_answer(lineno, revoker_submit(r, &req));
	if (cJSON_IsString(tok))
		explicit_bzero(tok->valuestring, strlen(tok->valuestring));
	free(vjson);
	free(id);
	free(issuer);
	cJSON_Delete(o);
}

static int serve(struct revoker *r, const char *ready, uint64_t deadline)
{
	char *buf = malloc(LINE_MAX_BYTES + 1);
	size_t len = 0;
	long lineno = 0;
	int eof = 0, rc = 0;

	if (!buf)
		return 1;
	if (revoker_start(r)) {
		log_error("cannot start revocation workers");
		free(buf);
		return 1;
	}
	if (ready && util_touch(ready, "ready\n")) {
		log_error("cannot create ready file %s", ready);
		rc = 1;
		goto out;
	}
	while (!stop_requested) {
		struct pollfd p = { .fd = eof ? -1 : 0, .events = POLLIN };
		int64_t left = deadline ? (int64_t)(deadline - util_now_ns(CLOCK_MONOTONIC)) / 1000000 : 1000;
		ssize_t n;

		if (deadline && left <= 0)
			break;
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(0, buf + len, LINE_MAX_BYTES - len);
		if (n <= 0) {
			eof = 1;        /* keep delivering until told to stop */
			continue;
		}
		len += n;
		for (char *nl; (nl = memchr(buf, '\n', len));) {
			size_t k = nl - buf + 1;

			*nl = 0;
			lineno++;
			if (k > 1)
				serve_line(r, buf, lineno);
			explicit_bzero(buf, k);
			memmove(buf, buf + k, len - k);
			len -= k;
		}
		if (len == LINE_MAX_BYTES) {
			answer(++lineno, "error", "line too long");
			explicit_bzero(buf, len);
			len = 0;
		}
	}
out:
	explicit_bzero(buf, LINE_MAX_BYTES);
	free(buf);
	revoker_stop(r);
	return rc;
}

/* The subcommands: whether each writes, and its argument (0 none,
 * 1 optional, 2 required). */
static const struct rq_cmd {
	const char *name;
	int writes, arg;
} rq_cmds[] = {
	{ "status", 0, 0 }, { "list", 0, 0 }, { "history", 0, 1 }, { "retry", 1, 2 }, { "serve", 1, 0 },
};

struct rq_args {
	const char *cfg_path, *db, *ready, *arg;
	const struct rq_cmd *cmd;
	uint64_t deadline;
};

/* The options and the subcommand: -1 to go on, else the exit code. */
static int rq_parse_args(int argc, char **argv, struct rq_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "exit-after", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sub;
	uint64_t v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->cfg_path = optarg; break;
		case 'd': a->db = optarg; break;
		case 'r': a->ready = optarg; break;
		case 'x':
			if (util_parse_size(optarg, &v) || v < 1)
				return cmd_usage_error("revoke-queue", "bad --exit-after '%s'", optarg);
			a->deadline = util_now_ns(CLOCK_MONOTONIC) + v * 1000000000ull;
			break;
		case 'v': log_threshold = LOG_DEBUG; break;
		case 'h': fputs(revoke_help, stdout); return 0;
		default: return cmd_opt_error("revoke-queue", argv, c);
		}
	}
	if (optind >= argc)
		return cmd_usage_error("revoke-queue", "missing command (status, list, history, retry, serve)");
	sub = argv[optind++];
	if (optind < argc)
		a->arg = argv[optind++];
	if (optind < argc)
		return cmd_extra_arg("revoke-queue", argv[optind]);
	for (size_t i = 0; i < sizeof(rq_cmds) / sizeof(rq_cmds[0]); i++)
		if (!strcmp(sub, rq_cmds[i].name))
			a->cmd = &rq_cmds[i];
	if (!a->cmd)
		return cmd_usage_error("revoke-queue", "unknown command '%s'", sub);
	if ((a->cmd->arg == 2 && !a->arg) || (a->arg && !a->cmd->arg))
		return cmd_usage_error("revoke-queue", "'%s' %s", sub, a->arg ? "takes no argument" : "needs JOB or all");
	return -1;
}

static int rq_retry(struct revoker *r, const char *arg)
{
	char *end;
	long long id = strcmp(arg, "all") ? strtoll(arg, &end, 10) : 0;
	int n;

	if (strcmp(arg, "all") && (*end || id <= 0))
		return cmd_usage_error("revoke-queue", "retry needs a job number or 'all', not '%s'", arg);
	if ((n = revoker_retry(r, id)) < 0) {
		log_error("retry failed: %s", strerror(-n));
		return 1;
	}
	printf("%d job%s re-armed\n", n, n == 1 ? "" : "s");
	return 0;
}

static int rq_serve(struct revoker *r, const struct rq_args *a)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return serve(r, a->ready, a->deadline);
}

/* One subcommand on an open queue. */
static int rq_run(struct revoker *r, const struct rq_args *a)
{
	const char *name = a->cmd->name;
	cJSON *o;

	if (!strcmp(name, "retry"))
		return rq_retry(r, a->arg);
	if (!strcmp(name, "serve"))
		return rq_serve(r, a);
	if (!strcmp(name, "status")) {
		o = cJSON_CreateObject();
		revoker_stats(r, o);
		print_json(o);
	} else {
		o = !strcmp(name, "list") ? revoker_list_jobs(r) : revoker_history(r, a->arg);
		print_lines(o);
	}
	cJSON_Delete(o);
	return 0;
}

int cmd_revoke_queue(int argc, char **argv)
{
	struct rq_args a = { 0 };
	struct tw_config *cfg = NULL;
	struct revoker *r = NULL;
	char err[512];
	int rc;

	if ((rc = rq_parse_args(argc, argv, &a)) >= 0)
		return rc;
	if (config_load(cmd_config_path(a.cfg_path), &cfg, err, sizeof(err))) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	/* status, list and history only read: they create and change nothing. */
	if ((a.cmd->writes ? revoker_open : revoker_open_readonly)(cfg, a.db ? a.db : cfg->ledger_path, &r, err,
								    sizeof(err))) {
		log_error("%s", err);
		config_free(cfg);
		return EXIT_USAGE;
	}
	rc = rq_run(r, &a);
	revoker_close(r);
	config_free(cfg);
	return rc;
}
