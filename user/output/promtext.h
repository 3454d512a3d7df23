/*
 * status.json as the Prometheus text format (version 0.0.4), for the
 * metrics endpoint (output/metrics.c). Nothing is counted twice: every
 * figure is the one status.json shows, from the same providers, so a new
 * counter in any section appears on /metrics without code here.
 *
 * Names: "tokenward_" + the JSON path joined with '_' (a counter gets
 * "_total"; "_ms" figures become "_seconds"). A few sections are one
 * family with a label instead of one family per key (promtext.c's
 * `labeled` table): captures by kind, drops by cause, revocations by
 * outcome, verdicts by class and action, output failures by output. An
 * object {"buckets": [[le, cumulative], ...], "count", "sum"}
 * (lib/histogram.h) is a histogram named "tokenward_" + its key. Strings
 * and arrays are not metrics and are left out.
 */
#ifndef TW_PROMTEXT_H
#define TW_PROMTEXT_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* A new NUL-terminated text (*len without the NUL), or NULL (no memory). */
char *promtext_render(const cJSON *status, size_t *len);

#endif
