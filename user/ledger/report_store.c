/*
 * The report's summary, chart and coverage, from the event store: one
 * pass over the window's verdicts (report_agg.c counts per key, bounded),
 * so a store of millions of verdicts costs one read of its rows and a
 * bounded amount of memory; each table keeps its top N rows and says how
 * many it left out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ledger/report.h"
#include "ledger/report_agg.h"
#include "lib/util.h"

struct q {
	sqlite3 *db;
	const struct report_filter *f;
	char *where;           /* "at_ns BETWEEN ?1 AND ?2 [AND token_id IN (...)]" */
	int filtered;
};

static sqlite3_stmt *prep(struct q *q, const char *fmt, const char *extra)
{
	sqlite3_stmt *st = NULL;
	char *sql = sqlite3_mprintf(fmt, q->where, extra ? extra : "");

	if (!sql || sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		st = NULL;
	sqlite3_free(sql);
	if (st) {
		sqlite3_bind_int64(st, 1, q->f->since_ns);
		sqlite3_bind_int64(st, 2, q->f->until_ns);
	}
	return st;
}

static void count_key(cJSON *m, const char *k, double n)
{
	cJSON *c = cJSON_GetObjectItem(m, k);

	if (c)
		cJSON_SetNumberValue(c, c->valuedouble + n);
	else
		cJSON_AddNumberToObject(m, k, n);
}

enum { T_PROC, T_FILE, T_DEST, T_CONT, T_RULE, T__N };

static const char *text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Everything the summary counts, in one pass over the window's verdicts:
 * by class and action, the chart's columns, and the top-N tables. */
static int scan_verdicts(struct q *q, cJSON *sum, cJSON *chart, int64_t v[REPORT_BUCKETS][4])
{
	static const char *const names[T__N] = { "processes", "files", "destinations", "containers", NULL };
	static const char *const extras[T__N] = { "comm", NULL, "name", NULL, NULL };
	cJSON *bc = cJSON_AddObjectToObject(sum, "by_class"), *ba = cJSON_AddObjectToObject(sum, "by_action");
	cJSON *top = cJSON_AddObjectToObject(sum, "top");
	struct agg_table *t[T__N] = { 0 };
	int64_t width = (q->f->until_ns - q->f->since_ns + 1) / REPORT_BUCKETS + 1;
	double total = 0;
	sqlite3_stmt *st;
	int rc = 0;

	(void)chart;
	for (int i = 0; i < T__N; i++)
		if (!(t[i] = agg_table_new()))
			rc = -ENOMEM;
	st = prep(q, "SELECT at_ns, token_id IS NULL, exposure, coalesce(class, '(none)'), coalesce(action, '(none)'),"
		     " coalesce(exe, comm), comm, path, dest, coalesce(sni, host), container, rule"
		     " FROM verdicts WHERE %s", NULL);
	if (!st)
		rc = -EIO;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		int64_t at = sqlite3_column_int64(st, 0), b = (at - q->f->since_ns) / width;
		int unmanaged = sqlite3_column_int(st, 1), exposure = sqlite3_column_int(st, 2);

		total++;
		count_key(bc, text(st, 3), 1);
		count_key(ba, text(st, 4), 1);
		if (b >= 0 && b < REPORT_BUCKETS)
			v[b][unmanaged ? 2 : exposure ? 1 : 0]++;
		if (!exposure && !unmanaged)
			continue;
		agg_table_add(t[T_PROC], text(st, 5), text(st, 6), at);
		agg_table_add(t[T_FILE], text(st, 7), NULL, at);
		agg_table_add(t[T_DEST], text(st, 8), text(st, 9), at);
		agg_table_add(t[T_CONT], text(st, 10), NULL, at);
		if (unmanaged)
			agg_table_add(t[T_RULE], text(st, 11), NULL, at);
	}
	sqlite3_finalize(st);
	cJSON_AddNumberToObject(sum, "verdicts", total);
	for (int i = 0; !rc && i < T__N; i++)
		rc = agg_table_json(t[i], q->f->top_n, extras[i],
				    names[i] ? cJSON_AddObjectToObject(top, names[i])
					     : cJSON_AddObjectToObject(sum, "unmanaged_by_rule"));
	for (int i = 0; i < T__N; i++)
		agg_table_free(t[i]);
	return rc;
}

