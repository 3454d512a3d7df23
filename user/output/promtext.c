/* status.json -> Prometheus text format (see promtext.h). */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "output/promtext.h"

#define NAME_MAX_LEN 200

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += n;
			return;
		}
		size_t cap = (o->cap + n + 1) * 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->oom = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

/* A section rendered as one family with a label per key (two levels:
 * two labels). Keys in `except` are rendered as ordinary metrics. */
static const struct labeled {
	const char *path, *family, *label, *label2, *except;
} labeled[] = {
	{ "sensors.captures", "sensors_captures", "kind", NULL, NULL },
	{ "sensors.drops", "sensors_drops", "cause", NULL, NULL },
	{ "revocation.since_start", "revocations", "outcome", NULL, ",last_request_ms," },
	{ "outputs.verdicts", "verdicts", "class", "action", NULL },
	{ "outputs.failures", "output_failures", "output", NULL, NULL },
	{ "outputs.metrics_refused", "metrics_refused", "reason", NULL, NULL },
};

/* Figures that go up and down; every other number is a counter. */
static const char gauges[] =
	",running,ringbuf_bytes,wakeup_bytes,capture_bytes,cpus,processes,open_files,"
	"files_probed,files_attached,open,ledger_tokens,ledger_open,pending,done,failed,"
	"in_flight,workers,last_request_ms,oldest_pending_ms,queued_now,connections_open,retiring_now,delivery_max_ms,";

static bool in_list(const char *list, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = list; p && (p = strstr(p, key)); p += n)
		if (p[-1] == ',' && p[n] == ',')
			return true;
	return false;
}

static bool is_gauge(const char *key)
{
	return in_list(gauges, key);
}

/* name = "tokenward_" + parts, non-word bytes as '_'. */
static void make_name(char *dst, size_t dstsz, const char *prefix, const char *key)
{
	size_t k = 0;

	k = (size_t)snprintf(dst, dstsz, "tokenward_%s%s%s", prefix, *prefix ? "_" : "", key);
	if (k >= dstsz)
		k = dstsz - 1;
	for (size_t i = 10; i < k; i++) {
		char c = dst[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			dst[i] = '_';
	}
}

static void put_value(struct out *o, double v)
{
	if (isnan(v))
		out_printf(o, "NaN\n");
	else if (v == floor(v) && fabs(v) < 1e15)
		out_printf(o, "%.0f\n", v);
	else
		out_printf(o, "%.9g\n", v);
}

static void put_label_value(struct out *o, const char *s)
{
	out_printf(o, "\"");
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			out_printf(o, "\\%c", *s);
		else if (*s == '\n')
			out_printf(o, "\\n");
		else
			out_printf(o, "%c", *s);
	}
	out_printf(o, "\"");
}

/* The metric's name and scale for a number under key: "_ms" becomes
 * "_seconds", a counter ends in "_total". */
static double metric_name(char *name, size_t sz, const char *prefix, const char *key, bool gauge)
{
	char k[NAME_MAX_LEN];
	size_t n = strlen(key);
	double scale = 1;

	snprintf(k, sizeof(k), "%s", key);
	if (n > 3 && n < sizeof(k) - 8 && !strcmp(key + n - 3, "_ms")) {
		strcpy(k + n - 3, "_seconds");
		scale = 0.001;
	}
	n = strlen(k);
	if (!gauge && !(n > 6 && !strcmp(k + n - 6, "_total")) && n < sizeof(k) - 7)
		strcat(k, "_total");
	make_name(name, sz, prefix, k);
	return scale;
}

static double num_of(const cJSON *v)
{
	return cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? 1 : 0) : v->valuedouble;
}

/* HELP names where the figure is in status.json (docs/OPERATIONS.md). */
static void put_head(struct out *o, const char *name, const char *type, const char *path)
{
	out_printf(o, "# HELP %s status.json %s\n# TYPE %s %s\n", name, path, name, type);
}

static void render_scalar(struct out *o, const char *prefix, const char *path, const cJSON *v)
{
	char name[NAME_MAX_LEN];
	bool gauge = cJSON_IsBool(v) || is_gauge(v->string);
	double scale = metric_name(name, sizeof(name), prefix, v->string, gauge);

	put_head(o, name, gauge ? "gauge" : "counter", path);
	out_printf(o, "%s ", name);
	put_value(o, num_of(v) * scale);
}

