/* Fixed-bucket latency histogram (see histogram.h). */
#include "lib/histogram.h"

/* From 1 ms (a loopback issuer) to 60 s (an issuer that answers only
 * after the backoff's longest waits). */
const double histogram_bounds[HISTOGRAM_NBOUNDS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60,
};

void histogram_observe(struct histogram *h, double s)
{
	if (!(s > 0))
		s = 0;
	for (int i = 0; i < HISTOGRAM_NBOUNDS; i++)
		if (s <= histogram_bounds[i]) {
			h->counts[i]++;
			break;
		}
	h->count++;
	h->sum += s;
}

void histogram_json(const struct histogram *h, cJSON *parent, const char *name)
{
	cJSON *o = cJSON_AddObjectToObject(parent, name);
	cJSON *b = cJSON_AddArrayToObject(o, "buckets");
	uint64_t cum = 0;

	for (int i = 0; i < HISTOGRAM_NBOUNDS; i++) {
		cJSON *pair = cJSON_CreateArray();

		cum += h->counts[i];
		cJSON_AddItemToArray(pair, cJSON_CreateNumber(histogram_bounds[i]));
		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)cum));
		cJSON_AddItemToArray(b, pair);
	}
	cJSON_AddNumberToObject(o, "count", (double)h->count);
	cJSON_AddNumberToObject(o, "sum", h->sum);
}
