/*
 * A fixed-bucket latency histogram, in seconds, for status.json and the
 * metrics endpoint (output/promtext.c renders it as a Prometheus
 * histogram). The owner serialises access (e.g. under its own mutex).
 *
 *   "latency_seconds": {"buckets": [[0.001, 3], [0.0025, 5], ...],
 *                       "count": 9, "sum": 0.42}
 *
 * Buckets are cumulative (Prometheus's `le`); the last one is +Inf and
 * is `count`, so it is not listed.
 */
#ifndef TW_HISTOGRAM_H
#define TW_HISTOGRAM_H

#include <stdint.h>
#include <cjson/cJSON.h>

#define HISTOGRAM_NBOUNDS 14

struct histogram {
	uint64_t counts[HISTOGRAM_NBOUNDS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

extern const double histogram_bounds[HISTOGRAM_NBOUNDS];

/* A negative or NaN value counts as 0. */
void histogram_observe(struct histogram *h, double seconds);

/* Add the object above under name to parent. */
void histogram_json(const struct histogram *h, cJSON *parent, const char *name);

#endif
