/*
 * The report is built once as JSON (the model) and rendered from it, so the
 * three formats cannot disagree. HTML and Markdown escape every string
 * taken from the ledger: paths, comm and exe are attacker-chosen.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ledger/freetext.h"
#include "ledger/report.h"
#include "revoke/revoke.h"
#include "lib/util.h"

struct build_ctx {
	struct ledger *l;
	const struct report_filter *f;
	cJSON *tokens;
	int64_t now_s;
	int nseen, nexposed, nrevoked_at_issuer;
	int nmatched;          /* tokens that pass the task and token filters */
	cJSON *by_class;
};

/* "2026-11-27T06:24:16.123456Z" -> ns since the epoch; 0 when unparsable. */
static int64_t parse_rfc3339(const char *s)
{
	struct tm tm = { 0 };
	unsigned us = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000000ll + (int64_t)us * 1000;
}

struct hist_ctx {
	cJSON *timeline;
	int64_t first_exposure_ns, confirmed_ns;
	int sightings, exposures;
	cJSON *by_class;
};

static int on_history(void *vctx, int64_t at_ns, const char *event, const char *detail)
{
	struct hist_ctx *h = vctx;
	cJSON *e = cJSON_CreateObject(), *d = detail ? cJSON_Parse(detail) : NULL;
	char ts[40];
	int64_t when = at_ns;

	if (d && !strcmp(event, "sighting")) {
		const cJSON *t = cJSON_GetObjectItem(d, "time");
		const cJSON *x = cJSON_GetObjectItem(d, "exposure");
		const cJSON *c = cJSON_GetObjectItem(d, "class");
		int64_t seen = parse_rfc3339(cJSON_IsString(t) ? t->valuestring : NULL);

		if (seen)
			when = seen; /* the kernel's time of the write, not of the record */
		h->sightings++;
		if (cJSON_IsTrue(x)) {
			h->exposures++;
			if (!h->first_exposure_ns || when < h->first_exposure_ns)
				h->first_exposure_ns = when;
		}
		if (cJSON_IsString(c)) {
			cJSON *n = cJSON_GetObjectItem(h->by_class, c->valuestring);
			if (n)
				cJSON_SetNumberValue(n, n->valuedouble + 1);
			else
				cJSON_AddNumberToObject(h->by_class, c->valuestring, 1);
		}
	}
	if (d && !strcmp(event, "revoked")) {
		const cJSON *res = cJSON_GetObjectItem(d, "result");
		if (cJSON_IsString(res) && !strcmp(res->valuestring, "ok") && !h->confirmed_ns)
			h->confirmed_ns = at_ns;
	}
	util_rfc3339((uint64_t)when, ts, sizeof(ts));
	cJSON_AddStringToObject(e, "time", ts);
	cJSON_AddNumberToObject(e, "time_ns", (double)when);
	cJSON_AddStringToObject(e, "event", event);
	if (d)
		cJSON_AddItemToObject(e, "detail", d);
	cJSON_AddItemToArray(h->timeline, e);
	return 0;
}

static int by_time(const void *a, const void *b)
{
	double x = cJSON_GetObjectItem(*(cJSON *const *)a, "time_ns")->valuedouble;
	double y = cJSON_GetObjectItem(*(cJSON *const *)b, "time_ns")->valuedouble;

	return x < y ? -1 : x > y;
}

/* Sightings are recorded after the revocation they caused; show the
 * timeline in the order things happened. */
static void sort_timeline(cJSON *arr)
{
	int n = cJSON_GetArraySize(arr);
	cJSON **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return;
	for (int i = 0; i < n; i++)
		v[i] = cJSON_DetachItemFromArray(arr, 0);
	qsort(v, n, sizeof(*v), by_time);
	for (int i = 0; i < n; i++) {
		cJSON_DeleteItemFromObject(v[i], "time_ns");
		cJSON_AddItemToArray(arr, v[i]);
	}
	free(v);
}

/* What the issuer did, from the revocation queue in the same database:
 * the ledger's status "revoked" is tokenward's decision, and only a done
 * job means the issuer confirmed it. */
static cJSON *revocation_state(struct ledger *l, const struct ledger_token *t)
{
	struct revoke_job_info j;
	cJSON *o = cJSON_CreateObject();

	if (!t->issuer || revoke_job_lookup(ledger_sqlite(l), t->sha256, t->issuer, &j))
		memset(&j, 0, sizeof(j));
	cJSON_AddStringToObject(o, "state", revoke_job_state_name(j.state));
	if (j.state != REVOKE_JOB_NONE) {
		cJSON_AddNumberToObject(o, "job", (double)j.job);
		cJSON_AddNumberToObject(o, "attempts", j.attempts);
		if (j.error[0])
			cJSON_AddStringToObject(o, "error", j.error);
	}
	return o;
}

