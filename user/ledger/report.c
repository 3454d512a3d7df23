/*
 * The report is built once as JSON (the model) and rendered from it
 * (report_render.c), so the three formats cannot disagree. This file
 * builds the token sections: the ledger's entry, its history in the
 * window, its sightings from the event store (or, without a store, from
 * the history), the exposure and revocation figures and the blast radius.
 * The summary and coverage come from report_store.c.
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
	sqlite3 *ev;
	const struct report_filter *f;
	cJSON *tokens, *ids, *still_active, *by_class;
	int64_t now_ns;
	int nseen, nexposed, nrevoked_at_issuer, nmatched, left_out;
	double *ttr;           /* time to revoke per token, ms */
	int nttr, cap_ttr;
};

/* What one token's timeline adds up to. */
struct tok_ctx {
	struct build_ctx *b;
	cJSON *timeline, *by_class;
	int64_t first_exposure_ns, confirmed_ns;
	int sightings, exposures, after_exposure, uses_after;
	cJSON *revocation;     /* the issuer's answer, from the confirming entry */
};

/* "2026-11-27T06:24:16.123456Z" -> ns since the epoch; 0 when unparsable. */
static int64_t parse_time(const char *s)
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

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void count_class(cJSON *by, const char *cls)
{
	cJSON *n = cJSON_GetObjectItem(by, cls);

	if (n)
		cJSON_SetNumberValue(n, n->valuedouble + 1);
	else
		cJSON_AddNumberToObject(by, cls, 1);
}

static int in_window(const struct report_filter *f, int64_t t)
{
	return t >= f->since_ns && t <= f->until_ns;
}

static void add_entry(struct tok_ctx *h, int64_t when, const char *event, cJSON *d)
{
	cJSON *e = cJSON_CreateObject();
	char ts[40];

	util_rfc3339((uint64_t)when, ts, sizeof(ts));
	cJSON_AddStringToObject(e, "time", ts);
	cJSON_AddNumberToObject(e, "time_ns", (double)when);
	cJSON_AddStringToObject(e, "event", event);
	if (d)
		cJSON_AddItemToObject(e, "detail", d);
	cJSON_AddItemToArray(h->timeline, e);
}

/* A sighting (a verdict), from the store or the history. */
static void note_sighting(struct tok_ctx *h, int64_t when, cJSON *d)
{
	const char *cls = jstr(d, "class");

	h->sightings++;
	if (cJSON_IsTrue(cJSON_GetObjectItem(d, "exposure"))) {
		h->exposures++;
		if (!h->first_exposure_ns || when < h->first_exposure_ns)
			h->first_exposure_ns = when;
	}
	if (cls) {
		count_class(h->by_class, cls);
		count_class(h->b->by_class, cls);
	}
	add_entry(h, when, "sighting", d);
}

static int on_history(void *vctx, int64_t at_ns, const char *event, const char *detail)
{
	struct tok_ctx *h = vctx;
	cJSON *d = detail ? cJSON_Parse(detail) : NULL;
	int64_t when = at_ns;

	if (!strcmp(event, "sighting")) {
		int64_t seen = parse_time(jstr(d, "time"));

		if (seen)
			when = seen; /* the kernel's time of the write, not of the record */
		/* With a store, its rows are the sightings (the same verdicts). */
		if (h->b->ev || !in_window(h->b->f, when)) {
			cJSON_Delete(d);
			return 0;
		}
		note_sighting(h, when, d);
		return 0;
	}
	if (!strcmp(event, "revoked") && d && cJSON_GetObjectItem(d, "result")) {
		const char *res = jstr(d, "result");

		if (res && !strcmp(res, "ok") && !h->confirmed_ns && in_window(h->b->f, at_ns)) {
			h->confirmed_ns = at_ns;
			h->revocation = cJSON_Duplicate(d, 1);
		}
	}
	if (!in_window(h->b->f, when)) {
		cJSON_Delete(d);
		return 0;
	}
	add_entry(h, when, event, d);
	return 0;
}

static sqlite3_stmt *tok_stmt(struct tok_ctx *h, const char *sql, const char *id)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(h->b->ev, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, h->b->f->since_ns);
	sqlite3_bind_int64(st, 3, h->b->f->until_ns);
	return st;
}

/* The store's verdicts for this token in the window: the figures by
 * aggregate queries (the token's index), the first timeline_max rows
 * read whole; the count of the rest is returned. */
