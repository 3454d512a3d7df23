/*
 * The metrics endpoint: `run --metrics ADDR:PORT` (or the config's
 * `metrics: {listen: ...}`). One thread serves GET /metrics in the
 * Prometheus text format (output/promtext.c) from a snapshot the loop
 * thread publishes once a second (metrics_publish), so a scrape never
 * touches the monitor's own structures.
 *
 * Bounded: at most METRICS_MAX_CONNS connections at once (one more is
 * closed at once), a request of at most METRICS_MAX_REQUEST bytes, and
 * METRICS_TIMEOUT_MS from accept to the last byte sent; each refusal is
 * counted by reason (status "outputs.metrics_refused").
 */
#ifndef TW_METRICS_H
#define TW_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define METRICS_MAX_CONNS 8
#define METRICS_MAX_REQUEST 4096
#define METRICS_TIMEOUT_MS 2000

struct metrics;

/* Parse "HOST:PORT" or "[V6]:PORT" (numeric host, or "localhost").
 * 0, or -1 with the reason in err. */
int metrics_parse_listen(const char *spec, char *host, size_t hostsz, unsigned *port,
			 char *err, size_t errsz);

/* Bind and listen (a port in use fails here, with one message), then
 * start the thread. 0 or -errno with the message in err. */
int metrics_open(const char *listen_spec, struct metrics **out, char *err, size_t errsz);

/* Replace the snapshot with status (the object status_build made); the
 * caller keeps status. Loop thread only. */
void metrics_publish(struct metrics *m, const cJSON *status);

/* Figures for status.json: served, and refused by reason. */
void metrics_status(struct metrics *m, cJSON *served_into, cJSON *refused_into);

/* The bound address, "127.0.0.1:PORT" (port 0 in the spec: the one chosen). */
const char *metrics_address(const struct metrics *m);

/* NULL-safe. Stops the thread and closes every connection. */
void metrics_close(struct metrics *m);

#endif
