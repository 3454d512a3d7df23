/*
 * One place that names the losses, so that `scan` and `status` say the
 * same thing in the same words.
 */
#include <stdio.h>
#include "detect/coverage.h"
#include "detect/decode.h"
#include "detect/views.h"

void detect_stats_add(struct detect_stats *acc, const struct detect_stats *x)
{
	acc->bytes += x->bytes;
	acc->keyword_hits += x->keyword_hits;
	acc->regex_calls += x->regex_calls;
	acc->limit_hits += x->limit_hits;
	acc->too_long += x->too_long;
	acc->cut_short += x->cut_short;
	acc->rules_suspended += x->rules_suspended;
	acc->skipped_hits += x->skipped_hits;
	acc->rejected += x->rejected;
	acc->opaque_hashed += x->opaque_hashed;
	acc->repeats_collapsed += x->repeats_collapsed;
	acc->findings_capped += x->findings_capped;
	acc->views += x->views;
	acc->view_bytes += x->view_bytes;
	acc->view_findings += x->view_findings;
	acc->view_dups += x->view_dups;
	acc->views_rejected += x->views_rejected;
	acc->view_cut += x->view_cut;
	acc->view_budget += x->view_budget;
	acc->view_depth += x->view_depth;
	acc->views_skipped += x->views_skipped;
}

uint64_t detect_coverage_losses(const struct detect_stats *st)
{
	return st->limit_hits + st->too_long + st->cut_short + st->rules_suspended + st->skipped_hits +
	       st->view_cut + st->view_budget + st->view_depth + st->repeats_collapsed +
	       st->findings_capped;
}

void detect_coverage_json(const struct detect_stats *st, cJSON *o)
{
	cJSON_AddNumberToObject(o, "regex_limit_hits", (double)st->limit_hits);
	cJSON_AddNumberToObject(o, "matches_too_long", (double)st->too_long);
	cJSON_AddNumberToObject(o, "matches_cut_short", (double)st->cut_short);
	cJSON_AddNumberToObject(o, "rules_suspended", (double)st->rules_suspended);
	cJSON_AddNumberToObject(o, "keyword_hits_skipped", (double)st->skipped_hits);
	/* decoded views (detect/views.h): the three bounds */
	cJSON_AddNumberToObject(o, "encoded_runs_cut", (double)st->view_cut);
	cJSON_AddNumberToObject(o, "decode_budget_hits", (double)st->view_budget);
	cJSON_AddNumberToObject(o, "decode_depth_hits", (double)st->view_depth);
	/* places, not secrets: each of these secrets was reported in that buffer */
	cJSON_AddNumberToObject(o, "repeats_collapsed", (double)st->repeats_collapsed);
	/* secrets, not places: these were not reported at all */
	cJSON_AddNumberToObject(o, "findings_capped", (double)st->findings_capped);
}

void detect_views_json(const struct detect_stats *st, cJSON *o)
{
	cJSON *v = cJSON_AddObjectToObject(o, "decoded_views");

	cJSON_AddNumberToObject(v, "views", (double)st->views);
	cJSON_AddNumberToObject(v, "bytes", (double)st->view_bytes);
	cJSON_AddNumberToObject(v, "findings", (double)st->view_findings);
	cJSON_AddNumberToObject(v, "duplicates_dropped", (double)st->view_dups);
	cJSON_AddNumberToObject(v, "base64_not_text", (double)st->views_rejected);
	cJSON_AddNumberToObject(v, "skipped_nothing_to_find", (double)st->views_skipped);
}

int detect_coverage_text(const struct detect_stats *st, char *out, size_t outsz)
{
	unsigned long long lh = st->limit_hits, tl = st->too_long, cs = st->cut_short,
			   rs = st->rules_suspended, sk = st->skipped_hits;
	const char *sep = "";
	size_t n = 0;
	int w;

	if (outsz)
		out[0] = 0;
#define PUT(...)                                                                   \
	do {                                                                       \
		w = snprintf(out + n, n < outsz ? outsz - n : 0, __VA_ARGS__);     \
		n += w > 0 ? (size_t)w : 0;                                        \
	} while (0)
	if (st->view_cut) {
		PUT("%s%llu encoded run%s longer than %u KiB decoded in pieces", sep,
		    (unsigned long long)st->view_cut, st->view_cut == 1 ? "" : "s", DECODE_REGION_MAX >> 10);
		sep = ", ";
	}
	if (st->view_budget) {
		PUT("%s%llu encoded region%s not decoded (decoding budget of %dx the input spent)", sep,
		    (unsigned long long)st->view_budget, st->view_budget == 1 ? "" : "s", VIEWS_BUDGET_PER_BYTE);
		sep = ", ";
	}
	if (st->view_depth) {
		PUT("%s%llu decoded view%s %d deep not decoded further", sep,
		    (unsigned long long)st->view_depth, st->view_depth == 1 ? "" : "s", VIEWS_DEPTH_MAX);
		sep = ", ";
	}
	if (lh) {
		PUT("%s%llu regex search%s stopped at a PCRE2 limit", sep, lh, lh == 1 ? "" : "es");
		sep = ", ";
	}
	if (tl) {
		PUT("%s%llu candidate%s longer than its rule's max_len", sep, tl, tl == 1 ? "" : "s");
		sep = ", ";
	}
	if (cs) {
		PUT("%s%llu candidate%s cut short where a capture was cut", sep, cs, cs == 1 ? "" : "s");
		sep = ", ";
	}
	if (st->repeats_collapsed) {
		PUT("%s%llu repeat%s of a secret already reported %d times in the same buffer not listed", sep,
		    (unsigned long long)st->repeats_collapsed, st->repeats_collapsed == 1 ? "" : "s",
		    DETECT_REPEATS_PER_BUFFER);
		sep = ", ";
	}
	if (st->findings_capped) {
		PUT("%s%llu unmanaged finding%s of a flood not listed (a rule past the flood bound of distinct "
		    "secrets in one buffer, %d unless set; managed tokens are always listed)", sep,
		    (unsigned long long)st->findings_capped, st->findings_capped == 1 ? "" : "s",
		    DETECT_FLOOD_CAP_DEFAULT);
		sep = ", ";
	}
	if (rs)
		PUT("%s%llu time%s a rule sat out the rest of a buffer after %d limit hits (%llu keyword hit%s "
		    "not searched)", sep, rs, rs == 1 ? "" : "s", DETECT_LIMIT_HITS_PER_RULE, sk, sk == 1 ? "" : "s");
#undef PUT
	return (int)n;
}
