/*
 * Where verdicts go besides the event stream (output/eventlog.c), and
 * the figures every output keeps: the configured syslog and webhook
 * outputs (outputs_config.h), the metrics endpoint (metrics.h), and the
 * count of verdicts by class and action. Its status section,
 * "outputs", is what the metrics endpoint shows as
 * tokenward_verdicts_total{class,action} and
 * tokenward_output_failures_total{output}.
 *
 * The loop thread calls everything here; the webhook and the metrics
 * server have threads of their own behind their own locks.
 */
#ifndef TW_OUTPUTS_H
#define TW_OUTPUTS_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "output/outputs_config.h"

#define OUTPUTS_MAX_PAIRS 64      /* (class, action) pairs counted; more go to "other" */

struct outputs;

/* cfg may be NULL (no outputs). metrics_listen: --metrics, else the
 * config's, else NULL. A syslog address that does not resolve, or a
 * metrics port in use, fails here: 0 or -1 with one message in err. */
int outputs_open(const struct outputs_cfg *cfg, const char *metrics_listen, struct outputs **out,
		 char *err, size_t errsz);

/*
 * A reload (SIGHUP): the new config's outputs and metrics address.
 * prepare opens, beside the running set, every output that is new or
 * whose settings changed (an output with the same settings is kept, its
 * queue and connection with it; the same metrics spec keeps its
 * listener). It changes nothing running: on failure (a port in use, an
 * address that does not resolve) -1 and one message in err, and the
 * running set goes on. commit then swaps the new set in (never fails):
 * a replaced syslog output is sent on, from the loop, until its queue is
 * empty (at most 5 s), a replaced webhook's own thread sends its queue
 * on (one try per batch), and each is closed then; the old metrics
 * listener is closed at once. abort closes what prepare opened.
 */
struct outputs_next;
int outputs_prepare(const struct outputs *o, const struct outputs_cfg *cfg, const char *metrics_listen,
		    struct outputs_next **out, char *err, size_t errsz);
/* Whether the new set differs from the running one at all. */
int outputs_next_changed(const struct outputs_next *n);
void outputs_commit(struct outputs *o, struct outputs_next *n);
void outputs_abort(struct outputs_next *n);

/* Every loop pass: queued syslog messages out as far as the sockets take
 * them now, and replaced outputs closed once drained. Never waits. */
void outputs_pump(struct outputs *o);

/* One verdict (the redacted verdict object): counted, and sent to each
 * syslog and webhook output. */
void outputs_verdict(struct outputs *o, const cJSON *verdict);

/* Once a tick, with the status object status_build made: the metrics
 * endpoint's snapshot. */
void outputs_publish(struct outputs *o, const cJSON *status);

/* A status provider (status_add_provider("outputs", ...)). */
void outputs_status(void *o, cJSON *section);

/* The metrics endpoint's address, or NULL when there is none. */
const char *outputs_metrics_address(const struct outputs *o);

/* NULL-safe. The one place that waits: each syslog queue gets
 * SYSLOG_CLOSE_FLUSH_MS, each webhook its close-time drain. */
void outputs_close(struct outputs *o);

#endif
