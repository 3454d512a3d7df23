/*
 * File tails: the bytes of sequential file writes, read back from the page
 * cache instead of copied by the kernel one write at a time.
 *
 * The kernel (bpf/filetail.bpf.h, .c, bpf/write.bpf.c) keeps a run per process and
 * file in a shared slot array: the first write of a run sends a notice
 * (struct tw_tail_event), every write that continues it only moves the
 * slot's end offset. This module schedules each notice, takes the run's
 * range from the slot with a compare-and-swap, reads those bytes from the
 * file, and hands them on as ordinary file-write records marked
 * TW_F_PAGE_CACHE, so capture, detection and correlation see them as they
 * see any write.
 *
 * The file is opened through the writer's own fd (/proc/PID/fd/N, which
 * still works after an unlink), or by its path when the fd is gone, and
 * only when it is still the same regular file (inode and device checked on
 * an O_PATH handle before anything is opened for reading). A range that
 * can no longer be read (file deleted and closed, truncated) is counted,
 * never dropped silently.
 */
#ifndef TW_FILETAIL_H
#define TW_FILETAIL_H

#include <stddef.h>
#include <stdint.h>
#include "tokenward.h"

struct filetail_opts {
	uint32_t delay_ms;     /* least time between two reads of one slot (0: 2 ms) */
	uint32_t max_handles;  /* files kept open for reading (0: 128) */
	uint32_t piece_bytes;  /* bytes per read-back record, the capture window (0: TW_CAP_DEFAULT) */
	uint64_t read_budget;  /* bytes read back per filetail_run() at most (0: 8 MiB) */
};
#define FILETAIL_BUDGET_DEFAULT (8ull << 20)
#define FILETAIL_DELAY_MS_DEFAULT 2

/* Takes one synthesized file-write record; non-zero stops the run. */
typedef int (*filetail_feed_fn)(void *ctx, const void *rec, size_t len);
/* The path userspace knows for a file id, or NULL. */
typedef const char *(*filetail_path_fn)(void *ctx, uint64_t file_id);

struct filetail_stats {
	uint64_t notices;      /* runs begun (notices received) */
	uint64_t reads;        /* ranges read back */
	uint64_t bytes;        /* bytes read back */
	uint64_t via_path;     /* files opened by path: the writer's fd was gone */
	uint64_t lost_ranges;  /* ranges not readable at all: the file is gone */
	uint64_t lost_bytes;   /* bytes of those, and bytes a truncation took */
	uint64_t short_reads;  /* ranges the file no longer held in full */
	uint64_t open_handles; /* files open for reading now */
	uint64_t orphaned;     /* runs whose notice never came, freed after 5 s unread */
};

struct filetail;

struct filetail *filetail_new(struct tw_tail_slot *slots, const struct filetail_opts *opts,
			      filetail_feed_fn feed, filetail_path_fn path, void *ctx);
void filetail_free(struct filetail *t);

/* A notice arrived: schedule its range. Malformed notices are ignored
 * (-EINVAL). */
int filetail_note(struct filetail *t, const struct tw_tail_event *e, uint64_t now_ns);

/* Read the ranges that are due (all of them when @all, at shutdown).
 * Returns the feed callback's non-zero return, or 0. */
int filetail_run(struct filetail *t, uint64_t now_ns, int all);

/* Milliseconds until the next range is due, at most @max_ms. */
int filetail_timeout_ms(const struct filetail *t, uint64_t now_ns, int max_ms);

void filetail_get_stats(const struct filetail *t, struct filetail_stats *out);

#endif