static bool is_histogram(const cJSON *v)
{
	return cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(v, "buckets")) &&
	       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "count")) &&
	       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "sum"));
}

static void render_histogram(struct out *o, const char *path, const cJSON *v)
{
	char name[NAME_MAX_LEN];
	const cJSON *b;
	double count = cJSON_GetObjectItemCaseSensitive(v, "count")->valuedouble;

	make_name(name, sizeof(name), "", v->string);
	put_head(o, name, "histogram", path);
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(v, "buckets")) {
		const cJSON *le = cJSON_GetArrayItem(b, 0), *n = cJSON_GetArrayItem(b, 1);

		if (!cJSON_IsNumber(le) || !cJSON_IsNumber(n))
			continue;
		out_printf(o, "%s_bucket{le=\"%.9g\"} ", name, le->valuedouble);
		put_value(o, n->valuedouble);
	}
	out_printf(o, "%s_bucket{le=\"+Inf\"} ", name);
	put_value(o, count);
	out_printf(o, "%s_sum ", name);
	put_value(o, cJSON_GetObjectItemCaseSensitive(v, "sum")->valuedouble);
	out_printf(o, "%s_count ", name);
	put_value(o, count);
}

static void render_labeled(struct out *o, const struct labeled *l, const cJSON *sec, const char *prefix)
{
	char name[NAME_MAX_LEN];
	const cJSON *v, *w;

	metric_name(name, sizeof(name), "", l->family, false);
	put_head(o, name, "counter", l->path);
	cJSON_ArrayForEach(v, sec) {
		if (l->except && in_list(l->except, v->string))
			continue;
		if (l->label2 && cJSON_IsObject(v)) {
			cJSON_ArrayForEach(w, v) {
				if (!cJSON_IsNumber(w))
					continue;
				out_printf(o, "%s{%s=", name, l->label);
				put_label_value(o, v->string);
				out_printf(o, ",%s=", l->label2);
				put_label_value(o, w->string);
				out_printf(o, "} ");
				put_value(o, w->valuedouble);
			}
		} else if (!l->label2 && cJSON_IsNumber(v)) {
			out_printf(o, "%s{%s=", name, l->label);
			put_label_value(o, v->string);
			out_printf(o, "} ");
			put_value(o, v->valuedouble);
		}
	}
	/* the keys kept out of the family */
	cJSON_ArrayForEach(v, sec)
		if (l->except && in_list(l->except, v->string) && (cJSON_IsNumber(v) || cJSON_IsBool(v))) {
			char p[NAME_MAX_LEN];

			snprintf(p, sizeof(p), "%s.%s", l->path, v->string);
			render_scalar(o, prefix, p, v);
		}
}

static void render_object(struct out *o, const cJSON *obj, const char *path, const char *prefix);

static void render_child(struct out *o, const cJSON *v, const char *path, const char *prefix)
{
	char cpath[NAME_MAX_LEN], cprefix[NAME_MAX_LEN];

	snprintf(cpath, sizeof(cpath), "%s%s%s", path, *path ? "." : "", v->string);
	snprintf(cprefix, sizeof(cprefix), "%s%s%s", prefix, *prefix ? "_" : "", v->string);
	if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
		render_scalar(o, prefix, cpath, v);
		return;
	}
	if (!cJSON_IsObject(v))
		return;                 /* strings and lists: not metrics */
	if (is_histogram(v)) {
		render_histogram(o, cpath, v);
		return;
	}
	for (size_t i = 0; i < sizeof(labeled) / sizeof(labeled[0]); i++)
		if (!strcmp(labeled[i].path, cpath)) {
			render_labeled(o, &labeled[i], v, prefix);
			return;
		}
	render_object(o, v, cpath, cprefix);
}

static void render_object(struct out *o, const cJSON *obj, const char *path, const char *prefix)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, obj) {
		/* the file's format version and the writer's pid: not figures */
		if (!*path && (!strcmp(v->string, "version") || !strcmp(v->string, "pid")))
			continue;
		render_child(o, v, path, prefix);
	}
}

char *promtext_render(const cJSON *status, size_t *len)
{
	struct out o = { .buf = malloc(16384), .cap = 16384 };

	if (!o.buf)
		return NULL;
	render_object(&o, status, "", "");
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