static int on_token(void *vctx, const struct ledger_token *t)
{
	struct build_ctx *b = vctx;
	struct hist_ctx h = { .timeline = cJSON_CreateArray(), .by_class = b->by_class };
	cJSON *o;

	if (b->f->task && (!t->task || strcmp(t->task, b->f->task)))
		goto skip;
	if (b->f->token_id && strcmp(t->id, b->f->token_id))
		goto skip;
	b->nmatched++;
	ledger_history_foreach(b->l, t->id, on_history, &h);
	if (!h.sightings && !b->f->all && !b->f->token_id)
		goto skip;
	sort_timeline(h.timeline);
	o = ledger_token_to_json(t, b->now_s);
	cJSON_AddItemToObject(o, "revocation", revocation_state(b->l, t));
	cJSON_AddNumberToObject(o, "sightings", h.sightings);
	cJSON_AddNumberToObject(o, "exposures", h.exposures);
	if (h.first_exposure_ns && h.confirmed_ns)
		cJSON_AddNumberToObject(o, "exposed_for_ms",
					(double)(h.confirmed_ns - h.first_exposure_ns) / 1e6);
	else
		cJSON_AddNullToObject(o, "exposed_for_ms");
	cJSON_AddItemToObject(o, "timeline", h.timeline);
	cJSON_AddItemToArray(b->tokens, o);
	b->nseen += h.sightings > 0;
	b->nexposed += h.exposures > 0;
	b->nrevoked_at_issuer += h.confirmed_ns != 0;
	return 0;
skip:
	cJSON_Delete(h.timeline);
	return 0;
}

int report_build(struct ledger *l, const struct report_filter *f, cJSON **out)
{
	struct build_ctx b = { .l = l, .f = f, .tokens = cJSON_CreateArray(),
			       .now_s = (int64_t)time(NULL), .by_class = cJSON_CreateObject() };
	cJSON *r = cJSON_CreateObject(), *sum = cJSON_CreateObject();
	char ts[40];
	int rc = ledger_foreach(l, on_token, &b);

	if (!rc && !b.nmatched && (f->task || f->token_id))
		rc = -ENOENT;
	if (rc) {
		cJSON_Delete(r);
		cJSON_Delete(b.tokens);
		cJSON_Delete(b.by_class);
		cJSON_Delete(sum);
		return rc;
	}
	util_rfc3339(util_now_ns(CLOCK_REALTIME), ts, sizeof(ts));
	cJSON_AddStringToObject(r, "generated_at", ts);
	cJSON_AddStringToObject(r, "ledger", ledger_path(l));
	cJSON_AddNumberToObject(sum, "tokens_seen", b.nseen);
	cJSON_AddNumberToObject(sum, "tokens_exposed", b.nexposed);
	cJSON_AddNumberToObject(sum, "revoked_at_issuer", b.nrevoked_at_issuer);
	cJSON_AddItemToObject(sum, "sightings_by_class", b.by_class);
	cJSON_AddItemToObject(r, "summary", sum);
	cJSON_AddItemToObject(r, "tokens", b.tokens);
	/* Task, scope, claims and paths came from outside; a ledger written
	 * before they were checked may hold a secret in one. */
	freetext_redact_json(r);
	*out = r;
	return 0;
}

int report_parse_format(const char *s, enum report_format *out)
{
	if (!strcmp(s, "json"))
		*out = REPORT_JSON;
	else if (!strcmp(s, "md") || !strcmp(s, "markdown"))
		*out = REPORT_MARKDOWN;
	else if (!strcmp(s, "html"))
		*out = REPORT_HTML;
	else
		return -EINVAL;
	return 0;
}

/* ---- rendering ---------------------------------------------------------- */

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void put_escaped(FILE *f, const char *s, enum report_format fmt)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if (fmt == REPORT_HTML && strchr("<>&\"'", c))
			fprintf(f, "&#%d;", c);
		else if (fmt == REPORT_MARKDOWN && strchr("\\`*_[]<>|#", c))
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fputc('?', f);
		else
			fputc(c, f);
	}
}

/* One line about a timeline entry: class and who/where for sightings,
 * the issuer's answer for revocations. */
static void put_entry_summary(FILE *f, const cJSON *e, enum report_format fmt)
{
	const cJSON *d = cJSON_GetObjectItem(e, "detail");
	char buf[1024];

	if (!d) {
		buf[0] = 0;
	} else if (!strcmp(str(e, "event"), "sighting")) {
		const char *where = *str(d, "path") ? str(d, "path") : str(d, "dest");
		const cJSON *pid = cJSON_GetObjectItem(d, "pid");

		snprintf(buf, sizeof(buf), "%s by %s (pid %d, %s)%s%s, action %s", str(d, "class"),
			 str(d, "comm"), pid ? pid->valueint : 0, str(d, "exe"), *where ? " → " : "",
			 where, str(d, "action"));
	} else {
		char *p = cJSON_PrintUnformatted(d);
		snprintf(buf, sizeof(buf), "%s", p ? p : "");
		free(p);
	}
	put_escaped(f, buf, fmt);
}

