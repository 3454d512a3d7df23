/*
 * `tokenward run`: the monitor. This file only wires the stages together;
 * each stage owns its own work:
 *
 *   sensors/ingest.c   the BPF sensors, file tails and send batches, up to
 *                      captures (one poll function)
 *   verdict/pipeline.c capture -> detection -> ledger -> verdict -> revoker
 *   output/eventlog.c  the JSON lines: execs, verdicts, --trace-io
 *   lib/status.c       STATE_DIR/status.json, once a second
 *
 * It runs in four steps, parse / open / loop / close, and every way out
 * of open and loop goes through run_close().
 */
#include <errno.h>
#include <sys/prctl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cli/cmd.h"
#include "ledger/handoff.h"
#include "ledger/ledger.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/status.h"
#include "lib/util.h"
#include "output/eventlog.h"
#include "lib/safefile.h"
#include "sensors/ingest.h"
#include "sensors/sysprep.h"
#include "verdict/pipeline.h"

#define TICK_NS 1000000000ull /* status, drop warnings, reassembly timeouts */

/* What the command line (and the config file) asked for. */
struct run_opts {
	struct ingest_opts in;
	struct eventlog_opts out;
	const char *state_dir, *ready, *config_path, *ledger_path, *rules_dir;
	int poll_ms, sweep;
	uint64_t deadline;         /* CLOCK_MONOTONIC ns; 0: run until a signal */
};

/* What is open; run_close() takes down whatever of it is set. */
struct run {
	struct run_opts o;
	struct tw_config *cfg;
	struct eventlog *out;
	struct pipeline *pipe;
	struct ingest *in;
	uint64_t started;          /* CLOCK_REALTIME ns */
	int watching;              /* attached and announced: drain on close */
	uint64_t reloads;          /* SIGHUPs handled */
	char default_events[4096];
};

static volatile sig_atomic_t stop_requested, reload_requested, status_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else if (sig == SIGUSR1)
		status_requested = 1;
	else
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
	"  --capture-bytes SIZE   content captured per write/send (default 4M, at most 16M)\n"
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
	"  -h, --help             this text\n\n"
	"Signals: SIGHUP reopens the --events files (logrotate) and loads the rules\n"
	"again, keeping the old ones if the new ones do not compile; SIGUSR1 writes\n"
	"status.json now; SIGINT and SIGTERM stop it after draining what was seen.\n";

enum { O_CAPTURE_BYTES = 256, O_CAPTURE_PIPES, O_NO_PATH_CACHE, O_STREAM_TAIL, O_CGROUP,
       O_NO_SWEEP, O_TRACE_IO, O_WATCH_LITERAL, O_CONFIG, O_LEDGER, O_RULES, O_NO_TLS,
       O_NO_FILE_TAIL, O_FILE_TAIL_MS, O_NO_SOCK_BATCH, O_SOCK_BATCH_MS };

