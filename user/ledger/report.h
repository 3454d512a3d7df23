/*
 * Exposure reports for incident reviews, built from the ledger: each
 * token that was seen, with its timeline (issue, sightings, revocation at
 * the issuer) and how long the exposure lasted before the issuer
 * confirmed the revocation. Everything in it comes from the ledger, which
 * never holds a raw token; free text is escaped for the output format.
 */
#ifndef TW_REPORT_H
#define TW_REPORT_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "ledger/ledger.h"

struct report_filter {
	const char *task;      /* only this task; NULL all */
	const char *token_id;  /* only this token; NULL all */
	int all;               /* include tokens never seen */
};

/* The report as a JSON document: {"generated_at", "summary", "tokens":[...]}.
 * -ENOENT when a filter names a token or task the ledger does not hold (no
 * token matches task and token_id): a report that cannot cover what was
 * asked is refused, not written empty. Other errors: the ledger's. */
int report_build(struct ledger *l, const struct report_filter *f, cJSON **out);

enum report_format { REPORT_JSON, REPORT_MARKDOWN, REPORT_HTML };
int report_parse_format(const char *s, enum report_format *out);

/* Render a built report. */
int report_render(const cJSON *report, enum report_format fmt, FILE *out);

#endif
