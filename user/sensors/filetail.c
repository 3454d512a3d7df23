/*
 * File tails: schedule notices, take ranges from the kernel's slots, read
 * them back. See filetail.h for the contract and bpf/tokenward.h for the
 * slot protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "sensors/dueset.h"
#include "sensors/filetail.h"

#define BUSY_RETRY_NS 100000ull          /* the kernel is between claim and publish */
#define HANDLE_IDLE_NS (5 * 1000000000ull) /* close files not read for this long */
#define ORPHAN_SWEEPS 5                      /* seconds a pending slot may go without its notice */

struct run {
	int rfd;                 /* open for reading, or -1 */
	uint64_t last_read_ns;   /* rate limit per slot */
	uint64_t handle_used_ns;
	uint32_t busy_spins;
	int taken;               /* the range is ours (slot cleared), not all read yet */
	uint64_t rd_off, rd_end;
	uint32_t orphan_sweeps;  /* sweeps that found the slot pending with no run here */
	/* what rfd is open on */
	uint32_t h_tgid;
	uint64_t h_ino, h_start_ns;
	uint32_t h_dev;
	struct tw_tail_event ev; /* the notice of the pending run */
};

struct filetail {
	struct tw_tail_slot *slots;
	struct filetail_opts opts;
	filetail_feed_fn feed;
	filetail_path_fn path;
	void *ctx;
	struct run *runs;        /* one per kernel slot */
	struct dueset due;       /* the active runs, with when each falls due */
	uint64_t next_sweep_ns;
	struct filetail_stats st;
	struct tw_io_event *rec; /* a synthesized record: header, then piece_bytes of data */
};

struct filetail *filetail_new(struct tw_tail_slot *slots, const struct filetail_opts *opts,
			      filetail_feed_fn feed, filetail_path_fn path, void *ctx)
{
	struct filetail *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (opts)
		t->opts = *opts;
	if (!t->opts.delay_ms)
		t->opts.delay_ms = FILETAIL_DELAY_MS_DEFAULT;
	if (!t->opts.max_handles)
		t->opts.max_handles = 128;
	if (!t->opts.piece_bytes || t->opts.piece_bytes > TW_CAP_LIMIT)
		t->opts.piece_bytes = TW_CAP_DEFAULT;
	if (!t->opts.read_budget)
		t->opts.read_budget = FILETAIL_BUDGET_DEFAULT;
	t->slots = slots;
	t->feed = feed;
	t->path = path;
	t->ctx = ctx;
	t->runs = calloc(TW_TAIL_SLOTS, sizeof(*t->runs));
	t->rec = malloc(sizeof(*t->rec) + t->opts.piece_bytes);
	if (!t->runs || !t->rec || dueset_init(&t->due, TW_TAIL_SLOTS)) {
		filetail_free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < TW_TAIL_SLOTS; i++)
		t->runs[i].rfd = -1;
	return t;
}

void filetail_free(struct filetail *t)
{
	if (!t)
		return;
	if (t->runs)
		for (uint32_t i = 0; i < TW_TAIL_SLOTS; i++)
			if (t->runs[i].rfd >= 0)
				close(t->runs[i].rfd);
	free(t->runs);
	dueset_free(&t->due);
	free(t->rec);
	free(t);
}

static void handle_close(struct filetail *t, struct run *r)
{
	if (r->rfd < 0)
		return;
	close(r->rfd);
	r->rfd = -1;
	t->st.open_handles--;
}

/* An O_PATH handle opens nothing: no FIFO blocks, no device acts. Only a
 * regular file with the notice's inode and device is then opened for
 * reading, through the handle, so a path swapped in between cannot
 * redirect the read. */
static int open_checked(const char *path, const struct tw_tail_event *e)
{
	char self[64];
	struct stat st;
	int pfd, fd;

	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -1;
	if (fstat(pfd, &st) || !S_ISREG(st.st_mode) || st.st_ino != e->ino ||
	    major(st.st_dev) != (e->dev >> 20) || minor(st.st_dev) != (e->dev & 0xfffff)) {
		close(pfd);
		return -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOATIME);
	if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership or CAP_FOWNER */
		fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	close(pfd);
	return fd;
}

