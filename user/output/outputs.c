/* Verdicts to syslog and webhooks, counted; the metrics endpoint (see outputs.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/metrics.h"
#include "output/outputs.h"
#include "output/syslog.h"
#include "output/webhook.h"

struct verdict_pair {
	char cls[32], action[32];
	uint64_t n;
};

struct outputs {
	struct syslog_out *syslog[OUTPUTS_MAX];
	int nsyslog;
	struct webhook_out *webhook[OUTPUTS_MAX];
	int nwebhook;
	struct metrics *metrics;
	struct verdict_pair pairs[OUTPUTS_MAX_PAIRS];
	int npairs;
	uint64_t other_pairs;     /* verdicts past OUTPUTS_MAX_PAIRS distinct pairs */
	uint64_t unencodable;     /* a verdict cJSON could not print */
};

static int open_one(struct outputs *o, const struct output_cfg *c, char *err, size_t errsz)
{
	char msg[512];

	if (c->type == OUTPUT_SYSLOG) {
		if (syslog_out_open(c->address, c->facility, &o->syslog[o->nsyslog], msg, sizeof(msg))) {
			snprintf(err, errsz, "output (line %d): %s", c->line, msg);
			return -1;
		}
		o->nsyslog++;
	} else if (c->type == OUTPUT_WEBHOOK) {
		if (webhook_out_open(c, &o->webhook[o->nwebhook], msg, sizeof(msg))) {
			snprintf(err, errsz, "output (line %d): %s", c->line, msg);
			return -1;
		}
		o->nwebhook++;
	}
	/* file and stdout are event-stream sinks: cmd_run hands them to eventlog */
	return 0;
}

int outputs_open(const struct outputs_cfg *cfg, const char *metrics_listen, struct outputs **out,
		 char *err, size_t errsz)
{
	struct outputs *o = calloc(1, sizeof(*o));

	*out = NULL;
	if (!o) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; cfg && i < cfg->n; i++)
		if (open_one(o, &cfg->v[i], err, errsz))
			goto fail;
	if (metrics_listen && metrics_open(metrics_listen, &o->metrics, err, errsz))
		goto fail;
	*out = o;
	return 0;
fail:
	outputs_close(o);
	return -1;
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
	/* an exposure that is being revoked is a warning, the rest notices */
	for (int i = 0; i < o->nsyslog; i++)
		syslog_out_send(o->syslog[i], action && !strncmp(action, "revoke", 6) ? 4 : 5, "verdict", line);
	for (int i = 0; i < o->nwebhook; i++)
		webhook_out_push(o->webhook[i], line);
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

		cJSON_AddNumberToObject(s, "sent", (double)syslog_out_sent(o->syslog[i]));
		cJSON_AddNumberToObject(s, "failed", (double)syslog_out_failed(o->syslog[i]));
		cJSON_AddNumberToObject(failures, name, (double)syslog_out_failed(o->syslog[i]));
	}
	for (int i = 0; i < o->nwebhook; i++) {
		cJSON *w = cJSON_AddObjectToObject(sec, (snprintf(name, sizeof(name), "webhook%d", i), name));

		webhook_out_status(o->webhook[i], w);
		cJSON_AddNumberToObject(failures, name, (double)webhook_out_failures(o->webhook[i]));
	}
	cJSON_AddNumberToObject(sec, "unencodable", (double)o->unencodable);
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
	for (int i = 0; i < o->nsyslog; i++)
		syslog_out_close(o->syslog[i]);
	free(o);
}
