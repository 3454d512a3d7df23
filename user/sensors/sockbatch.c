/*
 * Send batches: schedule notices, take bytes from the kernel's slots. See
 * sockbatch.h for the contract and bpf/tokenward.h for the slot protocol.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sensors/dueset.h"
#include "sensors/sockbatch.h"
#include "lib/util.h"

#define BUSY_RETRY_NS 100000ull /* the kernel is between claim and publish, or appending */
#define ORPHAN_SWEEPS 5         /* seconds a used slot may go without its notice */

struct batch {
	uint64_t last_take_ns;   /* rate limit per slot */
	uint64_t last_bytes_ns;  /* idle clock */
	uint32_t orphan_sweeps;
	struct tw_batch_event ev;
};

struct sockbatch {
	struct tw_batch_slot *slots;
	struct sockbatch_opts opts;
	sockbatch_feed_fn feed;
	void *ctx;
	struct batch *bt;        /* one per kernel slot */
	struct dueset due;       /* the active batches, with when each falls due */
	uint64_t next_sweep_ns;
	struct sockbatch_stats st;
	struct tw_io_event *rec; /* a synthesized record: header, socket, then the bytes */
};

struct sockbatch *sockbatch_new(struct tw_batch_slot *slots, const struct sockbatch_opts *opts,
				sockbatch_feed_fn feed, void *ctx)
{
	struct sockbatch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	if (opts)
		b->opts = *opts;
	if (!b->opts.delay_ms)
		b->opts.delay_ms = SOCKBATCH_DELAY_MS_DEFAULT;
	if (!b->opts.idle_ms)
		b->opts.idle_ms = SOCKBATCH_IDLE_MS_DEFAULT;
	b->slots = slots;
	b->feed = feed;
	b->ctx = ctx;
	b->bt = calloc(TW_BATCH_SLOTS, sizeof(*b->bt));
	b->rec = malloc(sizeof(*b->rec) + sizeof(struct tw_sock_info) + TW_BATCH_BYTES);
	if (!b->bt || !b->rec || dueset_init(&b->due, TW_BATCH_SLOTS)) {
		sockbatch_free(b);
		return NULL;
	}
	return b;
}

void sockbatch_free(struct sockbatch *b)
{
	if (!b)
		return;
	free(b->bt);
	dueset_free(&b->due);
	free(b->rec);
	free(b);
}

static int batch_feed(struct sockbatch *b, struct batch *t, size_t len)
{
	struct tw_sock_info *si = (struct tw_sock_info *)(b->rec + 1);

	b->st.takes++;
	b->st.bytes += len;
	memset(b->rec, 0, sizeof(*b->rec));
	b->rec->hdr = t->ev.hdr;
	b->rec->hdr.type = TW_EV_SOCK_SEND;
	b->rec->hdr.flags = TW_F_BATCHED | TW_F_LAST_CHUNK;
	/* sent within the last take interval: now is closer than the notice */
	b->rec->hdr.ts_boot_ns = util_now_ns(CLOCK_BOOTTIME);
	b->rec->file_id = t->ev.file_id;
	b->rec->fd = t->ev.fd;
	b->rec->syscall = t->ev.syscall;
	b->rec->total_len = b->rec->cap_len = b->rec->data_len = (uint32_t)len;
	*si = t->ev.sock;
	return b->feed(b->ctx, b->rec, sizeof(*b->rec) + sizeof(*si) + len);
}

enum take { TAKE_KEEP, TAKE_FREE_IDLE, TAKE_FREE };

/*
 * Take the pending bytes of one batch. Bytes [0, len) do not change while
 * the word still says len: the kernel appends past them, after moving the
 * word to BUSY. So they are copied first, then the word is swapped, and
 * the copy is good only if the swap found the same word. Returns 1 when
 * the kernel is busy on the slot (try again shortly), 0 otherwise;
 * *gone is set when the batch is over (freed).
 */
