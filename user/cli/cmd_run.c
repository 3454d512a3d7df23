/*
 * `tokenward run`: check preconditions, load the sensors, sweep /proc
 * once, and turn records into captures and JSON lines until SIGINT or
 * SIGTERM. Every second it checks the kernel's drop counters (a warning
 * line when any moved) and rewrites STATE_DIR/status.json.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "sensors/capture.h"
#include "lib/config.h"
#include "ledger/ledger.h"
#include "ledger/handoff.h"
#include "verdict/pipeline.h"
#include "cli/cmd.h"
#include "sensors/event.h"
#include "sensors/filetail.h"
#include "sensors/sockbatch.h"
#include "lib/log.h"
#include "sensors/monitor.h"
#include "sensors/proctable.h"
#include "lib/status.h"
#include "sensors/sweep.h"
#include "sensors/sysprep.h"
#include "lib/util.h"

#define MAX_SINKS 4
#define MAX_LITERALS 16
#define MAX_HITS_PER_LITERAL 8
#define TICK_NS 1000000000ull /* status, drop warnings, reassembly timeouts */
#define EXITED_GRACE_NS (5 * 1000000000ull)

struct run_ctx {
	FILE *sinks[MAX_SINKS];
	int nsinks;
	int64_t boot_to_real;
	uint64_t events_out;
	int trace_io;
	const char *literals[MAX_LITERALS];
	size_t literal_len[MAX_LITERALS];
	size_t literal_max;         /* longest watched literal */
	int nliterals;
	cJSON *exec_hits; /* literal hits of the exec record being handled */
	struct monitor *mon;
	struct capture_ctx *cap;
	struct filetail *tail;      /* NULL with --no-file-tail */
	struct filetail_opts topts;
	struct sockbatch *batch;    /* NULL with --no-sock-batch */
	struct sockbatch_opts bopts;
	uint64_t batch_orphaned;    /* last warned-about orphaned batches */
	struct monitor_opts mopts;
	uint64_t drops[TW_DROP_MAX];
	uint64_t tail_lost;         /* last warned-about filetail lost_bytes */
	uint64_t tail_orphaned;     /* and orphaned runs */
	struct sweep_stats sweep;
	int swept;
	struct pipeline *pipe;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char run_help[] =
	"usage: tokenward run [OPTIONS]\n\n"
	"Load the BPF sensors and report what they see as JSON lines.\n\n"
	"  --events PATH          write events to PATH ('-' for stdout); repeatable.\n"
	"                         Default: stdout and STATE_DIR/events.jsonl\n"
	"  --state-dir DIR        state directory (default " CONFIG_DEFAULT_STATE_DIR "); holds status.json\n"
	"  --ready-file PATH      create PATH once every sensor is attached and /proc is swept\n"
	"  --ringbuf-size SIZE    ring buffer size, a power of two (default 16M)\n"
	"  --wakeup-bytes N       wake the reader once N bytes are queued (default 64K)\n"
	"  --poll-ms N            longest wait before queued records are read (default 5)\n"
	"  --capture-bytes SIZE   content captured per write/send (default 64K, at most 1M)\n"
	"  --capture-pipes        capture writes to pipes, ttys and char devices too\n"
	"  --no-path-cache        resolve the file path in the kernel on every write\n"
	"  --stream-tail N        bytes of a stream's previous write searched with the\n"
	"                         next one, for tokens split across writes (default 1K, 0 off)\n"
	"  --cgroup DIR           watch only processes in this cgroup v2 directory\n"
	"  --no-sweep             do not read running processes' argv and environment\n"
	"  --trace-io             also print file_write, sock_send, connect and sweep events\n"
	"                         (identity, path, addresses and sizes; never content)\n"
	"  --watch-literal STR    mark events whose captured bytes hold STR (tests); repeatable\n"
	"  --config PATH          config file (default " CONFIG_DEFAULT_PATH " if present)\n"
	"  --ledger PATH          issuance ledger (default $TOKENWARD_LEDGER, else the config's)\n"
	"  --no-tls               do not capture TLS plaintext (uprobes on libssl's SSL_write)\n"
	"  --no-file-tail         copy every file write in the kernel instead of reading\n"
	"                         sequential writes back from the page cache\n"
	"  --file-tail-ms N       least time between two read-backs of one file run (default 2)\n"
	"  --no-sock-batch        send every socket send through the ring buffer instead of\n"
	"                         batching small sends on stream sockets in shared slots\n"
	"  --sock-batch-ms N      least time between two takes from one send batch (default 2)\n"
	"  --rules DIR            extra rule files (*.yaml) beside the built-in pack\n"
	"  --exit-after SEC       stop after SEC seconds (for scripts)\n"
	"  -v, --verbose          show libbpf's own messages\n"
	"  -h, --help             this text\n";

static void emit(struct run_ctx *ctx, cJSON *o)
{
	char *line = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	if (!line)
		return;
	for (int i = 0; i < ctx->nsinks; i++) {
		fputs(line, ctx->sinks[i]);
		fputc('\n', ctx->sinks[i]);
	}
	free(line);
	ctx->events_out++;
}

/*
 * Where the watched literals sit in a capture. Offsets are relative to the
 * syscall's own buffer: a hit that starts in the carried tail of the
 * previous write has a negative offset and "seam":true. Hits wholly inside
 * the carry were reported with the previous write and are skipped.
 */
static cJSON *literal_hits(struct run_ctx *ctx, const struct capture *c, const char *where)
{
	cJSON *arr = NULL;

	for (int i = 0; i < ctx->nliterals; i++) {
		const unsigned char *p = c->data, *end = c->data + c->len;
		size_t n = ctx->literal_len[i];
		int hits = 0;

		while (p < end && hits < MAX_HITS_PER_LITERAL) {
			const unsigned char *m = memmem(p, end - p, ctx->literals[i], n);
			long long off;
			cJSON *h;

			if (!m)
				break;
			p = m + 1;
			if ((size_t)(m - c->data) + n <= c->carry)
				continue;
			off = (long long)(m - c->data) - (long long)c->carry;
			h = cJSON_CreateObject();
			cJSON_AddNumberToObject(h, "index", i);
			cJSON_AddNumberToObject(h, "offset", (double)off);
			if (off < 0)
				cJSON_AddBoolToObject(h, "seam", 1);
			if (where)
				cJSON_AddStringToObject(h, "in", where);
			if (!arr)
				arr = cJSON_CreateArray();
			cJSON_AddItemToArray(arr, h);
			hits++;
		}
	}
	return arr;
}

static int on_capture(void *vctx, const struct capture *c)
{
	struct run_ctx *ctx = vctx;

	/* Verdicts first: an exposure's revocation is what must not wait. */
	if (ctx->pipe) {
		pipeline_capture(ctx->pipe, c);
		/* carry only what a token (or a watched literal) across the
		 * seam can still need */
		if (c->kind == CAP_FILE_WRITE || c->kind == CAP_SOCK_SEND) {
			size_t need = pipeline_tail_need(ctx->pipe);
			if (need < ctx->literal_max)
				need = ctx->literal_max;
			capture_keep_tail(ctx->cap, need);
		}
	}

	int exec_kind = c->kind == CAP_EXEC_ARGV || c->kind == CAP_EXEC_ENV;
	cJSON *hits = ctx->nliterals ? literal_hits(ctx, c, exec_kind ? (c->kind == CAP_EXEC_ARGV ? "argv" : "env") : NULL) : NULL;
	cJSON *o;

	/* A live exec is printed from its record, with these hits attached. */
	if (exec_kind && !c->from_sweep) {
		if (hits) {
			cJSON *h;
			if (!ctx->exec_hits)
				ctx->exec_hits = cJSON_CreateArray();
			while ((h = cJSON_DetachItemFromArray(hits, 0)))
				cJSON_AddItemToArray(ctx->exec_hits, h);
			cJSON_Delete(hits);
		}
		return 0;
	}
	if (!ctx->trace_io) {
		cJSON_Delete(hits);
		return 0;
	}
	o = event_capture_to_json(c, ctx->boot_to_real);
	if (hits)
		cJSON_AddItemToObject(o, "literals", hits);
	emit(ctx, o);
	return 0;
}

static void emit_verdict(void *vctx, cJSON *o)
{
	cJSON_AddStringToObject(o, "event", "verdict");
	emit(vctx, o);
}

static void detection_status(void *vctx, cJSON *o)
{
	pipeline_status_fill(((struct run_ctx *)vctx)->pipe, o, NULL);
}

static void revocation_status(void *vctx, cJSON *o)
{
	pipeline_status_fill(((struct run_ctx *)vctx)->pipe, NULL, o);
}

static int on_connect(void *vctx, const struct conn_event *c)
{
	struct run_ctx *ctx = vctx;

	if (ctx->pipe)
		pipeline_connect(ctx->pipe, c);
	if (ctx->trace_io)
		emit(ctx, event_conn_to_json(c, ctx->boot_to_real));
	return 0;
}

static int on_record(void *vctx, const void *rec, size_t len)
{
	struct run_ctx *ctx = vctx;
	const struct tw_hdr *h = rec;
	cJSON *o;

	ctx->exec_hits = NULL;
	/* A send that sealed a batch: the batch's bytes were sent before it. */
	if (h->type == TW_EV_SOCK_SEND && ctx->batch && len >= sizeof(struct tw_io_event) &&
	    ((const struct tw_io_event *)rec)->batch_slot)
		sockbatch_sealed(ctx->batch, ((const struct tw_io_event *)rec)->batch_slot,
				 util_now_ns(CLOCK_MONOTONIC));
	capture_feed(ctx->cap, rec, len);
	if (h->type == TW_EV_FILE_TAIL && ctx->tail && len >= sizeof(struct tw_tail_event))
		filetail_note(ctx->tail, rec, util_now_ns(CLOCK_MONOTONIC));
	if (h->type == TW_EV_SOCK_BATCH && ctx->batch && len >= sizeof(struct tw_batch_event))
		sockbatch_note(ctx->batch, rec, util_now_ns(CLOCK_MONOTONIC));
	if (h->type == TW_EV_EXEC && (o = event_to_json(rec, len, ctx->boot_to_real))) {
		if (ctx->exec_hits)
			cJSON_AddItemToObject(o, "literals", ctx->exec_hits);
		ctx->exec_hits = NULL;
		emit(ctx, o);
	}
	cJSON_Delete(ctx->exec_hits);
	ctx->exec_hits = NULL;
	return 0;
}

/* Losses (something never arrived) versus cuts (it arrived shortened). */
static int drop_is_loss(int reason)
{
	return reason == TW_DROP_RINGBUF_FULL || reason == TW_DROP_CHUNK_LOST ||
	       reason == TW_DROP_META_LOST || reason == TW_DROP_READ_FAIL;
}

static void sensors_status(void *vctx, cJSON *o)
{
	struct run_ctx *ctx = vctx;
	int ncpus = monitor_ncpus(ctx->mon);
	uint64_t *percpu = calloc((size_t)TW_DROP_MAX * ncpus, sizeof(uint64_t));
	static const char *const kinds[] = { "file_write", "sock_send", "exec_argv", "exec_env" };
	uint64_t lost = 0, cut = 0;
	struct capture_stats cs;
	cJSON *d, *pc, *caps, *us;

	cJSON_AddNumberToObject(o, "ringbuf_bytes", (double)monitor_ringbuf_bytes(ctx->mon));
	cJSON_AddNumberToObject(o, "wakeup_bytes", ctx->mopts.wakeup_bytes);
	cJSON_AddNumberToObject(o, "capture_bytes", ctx->mopts.capture_bytes);
	cJSON_AddNumberToObject(o, "cpus", ncpus);
	capture_get_stats(ctx->cap, &cs);
	cJSON_AddNumberToObject(o, "records", (double)cs.records);
	cJSON_AddNumberToObject(o, "events_written", (double)ctx->events_out);
	caps = cJSON_AddObjectToObject(o, "captures");
	for (int k = 0; k < 4; k++)
		cJSON_AddNumberToObject(caps, kinds[k], (double)cs.captures[k]);
	cJSON_AddNumberToObject(caps, "connect", (double)cs.connects);

	d = cJSON_AddObjectToObject(o, "drops");
	for (int r = 0; r < TW_DROP_MAX; r++) {
		cJSON_AddNumberToObject(d, monitor_drop_name(r), (double)ctx->drops[r]);
		if (drop_is_loss(r))
			lost += ctx->drops[r];
		else
			cut += ctx->drops[r];
	}
	cJSON_AddNumberToObject(o, "lost_total", (double)lost);
	cJSON_AddNumberToObject(o, "cut_total", (double)cut);
	if (percpu && monitor_drops_percpu(ctx->mon, percpu) == 0) {
		pc = cJSON_AddObjectToObject(o, "drops_per_cpu");
		for (int r = 0; r < TW_DROP_MAX; r++) {
			cJSON *arr = cJSON_AddArrayToObject(pc, monitor_drop_name(r));
			for (int c = 0; c < ncpus; c++)
				cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)percpu[(size_t)r * ncpus + c]));
		}
	}
	free(percpu);
	us = cJSON_AddObjectToObject(o, "userspace");
	cJSON_AddNumberToObject(us, "bad_records", (double)cs.bad_records);
	cJSON_AddNumberToObject(us, "chunked", (double)cs.chunked);
	cJSON_AddNumberToObject(us, "incomplete", (double)cs.incomplete);
	cJSON_AddNumberToObject(us, "path_misses", (double)cs.path_misses);
	cJSON_AddNumberToObject(us, "processes", (double)proctable_count());
	if (ctx->tail) {
		struct filetail_stats ts;
		cJSON *ft = cJSON_AddObjectToObject(o, "file_tail");

		filetail_get_stats(ctx->tail, &ts);
		cJSON_AddNumberToObject(ft, "runs", (double)ts.notices);
		cJSON_AddNumberToObject(ft, "reads", (double)ts.reads);
		cJSON_AddNumberToObject(ft, "bytes", (double)ts.bytes);
		cJSON_AddNumberToObject(ft, "opened_by_path", (double)ts.via_path);
		cJSON_AddNumberToObject(ft, "lost_ranges", (double)ts.lost_ranges);
		cJSON_AddNumberToObject(ft, "short_reads", (double)ts.short_reads);
		cJSON_AddNumberToObject(ft, "lost_bytes", (double)ts.lost_bytes);
		cJSON_AddNumberToObject(ft, "open_files", (double)ts.open_handles);
		cJSON_AddNumberToObject(ft, "orphaned_runs", (double)ts.orphaned);
	}
	if (ctx->batch) {
		struct sockbatch_stats bs;
		cJSON *sb = cJSON_AddObjectToObject(o, "sock_batch");

		sockbatch_get_stats(ctx->batch, &bs);
		cJSON_AddNumberToObject(sb, "batches", (double)bs.batches);
		cJSON_AddNumberToObject(sb, "takes", (double)bs.takes);
		cJSON_AddNumberToObject(sb, "bytes", (double)bs.bytes);
		cJSON_AddNumberToObject(sb, "sealed", (double)bs.sealed);
		cJSON_AddNumberToObject(sb, "retired", (double)bs.retired);
		cJSON_AddNumberToObject(sb, "orphaned", (double)bs.orphaned);
		cJSON_AddNumberToObject(sb, "lost_bytes", (double)bs.lost_bytes);
		cJSON_AddNumberToObject(sb, "malformed", (double)bs.malformed);
	}
	if (ctx->swept) {
		cJSON *sw = cJSON_AddObjectToObject(o, "sweep");
		cJSON_AddNumberToObject(sw, "processes", ctx->sweep.procs);
		cJSON_AddNumberToObject(sw, "vanished", ctx->sweep.vanished);
		cJSON_AddNumberToObject(sw, "kernel_threads", ctx->sweep.kthreads);
		cJSON_AddNumberToObject(sw, "truncated", ctx->sweep.truncated);
	}
}

