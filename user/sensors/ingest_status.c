/*
 * What the ingest counts, for status.json's "sensors" section and for the
 * warning lines that say, once a second, what was lost since the last.
 * Losses (something never arrived) are kept apart from cuts (it arrived
 * shortened): a reviewer must know when the monitor was blind.
 */
#include <stdio.h>
#include <stdlib.h>
#include "lib/log.h"
#include "sensors/ingest_priv.h"
#include "sensors/proctable.h"
#include "sensors/tlsattach.h"

static int drop_is_loss(int reason)
{
	return reason == TW_DROP_RINGBUF_FULL || reason == TW_DROP_CHUNK_LOST ||
	       reason == TW_DROP_META_LOST || reason == TW_DROP_READ_FAIL ||
	       reason == TW_DROP_TLS_UNSENT || reason == TW_DROP_TLS_UNPROBED;
}

static void add_num(cJSON *o, const char *name, uint64_t v)
{
	cJSON_AddNumberToObject(o, name, (double)v);
}

static void fill_captures(struct ingest *in, cJSON *o)
{
	static const char *const kinds[] = { "file_write", "sock_send", "exec_argv", "exec_env" };
	struct capture_stats cs;
	cJSON *caps, *us;

	capture_get_stats(in->cap, &cs);
	add_num(o, "records", cs.records);
	caps = cJSON_AddObjectToObject(o, "captures");
	for (int k = 0; k < 4; k++)
		add_num(caps, kinds[k], cs.captures[k]);
	add_num(caps, "connect", cs.connects);
	us = cJSON_AddObjectToObject(o, "userspace");
	add_num(us, "bad_records", cs.bad_records);
	add_num(us, "chunked", cs.chunked);
	add_num(us, "incomplete", cs.incomplete);
	add_num(us, "path_misses", cs.path_misses);
	add_num(us, "carry_cut", cs.carry_cut);
	add_num(us, "tls_held", cs.tls_held);
	add_num(us, "tls_bound", cs.tls_bound);
	add_num(us, "tls_unbound", cs.tls_unbound);
	add_num(us, "tls_bind_missed", cs.tls_bind_missed);
	add_num(us, "processes", proctable_count());
}

static void fill_drops(struct ingest *in, cJSON *o)
{
	int ncpus = monitor_ncpus(in->mon);
	uint64_t *percpu = calloc((size_t)TW_DROP_MAX * ncpus, sizeof(uint64_t));
	uint64_t lost = 0, cut = 0;
	cJSON *d = cJSON_AddObjectToObject(o, "drops");

	for (int r = 0; r < TW_DROP_MAX; r++) {
		add_num(d, monitor_drop_name(r), in->drops[r]);
		if (drop_is_loss(r))
			lost += in->drops[r];
		else
			cut += in->drops[r];
	}
	add_num(o, "lost_total", lost);
	add_num(o, "cut_total", cut);
	if (percpu && monitor_drops_percpu(in->mon, percpu) == 0) {
		cJSON *pc = cJSON_AddObjectToObject(o, "drops_per_cpu");

		for (int r = 0; r < TW_DROP_MAX; r++) {
			cJSON *arr = cJSON_AddArrayToObject(pc, monitor_drop_name(r));
			for (int c = 0; c < ncpus; c++)
				cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)percpu[(size_t)r * ncpus + c]));
		}
	}
	free(percpu);
}

static void fill_readers(struct ingest *in, cJSON *o)
{
	if (in->tail) {
		struct filetail_stats ts;
		cJSON *ft = cJSON_AddObjectToObject(o, "file_tail");

		filetail_get_stats(in->tail, &ts);
		add_num(ft, "runs", ts.notices);
		add_num(ft, "reads", ts.reads);
		add_num(ft, "bytes", ts.bytes);
		add_num(ft, "opened_by_path", ts.via_path);
		add_num(ft, "lost_ranges", ts.lost_ranges);
		add_num(ft, "short_reads", ts.short_reads);
		add_num(ft, "lost_bytes", ts.lost_bytes);
		add_num(ft, "open_files", ts.open_handles);
		add_num(ft, "orphaned_runs", ts.orphaned);
	}
	if (in->batch) {
		struct sockbatch_stats bs;
		cJSON *sb = cJSON_AddObjectToObject(o, "sock_batch");

		sockbatch_get_stats(in->batch, &bs);
		add_num(sb, "batches", bs.batches);
		add_num(sb, "takes", bs.takes);
		add_num(sb, "bytes", bs.bytes);
		add_num(sb, "sealed", bs.sealed);
		add_num(sb, "retired", bs.retired);
		add_num(sb, "orphaned", bs.orphaned);
		add_num(sb, "lost_bytes", bs.lost_bytes);
		add_num(sb, "malformed", bs.malformed);
	}
}

