/*
 * The hot path from a capture to a verdict: detect tokens in the bytes,
 * look each up in the ledger cache, correlate it with the sighting into a
 * verdict, write the verdict line, and hand exposures to the revoker.
 *
 *   capture (user/sensors/capture.h) ─▶ detector_scan (user/detect/detect.h)
 *        ─▶ ledger_cache_lookup (user/ledger/ledger.h) ─▶ correlate (user/verdict/correlate.h)
 *        ─▶ verdict line (emit) ─▶ revoker_submit (user/revoke/revoke.h) + ledger status
 *
 * Single-threaded: call every function from the monitor's loop. Delivery
 * to issuers runs on the revoker's own threads.
 */
#ifndef TW_PIPELINE_H
#define TW_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "sensors/capture.h"
#include "lib/config.h"

/* Write one verdict line; the callee takes ownership of o. */
typedef void (*pipeline_emit_fn)(void *ctx, cJSON *o);

struct pipeline_opts {
	const struct tw_config *cfg;   /* policy, issuers, revocation settings */
	const char *ledger_path;       /* created when absent */
	const char *const *rules_dirs; /* extra rules, NULL-terminated; NULL: built-in only */
	int64_t boot_to_real;          /* CLOCK_BOOTTIME -> CLOCK_REALTIME */
	pipeline_emit_fn emit;
	void *emit_ctx;
	struct evstore *store;         /* every verdict is also kept here; NULL: not kept */
	size_t flood_cap;              /* detector_set_flood_cap(); 0: list every finding */
};

struct pipeline;

int pipeline_open(const struct pipeline_opts *o, struct pipeline **out, char *err, size_t errsz);
/* Rules again (built-in, then each of rules_dirs): swapped in whole when
 * they all load and compile; on failure the rules in use stay and err says why. */
int pipeline_reload_rules(struct pipeline *p, const char *const *rules_dirs, char *err, size_t errsz);
/* The flood bound (config key flood_cap), now and for every reload. */
void pipeline_set_flood_cap(struct pipeline *p, size_t cap);


/* Search one capture; emits a verdict per token found. */
int pipeline_capture(struct pipeline *p, const struct capture *c);
/* After pipeline_capture(): the bytes at the end of that capture a
 * stream's next capture must carry for tokens across the seam to be
 * found (detector_tail_need()). */
size_t pipeline_tail_need(const struct pipeline *p);

/* A connect() starts a new stream on (tgid, fd): forget its SNI/Host. */
void pipeline_connect(struct pipeline *p, const struct conn_event *c);

/* Periodic work (call every few ms): pick up new ledger entries and
 * revocation requests queued by the CLI. */
int pipeline_tick(struct pipeline *p);

/* Fill status sections: detection counters and the revocation queue.
 * Either may be NULL. */
void pipeline_status_fill(struct pipeline *p, cJSON *detection, cJSON *revocation);

void pipeline_close(struct pipeline *p);

#endif
