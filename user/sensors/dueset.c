/* The readers' active sets (see dueset.h). */
#include <errno.h>
#include <stdlib.h>
#include "sensors/dueset.h"

int dueset_init(struct dueset *d, uint32_t cap)
{
	d->n = 0;
	d->cap = cap;
	d->slot = calloc(cap, sizeof(*d->slot));
	d->pos = calloc(cap, sizeof(*d->pos));
	d->due = calloc(cap, sizeof(*d->due));
	if (d->slot && d->pos && d->due)
		return 0;
	dueset_free(d);
	return -ENOMEM;
}

void dueset_free(struct dueset *d)
{
	free(d->slot);
	free(d->pos);
	free(d->due);
	d->slot = d->pos = NULL;
	d->due = NULL;
	d->n = 0;
}

void dueset_put(struct dueset *d, uint32_t slot, uint64_t due_ns)
{
	d->due[slot] = due_ns;
	if (!d->pos[slot]) {
		d->slot[d->n++] = slot;
		d->pos[slot] = d->n;
	}
}

void dueset_del(struct dueset *d, uint32_t slot)
{
	uint32_t k = d->pos[slot];

	if (!k)
		return;
	d->pos[slot] = 0;
	if (k - 1 != --d->n) {
		d->slot[k - 1] = d->slot[d->n];
		d->pos[d->slot[k - 1]] = k;
	}
}

int dueset_timeout_ms(const struct dueset *d, uint64_t now_ns, int max_ms)
{
	uint64_t best = (uint64_t)max_ms * 1000000ull;

	for (uint32_t k = 0; k < d->n; k++) {
		uint64_t due = d->due[d->slot[k]];
		uint64_t wait = due > now_ns ? due - now_ns : 0;
		if (wait < best)
			best = wait;
	}
	return (int)((best + 999999) / 1000000);
}
