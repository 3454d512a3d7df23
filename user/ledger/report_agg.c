/*
 * The report's summary tables from one pass over the window's verdicts
 * (report_store.c runs the query): counts by class and action, the chart's
 * columns, and per table (processes, files, destinations, containers,
 * unmanaged rules) a count per key in a hash table. One scan instead of a
 * GROUP BY per table: a million verdicts cost one read of the rows.
 *
 * Memory is bounded: each table holds at most AGG_MAX_KEYS keys and
 * AGG_MAX_BYTES of key text. Rows whose key would not fit are still
 * counted, as "overflow_rows", and the table says its left_out is a
 * lower bound ("left_out_exact": false).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ledger/report_agg.h"
#include "lib/util.h"

#define AGG_MAX_KEYS (1u << 17)
#define AGG_MAX_BYTES (16u << 20)

struct agg_entry {
	char *key, *extra;
	int64_t count, first, last;
};

struct agg_table {
	struct agg_entry *slots;   /* open addressing; key NULL: empty */
	size_t nslots, nkeys, bytes;
	int64_t overflow_rows;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int grow(struct agg_table *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	struct agg_entry *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->nslots; i++) {
		struct agg_entry *e = &t->slots[i];
		size_t j;

		if (!e->key)
			continue;
		for (j = hash(e->key) & (n - 1); s[j].key; j = (j + 1) & (n - 1))
			;
		s[j] = *e;
	}
	free(t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

void agg_table_add(struct agg_table *t, const char *key, const char *extra, int64_t at)
{
	size_t j, len;

	if (!key)
		return;
	if (t->nslots == 0 || (t->nkeys + 1) * 2 > t->nslots) {
		if (t->nkeys >= AGG_MAX_KEYS || grow(t)) {
			/* full: an existing key still counts, a new one overflows */
			if (t->nslots) {
				for (j = hash(key) & (t->nslots - 1); t->slots[j].key; j = (j + 1) & (t->nslots - 1))
					if (!strcmp(t->slots[j].key, key))
						goto found;
			}
			t->overflow_rows++;
			return;
		}
	}
	for (j = hash(key) & (t->nslots - 1); t->slots[j].key; j = (j + 1) & (t->nslots - 1))
		if (!strcmp(t->slots[j].key, key))
			goto found;
	len = strlen(key) + (extra ? strlen(extra) : 0) + 2;
	if (t->bytes + len > AGG_MAX_BYTES || !(t->slots[j].key = strdup(key))) {
		t->overflow_rows++;
		return;
	}
	t->slots[j].extra = extra ? strdup(extra) : NULL;
	t->slots[j].first = at;
	t->bytes += len;
	t->nkeys++;
found:
	t->slots[j].count++;
	if (at < t->slots[j].first)
		t->slots[j].first = at;
	if (at > t->slots[j].last)
		t->slots[j].last = at;
	if (extra && !t->slots[j].extra)
		t->slots[j].extra = strdup(extra);
}

struct agg_table *agg_table_new(void)
{
	return calloc(1, sizeof(struct agg_table));
}

void agg_table_free(struct agg_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nslots; i++) {
		free(t->slots[i].key);
		free(t->slots[i].extra);
	}
	free(t->slots);
	free(t);
}

static int by_count(const void *a, const void *b)
{
	const struct agg_entry *x = *(struct agg_entry *const *)a, *y = *(struct agg_entry *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* {"rows":[{key,count,extra,first,last}], "left_out": N, "left_out_exact": BOOL} */
int agg_table_json(const struct agg_table *t, int top_n, const char *extra_name, cJSON *out)
{
	cJSON *rows = cJSON_AddArrayToObject(out, "rows");
	struct agg_entry **v = calloc(t->nkeys ? t->nkeys : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i].key)
			v[n++] = &t->slots[i];
	qsort(v, n, sizeof(*v), by_count);
	for (size_t i = 0; i < n && i < (size_t)top_n; i++) {
		cJSON *r = cJSON_CreateObject();
		char ts[40];

		cJSON_AddStringToObject(r, "key", v[i]->key);
		cJSON_AddNumberToObject(r, "count", (double)v[i]->count);
		if (extra_name && v[i]->extra)
			cJSON_AddStringToObject(r, extra_name, v[i]->extra);
		util_rfc3339((uint64_t)v[i]->first, ts, sizeof(ts));
		cJSON_AddStringToObject(r, "first", ts);
		util_rfc3339((uint64_t)v[i]->last, ts, sizeof(ts));
		cJSON_AddStringToObject(r, "last", ts);
		cJSON_AddItemToArray(rows, r);
	}
	cJSON_AddNumberToObject(out, "left_out", (double)(n > (size_t)top_n ? n - top_n : 0));
	cJSON_AddBoolToObject(out, "left_out_exact", t->overflow_rows == 0);
	if (t->overflow_rows)
		cJSON_AddNumberToObject(out, "overflow_rows", (double)t->overflow_rows);
	free(v);
	return 0;
}
