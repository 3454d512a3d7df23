/* Verdicts to syslog and webhooks, counted; the metrics endpoint (see outputs.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/util.h"
#include "output/metrics.h"
#include "output/outputs.h"
#include "output/syslog.h"
#include "output/webhook.h"

struct verdict_pair {
	char cls[32], action[32];
	uint64_t n;
};

/* An output a reload replaced: sent on until its queue is empty (or
 * RETIRE_MAX_NS for a syslog), then closed; the loop never waits on it. */
struct retired {
	struct syslog_out *syslog;
	struct webhook_out *webhook;
	uint64_t deadline_ns;
};

#define RETIRED_MAX (4 * OUTPUTS_MAX)
#define RETIRE_MAX_NS 5000000000ull

struct outputs {
	struct syslog_out *syslog[OUTPUTS_MAX];
	int nsyslog;
	struct webhook_out *webhook[OUTPUTS_MAX];
	int nwebhook;
	struct metrics *metrics;
	char *metrics_spec;       /* as configured ("127.0.0.1:0"), for the reload's comparison */
	struct retired retired[RETIRED_MAX];
	int nretired;
	uint64_t retired_failures; /* of outputs that were closed after a reload */
	uint64_t rebuilds;        /* reloads that changed an output */
	uint64_t delivery_max_ns; /* the longest one verdict's (or one pump's) sending held the loop */
	struct verdict_pair pairs[OUTPUTS_MAX_PAIRS];
	int npairs;
	uint64_t other_pairs;     /* verdicts past OUTPUTS_MAX_PAIRS distinct pairs */
	uint64_t unencodable;     /* a verdict cJSON could not print */
};

/*
 * What a new config asks for, opened beside the running outputs: each
 * output the running set already has (the same settings) is only named
 * (keep_*: its index there), every other is opened here. Nothing of the
 * running set is touched until outputs_commit.
 */
struct outputs_next {
	struct syslog_out *syslog[OUTPUTS_MAX];
	int keep_syslog[OUTPUTS_MAX];   /* -1: opened here */
	int nsyslog;
	struct webhook_out *webhook[OUTPUTS_MAX];
	int keep_webhook[OUTPUTS_MAX];
	int nwebhook;
	struct metrics *metrics;
	int keep_metrics;
	char *metrics_spec;
	int changed;
};

/* The running syslog output with these settings not yet claimed, or -1. */
static int find_syslog(const struct outputs *o, const struct outputs_next *n, const struct output_cfg *c)
{
	for (int i = 0; i < o->nsyslog; i++) {
		int claimed = 0;

		for (int k = 0; k < n->nsyslog; k++)
			claimed |= n->keep_syslog[k] == i;
		if (!claimed && syslog_out_same(o->syslog[i], c->address, c->facility, c->queue))
			return i;
	}
	return -1;
}

static int find_webhook(const struct outputs *o, const struct outputs_next *n, const struct output_cfg *c)
{
	for (int i = 0; i < o->nwebhook; i++) {
		int claimed = 0;

		for (int k = 0; k < n->nwebhook; k++)
			claimed |= n->keep_webhook[k] == i;
		if (!claimed && webhook_out_same(o->webhook[i], c))
			return i;
	}
	return -1;
}

static int next_one(const struct outputs *o, struct outputs_next *n, const struct output_cfg *c,
		    char *err, size_t errsz)
{
	char msg[512];
	int k;

	if (c->type == OUTPUT_SYSLOG) {
		if ((k = n->keep_syslog[n->nsyslog] = find_syslog(o, n, c)) < 0 &&
		    syslog_out_open(c->address, c->facility, c->queue, &n->syslog[n->nsyslog], msg, sizeof(msg))) {
			snprintf(err, errsz, "output (line %d): %s", c->line, msg);
			return -1;
		}
		n->changed |= k < 0 || k != n->nsyslog;
		n->nsyslog++;
	} else if (c->type == OUTPUT_WEBHOOK) {
		if ((k = n->keep_webhook[n->nwebhook] = find_webhook(o, n, c)) < 0 &&
		    webhook_out_open(c, &n->webhook[n->nwebhook], msg, sizeof(msg))) {
			snprintf(err, errsz, "output (line %d): %s", c->line, msg);
			return -1;
		}
		n->changed |= k < 0 || k != n->nwebhook;
		n->nwebhook++;
	}
	/* file and stdout are event-stream sinks: cmd_run hands them to eventlog */
	return 0;
}

