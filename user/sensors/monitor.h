/* The sensors: load, attach and read the BPF programs. */
#ifndef TW_MONITOR_H
#define TW_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include "tokenward.h"

struct monitor_opts {
	uint64_t ringbuf_bytes; /* ring buffer size, a power of two */
	uint32_t wakeup_bytes;  /* wake the reader once this much is queued */
	int verbose;            /* pass libbpf's own messages through */
	uint32_t capture_bytes; /* content captured per write/send; 0: TW_CAP_DEFAULT */
	int capture_other;      /* capture pipes, ttys and char devices too */
	int no_path_cache;      /* resolve the path on every file write */
	const char *cgroup;     /* cgroup v2 directory to watch; NULL: every process */
	int no_tls;             /* do not attach the TLS plaintext uprobes */
	int no_file_tail;       /* copy every file write in the kernel; never read files back */
	int no_sock_batch;      /* send every socket send through the ring, no batches */
};

/* Called for each record, in ring buffer order. Non-zero stops polling. */
typedef int (*monitor_event_fn)(void *ctx, const void *rec, size_t len);

struct monitor;

int monitor_open(const struct monitor_opts *opts, monitor_event_fn fn, void *ctx,
		 struct monitor **out, char *err, size_t errsz);
/* Wait up to timeout_ms for records and hand each to fn. Returns the
 * number handled or a negative errno (-EINTR when a signal arrived). */
int monitor_poll(struct monitor *m, int timeout_ms);
/* Sum the per-CPU drop counters. */
int monitor_drops(struct monitor *m, uint64_t out[TW_DROP_MAX]);
/* The per-CPU counters: out[reason * monitor_ncpus(m) + cpu]. */
int monitor_drops_percpu(struct monitor *m, uint64_t *out);
int monitor_ncpus(const struct monitor *m);
uint64_t monitor_ringbuf_bytes(const struct monitor *m);
const char *monitor_drop_name(int reason);
/* The TLS sensor's files (tlsattach.h), or NULL with --no-tls. */
struct tlsattach;
const struct tlsattach *monitor_tls(const struct monitor *m);
/* The kernel's file-tail slots (TW_TAIL_SLOTS of them), mapped into this
 * process, or NULL when file tails are off. */
struct tw_tail_slot *monitor_tail_slots(const struct monitor *m);
/* The kernel's send-batch slots (TW_BATCH_SLOTS), or NULL when off. */
struct tw_batch_slot *monitor_batch_slots(const struct monitor *m);
void monitor_close(struct monitor *m);

#endif
