/*
 * The startup sweep: processes already running when the monitor starts
 * never exec in front of it, so their command lines and environments are
 * read once from /proc. Each process is entered in the process table and
 * delivered as CAP_EXEC_ARGV and CAP_EXEC_ENV captures with from_sweep
 * set, so a token already sitting in an environment is found.
 */
#ifndef TW_SWEEP_H
#define TW_SWEEP_H

#include <stdint.h>
#include "sensors/capture.h"

#define SWEEP_READ_MAX (128 << 10) /* bytes of cmdline or environ read per process */

struct sweep_stats {
	unsigned procs;    /* processes read */
	unsigned vanished; /* exited between listing and reading, or unreadable */
	unsigned kthreads; /* kernel threads: no exe, argv or environment */
	unsigned truncated;
};

/* Sweep procdir ("/proc"), skipping self_tgid. Returns 0 or the
 * callback's non-zero return. */
int sweep_run(struct capture_ctx *cc, const char *procdir, uint32_t self_tgid,
	      struct sweep_stats *st);

#endif