static int64_t store_sightings(struct tok_ctx *h, const char *id)
{
	sqlite3_stmt *st;
	int64_t shown = 0;

	st = tok_stmt(h, "SELECT count(*), coalesce(sum(exposure), 0), min(CASE WHEN exposure THEN at_ns END)"
		      " FROM verdicts WHERE token_id = ?1 AND at_ns BETWEEN ?2 AND ?3", id);
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		h->sightings = sqlite3_column_int(st, 0);
		h->exposures = sqlite3_column_int(st, 1);
		h->first_exposure_ns = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	st = tok_stmt(h, "SELECT class, count(*) FROM verdicts WHERE token_id = ?1 AND at_ns BETWEEN ?2 AND ?3"
		      " AND class IS NOT NULL GROUP BY class", id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *cls = (const char *)sqlite3_column_text(st, 0);
		double n = (double)sqlite3_column_int64(st, 1);
		cJSON *g = cJSON_GetObjectItem(h->b->by_class, cls);

		cJSON_AddNumberToObject(h->by_class, cls, n);
		if (g)
			cJSON_SetNumberValue(g, g->valuedouble + n);
		else
			cJSON_AddNumberToObject(h->b->by_class, cls, n);
	}
	sqlite3_finalize(st);
	if (h->first_exposure_ns) {
		st = tok_stmt(h, "SELECT count(*), coalesce(sum(class = 'use'), 0) FROM verdicts WHERE token_id = ?1"
			      " AND at_ns > ?4 AND at_ns <= ?3 AND at_ns >= ?2", id);
		if (st)
			sqlite3_bind_int64(st, 4, h->first_exposure_ns);
		if (st && sqlite3_step(st) == SQLITE_ROW) {
			h->after_exposure = sqlite3_column_int(st, 0);
			h->uses_after = sqlite3_column_int(st, 1);
		}
		sqlite3_finalize(st);
	}
	st = tok_stmt(h, "SELECT v.at_ns, d.detail FROM verdicts v JOIN verdict_details d ON d.id = v.id"
		      " WHERE v.token_id = ?1 AND v.at_ns BETWEEN ?2 AND ?3 ORDER BY v.at_ns, v.id LIMIT ?4", id);
	if (st)
		sqlite3_bind_int(st, 4, h->b->f->timeline_max);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		cJSON *d = cJSON_Parse((const char *)sqlite3_column_text(st, 1));

		if (d) {
			add_entry(h, sqlite3_column_int64(st, 0), "sighting", d);
			shown++;
		}
	}
	sqlite3_finalize(st);
	return h->sightings - shown;
}

static int by_time(const void *a, const void *b)
{
	double x = cJSON_GetObjectItem(*(cJSON *const *)a, "time_ns")->valuedouble;
	double y = cJSON_GetObjectItem(*(cJSON *const *)b, "time_ns")->valuedouble;

	return x < y ? -1 : x > y;
}

/* Sightings are recorded after the revocation they caused; the timeline
 * is shown in the order things happened, each entry as a sentence, a use
 * after the first exposure flagged (it may be the attacker). */
static void finish_timeline(struct tok_ctx *h)
{
	cJSON *arr = h->timeline;
	int n = cJSON_GetArraySize(arr);
	cJSON **v = calloc(n ? n : 1, sizeof(*v));
	char text[1024];

	if (!v)
		return;
	for (int i = 0; i < n; i++)
		v[i] = cJSON_DetachItemFromArray(arr, 0);
	qsort(v, n, sizeof(*v), by_time);
	for (int i = 0; i < n; i++) {
		/* time_ns is a double (cJSON): compared as doubles, both rounded alike */
		double td = cJSON_GetObjectItem(v[i], "time_ns")->valuedouble;
		int64_t t = (int64_t)td;
		const cJSON *d = cJSON_GetObjectItem(v[i], "detail");
		const char *ev = jstr(v[i], "event"), *cls = jstr(d, "class");
		int after = h->first_exposure_ns && td > (double)h->first_exposure_ns;

		report_sentence(ev, d, t, h->first_exposure_ns, text, sizeof(text));
		cJSON_AddStringToObject(v[i], "text", text);
		if (!strcmp(ev, "sighting")) {
			cJSON_AddBoolToObject(v[i], "after_exposure", after);
			if (!h->b->ev) { /* with a store, counted by its queries */
				h->after_exposure += after;
				h->uses_after += after && cls && !strcmp(cls, "use");
			}
			cJSON_AddBoolToObject(v[i], "highlight", after && cls && !strcmp(cls, "use"));
		}
		cJSON_DeleteItemFromObject(v[i], "time_ns");
		cJSON_AddItemToArray(arr, v[i]);
	}
	free(v);
}