/* Read the kernel's counters; one warning line naming what moved. */
static void check_drops(struct run_ctx *ctx)
{
	uint64_t now[TW_DROP_MAX];
	char line[1024];
	size_t off = 0;

	if (monitor_drops(ctx->mon, now))
		return;
	for (int r = 0; r < TW_DROP_MAX; r++) {
		if (now[r] > ctx->drops[r] && off < sizeof(line))
			off += snprintf(line + off, sizeof(line) - off, "%s%s +%llu (total %llu)",
					off ? ", " : "", monitor_drop_name(r),
					(unsigned long long)(now[r] - ctx->drops[r]),
					(unsigned long long)now[r]);
		ctx->drops[r] = now[r];
	}
	if (off)
		log_warn("sensors: events dropped or cut: %s", line);
	if (ctx->tail) {
		struct filetail_stats ts;

		filetail_get_stats(ctx->tail, &ts);
		if (ts.orphaned > ctx->tail_orphaned)
			log_warn("sensors: file tail: %llu runs had no notice and were never read "
				 "(total %llu)", (unsigned long long)(ts.orphaned - ctx->tail_orphaned),
				 (unsigned long long)ts.orphaned);
		ctx->tail_orphaned = ts.orphaned;
		if (ts.lost_bytes > ctx->tail_lost)
			log_warn("sensors: file tail: %llu written bytes could not be read back "
				 "(file deleted or truncated first; total %llu bytes, %llu ranges)",
				 (unsigned long long)(ts.lost_bytes - ctx->tail_lost),
				 (unsigned long long)ts.lost_bytes,
				 (unsigned long long)(ts.lost_ranges + ts.short_reads));
		ctx->tail_lost = ts.lost_bytes;
	}
	if (ctx->batch) {
		struct sockbatch_stats bs;

		sockbatch_get_stats(ctx->batch, &bs);
		if (bs.orphaned > ctx->batch_orphaned)
			log_warn("sensors: send batch: %llu batches had no notice; their bytes were never "
				 "seen (total %llu batches, %llu bytes)",
				 (unsigned long long)(bs.orphaned - ctx->batch_orphaned),
				 (unsigned long long)bs.orphaned, (unsigned long long)bs.lost_bytes);
		ctx->batch_orphaned = bs.orphaned;
	}
}