/* The summary chart: the window in REPORT_BUCKETS columns, each with its
 * uses, exposures, unmanaged secrets (from scan_verdicts) and confirmed
 * revocations. */
static int chart_buckets(struct q *q, cJSON *chart, int64_t v[REPORT_BUCKETS][4])
{
	int64_t span = q->f->until_ns - q->f->since_ns + 1;
	cJSON *b = cJSON_AddArrayToObject(chart, "buckets");
	char fmt[512];
	sqlite3_stmt *st;

	snprintf(fmt, sizeof(fmt),
		 "SELECT (at_ns - ?1) / %lld, count(*) FROM revocations WHERE %%s"
		 " AND event = 'revoked' AND json_extract(detail, '$.result') = 'ok' GROUP BY 1",
		 (long long)(span / REPORT_BUCKETS + 1));
	if (!(st = prep(q, fmt, NULL)))
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t i = sqlite3_column_int64(st, 0);
		if (i >= 0 && i < REPORT_BUCKETS)
			v[i][3] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	cJSON_AddNumberToObject(chart, "bucket_ms", (double)(span / REPORT_BUCKETS + 1) / 1e6);
	for (int i = 0; i < REPORT_BUCKETS; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "uses", (double)v[i][0]);
		cJSON_AddNumberToObject(o, "exposures", (double)v[i][1]);
		cJSON_AddNumberToObject(o, "unmanaged", (double)v[i][2]);
		cJSON_AddNumberToObject(o, "revocations", (double)v[i][3]);
		cJSON_AddItemToArray(b, o);
	}
	return 0;
}

/* ---- coverage ------------------------------------------------------------ */

/* "1203" -> "1,203" */
static void thousands(double v, char *out, size_t n)
{
	char raw[32];
	size_t len, j = 0;

	snprintf(raw, sizeof(raw), "%.0f", v);
	len = strlen(raw);
	for (size_t i = 0; i < len && j + 2 < n; i++) {
		out[j++] = raw[i];
		if ((len - i - 1) % 3 == 0 && i + 1 < len)
			out[j++] = ',';
	}
	out[j] = 0;
}

/* b - a per key of one group ("lost" or "cut"), added into sum; the total. */
static double delta_group(const cJSON *a, const cJSON *b, const char *group, cJSON *sum)
{
	const cJSON *gb = cJSON_GetObjectItem(b, group), *ga = cJSON_GetObjectItem(a, group), *v;
	double total = 0;

	cJSON_ArrayForEach(v, gb) {
		const cJSON *old = cJSON_GetObjectItem(ga, v->string);
		double d = v->valuedouble - (cJSON_IsNumber(old) ? old->valuedouble : 0);
		cJSON *s = cJSON_GetObjectItem(sum, v->string);

		if (d < 0)
			d = 0;
		total += d;
		if (!s)
			cJSON_AddNumberToObject(sum, v->string, d);
		else
			cJSON_SetNumberValue(s, s->valuedouble + d);
	}
	return total;
}

struct cov {
	cJSON *lost, *cut, *periods;
	double lost_total, cut_total;
	int64_t samples, left_out;
	int64_t last_to;
};

static void add_period(struct cov *c, int64_t from, int64_t to, double lost, double cut, cJSON *causes)
{
	cJSON *last = cJSON_GetArrayItem(c->periods, cJSON_GetArraySize(c->periods) - 1);
	char ts[40];

	if (last && c->last_to == from) { /* one period across consecutive samples */
		cJSON *l = cJSON_GetObjectItem(last, "lost"), *k = cJSON_GetObjectItem(last, "cut"), *v;
		cJSON *lc = cJSON_GetObjectItem(last, "causes");
		cJSON_SetNumberValue(l, l->valuedouble + lost);
		cJSON_SetNumberValue(k, k->valuedouble + cut);
		util_rfc3339((uint64_t)to, ts, sizeof(ts));
		cJSON_ReplaceItemInObject(last, "to", cJSON_CreateString(ts));
		cJSON_ArrayForEach(v, causes) {
			cJSON *s = cJSON_GetObjectItem(lc, v->string);
			if (s)
				cJSON_SetNumberValue(s, s->valuedouble + v->valuedouble);
			else
				cJSON_AddNumberToObject(lc, v->string, v->valuedouble);
		}
		cJSON_Delete(causes);
		c->last_to = to;
		return;
	}
	if (cJSON_GetArraySize(c->periods) >= 100) {
		c->left_out++;
		cJSON_Delete(causes);
		return;
	}
	cJSON *p = cJSON_CreateObject();
	util_rfc3339((uint64_t)from, ts, sizeof(ts));
	cJSON_AddStringToObject(p, "from", ts);
	util_rfc3339((uint64_t)to, ts, sizeof(ts));
	cJSON_AddStringToObject(p, "to", ts);
	cJSON_AddNumberToObject(p, "lost", lost);
	cJSON_AddNumberToObject(p, "cut", cut);
	cJSON_AddItemToObject(p, "causes", causes);
	cJSON_AddItemToArray(c->periods, p);
	c->last_to = to;
}

