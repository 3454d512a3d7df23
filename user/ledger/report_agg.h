/*
 * Count per key, bounded (user/ledger/report_agg.c): the report's top-N
 * tables from one pass over the store's verdicts.
 */
#ifndef TW_REPORT_AGG_H
#define TW_REPORT_AGG_H

#include <stdint.h>
#include <cjson/cJSON.h>

struct agg_table;

struct agg_table *agg_table_new(void);
void agg_table_free(struct agg_table *t);
/* One row with this key (NULL: not counted); extra is kept from the first
 * row that has one (a process's comm, a destination's SNI or Host). */
void agg_table_add(struct agg_table *t, const char *key, const char *extra, int64_t at_ns);
/* The top_n keys by count, into out: rows, left_out, left_out_exact. */
int agg_table_json(const struct agg_table *t, int top_n, const char *extra_name, cJSON *out);

#endif