/* The TLS sensor: which files are probed, and what finding them cost. */
static void fill_tls(struct ingest *in, cJSON *o)
{
	const struct tlsattach *ta = monitor_tls(in->mon);
	struct tlsattach_stats s;
	const char *path;
	cJSON *t, *files;

	if (!ta)
		return;
	tlsattach_get_stats(ta, &s);
	t = cJSON_AddObjectToObject(o, "tls");
	files = cJSON_AddArrayToObject(t, "probed");
	for (unsigned i = 0; i < 64 && (path = tlsattach_probed_path(ta, i)); i++)
		cJSON_AddItemToArray(files, cJSON_CreateString(path));
	add_num(t, "files_probed", s.probed);
	add_num(t, "files_attached", s.attached);
	add_num(t, "files_examined", s.examined);
	add_num(t, "files_dropped", s.dropped);
	add_num(t, "no_symbols", s.no_symbols);
	add_num(t, "go_stripped", s.go_stripped);
	add_num(t, "failed", s.failed);
	add_num(t, "maps_scans", s.scans);
	add_num(t, "scans_skipped", s.scans_skipped);
	add_num(t, "vanished", s.vanished);
	add_num(t, "mappings", s.mappings);
	add_num(t, "mappings_known", s.known);
	add_num(t, "table_full", s.table_full);
	add_num(t, "map_records", s.map_records);
	add_num(t, "settled", s.settled);
	add_num(t, "unprobed_processes", s.unprobed_procs);
}

void ingest_status_fill(struct ingest *in, cJSON *o)
{
	add_num(o, "ringbuf_bytes", monitor_ringbuf_bytes(in->mon));
	add_num(o, "wakeup_bytes", in->opts.mon.wakeup_bytes);
	add_num(o, "capture_bytes", in->opts.mon.capture_bytes);
	add_num(o, "cpus", (uint64_t)monitor_ncpus(in->mon));
	fill_captures(in, o);
	fill_drops(in, o);
	fill_readers(in, o);
	fill_tls(in, o);
	if (in->swept) {
		cJSON *sw = cJSON_AddObjectToObject(o, "sweep");
		add_num(sw, "processes", in->sweep.procs);
		add_num(sw, "vanished", in->sweep.vanished);
		add_num(sw, "kernel_threads", in->sweep.kthreads);
		add_num(sw, "truncated", in->sweep.truncated);
	}
}

/* The kernel's counters: one line naming each reason that moved. */
static void warn_drops(struct ingest *in)
{
	uint64_t now[TW_DROP_MAX];
	char line[1024];
	size_t off = 0;

	if (monitor_drops(in->mon, now))
		return;
	for (int r = 0; r < TW_DROP_MAX; r++) {
		if (now[r] > in->drops[r] && off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - off, "%s%s +%llu (total %llu)",
					off ? ", " : "", monitor_drop_name(r),
					(unsigned long long)(now[r] - in->drops[r]),
					(unsigned long long)now[r]);
		in->drops[r] = now[r];
	}
	if (off)
		log_warn("sensors: events dropped or cut: %s", line);
}

static void warn_tail(struct ingest *in)
{
	struct filetail_stats ts;

	filetail_get_stats(in->tail, &ts);
	if (ts.orphaned > in->tail_orphaned)
		log_warn("sensors: file tail: %llu runs had no notice and were never read "
			 "(total %llu)", (unsigned long long)(ts.orphaned - in->tail_orphaned),
			 (unsigned long long)ts.orphaned);
	in->tail_orphaned = ts.orphaned;
	if (ts.lost_bytes > in->tail_lost)
		log_warn("sensors: file tail: %llu written bytes could not be read back "
			 "(file deleted or truncated first; total %llu bytes, %llu ranges)",
			 (unsigned long long)(ts.lost_bytes - in->tail_lost),
			 (unsigned long long)ts.lost_bytes,
			 (unsigned long long)(ts.lost_ranges + ts.short_reads));
	in->tail_lost = ts.lost_bytes;
}

static void warn_batch(struct ingest *in)
{
	struct sockbatch_stats bs;

	sockbatch_get_stats(in->batch, &bs);
	if (bs.orphaned > in->batch_orphaned)
		log_warn("sensors: send batch: %llu batches had no notice; their bytes were never "
			 "seen (total %llu batches, %llu bytes)",
			 (unsigned long long)(bs.orphaned - in->batch_orphaned),
			 (unsigned long long)bs.orphaned, (unsigned long long)bs.lost_bytes);
	in->batch_orphaned = bs.orphaned;
}

void ingest_warn_losses(struct ingest *in)
{
	warn_drops(in);
	if (in->tail)
		warn_tail(in);
	if (in->batch)
		warn_batch(in);
}