/* One monitor run's samples in the window, against its last sample before
 * the window (a run that started inside the window starts from zero). */
static void coverage_run(struct q *q, int64_t run_ns, struct cov *c)
{
	sqlite3_stmt *st = NULL;
	cJSON *prev = NULL;
	int64_t prev_at = run_ns;

	if (sqlite3_prepare_v2(q->db, "SELECT at_ns, counters FROM counters WHERE run_ns = ?3 AND at_ns < ?1"
			       " ORDER BY at_ns DESC LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, q->f->since_ns);
		sqlite3_bind_int64(st, 3, run_ns);
		if (sqlite3_step(st) == SQLITE_ROW) {
			prev_at = sqlite3_column_int64(st, 0);
			prev = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
		}
	}
	sqlite3_finalize(st);
	if (!prev)
		prev = cJSON_CreateObject(); /* counters start at zero with the run */
	if (sqlite3_prepare_v2(q->db, "SELECT at_ns, counters FROM counters WHERE run_ns = ?3 AND"
			       " at_ns BETWEEN ?1 AND ?2 ORDER BY at_ns", -1, &st, NULL) != SQLITE_OK) {
		cJSON_Delete(prev);
		return;
	}
	sqlite3_bind_int64(st, 1, q->f->since_ns);
	sqlite3_bind_int64(st, 2, q->f->until_ns);
	sqlite3_bind_int64(st, 3, run_ns);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t at = sqlite3_column_int64(st, 0);
		cJSON *cur = cJSON_Parse((const char *)sqlite3_column_text(st, 1)), *causes;
		double l, k;

		if (!cur)
			continue;
		c->samples++;
		causes = cJSON_CreateObject();
		l = delta_group(prev, cur, "lost", c->lost);
		k = delta_group(prev, cur, "cut", c->cut);
		delta_group(prev, cur, "lost", causes);
		delta_group(prev, cur, "cut", causes);
		for (cJSON *v = causes->child, *nx; v; v = nx) {
			nx = v->next;
			if (v->valuedouble == 0)
				cJSON_DeleteItemFromObject(causes, v->string);
		}
		c->lost_total += l;
		c->cut_total += k;
		if (l > 0 || k > 0)
			add_period(c, prev_at > q->f->since_ns ? prev_at : q->f->since_ns, at, l, k, causes);
		else
			cJSON_Delete(causes);
		cJSON_Delete(prev);
		prev = cur;
		prev_at = at;
	}
	sqlite3_finalize(st);
	cJSON_Delete(prev);
}

static void coverage_statement(struct cov *c, cJSON *out)
{
	const cJSON *first = cJSON_GetArrayItem(c->periods, 0);
	const cJSON *last = cJSON_GetArrayItem(c->periods, cJSON_GetArraySize(c->periods) - 1);
	char n1[32], n2[32], msg[512];
	int len = 0;

	if (!c->lost_total && !c->cut_total) {
		cJSON_AddNullToObject(out, "statement");
		return;
	}
	thousands(c->lost_total, n1, sizeof(n1));
	thousands(c->cut_total, n2, sizeof(n2));
	if (c->lost_total)
		len = snprintf(msg, sizeof(msg), "the monitor lost %s events", n1);
	if (c->cut_total)
		len += snprintf(msg + len, sizeof(msg) - len, "%s%s captures were cut short",
				len ? " and " : "the monitor saw ", n2);
	snprintf(msg + len, sizeof(msg) - len, " between %s and %s; findings in that period may be incomplete",
		 first ? cJSON_GetObjectItem(first, "from")->valuestring : "?",
		 last ? cJSON_GetObjectItem(last, "to")->valuestring : "?");
	cJSON_AddStringToObject(out, "statement", msg);
}

