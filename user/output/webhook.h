/*
 * Verdict lines POSTed to a URL, for a SIEM or a chat bridge; separate
 * from the webhook issuer (revoke/issuer.c), which asks for a
 * revocation. The loop thread only queues a copy of the (redacted) line;
 * one thread of its own sends them in batches, a JSON array per POST,
 * and retries a failed batch with doubling backoff (backoff_base up to
 * backoff_max) until it is taken (any 2xx). The queue is bounded: a
 * verdict that finds it full is dropped and counted. At close the queue
 * is sent on, one attempt per batch, until the first batch refused;
 * whatever is left then is counted as dropped.
 */
#ifndef TW_WEBHOOK_H
#define TW_WEBHOOK_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "output/outputs_config.h"

struct webhook_out;

int webhook_out_open(const struct output_cfg *cfg, struct webhook_out **out, char *err, size_t errsz);

/* Queue a copy of line (loop thread). 0, or -1 when the queue is full (counted). */
int webhook_out_push(struct webhook_out *w, const char *line);

/* sent, failed_posts, dropped, queued_now into o. */
void webhook_out_status(struct webhook_out *w, cJSON *o);

/* failures so far: failed POSTs plus dropped verdicts */
unsigned long long webhook_out_failures(struct webhook_out *w);

/* The same url, batch, queue, timeout and backoff: a reload keeps it. */
int webhook_out_same(const struct webhook_out *w, const struct output_cfg *c);

/* Tell the thread to finish (send on what is queued, one try per batch,
 * until the first refusal) without waiting for it: a reload that
 * replaces this output retires it so, and the loop never waits on a POST. */
void webhook_out_stop(struct webhook_out *w);

/* 1 once the thread has finished: webhook_out_close is then immediate. */
int webhook_out_finished(struct webhook_out *w);

/* NULL-safe. Stops the thread and waits for it. */
void webhook_out_close(struct webhook_out *w);

#endif
