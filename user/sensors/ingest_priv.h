/* The ingest's state, shared by ingest.c (routing) and ingest_status.c
 * (counters). Nothing outside those two files includes this. */
#ifndef TW_INGEST_PRIV_H
#define TW_INGEST_PRIV_H

#include "sensors/ingest.h"
#include "sensors/sweep.h"

struct ingest {
	struct ingest_opts opts;
	struct ingest_hooks hooks;
	struct monitor *mon;
	struct capture_ctx *cap;
	struct filetail *tail;       /* NULL with --no-file-tail */
	struct sockbatch *batch;     /* NULL with --no-sock-batch */
	struct sweep_stats sweep;
	int swept;
	/* last values warned about, so each warning names what moved */
	uint64_t drops[TW_DROP_MAX];
	uint64_t tail_lost, tail_orphaned, batch_orphaned;
};

#endif