static int coverage(struct q *q, cJSON *out)
{
	struct cov c = { .lost = cJSON_CreateObject(), .cut = cJSON_CreateObject(),
			 .periods = cJSON_CreateArray() };
	sqlite3_stmt *st = NULL;
	int runs = 0;

	if (sqlite3_prepare_v2(q->db, "SELECT DISTINCT run_ns FROM counters WHERE at_ns BETWEEN ?1 AND ?2"
			       " ORDER BY run_ns", -1, &st, NULL) != SQLITE_OK) {
		cJSON_Delete(c.lost);
		cJSON_Delete(c.cut);
		cJSON_Delete(c.periods);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, q->f->since_ns);
	sqlite3_bind_int64(st, 2, q->f->until_ns);
	while (sqlite3_step(st) == SQLITE_ROW) {
		coverage_run(q, sqlite3_column_int64(st, 0), &c);
		runs++;
	}
	sqlite3_finalize(st);
	cJSON_AddBoolToObject(out, "known", c.samples > 0);
	cJSON_AddNumberToObject(out, "samples", (double)c.samples);
	cJSON_AddNumberToObject(out, "runs", runs);
	cJSON_AddNumberToObject(out, "lost_total", c.lost_total);
	cJSON_AddNumberToObject(out, "cut_total", c.cut_total);
	cJSON_AddItemToObject(out, "lost", c.lost);
	cJSON_AddItemToObject(out, "cut", c.cut);
	cJSON_AddItemToObject(out, "periods", c.periods);
	cJSON_AddNumberToObject(out, "periods_left_out", (double)c.left_out);
	coverage_statement(&c, out);
	return 0;
}

static void no_store(cJSON *sum, cJSON *cov, cJSON *chart)
{
	cJSON_AddNullToObject(sum, "verdicts");
	cJSON_AddObjectToObject(sum, "by_class");
	cJSON_AddObjectToObject(sum, "by_action");
	cJSON_AddObjectToObject(sum, "top");
	cJSON_AddObjectToObject(sum, "unmanaged_by_rule");
	cJSON_AddBoolToObject(cov, "known", 0);
	cJSON_AddNumberToObject(cov, "samples", 0);
	cJSON_AddStringToObject(cov, "statement",
				"no event store: losses are unknown, unmanaged secrets are not reported");
	cJSON_AddArrayToObject(chart, "buckets");
}

int report_store_summary(sqlite3 *ev, const struct report_filter *f, const cJSON *ids, cJSON *sum,
			 cJSON *cov, cJSON *chart)
{
	struct q q = { .db = ev, .f = f, .filtered = ids != NULL };
	const cJSON *id;
	int rc = 0;

	if (!ev) {
		no_store(sum, cov, chart);
		return 0;
	}
	q.where = sqlite3_mprintf("at_ns BETWEEN ?1 AND ?2");
	if (ids) {
		char *w = sqlite3_mprintf("%s AND token_id IN ('-'", q.where);
		cJSON_ArrayForEach(id, ids) {
			char *n = sqlite3_mprintf("%s, %Q", w, id->valuestring);
			sqlite3_free(w);
			w = n;
		}
		sqlite3_free(q.where);
		q.where = sqlite3_mprintf("%s)", w);
		sqlite3_free(w);
	}
	if (!q.where)
		return -ENOMEM;
	/* Unmanaged secrets belong to no token or task: absent under a filter
	 * (the filter's token_id IN (...) leaves them out of the scan). */
	int64_t buckets[REPORT_BUCKETS][4] = { { 0 } };
	rc = scan_verdicts(&q, sum, chart, buckets);
	rc = rc ? rc : chart_buckets(&q, chart, buckets);
	rc = rc ? rc : coverage(&q, cov);
	sqlite3_free(q.where);
	return rc;
}