static void handles_trim(struct filetail *t, struct run *keep)
{
	struct run *old = NULL;

	if (t->st.open_handles < t->opts.max_handles)
		return;
	for (uint32_t i = 0; i < TW_TAIL_SLOTS; i++) {
		struct run *r = &t->runs[i];
		if (r->rfd >= 0 && r != keep && (!old || r->handle_used_ns < old->handle_used_ns))
			old = r;
	}
	if (old)
		handle_close(t, old);
}

static int handle_get(struct filetail *t, struct run *r, uint64_t now_ns)
{
	const struct tw_tail_event *e = &r->ev;
	char link[64];
	const char *p;
	int fd;

	if (r->rfd >= 0 && r->h_tgid == e->hdr.tgid && r->h_start_ns == e->hdr.start_boot_ns &&
	    r->h_ino == e->ino && r->h_dev == e->dev) {
		r->handle_used_ns = now_ns;
		return r->rfd;
	}
	handle_close(t, r);
	snprintf(link, sizeof(link), "/proc/%u/fd/%d", e->hdr.tgid, e->fd);
	fd = open_checked(link, e);
	if (fd < 0 && t->path && (p = t->path(t->ctx, e->file_id)) && *p == '/') {
		fd = open_checked(p, e);
		if (fd >= 0)
			t->st.via_path++;
	}
	if (fd < 0)
		return -1;
	handles_trim(t, r);
	r->rfd = fd;
	r->h_tgid = e->hdr.tgid;
	r->h_start_ns = e->hdr.start_boot_ns;
	r->h_ino = e->ino;
	r->h_dev = e->dev;
	r->handle_used_ns = now_ns;
	t->st.open_handles++;
	return fd;
}

/* Read what is left of a taken range, [rd_off, rd_end), in record-sized
 * pieces, at most *budget bytes of it (the monitor loop has other work:
 * a backlog is read over several turns). r->taken drops to 0 when the
 * range is done, read or lost. Returns the feed callback's non-zero. */
static int range_read(struct filetail *t, struct run *r, uint64_t now_ns, uint64_t *budget)
{
	const struct tw_tail_event *e = &r->ev;
	int fd, ret = 0;

	if (r->rd_off >= r->rd_end) {
		r->taken = 0;
		return 0;
	}
	fd = handle_get(t, r, now_ns);
	if (fd < 0) {
		t->st.lost_ranges++;
		t->st.lost_bytes += r->rd_end - r->rd_off;
		r->taken = 0;
		return 0;
	}
	if (r->rd_off == e->start)
		t->st.reads++;
	memset(t->rec, 0, sizeof(*t->rec));
	t->rec->hdr = e->hdr;
	t->rec->hdr.type = TW_EV_FILE_WRITE;
	t->rec->hdr.flags = TW_F_PAGE_CACHE | TW_F_LAST_CHUNK;
	t->rec->file_id = e->file_id;
	t->rec->fd = e->fd;
	t->rec->syscall = e->syscall;
	while (r->rd_off < r->rd_end && *budget) {
		uint64_t left = r->rd_end - r->rd_off;
		size_t want = left < t->opts.piece_bytes ? left : t->opts.piece_bytes;
		ssize_t n = pread(fd, (char *)(t->rec + 1), want, (off_t)r->rd_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* truncated (or rewritten shorter) before we got here */
			t->st.short_reads++;
			t->st.lost_bytes += left;
			r->rd_off = r->rd_end;
			break;
		}
		t->st.bytes += n;
		r->rd_off += n;
		*budget = *budget > (uint64_t)n ? *budget - n : 0;
		t->rec->total_len = t->rec->cap_len = t->rec->data_len = n;
		if ((ret = t->feed(t->ctx, t->rec, sizeof(*t->rec) + n)))
			break;
	}
	if (r->rd_off >= r->rd_end)
		r->taken = 0;
	return ret;
}

/* Take the pending range from the kernel's slot (once) and read it, within
 * the budget. Returns 1 when the kernel is mid-claim (try again shortly). */