static const struct option run_options[] = {
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

/* Options with a number: parsed and range-checked here. */
static int parse_number_opt(int c, const char *arg, struct run_opts *o)
{
	struct monitor_opts *m = &o->in.mon;
	uint64_t v;
	int bad = util_parse_size(arg, &v);

	switch (c) {
	case 'b':
		if (bad || v < 4096 || (v & (v - 1)) || v > (1ull << 31))
			return cmd_usage_error("run", "--ringbuf-size must be a power of two from 4K to 2G: '%s'", arg);
		m->ringbuf_bytes = v;
		break;
	case 'w':
		if (bad || v > UINT32_MAX)
			return cmd_usage_error("run", "bad --wakeup-bytes '%s'", arg);
		m->wakeup_bytes = v;
		break;
	case 'p':
		if (bad || v < 1 || v > 1000)
			return cmd_usage_error("run", "--poll-ms must be 1..1000: '%s'", arg);
		o->poll_ms = v;
		break;
	case 'x':
		if (bad || v < 1)
			return cmd_usage_error("run", "bad --exit-after '%s'", arg);
		o->deadline = util_now_ns(CLOCK_MONOTONIC) + v * 1000000000ull;
		break;
	case O_CAPTURE_BYTES:
		if (bad || v < 1 || v > TW_CAP_LIMIT)
			return cmd_usage_error("run", "--capture-bytes must be 1..16M: '%s'", arg);
		m->capture_bytes = v;
		break;
	case O_STREAM_TAIL:
		if (bad || v > (64 << 10))
			return cmd_usage_error("run", "--stream-tail must be 0..64K: '%s'", arg);
		o->in.cap.stream_tail = v;
		break;
	case O_FILE_TAIL_MS:
		if (bad || v < 1 || v > 10000)
			return cmd_usage_error("run", "--file-tail-ms must be 1..10000: '%s'", arg);
		o->in.tail.delay_ms = v;
		break;
	case O_SOCK_BATCH_MS:
		if (bad || v < 1 || v > 10000)
			return cmd_usage_error("run", "--sock-batch-ms must be 1..10000: '%s'", arg);
		o->in.batch.delay_ms = v;
		break;
	}
	return 0;
}

/* One option; 0, or the exit code (usage error). */
static int parse_opt(int c, const char *arg, struct run_opts *o)
{
	struct monitor_opts *m = &o->in.mon;
	struct eventlog_opts *e = &o->out;

	switch (c) {
	case 'e':
		if (e->npaths == EVENTLOG_MAX_SINKS)
			return cmd_usage_error("run", "at most %d --events", EVENTLOG_MAX_SINKS);
		e->paths[e->npaths++] = arg;
		break;
	case 's': o->state_dir = arg; break;
	case 'r': o->ready = arg; break;
	case O_CAPTURE_PIPES: m->capture_other = 1; break;
	case O_NO_PATH_CACHE: m->no_path_cache = 1; break;
	case O_CGROUP: m->cgroup = arg; break;
	case O_NO_SWEEP: o->sweep = 0; break;
	case O_TRACE_IO: e->trace_io = 1; break;
	case O_WATCH_LITERAL:
		if (e->nliterals == EVENTLOG_MAX_LITERALS)
			return cmd_usage_error("run", "at most %d --watch-literal", EVENTLOG_MAX_LITERALS);
		if (!*arg)
			return cmd_usage_error("run", "--watch-literal needs a non-empty string");
		e->literals[e->nliterals++] = arg;
		break;
	case O_CONFIG: o->config_path = arg; break;
	case O_LEDGER: o->ledger_path = arg; break;
	case O_RULES: o->rules_dir = arg; break;
	case O_NO_TLS: m->no_tls = 1; break;
	case O_NO_FILE_TAIL: m->no_file_tail = 1; break;
	case O_NO_SOCK_BATCH: m->no_sock_batch = 1; break;
	case 'v': m->verbose = 1; log_threshold = LOG_DEBUG; break;
	default: return parse_number_opt(c, arg, o);
	}
	return 0;
}

/* -1 to go on, else the exit code (0 after --help). */
static int run_parse(int argc, char **argv, struct run_opts *o)
{
	int c, r;

	o->in.mon.ringbuf_bytes = 16 << 20;
	o->in.mon.wakeup_bytes = 64 << 10;
	o->in.mon.capture_bytes = TW_CAP_DEFAULT;
	o->in.cap.stream_tail = CAPTURE_TAIL_DEFAULT;
	o->poll_ms = 5;
	o->sweep = 1;
	optind = 1;
	opterr = 0; /* getopt's own message would quote the argument raw */
	while ((c = getopt_long(argc, argv, "vh", run_options, NULL)) != -1) {
		if (c == 'h') {
			fputs(run_help, stdout);
			return 0;
		}
		if (c == '?' || c == ':')
			return cmd_opt_error("run", argv, c);
		if ((r = parse_opt(c, optarg, o)))
			return r;
	}
	if (optind < argc)
		return cmd_extra_arg("run", argv[optind]);
	return -1;
}

/* ── the stages' callbacks: wiring only ─────────────────────────────── */

static int on_capture(void *vrun, const struct capture *c)
{
	struct run *run = vrun;

	/* Verdicts first: an exposure's revocation is what must not wait. */
	pipeline_capture(run->pipe, c);
	/* carry only what a token (or a watched literal) across the seam can
	 * still need */
	if (c->kind == CAP_FILE_WRITE || c->kind == CAP_SOCK_SEND) {
		size_t need = pipeline_tail_need(run->pipe);
		size_t lit = eventlog_literal_max(run->out);

		ingest_keep_tail(run->in, need > lit ? need : lit);
	}
	eventlog_capture(run->out, c);
	return 0;
}

static int on_connect(void *vrun, const struct conn_event *c)
{
	struct run *run = vrun;

	pipeline_connect(run->pipe, c);
	eventlog_connect(run->out, c);
	return 0;
}

static int on_record(void *vrun, const void *rec, size_t len)
{
	eventlog_record(((struct run *)vrun)->out, rec, len);
	return 0;
}

static void emit_verdict(void *vrun, cJSON *o)
{
	cJSON_AddStringToObject(o, "event", "verdict");
	eventlog_emit(((struct run *)vrun)->out, o);
}

static void sensors_status(void *vrun, cJSON *o)
{
	struct run *run = vrun;

	ingest_status_fill(run->in, o);
	cJSON_AddNumberToObject(o, "events_written", (double)eventlog_count(run->out));
	cJSON_AddNumberToObject(o, "events_lost", (double)eventlog_lost(run->out));
	cJSON_AddNumberToObject(o, "reloads", (double)run->reloads);
}

static void detection_status(void *vrun, cJSON *o)
{
	pipeline_status_fill(((struct run *)vrun)->pipe, o, NULL);
}

static void revocation_status(void *vrun, cJSON *o)
{
	pipeline_status_fill(((struct run *)vrun)->pipe, NULL, o);
}

/* ── open / loop / close ────────────────────────────────────────────── */

/* Config, preconditions, state directory and sinks. */
static int open_base(struct run *run, char *err, size_t errsz)
{
	struct run_opts *o = &run->o;

	/* Captured bytes hold raw tokens: no core dump may write them out,
	 * and no other process of our uid may read our memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		log_warn("cannot turn off core dumps: %s", strerror(errno));
	if (config_load(o->config_path, &run->cfg, err, errsz))
		return EXIT_USAGE;
	if (!o->state_dir)
		o->state_dir = run->cfg->state_dir;
	if (!o->ledger_path)
		o->ledger_path = getenv(LEDGER_ENV) && *getenv(LEDGER_ENV) ? getenv(LEDGER_ENV)
									     : run->cfg->ledger_path;
	if (sysprep_run(err, errsz))
		return EXIT_USAGE;
	/* Root writes status.json and events.jsonl here: nobody else may. */
	if (safefile_make_dir(o->state_dir, "state directory", err, errsz))
		return EXIT_USAGE;
	if (o->out.npaths == 0) {
		snprintf(run->default_events, sizeof(run->default_events), "%s/events.jsonl", o->state_dir);
		o->out.paths[o->out.npaths++] = "-";
		o->out.paths[o->out.npaths++] = run->default_events;
	}
	o->out.boot_to_real = util_boot_to_realtime_offset();
	return eventlog_open(&o->out, &run->out, err, errsz) ? EXIT_USAGE : 0;
}

static int open_pipeline(struct run *run, char *err, size_t errsz)
{
	char list[4096];
	struct pipeline_opts po = {
		.cfg = run->cfg, .ledger_path = run->o.ledger_path, .rules_dir = run->o.rules_dir,
		.boot_to_real = run->o.out.boot_to_real,
		.emit = emit_verdict, .emit_ctx = run,
	};

	handoff_revocation_list(run->o.ledger_path, list, sizeof(list));
	if (config_ensure_builtin(run->cfg, LEDGER_BUILTIN_ISSUER, list)) {
		snprintf(err, errsz, "out of memory");
		return 1;
	}
	return pipeline_open(&po, &run->pipe, err, errsz) ? EXIT_USAGE : 0;
}

/* Attach the sensors, sweep, announce; 0 or the exit code. */
static int open_sensors(struct run *run, char *err, size_t errsz)
{
	struct ingest_hooks hooks = {
		.on_capture = on_capture, .on_connect = on_connect, .on_record = on_record, .ctx = run,
	};
	int r;

	if ((r = ingest_open(&run->o.in, &hooks, &run->in, err, errsz)))
		return r == -ENOMEM ? 1 : EXIT_USAGE;
	run->started = util_now_ns(CLOCK_REALTIME);
	status_add_provider("sensors", sensors_status, run);
	status_add_provider("detection", detection_status, run);
	status_add_provider("revocation", revocation_status, run);
	/* Sweep after attaching: a process that starts from here on is seen
	 * by the exec sensor, one that started before is in /proc. */
	if (run->o.sweep)
		ingest_sweep(run->in, "/proc");
	if ((r = status_write(run->o.state_dir, 1, run->started)))
		log_warn("cannot write %s/%s: %s", run->o.state_dir, STATUS_FILE, strerror(-r));
	if (run->o.ready && (r = util_touch(run->o.ready, "ready\n"))) {
		snprintf(err, errsz, "cannot create ready file %s: %s", run->o.ready, strerror(-r));
		return 1;
	}
	run->watching = 1;
	log_info("sensors attached; watching (pid %d)", getpid());
	return 0;
}

static int run_open(struct run *run, char *err, size_t errsz)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int r;

	if ((r = open_base(run, err, errsz)))
		return r;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = open_pipeline(run, err, errsz)))
		return r;
	return open_sensors(run, err, errsz);
}

