/*
 * The slots a reader has work on, each with the time it falls due: the
 * active set of the file-tail reader (filetail.c) and of the send-batch
 * reader (sockbatch.c). Adding, rescheduling and removing are O(1);
 * walking the set is over its members only, not every kernel slot.
 *
 * Removing the member at index k moves the last member into k: a walk
 * that removes re-reads index k instead of advancing.
 */
#ifndef TW_DUESET_H
#define TW_DUESET_H

#include <stdint.h>

struct dueset {
	uint32_t *slot;  /* members, in no order */
	uint32_t *pos;   /* by slot: index in slot[] + 1, or 0 when absent */
	uint64_t *due;   /* by slot: CLOCK_MONOTONIC ns */
	uint32_t n, cap;
};

int dueset_init(struct dueset *d, uint32_t cap);
void dueset_free(struct dueset *d);
/* Add the slot, or move its due time. */
void dueset_put(struct dueset *d, uint32_t slot, uint64_t due_ns);
void dueset_del(struct dueset *d, uint32_t slot);
/* Milliseconds until the first member falls due, at most max_ms. */
int dueset_timeout_ms(const struct dueset *d, uint64_t now_ns, int max_ms);

static inline int dueset_has(const struct dueset *d, uint32_t slot)
{
	return d->pos[slot] != 0;
}

#endif
