/*
 * Ingest: everything between the kernel and a capture, behind one poll
 * function. It owns the loaded sensors (monitor.c), the file-tail reader
 * (filetail.c), the send-batch reader (sockbatch.c) and the capture layer
 * (capture.c), and routes every record between them in order:
 *
 *   ring record ─▶ TW_EV_SOCK_SEND carrying batch_slot: the sealed batch's
 *                  bytes are taken first (they were sent before the record)
 *               ─▶ capture_feed (captures and connects go to the hooks)
 *               ─▶ TW_EV_FILE_TAIL / TW_EV_SOCK_BATCH notice: scheduled
 *               ─▶ hooks.on_record (the caller prints exec lines from it)
 *   due tail or batch ─▶ a synthesized record ─▶ the same route
 *
 * Who owns what: the kernel claims slots and moves their words; the
 * readers take from them (filetail.h, sockbatch.h); this module only
 * decides when: on a notice, when a range or batch is due, when a record
 * seals a batch, and everything at shutdown (ingest_drain).
 *
 * Single-threaded: call every function from one loop.
 */
#ifndef TW_INGEST_H
#define TW_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "sensors/capture.h"
#include "sensors/filetail.h"
#include "sensors/monitor.h"
#include "sensors/sockbatch.h"

struct ingest_opts {
	struct monitor_opts mon;
	struct capture_opts cap;
	struct filetail_opts tail;   /* unused with mon.no_file_tail */
	struct sockbatch_opts batch; /* unused with mon.no_sock_batch */
};

struct ingest_hooks {
	capture_fn on_capture;       /* every capture, in record order */
	conn_fn on_connect;          /* every connect() */
	/* Every ring record, after the captures it completed were handed to
	 * on_capture. May be NULL. */
	monitor_event_fn on_record;
	void *ctx;
};

struct ingest;

int ingest_open(const struct ingest_opts *o, const struct ingest_hooks *h, struct ingest **out,
		char *err, size_t errsz);
/* Read argv and environ of the processes already running (sweep.c), so
 * a token sitting in one is seen; once, after the sensors are attached. */
int ingest_sweep(struct ingest *in, const char *procdir);
/* Wait at most max_wait_ms (less when a tail or batch falls due), hand
 * every queued record along, then take what is due. Returns the number of
 * ring records handled or a negative errno (-EINTR on a signal). */
int ingest_poll(struct ingest *in, int max_wait_ms);
/* Once a second: reassembly timeouts, drop warnings, process expiry. */
void ingest_tick(struct ingest *in);
/* At shutdown: read what is queued and take every tail and batch. */
void ingest_drain(struct ingest *in);
/* Captures keep this much of a stream's previous write as carry. */
void ingest_keep_tail(struct ingest *in, size_t n);
/* The "sensors" section of status.json (ingest_status.c). */
void ingest_status_fill(struct ingest *in, cJSON *o);
/* One warning line for each counter of loss that moved (ingest_status.c). */
void ingest_warn_losses(struct ingest *in);
void ingest_close(struct ingest *in);

#endif