/* What the issuer did, from the revocation queue in the same database:
 * the ledger's status "revoked" is tokenward's decision, and only a done
 * job means the issuer confirmed it. */
static cJSON *revocation_state(struct ledger *l, const struct ledger_token *t, struct tok_ctx *h)
{
	static const struct { const char *type, *how; } hows[] = {
		{ "rfc7009", "RFC 7009" }, { "builtin", "built-in revocation list" },
		{ "command", "command hook" }, { "webhook", "webhook" },
	};
	struct revoke_job_info j;
	cJSON *o = cJSON_CreateObject();
	const cJSON *d = h->revocation;
	char ts[40];

	if (!t->issuer || revoke_job_lookup(ledger_sqlite(l), t->sha256, t->issuer, &j))
		memset(&j, 0, sizeof(j));
	cJSON_AddStringToObject(o, "state", revoke_job_state_name(j.state));
	if (j.state != REVOKE_JOB_NONE) {
		cJSON_AddNumberToObject(o, "job", (double)j.job);
		cJSON_AddNumberToObject(o, "attempts", j.attempts);
		if (j.error[0])
			cJSON_AddStringToObject(o, "error", j.error);
	}
	if (h->confirmed_ns) {
		util_rfc3339((uint64_t)h->confirmed_ns, ts, sizeof(ts));
		cJSON_AddStringToObject(o, "confirmed_at", ts);
		cJSON_AddStringToObject(o, "issuer", jstr(d, "issuer") ? jstr(d, "issuer") : "");
		const char *how = jstr(d, "type") ? jstr(d, "type") : "";
		for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++)
			if (!strcmp(how, hows[i].type))
				how = hows[i].how;
		cJSON_AddStringToObject(o, "how", how);
		cJSON_AddStringToObject(o, "issuer_answer", jstr(d, "detail") ? jstr(d, "detail") : "");
		const cJSON *hs = cJSON_GetObjectItem(d, "http_status");
		if (cJSON_IsNumber(hs))
			cJSON_AddNumberToObject(o, "http_status", hs->valuedouble);
		else
			cJSON_AddNullToObject(o, "http_status");
	}
	return o;
}

static void add_blast_radius(cJSON *o, const struct ledger_token *t, const struct tok_ctx *h)
{
	cJSON *br = cJSON_AddObjectToObject(o, "blast_radius"), *a = cJSON_CreateArray();
	int64_t end = h->confirmed_ns ? h->confirmed_ns : 0;
	char ts[40];

	for (size_t i = 0; i < t->naudience; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(t->audience[i]));
	cJSON_AddItemToObject(br, "audience", a);
	if (t->scope)
		cJSON_AddStringToObject(br, "scope", t->scope);
	else
		cJSON_AddNullToObject(br, "scope");
	if (h->first_exposure_ns) {
		util_rfc3339((uint64_t)h->first_exposure_ns, ts, sizeof(ts));
		cJSON_AddStringToObject(br, "exposed_from", ts);
		if (end) {
			util_rfc3339((uint64_t)end, ts, sizeof(ts));
			cJSON_AddStringToObject(br, "exposed_until", ts);
		} else {
			cJSON_AddNullToObject(br, "exposed_until"); /* never confirmed: still reachable */
		}
	} else {
		cJSON_AddNullToObject(br, "exposed_from");
		cJSON_AddNullToObject(br, "exposed_until");
	}
	cJSON_AddNumberToObject(br, "sightings_after_exposure", h->after_exposure);
	cJSON_AddNumberToObject(br, "uses_after_exposure", h->uses_after);
}

static void note_ttr(struct build_ctx *b, double ms)
{
	if (b->nttr == b->cap_ttr) {
		int cap = b->cap_ttr ? b->cap_ttr * 2 : 64;
		double *n = realloc(b->ttr, cap * sizeof(*n));
		if (!n)
			return;
		b->ttr = n;
		b->cap_ttr = cap;
	}
	b->ttr[b->nttr++] = ms;
}

/* A token whose task completed or that expired, which the issuer has not
 * confirmed revoked: it may still work there. */