static int run_consume(struct filetail *t, uint32_t slot, uint64_t now_ns, uint64_t *budget,
		       int *stop)
{
	struct run *r = &t->runs[slot];
	unsigned long long w; /* the slot word's own type, for the CAS */

	if (!r->taken) {
		w = __atomic_load_n(&t->slots[slot].word, __ATOMIC_ACQUIRE);
		for (;;) {
			if (!(w & TW_TAIL_PEND))
				return (w & TW_TAIL_BUSY) ? 1 : 0; /* nothing left to take */
			if ((w & TW_TAIL_TAG_MASK) != r->ev.tag)
				return 0; /* not this run's (cannot happen: only we clear PEND) */
			/* A write landing now either extended the range before
			 * this exchange (we read it) or finds the slot free and
			 * claims it anew (a new notice): no byte falls between. */
			if (__atomic_compare_exchange_n(&t->slots[slot].word, &w, 0, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				break;
		}
		r->last_read_ns = now_ns;
		r->taken = 1;
		r->rd_off = r->ev.start;
		r->rd_end = w & TW_TAIL_POS_MASK;
	}
	*stop = range_read(t, r, now_ns, budget);
	return 0;
}

int filetail_note(struct filetail *t, const struct tw_tail_event *e, uint64_t now_ns)
{
	struct run *r;
	uint64_t due;

	if (e->slot >= TW_TAIL_SLOTS || (e->tag & ~TW_TAIL_TAG_MASK) || e->end < e->start)
		return -EINVAL;
	t->st.notices++;
	r = &t->runs[e->slot];
	if (dueset_has(&t->due, e->slot) && r->taken) {
		/* The kernel started a new run on this slot while the last one's
		 * range is still being read (a backlog): finish it first, its
		 * notice is about to be replaced. */
		uint64_t all = UINT64_MAX;

		range_read(t, r, now_ns, &all);
		dueset_del(&t->due, e->slot);
	}
	due = r->last_read_ns ? r->last_read_ns + t->opts.delay_ms * 1000000ull : now_ns;
	if (due < now_ns)
		due = now_ns;
	r->ev = *e;
	dueset_put(&t->due, e->slot, due);
	return 0;
}

int filetail_run(struct filetail *t, uint64_t now_ns, int all)
{
	uint64_t budget = all ? UINT64_MAX : t->opts.read_budget;
	int stop = 0;

	for (uint32_t k = 0; k < t->due.n && !stop;) {
		uint32_t slot = t->due.slot[k];
		struct run *r = &t->runs[slot];
		uint64_t *due = &t->due.due[slot];

		if (!all && *due > now_ns) {
			k++;
			continue;
		}
		if (!budget)
			break; /* the rest next turn: the loop has other work */
		if (run_consume(t, slot, now_ns, &budget, &stop)) {
			/* the kernel is between claim and publish: moments */
			if (!all) {
				*due = now_ns + BUSY_RETRY_NS;
				k++;
				continue;
			}
			if (++r->busy_spins < 10000) {
				sched_yield();
				continue;
			}
		}
		r->busy_spins = 0;
		if (r->taken) {
			/* budget spent inside this range: go on next turn */
			*due = now_ns;
			k++;
			continue;
		}
		dueset_del(&t->due, slot); /* the last member moves into k */
	}
	if (now_ns >= t->next_sweep_ns) {
		t->next_sweep_ns = now_ns + 1000000000ull;
		for (uint32_t i = 0; i < TW_TAIL_SLOTS; i++) {
			struct run *r = &t->runs[i];
			unsigned long long w;

			if (r->rfd >= 0 && !dueset_has(&t->due, i) && now_ns - r->handle_used_ns > HANDLE_IDLE_NS)
				handle_close(t, r);
			/* A slot pending with no notice here for seconds: its notice
			 * never reached us (or was malformed). Nobody would ever read
			 * its range and its writer would keep extending it: free the
			 * slot so the next write is copied or starts a run we know
			 * of, and count it. (A notice still queued in a backlogged
			 * ring would find the slot free: counted the same way.) */
			w = __atomic_load_n(&t->slots[i].word, __ATOMIC_ACQUIRE);
			if (!(w & TW_TAIL_PEND) || dueset_has(&t->due, i)) {
				r->orphan_sweeps = 0;
				continue;
			}
			if (++r->orphan_sweeps >= ORPHAN_SWEEPS &&
			    __atomic_compare_exchange_n(&t->slots[i].word, &w, 0, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				r->orphan_sweeps = 0;
				t->st.orphaned++;
			}
		}
	}
	return stop;
}

int filetail_timeout_ms(const struct filetail *t, uint64_t now_ns, int max_ms)
{
	return dueset_timeout_ms(&t->due, now_ns, max_ms);
}

void filetail_get_stats(const struct filetail *t, struct filetail_stats *out)
{
	*out = t->st;
}
