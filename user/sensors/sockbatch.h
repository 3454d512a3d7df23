/*
 * Send batches: the bytes of small sends on stream sockets, appended by the
 * kernel to a shared slot per socket and process, taken from there every
 * few milliseconds instead of arriving as one ring record per send.
 *
 * The kernel (bpf/sockbatch.bpf.h, .c) opens a batch with a notice (struct
 * tw_batch_event: the sender and the socket's addresses) and appends each
 * later small send on the socket to the slot's data. This module schedules
 * each batch, takes the pending bytes with a compare-and-swap, and hands
 * them on as ordinary socket-send records marked TW_F_BATCHED, so capture,
 * detection and correlation see them as they see any send. A send that
 * could not be appended went through the ring and sealed the batch: the
 * caller passes its batch_slot to sockbatch_sealed() before feeding it, so
 * the socket's bytes are seen in the order they were sent. A batch idle for
 * idle_ms is freed; the next send opens a new one with a fresh notice.
 */
#ifndef TW_SOCKBATCH_H
#define TW_SOCKBATCH_H

#include <stddef.h>
#include <stdint.h>
#include "tokenward.h"

struct sockbatch_opts {
	uint32_t delay_ms; /* least time between two takes from one slot (0: 2 ms) */
	uint32_t idle_ms;  /* free a batch that took no bytes for this long (0: 200 ms) */
};
#define SOCKBATCH_DELAY_MS_DEFAULT 2
#define SOCKBATCH_IDLE_MS_DEFAULT 200

/* Takes one synthesized socket-send record; non-zero stops the run. */
typedef int (*sockbatch_feed_fn)(void *ctx, const void *rec, size_t len);

struct sockbatch_stats {
	uint64_t batches;     /* batches opened (notices received) */
	uint64_t takes;       /* takes that found bytes */
	uint64_t bytes;       /* bytes taken */
	uint64_t sealed;      /* batches sealed by a send through the ring */
	uint64_t retired;     /* idle batches freed */
	uint64_t orphaned;    /* batches whose notice never came, freed after 5 s */
	uint64_t lost_bytes;  /* bytes in those, never seen */
	uint64_t malformed;   /* notices or slot words that made no sense */
};

struct sockbatch;

struct sockbatch *sockbatch_new(struct tw_batch_slot *slots, const struct sockbatch_opts *opts,
				sockbatch_feed_fn feed, void *ctx);
void sockbatch_free(struct sockbatch *b);

/* A notice arrived: schedule its batch. Malformed notices are counted and
 * ignored (-EINVAL). */
int sockbatch_note(struct sockbatch *b, const struct tw_batch_event *e, uint64_t now_ns);

/* A ring record carried batch_slot (slot + 1): take the sealed bytes now,
 * before the caller feeds that record. Returns the feed's non-zero. */
int sockbatch_sealed(struct sockbatch *b, uint32_t batch_slot, uint64_t now_ns);

/* Take the bytes that are due (all, and free every batch, when @all: at
 * shutdown). Returns the feed callback's non-zero return, or 0. */
int sockbatch_run(struct sockbatch *b, uint64_t now_ns, int all);

/* Milliseconds until the next take is due, at most @max_ms. */
int sockbatch_timeout_ms(const struct sockbatch *b, uint64_t now_ns, int max_ms);

void sockbatch_get_stats(const struct sockbatch *b, struct sockbatch_stats *out);

#endif