static const char *tail_path(void *vctx, uint64_t file_id)
{
	return capture_path(((struct run_ctx *)vctx)->cap, file_id);
}

static int open_sink(struct run_ctx *ctx, const char *path)
{
	FILE *f;

	if (ctx->nsinks == MAX_SINKS)
		return -E2BIG;
	f = strcmp(path, "-") ? fopen(path, "ae") : stdout;
	if (!f)
		return -errno;
	ctx->sinks[ctx->nsinks++] = f;
	return 0;
}

static void flush_sinks(struct run_ctx *ctx)
{
	for (int i = 0; i < ctx->nsinks; i++)
		fflush(ctx->sinks[i]);
}

int cmd_run(int argc, char **argv)
{
	enum { O_CAPTURE_BYTES = 256, O_CAPTURE_PIPES, O_NO_PATH_CACHE, O_STREAM_TAIL, O_CGROUP,
	       O_NO_SWEEP, O_TRACE_IO, O_WATCH_LITERAL, O_CONFIG, O_LEDGER, O_RULES, O_NO_TLS,
	       O_NO_FILE_TAIL, O_FILE_TAIL_MS, O_NO_SOCK_BATCH, O_SOCK_BATCH_MS };
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "ringbuf-size", required_argument, NULL, 'b' },
		{ "wakeup-bytes", required_argument, NULL, 'w' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "exit-after", required_argument, NULL, 'x' },
		{ "capture-bytes", required_argument, NULL, O_CAPTURE_BYTES },
		{ "capture-pipes", no_argument, NULL, O_CAPTURE_PIPES },
		{ "no-path-cache", no_argument, NULL, O_NO_PATH_CACHE },
		{ "stream-tail", required_argument, NULL, O_STREAM_TAIL },
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "no-sweep", no_argument, NULL, O_NO_SWEEP },
		{ "trace-io", no_argument, NULL, O_TRACE_IO },
		{ "watch-literal", required_argument, NULL, O_WATCH_LITERAL },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "ledger", required_argument, NULL, O_LEDGER },
		{ "rules", required_argument, NULL, O_RULES },
		{ "no-tls", no_argument, NULL, O_NO_TLS },
		{ "no-file-tail", no_argument, NULL, O_NO_FILE_TAIL },
		{ "file-tail-ms", required_argument, NULL, O_FILE_TAIL_MS },
		{ "no-sock-batch", no_argument, NULL, O_NO_SOCK_BATCH },
		{ "sock-batch-ms", required_argument, NULL, O_SOCK_BATCH_MS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct capture_opts copts = { .stream_tail = CAPTURE_TAIL_DEFAULT };
	const char *events[MAX_SINKS], *state_dir = NULL, *ready = NULL;
	const char *config_path = NULL, *ledger_path = NULL, *rules_dir = NULL;
	struct tw_config *cfg = NULL;
	struct run_ctx ctx = { 0 };
	struct sigaction sa = { 0 };
	int nevents = 0, poll_ms = 5, sweep = 1, c, r;
	uint64_t v, deadline = 0, next_tick, started;
	char err[512];

	ctx.mopts.ringbuf_bytes = 16 << 20;
	ctx.mopts.wakeup_bytes = 64 << 10;
	ctx.mopts.capture_bytes = TW_CAP_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (nevents == MAX_SINKS)
				return cmd_usage_error("run", "at most %d --events", MAX_SINKS);
			events[nevents++] = optarg;
			break;
		case 's': state_dir = optarg; break;
		case 'r': ready = optarg; break;
		case 'b':
			if (util_parse_size(optarg, &v) || v < 4096 || (v & (v - 1)) || v > (1ull << 31))
				return cmd_usage_error("run", "--ringbuf-size must be a power of two from 4K to 2G: '%s'", optarg);
			ctx.mopts.ringbuf_bytes = v;
			break;
		case 'w':
			if (util_parse_size(optarg, &v) || v > UINT32_MAX)
				return cmd_usage_error("run", "bad --wakeup-bytes '%s'", optarg);
			ctx.mopts.wakeup_bytes = v;
			break;
		case 'p':
			if (util_parse_size(optarg, &v) || v < 1 || v > 1000)
				return cmd_usage_error("run", "--poll-ms must be 1..1000: '%s'", optarg);
			poll_ms = v;
			break;
		case 'x':
			if (util_parse_size(optarg, &v) || v < 1)
				return cmd_usage_error("run", "bad --exit-after '%s'", optarg);
			deadline = util_now_ns(CLOCK_MONOTONIC) + v * 1000000000ull;
			break;
		case O_CAPTURE_BYTES:
			if (util_parse_size(optarg, &v) || v < 1 || v > TW_CAP_LIMIT)
				return cmd_usage_error("run", "--capture-bytes must be 1..1M: '%s'", optarg);
			ctx.mopts.capture_bytes = v;
			break;
		case O_CAPTURE_PIPES: ctx.mopts.capture_other = 1; break;
		case O_NO_PATH_CACHE: ctx.mopts.no_path_cache = 1; break;
		case O_STREAM_TAIL:
			if (util_parse_size(optarg, &v) || v > (64 << 10))
				return cmd_usage_error("run", "--stream-tail must be 0..64K: '%s'", optarg);
			copts.stream_tail = v;
			break;
		case O_CGROUP: ctx.mopts.cgroup = optarg; break;
		case O_NO_SWEEP: sweep = 0; break;
		case O_TRACE_IO: ctx.trace_io = 1; break;
		case O_WATCH_LITERAL:
			if (ctx.nliterals == MAX_LITERALS)
				return cmd_usage_error("run", "at most %d --watch-literal", MAX_LITERALS);
			if (!*optarg)
				return cmd_usage_error("run", "--watch-literal needs a non-empty string");
			ctx.literal_len[ctx.nliterals] = strlen(optarg);
			if (ctx.literal_len[ctx.nliterals] > ctx.literal_max)
				ctx.literal_max = ctx.literal_len[ctx.nliterals];
			ctx.literals[ctx.nliterals++] = optarg;
			break;
		case O_CONFIG: config_path = optarg; break;
		case O_LEDGER: ledger_path = optarg; break;
		case O_RULES: rules_dir = optarg; break;
		case O_NO_TLS: ctx.mopts.no_tls = 1; break;
		case O_NO_FILE_TAIL: ctx.mopts.no_file_tail = 1; break;
		case O_FILE_TAIL_MS:
			if (util_parse_size(optarg, &v) || v < 1 || v > 10000)
				return cmd_usage_error("run", "--file-tail-ms must be 1..10000: '%s'", optarg);
			ctx.topts.delay_ms = v;
			break;
		case O_NO_SOCK_BATCH: ctx.mopts.no_sock_batch = 1; break;
		case O_SOCK_BATCH_MS:
			if (util_parse_size(optarg, &v) || v < 1 || v > 10000)
				return cmd_usage_error("run", "--sock-batch-ms must be 1..10000: '%s'", optarg);
			ctx.bopts.delay_ms = v;
			break;
		case 'v': ctx.mopts.verbose = 1; log_threshold = LOG_DEBUG; break;
		case 'h': fputs(run_help, stdout); return 0;
		default: return cmd_usage_error("run", "unknown or incomplete option");
		}
	}
	if (optind < argc)
		return cmd_usage_error("run", "unexpected argument '%s'", argv[optind]);

	if ((r = config_load(config_path, &cfg, err, sizeof(err)))) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	if (!state_dir)
		state_dir = cfg->state_dir;
	if (!ledger_path)
		ledger_path = getenv(LEDGER_ENV) && *getenv(LEDGER_ENV) ? getenv(LEDGER_ENV) : cfg->ledger_path;
	if ((r = sysprep_run(err, sizeof(err)))) {
		log_error("%s", err);
		config_free(cfg);
		return EXIT_USAGE;
	}
	if (mkdir(state_dir, 0700) && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", state_dir, strerror(errno));
		return EXIT_USAGE;
	}
	if (nevents == 0) {
		static char default_path[4096];
		snprintf(default_path, sizeof(default_path), "%s/events.jsonl", state_dir);
		events[nevents++] = "-";
		events[nevents++] = default_path;
	}
	for (int i = 0; i < nevents; i++)
		if ((r = open_sink(&ctx, events[i]))) {
			log_error("cannot open events output %s: %s", events[i], strerror(-r));
			return EXIT_USAGE;
		}

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	{
		char list[4096];
		struct pipeline_opts po = {
			.cfg = cfg, .ledger_path = ledger_path, .rules_dir = rules_dir,
			.boot_to_real = util_boot_to_realtime_offset(),
			.emit = emit_verdict, .emit_ctx = &ctx,
		};

		handoff_revocation_list(ledger_path, list, sizeof(list));
		if (config_ensure_builtin(cfg, LEDGER_BUILTIN_ISSUER, list) ||
		    (r = pipeline_open(&po, &ctx.pipe, err, sizeof(err)))) {
			log_error("%s", err);
			config_free(cfg);
			return EXIT_USAGE;
		}
	}

	ctx.cap = capture_new(&copts, on_capture, on_connect, &ctx);
	if (!ctx.cap) {
		log_error("out of memory");
		return 1;
	}
	if ((r = monitor_open(&ctx.mopts, on_record, &ctx, &ctx.mon, err, sizeof(err)))) {
		log_error("%s", err);
		capture_free(ctx.cap);
		pipeline_close(ctx.pipe);
		config_free(cfg);
		return EXIT_USAGE;
	}
	ctx.topts.piece_bytes = ctx.mopts.capture_bytes;
	/* A file tail's read-back goes through on_record like any record. */
	if (monitor_tail_slots(ctx.mon) &&
	    !(ctx.tail = filetail_new(monitor_tail_slots(ctx.mon), &ctx.topts, on_record, tail_path, &ctx))) {
		log_error("out of memory");
		monitor_close(ctx.mon);
		return 1;
	}
	/* So does a send batch's. */
	if (monitor_batch_slots(ctx.mon) &&
	    !(ctx.batch = sockbatch_new(monitor_batch_slots(ctx.mon), &ctx.bopts, on_record, &ctx))) {
		log_error("out of memory");
		filetail_free(ctx.tail);
		monitor_close(ctx.mon);
		return 1;
	}
	started = util_now_ns(CLOCK_REALTIME);
	ctx.boot_to_real = util_boot_to_realtime_offset();
	status_add_provider("sensors", sensors_status, &ctx);
	status_add_provider("detection", detection_status, &ctx);
	status_add_provider("revocation", revocation_status, &ctx);
	/* Sweep after attaching: a process that starts from here on is seen
	 * by the exec sensor, one that started before is in /proc. */
	if (sweep) {
		r = sweep_run(ctx.cap, "/proc", getpid(), &ctx.sweep);
		if (r)
			log_warn("startup sweep of /proc incomplete: %s", strerror(r < 0 ? -r : EIO));
		ctx.swept = 1;
		log_info("swept %u running processes (%u exited meanwhile, %u kernel threads skipped)",
			 ctx.sweep.procs, ctx.sweep.vanished, ctx.sweep.kthreads);
	}
	if ((r = status_write(state_dir, 1, started)))
		log_warn("cannot write %s/%s: %s", state_dir, STATUS_FILE, strerror(-r));
	if (ready && (r = util_touch(ready, "ready\n"))) {
		log_error("cannot create ready file %s: %s", ready, strerror(-r));
		monitor_close(ctx.mon);
		return 1;
	}
	log_info("sensors attached; watching (pid %d)", getpid());

	next_tick = util_now_ns(CLOCK_MONOTONIC) + TICK_NS;
	r = 0;
	while (!stop_requested) {
		uint64_t now = util_now_ns(CLOCK_MONOTONIC);
		int wait_ms = poll_ms;

		if (ctx.tail)
			wait_ms = filetail_timeout_ms(ctx.tail, now, wait_ms);
		if (ctx.batch)
			wait_ms = sockbatch_timeout_ms(ctx.batch, now, wait_ms);
		r = monitor_poll(ctx.mon, wait_ms);
		if (r < 0 && r != -EINTR) {
			log_error("reading the ring buffer failed: %s", strerror(-r));
			break;
		}
		now = util_now_ns(CLOCK_MONOTONIC);
		if (ctx.tail)
			filetail_run(ctx.tail, now, 0);
		if (ctx.batch)
			sockbatch_run(ctx.batch, now, 0);
		pipeline_tick(ctx.pipe);
		flush_sinks(&ctx);
		now = util_now_ns(CLOCK_MONOTONIC);
		if (now >= next_tick) {
			next_tick = now + TICK_NS;
			capture_flush(ctx.cap, 0);
			check_drops(&ctx);
			proctable_expire(util_now_ns(CLOCK_BOOTTIME), EXITED_GRACE_NS);
			status_write(state_dir, 1, started);
		}
		if (deadline && now >= deadline)
			break;
	}
	/* Drain what is already queued so nothing seen is lost on shutdown. */
	monitor_poll(ctx.mon, 0);
	if (ctx.tail)
		filetail_run(ctx.tail, util_now_ns(CLOCK_MONOTONIC), 1);
	if (ctx.batch)
		sockbatch_run(ctx.batch, util_now_ns(CLOCK_MONOTONIC), 1);
	capture_flush(ctx.cap, 1);
	flush_sinks(&ctx);
	check_drops(&ctx);
	status_write(state_dir, 0, started);
	status_clear_providers();
	filetail_free(ctx.tail);
	sockbatch_free(ctx.batch);
	monitor_close(ctx.mon);
	capture_free(ctx.cap);
	pipeline_close(ctx.pipe);
	config_free(cfg);
	proctable_reset();
	if (ready)
		unlink(ready);
	log_info("detached; %llu events written", (unsigned long long)ctx.events_out);
	for (int i = 0; i < ctx.nsinks; i++)
		if (ctx.sinks[i] != stdout)
			fclose(ctx.sinks[i]);
	return r < 0 && r != -EINTR ? 1 : 0;
}
