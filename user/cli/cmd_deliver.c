/*
 * `ledger complete` and `ledger revoke`: deliver the revocations just
 * queued instead of waiting for a monitor to pick them up (a delegation
 * token must not outlive its task), then say for each token what its
 * issuer did. A revocation is "revoked" only once its issuer confirmed
 * it (the job is done); anything else is named as not revoked, with the
 * reason, and makes the command exit 1.
 *
 * The wait is bounded. What is not settled by then stays queued,
 * durably, for the monitor (which drains revoke_requests) or
 * `revoke-queue retry`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/cmd.h"
#include "cli/cmd_ledger.h"
#include "lib/config.h"
#include "ledger/freetext.h"
#include "ledger/handoff.h"
#include "lib/util.h"

#define DELIVER_WAIT_MS 5000
#define DELIVER_POLL_US 20000

int cli_outcomes_add(struct cli_outcomes *o, const char *id, const char *issuer)
{
	struct cli_outcome *x;

	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->v[i].id, id))
			return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		void *nv = realloc(o->v, cap * sizeof(*o->v));

		if (!nv)
			return -ENOMEM;
		o->v = nv;
		o->cap = cap;
	}
	x = &o->v[o->n];
	memset(x, 0, sizeof(*x));
	snprintf(x->id, sizeof(x->id), "%s", id);
	x->issuer = strdup(issuer ? issuer : "");
	x->submit = CLI_NOT_DRAINED;
	if (!x->issuer)
		return -ENOMEM;
	o->n++;
	return 0;
}

void cli_outcomes_free(struct cli_outcomes *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].issuer);
	free(o->v);
	memset(o, 0, sizeof(*o));
}

/* ledger_set_revoke_hook(): each request the ledger queued for us. */
void cli_outcomes_hook(void *ctx, int64_t seq, const char *token_id, const char *issuer, const char *reason)
{
	(void)seq, (void)reason;
	cli_outcomes_add(ctx, token_id, issuer);
}

/* handoff_drain_each(): what the revoker said to each of ours. */
static void on_drained(void *ctx, const char *token_id, const char *sha, const char *issuer, int r)
{
	struct cli_outcomes *o = ctx;

	(void)sha, (void)issuer;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->v[i].id, token_id))
			o->v[i].submit = r;
}

/* Settled: nothing more will happen to it within our wait. */
static int settled(const struct cli_outcome *x, int64_t deadline_ms)
{
	if (x->submit < 0 && x->submit != CLI_NOT_DRAINED)
		return 1;
	if (x->submit == REVOKE_ALERT_ONLY)
		return 1;
	switch (x->info.state) {
	case REVOKE_JOB_DONE: case REVOKE_JOB_FAILED: return 1;
	case REVOKE_JOB_RETRYING: return x->info.next_attempt_ms > deadline_ms;
	default: return 0;
	}
}

/* Poll our jobs until every one is settled or the wait is over. */
static void wait_settled(struct revoker *rev, struct ledger *l, struct cli_outcomes *o)
{
	int64_t deadline = (int64_t)(util_now_ns(CLOCK_REALTIME) / 1000000) + DELIVER_WAIT_MS;

	for (size_t i = 0; i < o->n; i++) {
		struct ledger_token *t = NULL;

		if (!o->v[i].sha[0] && ledger_get(l, o->v[i].id, &t) == 0)
			snprintf(o->v[i].sha, sizeof(o->v[i].sha), "%s", t->sha256);
		ledger_token_free(t);
	}
	for (;;) {
		size_t open = 0;

		for (size_t i = 0; i < o->n; i++) {
			if (o->v[i].sha[0])
				revoker_job_info(rev, o->v[i].sha, o->v[i].issuer, &o->v[i].info);
			open += !settled(&o->v[i], deadline);
		}
		if (!open || (int64_t)(util_now_ns(CLOCK_REALTIME) / 1000000) >= deadline)
			return;
		usleep(DELIVER_POLL_US);
	}
}

/* One line per token; returns 1 when it is confirmed revoked (or an
 * alert-only policy asked for no revocation), else 0. */