static int batch_take(struct sockbatch *b, uint32_t slot, enum take how, uint64_t now_ns,
		      int *gone, int *stop)
{
	struct tw_batch_slot *s = &b->slots[slot];
	struct batch *t = &b->bt[slot];
	unsigned char *data = (unsigned char *)(b->rec + 1) + sizeof(struct tw_sock_info);
	unsigned long long w, next; /* the slot word's own type */
	uint64_t len;

	*gone = 0;
	w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);
	for (;;) {
		if ((w & TW_BATCH_TAG_MASK) != t->ev.tag || !(w & TW_BATCH_STATE)) {
			*gone = 1; /* not this batch's any more (the orphan sweep freed it) */
			return 0;
		}
		if (w & TW_BATCH_BUSY)
			return 1;
		len = w & TW_BATCH_LEN_MASK;
		if (len > TW_BATCH_BYTES) {
			b->st.malformed++;
			len = 0;
		}
		if (w & TW_BATCH_SEAL)
			next = 0; /* sealed: the kernel no longer touches it */
		else if (how == TAKE_FREE ||
			 (how == TAKE_FREE_IDLE && !len &&
			  now_ns - t->last_bytes_ns >= b->opts.idle_ms * 1000000ull))
			next = 0;
		else if (!len)
			return 0; /* nothing new */
		else
			next = TW_BATCH_PEND | t->ev.tag;
		if (len)
			memcpy(data, s->data, len);
		if (__atomic_compare_exchange_n(&s->word, &w, next, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	t->last_take_ns = now_ns;
	if (len)
		t->last_bytes_ns = now_ns;
	if (!next) {
		*gone = 1;
		if (w & TW_BATCH_SEAL)
			b->st.sealed++;
		else if (how == TAKE_FREE_IDLE)
			b->st.retired++;
	}
	if (len)
		*stop = batch_feed(b, t, len);
	return 0;
}

int sockbatch_note(struct sockbatch *b, const struct tw_batch_event *e, uint64_t now_ns)
{
	struct batch *t;

	if (e->slot >= TW_BATCH_SLOTS || (e->tag & ~TW_BATCH_TAG_MASK)) {
		b->st.malformed++;
		return -EINVAL;
	}
	b->st.batches++;
	/* The slot was free when the kernel claimed it, and only we free a
	 * slot, deactivating it at the same time: nothing of an older batch
	 * is left to take here. */
	t = &b->bt[e->slot];
	t->ev = *e;
	t->last_bytes_ns = now_ns;
	t->orphan_sweeps = 0;
	dueset_put(&b->due, e->slot, now_ns); /* the first bytes are waiting: latency matters most */
	return 0;
}

int sockbatch_sealed(struct sockbatch *b, uint32_t batch_slot, uint64_t now_ns)
{
	uint32_t slot = batch_slot - 1;
	int gone, stop = 0;

	if (!batch_slot || slot >= TW_BATCH_SLOTS || !dueset_has(&b->due, slot))
		return 0; /* its notice was lost: the orphan sweep counts the bytes */
	/* a sealed slot is never busy; a retry loop is for a slot that was
	 * not sealed after all (a stale record) */
	for (int i = 0; i < 1000 && batch_take(b, slot, TAKE_KEEP, now_ns, &gone, &stop); i++)
		sched_yield();
	if (gone)
		dueset_del(&b->due, slot);
	return stop;
}

static void sweep_orphans(struct sockbatch *b)
{
	for (uint32_t i = 0; i < TW_BATCH_SLOTS; i++) {
		struct tw_batch_slot *s = &b->slots[i];
		struct batch *t = &b->bt[i];
		unsigned long long w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE);

		if (!(w & TW_BATCH_STATE) || (w & TW_BATCH_BUSY) ||
		    (dueset_has(&b->due, i) && (w & TW_BATCH_TAG_MASK) == t->ev.tag)) {
			t->orphan_sweeps = 0;
			continue;
		}
		/* Used, with no notice here for seconds: nobody would ever take
		 * its bytes, and its sender would keep appending. Free it so the
		 * next send opens a batch we know of, and count what it held. */
		if (++t->orphan_sweeps >= ORPHAN_SWEEPS &&
		    __atomic_compare_exchange_n(&s->word, &w, 0, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			uint64_t len = w & TW_BATCH_LEN_MASK;

			t->orphan_sweeps = 0;
			b->st.orphaned++;
			b->st.lost_bytes += len <= TW_BATCH_BYTES ? len : 0;
		}
	}
}

int sockbatch_run(struct sockbatch *b, uint64_t now_ns, int all)
{
	int stop = 0;

	for (uint32_t k = 0; k < b->due.n && !stop;) {
		uint32_t slot = b->due.slot[k];
		uint64_t *due = &b->due.due[slot];
		int gone, spins = 0;

		if (!all && *due > now_ns) {
			k++;
			continue;
		}
		while (batch_take(b, slot, all ? TAKE_FREE : TAKE_FREE_IDLE, now_ns, &gone, &stop)) {
			if (!all || ++spins > 10000) {
				*due = now_ns + BUSY_RETRY_NS;
				break;
			}
			sched_yield();
		}
		if (gone) {
			dueset_del(&b->due, slot); /* the last member moves into k */
			continue;
		}
		if (*due <= now_ns)
			*due = now_ns + b->opts.delay_ms * 1000000ull;
		k++;
	}
	if (now_ns >= b->next_sweep_ns) {
		b->next_sweep_ns = now_ns + 1000000000ull;
		sweep_orphans(b);
	}
	return stop;
}

int sockbatch_timeout_ms(const struct sockbatch *b, uint64_t now_ns, int max_ms)
{
	return dueset_timeout_ms(&b->due, now_ns, max_ms);
}

void sockbatch_get_stats(const struct sockbatch *b, struct sockbatch_stats *out)
{
	*out = b->st;
}