/* SIGHUP (logrotate, or an operator who changed the rules): the event
 * files are opened again by path, and the rules are loaded again and
 * swapped in only if they all compile. Nothing in flight is dropped: the
 * loop thread does this between two polls. */
static void run_reload(struct run *run)
{
	char err[1024] = "";

	reload_requested = 0;
	if (eventlog_reopen(run->out) == 0)
		log_info("SIGHUP: event outputs reopened");
	if (pipeline_reload_rules(run->pipe, run->o.rules_dir, err, sizeof(err)))
		log_error("SIGHUP: the new rules were not loaded, the old ones stay: %s", err);
	else
		log_info("SIGHUP: rules reloaded");
	run->reloads++;
}

/* Until a signal or --exit-after; 0, or 1 when the ring cannot be read. */
static int run_loop(struct run *run)
{
	uint64_t next_tick = util_now_ns(CLOCK_MONOTONIC) + TICK_NS, now;
	int r;

	while (!stop_requested) {
		r = ingest_poll(run->in, run->o.poll_ms);
		if (r < 0 && r != -EINTR) {
			log_error("reading the ring buffer failed: %s", strerror(-r));
			return 1;
		}
		pipeline_tick(run->pipe);
		eventlog_flush(run->out);
		if (reload_requested)
			run_reload(run);
		now = util_now_ns(CLOCK_MONOTONIC);
		if (now >= next_tick || status_requested) {
			status_requested = 0;
			next_tick = now + TICK_NS;
			ingest_tick(run->in);
			status_write(run->o.state_dir, 1, run->started);
		}
		if (run->o.deadline && now >= run->o.deadline)
			break;
	}
	return 0;
}

/* Whatever run_open() got to, in reverse; what was seen is never lost. */
static void run_close(struct run *run)
{
	if (run->watching) {
		ingest_drain(run->in);
		eventlog_flush(run->out);
		status_write(run->o.state_dir, 0, run->started);
	}
	status_clear_providers();
	ingest_close(run->in);
	pipeline_close(run->pipe);
	config_free(run->cfg);
	if (run->watching) {
		if (run->o.ready)
			unlink(run->o.ready);
		log_info("detached; %llu events written", (unsigned long long)eventlog_count(run->out));
	}
	eventlog_close(run->out);
}

int cmd_run(int argc, char **argv)
{
	struct run run = { 0 };
	char err[512] = "";
	int rc = run_parse(argc, argv, &run.o);

	if (rc >= 0)
		return rc;
	if ((rc = run_open(&run, err, sizeof(err))))
		log_error("%s", err);
	else
		rc = run_loop(&run);
	run_close(&run);
	return rc;
}