int outputs_prepare(const struct outputs *o, const struct outputs_cfg *cfg, const char *listen,
		    struct outputs_next **out, char *err, size_t errsz)
{
	struct outputs_next *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (!n || (listen && !(n->metrics_spec = strdup(listen)))) {
		free(n);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	n->keep_metrics = -1;
	for (size_t i = 0; cfg && i < cfg->n; i++)
		if (next_one(o, n, &cfg->v[i], err, errsz))
			goto fail;
	/* the same spec keeps the listener (and a port 0 its chosen port) */
	if (listen && o->metrics_spec && !strcmp(listen, o->metrics_spec))
		n->keep_metrics = 0;
	else if (listen && metrics_open(listen, &n->metrics, err, errsz))
		goto fail;
	n->changed |= o->nsyslog != n->nsyslog || o->nwebhook != n->nwebhook ||
		      (listen != NULL) != (o->metrics_spec != NULL) || n->metrics;
	*out = n;
	return 0;
fail:
	outputs_abort(n);
	return -1;
}

void outputs_abort(struct outputs_next *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nsyslog; i++)
		syslog_out_close(n->syslog[i]);   /* NULL for a kept one */
	for (int i = 0; i < n->nwebhook; i++)
		webhook_out_close(n->webhook[i]);
	metrics_close(n->metrics);
	free(n->metrics_spec);
	free(n);
}

/* Failures of an output that is gone, kept so the total never goes back. */
static void retire_close(struct outputs *o, struct retired *r)
{
	if (r->syslog) {
		o->retired_failures += syslog_out_failed(r->syslog) + syslog_out_pending(r->syslog);
		syslog_out_close(r->syslog);
	}
	if (r->webhook) {
		o->retired_failures += webhook_out_failures(r->webhook);
		webhook_out_close(r->webhook);   /* its thread has finished: no wait at a pump */
	}
	*r = (struct retired){ 0 };
}

/* A running output the new config does not keep: sent on, then closed. */
static void retire(struct outputs *o, struct syslog_out *s, struct webhook_out *w)
{
	struct retired r = { s, w, util_now_ns(CLOCK_MONOTONIC) + RETIRE_MAX_NS };

	if (w)
		webhook_out_stop(w);
	if (o->nretired == RETIRED_MAX) {
		/* reloads faster than outputs drain: the oldest goes now */
		retire_close(o, &o->retired[0]);
		memmove(o->retired, o->retired + 1, sizeof(o->retired[0]) * --o->nretired);
	}
	o->retired[o->nretired++] = r;
}

void outputs_commit(struct outputs *o, struct outputs_next *n)
{
	struct syslog_out *sl[OUTPUTS_MAX];
	struct webhook_out *wh[OUTPUTS_MAX];

	for (int i = 0; i < n->nsyslog; i++) {
		sl[i] = n->keep_syslog[i] >= 0 ? o->syslog[n->keep_syslog[i]] : n->syslog[i];
		if (n->keep_syslog[i] >= 0)
			o->syslog[n->keep_syslog[i]] = NULL;
	}
	for (int i = 0; i < n->nwebhook; i++) {
		wh[i] = n->keep_webhook[i] >= 0 ? o->webhook[n->keep_webhook[i]] : n->webhook[i];
		if (n->keep_webhook[i] >= 0)
			o->webhook[n->keep_webhook[i]] = NULL;
	}
	for (int i = 0; i < o->nsyslog; i++)
		if (o->syslog[i])
			retire(o, o->syslog[i], NULL);
	for (int i = 0; i < o->nwebhook; i++)
		if (o->webhook[i])
			retire(o, NULL, o->webhook[i]);
	memcpy(o->syslog, sl, sizeof(sl[0]) * n->nsyslog);
	memcpy(o->webhook, wh, sizeof(wh[0]) * n->nwebhook);
	o->nsyslog = n->nsyslog;
	o->nwebhook = n->nwebhook;
	if (n->keep_metrics < 0) {
		/* the old listener stops; a scrape in flight on it is cut */
		metrics_close(o->metrics);
		o->metrics = n->metrics;
		free(o->metrics_spec);
		o->metrics_spec = n->metrics_spec;
		n->metrics_spec = NULL;
	}
	o->rebuilds += n->changed != 0;
	free(n->metrics_spec);
	free(n);
}

int outputs_next_changed(const struct outputs_next *n)
{
	return n->changed;
}

/* What the loop spent handing one verdict (or one pump) to the outputs:
 * the proof, in status.json, that delivery never holds it. */
static void note_delivery(struct outputs *o, uint64_t t0)
{
	uint64_t d = util_now_ns(CLOCK_MONOTONIC) - t0;

	if (d > o->delivery_max_ns)
		o->delivery_max_ns = d;
}

void outputs_pump(struct outputs *o)
{
	uint64_t now;

	if (!o)
		return;
	now = util_now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < o->nsyslog; i++)
		syslog_out_pump(o->syslog[i]);
	if (o->nsyslog)
		note_delivery(o, now);
	if (!o->nretired)
		return;
	now = util_now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < o->nretired;) {
		struct retired *r = &o->retired[i];

		if (r->syslog)
			syslog_out_pump(r->syslog);
		if ((r->syslog && (!syslog_out_pending(r->syslog) || now >= r->deadline_ns)) ||
		    (r->webhook && webhook_out_finished(r->webhook))) {
			retire_close(o, r);
			memmove(r, r + 1, sizeof(*r) * (--o->nretired - i));
			continue;
		}
		i++;
	}
}

