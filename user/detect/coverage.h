/*
 * What the detector could not search, for the reader: the "loss"
 * counters of struct detect_stats (detect.h) as JSON fields and as one
 * sentence. `tokenward scan` prints them when any is non-zero; the
 * monitor's status file carries them in its "detection" section.
 */
#ifndef TW_COVERAGE_H
#define TW_COVERAGE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "detect/detect.h"

/* acc += x, field by field. */
void detect_stats_add(struct detect_stats *acc, const struct detect_stats *x);

/* The loss counters added up: 0 means every keyword hit was searched to
 * its end. */
uint64_t detect_coverage_losses(const struct detect_stats *st);

/* Add regex_limit_hits, matches_too_long, matches_cut_short,
 * rules_suspended, keyword_hits_skipped and the decoded views' bounds
 * (encoded_runs_cut, decode_budget_hits, decode_depth_hits) and
 * repeats_collapsed and findings_capped to o. */
void detect_coverage_json(const struct detect_stats *st, cJSON *o);

/* The decoded views' work (not losses) as o's "decoded_views" object:
 * views, bytes, findings, duplicates_dropped, base64_not_text. */
void detect_views_json(const struct detect_stats *st, cJSON *o);

/* "2 regex searches stopped at a PCRE2 limit, ..." (no trailing newline);
 * empty when there is no loss. Returns the length snprintf would. */
int detect_coverage_text(const struct detect_stats *st, char *out, size_t outsz);

#endif