static void note_still_active(struct build_ctx *b, const struct ledger_token *t, const cJSON *rev)
{
	int64_t exp_ns = t->expires_at * 1000000000ll;
	const char *state = jstr(rev, "state");
	cJSON *o;
	char ts[40];

	if (state && !strcmp(state, "done"))
		return;
	if (!t->completed_ns && !(t->expires_at && exp_ns < b->now_ns))
		return;
	if (cJSON_GetArraySize(b->still_active) >= (b->f->top_n ? b->f->top_n : REPORT_TOP_N) * 5)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", t->id);
	cJSON_AddStringToObject(o, "task", t->task ? t->task : "");
	cJSON_AddStringToObject(o, "issuer", t->issuer ? t->issuer : "");
	cJSON_AddStringToObject(o, "why", t->completed_ns ? "task completed" : "expired");
	util_rfc3339((uint64_t)(t->completed_ns ? t->completed_ns : exp_ns), ts, sizeof(ts));
	cJSON_AddStringToObject(o, "since", ts);
	cJSON_AddStringToObject(o, "revocation", state ? state : "none");
	cJSON_AddItemToArray(b->still_active, o);
}

static int on_token(void *vctx, const struct ledger_token *t)
{
	struct build_ctx *b = vctx;
	struct tok_ctx h = { .b = b, .timeline = cJSON_CreateArray(), .by_class = cJSON_CreateObject() };
	int64_t left_out = 0;
	cJSON *o, *rev;

	if (b->f->task && (!t->task || strcmp(t->task, b->f->task)))
		goto skip;
	if (b->f->token_id && strcmp(t->id, b->f->token_id))
		goto skip;
	b->nmatched++;
	cJSON_AddItemToArray(b->ids, cJSON_CreateString(t->id));
	ledger_history_foreach(b->l, t->id, on_history, &h);
	if (b->ev)
		left_out = store_sightings(&h, t->id);
	rev = revocation_state(b->l, t, &h);
	note_still_active(b, t, rev);
	if ((!h.sightings && !b->f->all && !b->f->token_id) ||
	    cJSON_GetArraySize(b->tokens) >= b->f->tokens_max) {
		b->left_out += h.sightings || b->f->all;
		cJSON_Delete(rev);
		goto skip;
	}
	finish_timeline(&h);
	o = ledger_token_to_json(t, b->now_ns / 1000000000ll);
	cJSON_AddItemToObject(o, "revocation", rev);
	cJSON_AddNumberToObject(o, "sightings", h.sightings);
	cJSON_AddNumberToObject(o, "exposures", h.exposures);
	cJSON_AddItemToObject(o, "exposures_by_class", h.by_class);
	h.by_class = NULL;
	if (h.first_exposure_ns) {
		char ts[40];
		util_rfc3339((uint64_t)h.first_exposure_ns, ts, sizeof(ts));
		cJSON_AddStringToObject(o, "first_exposure_at", ts);
	} else {
		cJSON_AddNullToObject(o, "first_exposure_at");
	}
	if (h.first_exposure_ns && h.confirmed_ns) {
		double ms = (double)(h.confirmed_ns - h.first_exposure_ns) / 1e6;
		cJSON_AddNumberToObject(o, "exposed_for_ms", ms);
		note_ttr(b, ms);
	} else {
		cJSON_AddNullToObject(o, "exposed_for_ms");
	}
	add_blast_radius(o, t, &h);
	cJSON_AddItemToObject(o, "timeline", h.timeline);
	cJSON_AddNumberToObject(o, "timeline_left_out", (double)left_out);
	cJSON_AddItemToArray(b->tokens, o);
	b->nseen += h.sightings > 0;
	b->nexposed += h.exposures > 0;
	b->nrevoked_at_issuer += h.confirmed_ns != 0;
	cJSON_Delete(h.revocation);
	return 0;
skip:
	cJSON_Delete(h.timeline);
	cJSON_Delete(h.by_class);
	cJSON_Delete(h.revocation);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, p95 (nearest rank) and max of the times to revoke. */
static cJSON *ttr_json(struct build_ctx *b)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "count", b->nttr);
	if (!b->nttr) {
		cJSON_AddNullToObject(o, "median_ms");
		cJSON_AddNullToObject(o, "p95_ms");
		cJSON_AddNullToObject(o, "max_ms");
		return o;
	}
	qsort(b->ttr, b->nttr, sizeof(double), cmp_double);
	double med = b->nttr % 2 ? b->ttr[b->nttr / 2]
				 : (b->ttr[b->nttr / 2 - 1] + b->ttr[b->nttr / 2]) / 2;
	int rank = (int)((95 * b->nttr + 99) / 100); /* ceil(0.95 n) */
	cJSON_AddNumberToObject(o, "median_ms", med);
	cJSON_AddNumberToObject(o, "p95_ms", b->ttr[(rank ? rank : 1) - 1]);
	cJSON_AddNumberToObject(o, "max_ms", b->ttr[b->nttr - 1]);
	return o;
}