int outputs_open(const struct outputs_cfg *cfg, const char *metrics_listen, struct outputs **out,
		 char *err, size_t errsz)
{
	struct outputs *o = calloc(1, sizeof(*o));
	struct outputs_next *n;

	*out = NULL;
	if (!o) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (outputs_prepare(o, cfg, metrics_listen, &n, err, errsz)) {
		free(o);
		return -1;
	}
	outputs_commit(o, n);
	o->rebuilds = 0;
	*out = o;
	return 0;
}
static void count_verdict(struct outputs *o, const char *cls, const char *action)
{
	for (int i = 0; i < o->npairs; i++)
		if (!strcmp(o->pairs[i].cls, cls) && !strcmp(o->pairs[i].action, action)) {
			o->pairs[i].n++;
			return;
		}
	if (o->npairs == OUTPUTS_MAX_PAIRS) {
		o->other_pairs++;
		return;
	}
	snprintf(o->pairs[o->npairs].cls, sizeof(o->pairs[0].cls), "%s", cls);
	snprintf(o->pairs[o->npairs].action, sizeof(o->pairs[0].action), "%s", action);
	o->pairs[o->npairs++].n = 1;
}

void outputs_verdict(struct outputs *o, const cJSON *v)
{
	const char *cls = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "class"));
	const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "action"));
	uint64_t t0;
	char *line;

	if (!o)
		return;
	count_verdict(o, cls ? cls : "?", action && *action ? action : "none");
	if (!o->nsyslog && !o->nwebhook)
		return;
	/* the same redacted object the event stream gets, one line */
	if (!(line = cJSON_PrintUnformatted(v))) {
		o->unencodable++;
		return;
	}
	t0 = util_now_ns(CLOCK_MONOTONIC);
	/* an exposure that is being revoked is a warning, the rest notices */
	for (int i = 0; i < o->nsyslog; i++)
		syslog_out_send(o->syslog[i], action && !strncmp(action, "revoke", 6) ? 4 : 5, "verdict", line);
	for (int i = 0; i < o->nwebhook; i++)
		webhook_out_push(o->webhook[i], line);
	note_delivery(o, t0);
	free(line);
}

void outputs_publish(struct outputs *o, const cJSON *status)
{
	if (o)
		metrics_publish(o->metrics, status);
}

void outputs_status(void *vo, cJSON *sec)
{
	struct outputs *o = vo;
	cJSON *verdicts = cJSON_AddObjectToObject(sec, "verdicts");
	cJSON *failures = cJSON_AddObjectToObject(sec, "failures");
	char name[32];

	for (int i = 0; i < o->npairs; i++) {
		cJSON *c = cJSON_GetObjectItemCaseSensitive(verdicts, o->pairs[i].cls);

		if (!c)
			c = cJSON_AddObjectToObject(verdicts, o->pairs[i].cls);
		cJSON_AddNumberToObject(c, o->pairs[i].action, (double)o->pairs[i].n);
	}
	if (o->other_pairs)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(verdicts, "other"), "other",
					(double)o->other_pairs);
	for (int i = 0; i < o->nsyslog; i++) {
		cJSON *s = cJSON_AddObjectToObject(sec, (snprintf(name, sizeof(name), "syslog%d", i), name));

		syslog_out_status(o->syslog[i], s);
		cJSON_AddNumberToObject(failures, name, (double)syslog_out_failed(o->syslog[i]));
	}
	for (int i = 0; i < o->nwebhook; i++) {
		cJSON *w = cJSON_AddObjectToObject(sec, (snprintf(name, sizeof(name), "webhook%d", i), name));

		webhook_out_status(o->webhook[i], w);
		cJSON_AddNumberToObject(failures, name, (double)webhook_out_failures(o->webhook[i]));
	}
	/* outputs a reload replaced: what they failed, so the total never goes back */
	cJSON_AddNumberToObject(failures, "replaced", (double)o->retired_failures);
	cJSON_AddNumberToObject(sec, "unencodable", (double)o->unencodable);
	cJSON_AddNumberToObject(sec, "rebuilds", (double)o->rebuilds);
	cJSON_AddNumberToObject(sec, "retiring_now", (double)o->nretired);
	cJSON_AddNumberToObject(sec, "delivery_max_ms", o->delivery_max_ns / 1e6);
	if (o->metrics)
		metrics_status(o->metrics, sec, cJSON_AddObjectToObject(sec, "metrics_refused"));
}

const char *outputs_metrics_address(const struct outputs *o)
{
	return o && o->metrics ? metrics_address(o->metrics) : NULL;
}

void outputs_close(struct outputs *o)
{
	if (!o)
		return;
	metrics_close(o->metrics);
	for (int i = 0; i < o->nwebhook; i++)
		webhook_out_close(o->webhook[i]);
	/* the exit is the one place that waits: what is queued gets a second */
	for (int i = 0; i < o->nsyslog; i++) {
		syslog_out_flush(o->syslog[i], SYSLOG_CLOSE_FLUSH_MS);
		syslog_out_close(o->syslog[i]);
	}
	for (int i = 0; i < o->nretired; i++) {
		if (o->retired[i].syslog)
			syslog_out_flush(o->retired[i].syslog, SYSLOG_CLOSE_FLUSH_MS);
		retire_close(o, &o->retired[i]);
	}
	free(o->metrics_spec);
	free(o);
}
