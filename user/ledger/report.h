/*
 * Exposure reports for incident reviews (docs/REPORTS.md), built from the
 * ledger (issuance, history, the revocation queue) and the event store
 * (every verdict with its process and parent chain, revocation outcomes,
 * loss counters; user/ledger/evstore.h), over a time window: per token,
 * what it was, where it was seen, how it was exposed, how fast the issuer
 * confirmed its revocation and what it could reach meanwhile; a summary;
 * and the coverage (what the monitor lost in the window). Nothing in it
 * can hold a raw token: the ledger and the store never do, and free text
 * is redacted again and escaped for the output format.
 */
#ifndef TW_REPORT_H
#define TW_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>
#include <cjson/cJSON.h>
#include "ledger/ledger.h"

#define REPORT_SCHEMA 1
#define REPORT_TOP_N 10          /* rows of each summary table */
#define REPORT_TIMELINE_MAX 200  /* sightings shown per token */
#define REPORT_TOKENS_MAX 500    /* token sections */
#define REPORT_BUCKETS 48        /* the summary chart's columns */

struct report_filter {
	const char *task;      /* only this task; NULL all */
	const char *token_id;  /* only this token; NULL all */
	int all;               /* include tokens never seen */
	int64_t since_ns, until_ns; /* the window, unix ns, inclusive */
	int top_n;             /* 0: REPORT_TOP_N */
	int timeline_max;      /* 0: REPORT_TIMELINE_MAX */
	int tokens_max;        /* 0: REPORT_TOKENS_MAX */
};

/* The report as a JSON document (schema 1, docs/REPORTS.md). events is
 * the event store (read-only), or NULL when there is none: the sightings
 * then come from the ledger's history and the coverage is unknown.
 * -ENOENT when a filter names a token or task the ledger does not hold: a
 * report that cannot cover what was asked is refused, not written empty.
 * Other errors: the ledger's or the store's. */
int report_build(struct ledger *l, sqlite3 *events, const struct report_filter *f, cJSON **out);

/* Summary and coverage from the event store, added to the report r
 * (report_store.c). ids: the tokens the filter matched, or NULL (no filter). */
int report_store_summary(sqlite3 *events, const struct report_filter *f, const cJSON *ids,
			 cJSON *summary, cJSON *coverage, cJSON *chart);

/* One history entry as a sentence ("revoked at issuer oidc (RFC 7009, HTTP
 * 200) in 2.1 ms, 3.1 ms after the exposure"). first_exposure_ns 0: none. */
void report_sentence(const char *event, const cJSON *detail, int64_t at_ns,
		     int64_t first_exposure_ns, char *out, size_t outsz);

enum report_format { REPORT_JSON, REPORT_MARKDOWN, REPORT_HTML };
int report_parse_format(const char *s, enum report_format *out);

/* Render a built report. */
int report_render(const cJSON *report, enum report_format fmt, FILE *out);

#endif