static void add_window(cJSON *r, const struct report_filter *f)
{
	cJSON *w = cJSON_AddObjectToObject(r, "window");
	char ts[40];

	util_rfc3339((uint64_t)f->since_ns, ts, sizeof(ts));
	cJSON_AddStringToObject(w, "since", ts);
	util_rfc3339((uint64_t)f->until_ns, ts, sizeof(ts));
	cJSON_AddStringToObject(w, "until", ts);
	cJSON *flt = cJSON_AddObjectToObject(r, "filter");
	if (f->token_id)
		cJSON_AddStringToObject(flt, "token", f->token_id);
	else
		cJSON_AddNullToObject(flt, "token");
	if (f->task)
		cJSON_AddStringToObject(flt, "task", f->task);
	else
		cJSON_AddNullToObject(flt, "task");
}

int report_build(struct ledger *l, sqlite3 *ev, const struct report_filter *fin, cJSON **out)
{
	struct report_filter f = *fin;
	struct build_ctx b = { .l = l, .ev = ev, .f = &f, .tokens = cJSON_CreateArray(),
			       .ids = cJSON_CreateArray(), .still_active = cJSON_CreateArray(),
			       .now_ns = (int64_t)util_now_ns(CLOCK_REALTIME),
			       .by_class = cJSON_CreateObject() };
	cJSON *r = cJSON_CreateObject(), *sum = cJSON_CreateObject(), *cov = cJSON_CreateObject(),
	      *chart = cJSON_CreateObject();
	char ts[40];
	int rc;

	f.top_n = f.top_n > 0 ? f.top_n : REPORT_TOP_N;
	f.timeline_max = f.timeline_max > 0 ? f.timeline_max : REPORT_TIMELINE_MAX;
	f.tokens_max = f.tokens_max > 0 ? f.tokens_max : REPORT_TOKENS_MAX;
	rc = ledger_foreach(l, on_token, &b);
	if (!rc && !b.nmatched && (f.task || f.token_id))
		rc = -ENOENT;
	if (!rc)
		rc = report_store_summary(ev, &f, f.task || f.token_id ? b.ids : NULL, sum, cov, chart);
	if (rc) {
		cJSON_Delete(r);
		cJSON_Delete(sum);
		cJSON_Delete(cov);
		cJSON_Delete(chart);
		cJSON_Delete(b.tokens);
		cJSON_Delete(b.ids);
		cJSON_Delete(b.still_active);
		cJSON_Delete(b.by_class);
		free(b.ttr);
		return rc;
	}
	cJSON_AddNumberToObject(r, "schema", REPORT_SCHEMA);
	util_rfc3339(util_now_ns(CLOCK_REALTIME), ts, sizeof(ts));
	cJSON_AddStringToObject(r, "generated_at", ts);
	cJSON_AddStringToObject(r, "ledger", ledger_path(l));
	cJSON_AddBoolToObject(r, "events_store", ev != NULL);
	add_window(r, &f);
	cJSON_AddItemToObject(r, "coverage", cov);
	cJSON_AddNumberToObject(sum, "tokens_seen", b.nseen);
	cJSON_AddNumberToObject(sum, "tokens_exposed", b.nexposed);
	cJSON_AddNumberToObject(sum, "revoked_at_issuer", b.nrevoked_at_issuer);
	cJSON_AddItemToObject(sum, "sightings_by_class", b.by_class);
	cJSON_AddItemToObject(sum, "time_to_revoke", ttr_json(&b));
	cJSON_AddItemToObject(sum, "still_active", b.still_active);
	cJSON_AddItemToObject(r, "summary", sum);
	cJSON_AddItemToObject(r, "chart", chart);
	cJSON *verdicts = cJSON_GetObjectItem(sum, "verdicts");
	cJSON_AddBoolToObject(r, "empty", !b.nseen && (!cJSON_IsNumber(verdicts) || verdicts->valuedouble == 0));
	cJSON_AddItemToObject(r, "tokens", b.tokens);
	cJSON_AddNumberToObject(r, "tokens_left_out", b.left_out);
	cJSON_Delete(b.ids);
	free(b.ttr);
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