static void render_text(const cJSON *r, enum report_format fmt, FILE *f)
{
	const cJSON *sum = cJSON_GetObjectItem(r, "summary"), *t, *e, *c;
	int html = fmt == REPORT_HTML;

	if (html)
		fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tokenward exposure report</title>\n"
		      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
		      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
		      ".exposed{color:#b00}</style></head><body>\n<h1>tokenward exposure report</h1>\n<p>", f);
	else
		fputs("# tokenward exposure report\n\n", f);
	fputs("Generated ", f);
	put_escaped(f, str(r, "generated_at"), fmt);
	fputs(" from ledger ", f);
	put_escaped(f, str(r, "ledger"), fmt);
	fprintf(f, html ? ".</p>\n<p>" : ".\n\n");
	fprintf(f, "Tokens seen: %d; exposed: %d; revoked at the issuer: %d.",
		cJSON_GetObjectItem(sum, "tokens_seen")->valueint,
		cJSON_GetObjectItem(sum, "tokens_exposed")->valueint,
		cJSON_GetObjectItem(sum, "revoked_at_issuer")->valueint);
	fputs(html ? "</p>\n<table><tr><th>class</th><th>sightings</th></tr>\n" :
		     "\n\n| class | sightings |\n| --- | --- |\n", f);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(sum, "sightings_by_class")) {
		fputs(html ? "<tr><td>" : "| ", f);
		put_escaped(f, c->string, fmt);
		fprintf(f, html ? "</td><td>%d</td></tr>\n" : " | %d |\n", c->valueint);
	}
	fputs(html ? "</table>\n" : "\n", f);

	cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "tokens")) {
		const cJSON *aud, *ms = cJSON_GetObjectItem(t, "exposed_for_ms");
		int exposed = cJSON_GetObjectItem(t, "exposures")->valueint > 0;

		fputs(html ? (exposed ? "<h2 class=\"exposed\">" : "<h2>") : "## ", f);
		put_escaped(f, str(t, "id"), fmt);
		fputs(" — task ", f);
		put_escaped(f, str(t, "task"), fmt);
		fputs(html ? "</h2>\n<ul>" : "\n\n", f);
		const char *fields[] = { "status", "issuer", "subject", "redacted", "sha256",
					 "issued_at", "expires_at", NULL };
		for (int i = 0; fields[i]; i++) {
			fprintf(f, html ? "<li>%s: " : "- %s: ", fields[i]);
			put_escaped(f, str(t, fields[i]), fmt);
			fputs(html ? "</li>" : "\n", f);
		}
		fputs(html ? "<li>revocation at the issuer: " : "- revocation at the issuer: ", f);
		put_escaped(f, str(cJSON_GetObjectItem(t, "revocation"), "state"), fmt);
		if (*str(cJSON_GetObjectItem(t, "revocation"), "error")) {
			fputs(" (", f);
			put_escaped(f, str(cJSON_GetObjectItem(t, "revocation"), "error"), fmt);
			fputs(")", f);
		}
		fputs(html ? "</li>" : "\n", f);
		fputs(html ? "<li>audience: " : "- audience: ", f);
		cJSON_ArrayForEach(aud, cJSON_GetObjectItem(t, "audience")) {
			put_escaped(f, cJSON_IsString(aud) ? aud->valuestring : "", fmt);
			fputc(' ', f);
		}
		fputs(html ? "</li>" : "\n", f);
		if (cJSON_IsNumber(ms))
			fprintf(f, html ? "<li><b>exposed for %.1f ms</b> before the issuer confirmed the revocation</li>"
					: "- **exposed for %.1f ms** before the issuer confirmed the revocation\n",
				ms->valuedouble);
		fputs(html ? "</ul>\n<table><tr><th>time</th><th>event</th><th>what</th></tr>\n" :
			     "\n| time | event | what |\n| --- | --- | --- |\n", f);
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(t, "timeline")) {
			fputs(html ? "<tr><td>" : "| ", f);
			put_escaped(f, str(e, "time"), fmt);
			fputs(html ? "</td><td>" : " | ", f);
			put_escaped(f, str(e, "event"), fmt);
			fputs(html ? "</td><td>" : " | ", f);
			put_entry_summary(f, e, fmt);
			fputs(html ? "</td></tr>\n" : " |\n", f);
		}
		fputs(html ? "</table>\n" : "\n", f);
	}
	if (html)
		fputs("</body></html>\n", f);
}

int report_render(const cJSON *report, enum report_format fmt, FILE *out)
{
	if (fmt == REPORT_JSON) {
		char *s = cJSON_Print(report);

		if (!s)
			return -ENOMEM;
		fputs(s, out);
		fputc('\n', out);
		free(s);
	} else {
		render_text(report, fmt, out);
	}
	return ferror(out) ? -EIO : 0;
}