static int print_outcome(const struct cli_outcome *x, const char *why)
{
	const struct revoke_job_info *j = &x->info;
	char iss[96], err[256], act[128] = "", *shown = freetext_safe(x->issuer);

	/* The issuer as `ledger list` shows it; the error as any message is. */
	snprintf(iss, sizeof(iss), "%s", shown ? shown : "?");
	free(shown);
	cmd_safe_arg(j->error[0] ? j->error : "no detail", err, sizeof(err));
	if (why) {
		printf("  %s  NOT YET REVOKED at issuer '%s': %s\n", x->id, iss, why);
		return 0;
	}
	if (x->submit == REVOKE_ALERT_ONLY) {
		printf("  %s  not revoked at issuer '%s': the policy for task_done is alert\n", x->id, iss);
		return 1;
	}
	if (x->submit < 0 && x->submit != CLI_NOT_DRAINED && j->state == REVOKE_JOB_NONE) {
		printf("  %s  NOT REVOKED at issuer '%s': not queued (%s)\n", x->id, iss,
		       x->submit == -ENOENT ? "no such issuer or token" : strerror(-x->submit));
		return 0;
	}
	switch (j->state) {
	case REVOKE_JOB_DONE:
		printf("  %s  revoked by issuer '%s' (job %lld)\n", x->id, iss, (long long)j->job);
		return 1;
	case REVOKE_JOB_FAILED:
		if (j->rearm_when_configured)
			snprintf(act, sizeof(act), "re-armed once a config names the issuer");
		else
			snprintf(act, sizeof(act), "fix the issuer, then 'tokenward revoke-queue retry %lld'",
				 (long long)j->job);
		printf("  %s  NOT REVOKED at issuer '%s': %s (job %lld failed; %s)\n", x->id, iss, err,
		       (long long)j->job, act);
		return 0;
	case REVOKE_JOB_RETRYING:
		printf("  %s  NOT YET REVOKED at issuer '%s': queued for retry after attempt %u: %s (job %lld)\n",
		       x->id, iss, j->attempts, err, (long long)j->job);
		return 0;
	case REVOKE_JOB_PENDING:
		printf("  %s  NOT YET REVOKED at issuer '%s': queued, not attempted yet (job %lld)\n", x->id, iss,
		       (long long)j->job);
		return 0;
	default:
		printf("  %s  NOT REVOKED at issuer '%s': no revocation job for it (see 'tokenward ledger "
		       "show %s')\n", x->id, iss, x->id);
		return 0;
	}
}

/* Every line, then the warning; the exit status. */
static int report(const char *cmd, struct cli_outcomes *o, const char *why)
{
	size_t bad = 0;

	for (size_t i = 0; i < o->n; i++)
		bad += !print_outcome(&o->v[i], why);
	fflush(stdout);
	if (!bad)
		return 0;
	fprintf(stderr, "tokenward %s: %zu of %zu revocation%s not confirmed by the issuer; %s still "
		"valid (see 'tokenward revoke-queue status')\n", cmd, bad, o->n, o->n == 1 ? "" : "s",
		bad == 1 ? "that token is" : "those tokens are");
	return 1;
}

int cli_deliver(const char *cmd, struct ledger *l, const char *path, const char *config_path,
		struct cli_outcomes *o)
{
	struct tw_config *cfg = NULL;
	struct revoker *rev = NULL;
	struct handoff *h = NULL;
	char err[512], list[4096];
	int rc;

	if (config_load(cmd_config_path(config_path), &cfg, err, sizeof(err))) {
		cmd_error(cmd, "%s", err);
		return report(cmd, o, "the config did not load; the request stays queued in the ledger");
	}
	handoff_revocation_list(path, list, sizeof(list));
	snprintf(err, sizeof(err), "out of memory");
	if (config_ensure_builtin(cfg, LEDGER_BUILTIN_ISSUER, list) ||
	    revoker_open(cfg, path, &rev, err, sizeof(err)) ||
	    handoff_open(path, rev, &h, err, sizeof(err)) || revoker_start(rev)) {
		cmd_error(cmd, "%s", err);
		rc = report(cmd, o, "the revoker did not start; the request stays queued in the ledger");
		goto out;
	}
	handoff_drain_each(h, l, on_drained, o);
	wait_settled(rev, l, o);
	/* An attempt in flight ends before the workers stop: look once more. */
	revoker_stop(rev);
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].sha[0])
			revoker_job_info(rev, o->v[i].sha, o->v[i].issuer, &o->v[i].info);
	rc = report(cmd, o, NULL);
out:
	handoff_close(h);
	revoker_close(rev);
	config_free(cfg);
	return rc;
}
