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
#include <stddef.h>
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
#include "lib/instlock.h"
#include "lib/log.h"
#include "lib/status.h"
#include "lib/util.h"
#include "output/eventlog.h"
#include "output/outputs.h"
#include "lib/sdnotify.h"
#include "lib/safefile.h"
#include "sensors/ingest.h"
#include "sensors/sysprep.h"
#include "verdict/pipeline.h"
#include "ledger/evstore.h"

#define TICK_NS 1000000000ull /* status, drop warnings, reassembly timeouts */
#define RUN_RULES_MAX 16

/* What the command line (and the config file) asked for. */
struct run_opts {
	struct ingest_opts in;
	struct eventlog_opts out;
	const char *state_dir, *ready, *config_path, *ledger_path;
	const char *rules[RUN_RULES_MAX + 1]; /* NULL-terminated */
	const char *metrics;        /* --metrics ADDR:PORT */
	int nrules, rules_flag, events_flag, rotation_flag, poll_ms, sweep;
	uint64_t flood_cap;        /* pipeline_set_flood_cap() */
	int flood_cap_flag;        /* --flood-cap given: a reload keeps it */
	uint64_t deadline;         /* CLOCK_MONOTONIC ns; 0: run until a signal */
};

/* What is open; run_close() takes down whatever of it is set. */
struct run {
	struct run_opts o;
	struct tw_config *cfg;
	struct eventlog *out;
	struct outputs *outs;      /* syslog, webhooks, metrics, verdict counts */
	struct pipeline *pipe;
	struct ingest *in;
	struct evstore *store;     /* STATE_DIR/events.db, for reports */
	uint64_t started;          /* CLOCK_REALTIME ns */
	int watching;              /* attached and announced: drain on close */
	uint64_t reloads;          /* SIGHUPs handled */
	uint64_t config_reloads;   /* of them, those whose new config is in use */
	int lock_fd;               /* STATE_DIR/run.lock, held while running */
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
	"  --events-max-size SIZE rotate each events file before it passes SIZE, to\n"
	"                         PATH.1 .. PATH.N (default 0: never; logrotate + SIGHUP works too)\n"
	"  --events-keep N        rotated events files kept, 1..100 (default 5)\n"
	"  --flood-cap N          list at most N distinct unmanaged secrets of one rule\n"
	"                         per capture, count the rest (default 1000; 0: every one);\n"
	"                         managed tokens are always judged\n"
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
	"  --rules DIR            extra rule files (*.yaml) beside the built-in pack; repeatable\n"
	"  --metrics ADDR:PORT    serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	"                         (default: the config's metrics.listen; off without it)\n"
	"  --exit-after SEC       stop after SEC seconds (for scripts)\n"
	"  -v, --verbose          show libbpf's own messages\n"
	"  -h, --help             this text\n\n"
	"Every flag but --config, --ready-file, --exit-after, --watch-literal and -v\n"
	"has a config key (docs/CONFIG.md, `tokenward config show`); a flag wins.\n\n"
	"Signals: SIGHUP reopens the events files (logrotate) and loads the config\n"
	"and the rules again, rebuilding changed outputs and the metrics listener;\n"
	"a bad config, rule or output keeps everything as it was; SIGUSR1\n"
	"writes status.json now; SIGINT and SIGTERM stop it after draining what was seen.\n";

enum { O_CAPTURE_BYTES = 256, O_CAPTURE_PIPES, O_NO_PATH_CACHE, O_STREAM_TAIL, O_CGROUP,
       O_NO_SWEEP, O_TRACE_IO, O_WATCH_LITERAL, O_CONFIG, O_LEDGER, O_RULES, O_NO_TLS,
       O_NO_FILE_TAIL, O_FILE_TAIL_MS, O_NO_SOCK_BATCH, O_SOCK_BATCH_MS, O_METRICS,
       O_EVENTS_MAX_SIZE, O_EVENTS_KEEP, O_FLOOD_CAP };

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
	{ "events-max-size", required_argument, NULL, O_EVENTS_MAX_SIZE },
	{ "events-keep", required_argument, NULL, O_EVENTS_KEEP },
	{ "flood-cap", required_argument, NULL, O_FLOOD_CAP },
	{ "metrics", required_argument, NULL, O_METRICS },
	{ "metrics-listen", required_argument, NULL, O_METRICS },
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
	case O_EVENTS_MAX_SIZE:
		if (bad || v > (1ull << 40))
			return cmd_usage_error("run", "--events-max-size must be a size up to 1T (0: never): '%s'", arg);
		o->out.max_size = v;
		o->rotation_flag = 1;
		break;
	case O_EVENTS_KEEP:
		if (bad || v < 1 || v > 100)
			return cmd_usage_error("run", "--events-keep must be 1..100: '%s'", arg);
		o->out.keep = (int)v;
		o->rotation_flag = 1;
		break;
	case O_FLOOD_CAP:
		if (bad || v > CONFIG_FLOOD_CAP_MAX || strspn(arg, "0123456789") != strlen(arg))
			return cmd_usage_error("run", "--flood-cap must be 0 to 100000000: '%s'", arg);
		o->flood_cap = v;
		o->flood_cap_flag = 1;
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
	case O_RULES:
		if (o->nrules == RUN_RULES_MAX)
			return cmd_usage_error("run", "at most %d --rules", RUN_RULES_MAX);
		o->rules[o->nrules++] = arg;
		break;
	case O_METRICS: o->metrics = arg; break;
	case O_NO_TLS: m->no_tls = 1; break;
	case O_NO_FILE_TAIL: m->no_file_tail = 1; break;
	case O_NO_SOCK_BATCH: m->no_sock_batch = 1; break;
	case 'v': m->verbose = 1; log_threshold = LOG_DEBUG; break;
	default: return parse_number_opt(c, arg, o);
	}
	return 0;
}

/* The config's values as the options' starting point: the flags parsed
 * after this override them. */
static void run_from_config(const struct tw_config *c, struct run_opts *o)
{
	struct monitor_opts *m = &o->in.mon;

	m->ringbuf_bytes = c->ringbuf_size;
	m->wakeup_bytes = c->wakeup_bytes;
	m->capture_bytes = c->capture_size;
	m->capture_other = c->capture_pipes;
	m->no_path_cache = !c->path_cache;
	m->no_tls = !c->tls;
	m->no_file_tail = !c->file_tail;
	m->no_sock_batch = !c->sock_batch;
	m->cgroup = c->cgroup;
	o->in.cap.stream_tail = c->stream_tail;
	o->in.tail.delay_ms = c->file_tail_ms;
	o->in.batch.delay_ms = c->sock_batch_ms;
	o->poll_ms = c->poll_ms;
	o->flood_cap = c->flood_cap;
	o->sweep = c->sweep;
	o->out.trace_io = c->trace_io;
	o->out.max_size = c->events_max_size;
	o->out.keep = (int)c->events_keep;
	o->state_dir = c->state_dir;
	o->ledger_path = c->ledger_path;
	for (char **e = c->events; *e && o->out.npaths < EVENTLOG_MAX_SINKS; e++)
		o->out.paths[o->out.npaths++] = *e;
}

/* The config key each flag overrides, for `config show` and the reload. */
static const char *flag_key(const char *flag)
{
	static const char *const map[][2] = {
		{ "state-dir", "state_dir" }, { "ledger", "ledger" }, { "rules", "rules_dirs" },
		{ "events", "events" }, { "cgroup", "cgroup" }, { "ringbuf-size", "ringbuf_size" },
		{ "capture-bytes", "capture_size" }, { "wakeup-bytes", "wakeup_bytes" },
		{ "poll-ms", "poll_ms" }, { "stream-tail", "stream_tail" },
		{ "no-file-tail", "file_tail" }, { "file-tail-ms", "file_tail_ms" },
		{ "no-sock-batch", "sock_batch" }, { "sock-batch-ms", "sock_batch_ms" },
		{ "no-tls", "tls" }, { "capture-pipes", "capture_pipes" },
		{ "no-path-cache", "path_cache" }, { "no-sweep", "sweep" }, { "trace-io", "trace_io" },
		{ "events-max-size", "events_max_size" }, { "events-keep", "events_keep" },
		{ "flood-cap", "flood_cap" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(flag, map[i][0]))
			return map[i][1];
	return NULL;
}

/* Only --config, so the file is loaded before the flags that override it. */
static int run_config_path(int argc, char **argv, struct run_opts *o)
{
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", run_options, NULL)) != -1)
		if (c == O_CONFIG)
			o->config_path = optarg;
	return 0;
}

/* -1 to go on, else the exit code (0 after --help). */
static int run_parse(int argc, char **argv, struct run *run)
{
	struct run_opts *o = &run->o;
	char err[8192];
	int c, r, idx, events_flag = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(run_help, stdout);
			return 0;
		}
	run_config_path(argc, argv, o);
	/* the same file every command reads: the ledger and state directory agree */
	if (cmd_load_config("run", o->config_path, &run->cfg, err, sizeof(err)))
		return EXIT_USAGE;
	run_from_config(run->cfg, o);
	optind = 1;
	opterr = 0; /* getopt's own message would quote the argument raw */
	while ((c = getopt_long(argc, argv, "vh", run_options, &idx)) != -1) {
		const char *key;

		if (c == '?' || c == ':')
			return cmd_opt_error("run", argv, c);
		if (c == 'e' && !events_flag++)
			o->out.npaths = 0;  /* --events replaces the config's list */
		if ((r = parse_opt(c, optarg, o)))
			return r;
		if (c >= O_CAPTURE_BYTES || c == 'e' || c == 's' || c == 'b' || c == 'w' || c == 'p') {
			const char *name = c == 'e' ? "events" : c == 's' ? "state-dir" : c == 'b' ? "ringbuf-size"
					   : c == 'w' ? "wakeup-bytes" : c == 'p' ? "poll-ms" : run_options[idx].name;

			if ((key = flag_key(name)))
				config_note_flag(run->cfg, key, name);
		}
	}
	if (optind < argc)
		return cmd_extra_arg("run", argv[optind]);
	o->rules_flag = o->nrules > 0;
	o->events_flag = events_flag > 0;
	if (o->nrules == 0)
		for (char **d = run->cfg->rules_dirs; *d && o->nrules < RUN_RULES_MAX; d++)
			o->rules[o->nrules++] = *d;
	o->rules[o->nrules] = NULL;
	return -1;
}

/* The inverse of run_from_config(): what the flags changed, written back
 * so that `config show -- FLAGS` prints the values run would use. */
static int run_to_config(const struct run_opts *o, struct tw_config *c)
{
	const struct monitor_opts *m = &o->in.mon;
	char **dirs, **ev;
	int i;

	c->ringbuf_size = m->ringbuf_bytes;
	c->wakeup_bytes = m->wakeup_bytes;
	c->capture_size = m->capture_bytes;
	c->capture_pipes = m->capture_other;
	c->path_cache = !m->no_path_cache;
	c->tls = !m->no_tls;
	c->file_tail = !m->no_file_tail;
	c->sock_batch = !m->no_sock_batch;
	c->stream_tail = o->in.cap.stream_tail;
	c->file_tail_ms = o->in.tail.delay_ms;
	c->sock_batch_ms = o->in.batch.delay_ms;
	c->poll_ms = o->poll_ms;
	c->flood_cap = o->flood_cap;
	c->sweep = o->sweep;
	c->trace_io = o->out.trace_io;
	c->events_max_size = o->out.max_size;
	c->events_keep = (uint64_t)o->out.keep;
	dirs = calloc(o->nrules + 1, sizeof(char *));
	ev = calloc(o->out.npaths + 1, sizeof(char *));
	if (!dirs || !ev) {
		free(dirs);
		free(ev);
		return -1;
	}
	for (i = 0; i < o->nrules; i++)
		dirs[i] = strdup(o->rules[i]);
	for (i = 0; i < o->out.npaths; i++)
		ev[i] = strdup(o->out.paths[i]);
	/* the strings first, then the lists they may have pointed into */
	char *sd = strdup(o->state_dir), *lp = strdup(o->ledger_path), *cg = m->cgroup ? strdup(m->cgroup) : NULL;
	for (char **d = c->rules_dirs; *d; d++)
		free(*d);
	free(c->rules_dirs);
	for (char **e = c->events; *e; e++)
		free(*e);
	free(c->events);
	free(c->state_dir);
	free(c->ledger_path);
	free(c->cgroup);
	c->rules_dirs = dirs;
	c->events = ev;
	c->state_dir = sd;
	c->ledger_path = lp;
	c->cgroup = cg;
	return 0;
}

int cmd_run_config(int argc, char **argv, struct tw_config **out)
{
	struct run run = { .lock_fd = -1 };
	int rc = run_parse(argc, argv, &run);

	if (rc >= 0 || run_to_config(&run.o, run.cfg)) {
		config_free(run.cfg);
		return rc > 0 ? rc : EXIT_USAGE;
	}
	*out = run.cfg;
	return 0;
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
	outputs_verdict(((struct run *)vrun)->outs, o);
	eventlog_emit(((struct run *)vrun)->out, o);
}

static void sensors_status(void *vrun, cJSON *o)
{
	struct run *run = vrun;
	uint64_t rot, rotfail;

	ingest_status_fill(run->in, o);
	cJSON_AddNumberToObject(o, "events_written", (double)eventlog_count(run->out));
	cJSON_AddNumberToObject(o, "events_lost", (double)eventlog_lost(run->out));
	eventlog_rotation_status(run->out, &rot, &rotfail);
	cJSON_AddNumberToObject(o, "events_rotations", (double)rot);
	cJSON_AddNumberToObject(o, "events_rotate_failures", (double)rotfail);
	cJSON_AddNumberToObject(o, "reloads", (double)run->reloads);
	cJSON_AddNumberToObject(o, "config_reloads", (double)run->config_reloads);
}

static void detection_status(void *vrun, cJSON *o)
{
	pipeline_status_fill(((struct run *)vrun)->pipe, o, NULL);
}

static void revocation_status(void *vrun, cJSON *o)
{
	pipeline_status_fill(((struct run *)vrun)->pipe, NULL, o);
}

static void store_status(void *vrun, cJSON *o)
{
	evstore_status(((struct run *)vrun)->store, o);
}

/* The event store: opened before the pipeline, which queues every verdict
 * into it; the counters are sampled from the status object (store_sample). */
static int open_store(struct run *run, char *err, size_t errsz)
{
	char path[4096];
	struct evstore_retention ret = { run->cfg->retention.max_age_s, run->cfg->retention.max_bytes };

	snprintf(path, sizeof(path), "%s/%s", run->o.state_dir, EVSTORE_FILE);
	return evstore_open(path, &ret, &run->store, err, errsz) ? EXIT_USAGE : 0;
}

/* Every 10 s (force: at the end) the loss and cut counters, as status.json
 * has them: only the three sections that hold them (not the revocation
 * queue's, which asks SQLite), built on the loop thread. */
static void store_sample(struct run *run, int running, int force)
{
	cJSON *st;

	(void)running;
	if (!force && !evstore_sample_due(run->store))
		return;
	st = cJSON_CreateObject();
	sensors_status(run, cJSON_AddObjectToObject(st, "sensors"));
	detection_status(run, cJSON_AddObjectToObject(st, "detection"));
	store_status(run, cJSON_AddObjectToObject(st, "events_store"));
	evstore_sample(run->store, st, (int64_t)run->started, 1);
	cJSON_Delete(st);
}

/* ── open / loop / close ────────────────────────────────────────────── */

/* The event stream's sinks under cfg when no --events was given: the
 * config's `events`, else its file and stdout outputs, else stdout and
 * STATE_DIR/events.jsonl. The count; paths point into cfg and run. */
static int config_sinks(struct run *run, const struct tw_config *cfg, const char **paths)
{
	int n = 0;

	for (char **e = cfg->events; *e && n < EVENTLOG_MAX_SINKS; e++)
		paths[n++] = *e;
	for (size_t i = 0; !cfg->events[0] && cfg->outputs && i < cfg->outputs->n; i++) {
		const struct output_cfg *c = &cfg->outputs->v[i];

		if ((c->type == OUTPUT_FILE || c->type == OUTPUT_STDOUT) && n < EVENTLOG_MAX_SINKS)
			paths[n++] = c->type == OUTPUT_FILE ? c->path : "-";
	}
	if (n == 0) {
		snprintf(run->default_events, sizeof(run->default_events), "%s/events.jsonl", run->o.state_dir);
		paths[n++] = "-";
		paths[n++] = run->default_events;
	}
	return n;
}

/* The metrics address: --metrics, else the config's. */
static const char *metrics_listen(const struct run *run, const struct tw_config *cfg)
{
	return run->o.metrics ? run->o.metrics : cfg->outputs ? cfg->outputs->metrics_listen : NULL;
}

/* Syslog, webhooks and the metrics endpoint; a port in use or a syslog
 * address that does not resolve is a usage error. */
static int open_outputs(struct run *run, char *err, size_t errsz)
{
	const struct outputs_cfg *oc = run->cfg->outputs;
	const char *listen = metrics_listen(run, run->cfg);

	if (outputs_open(oc, listen, &run->outs, err, errsz))
		return EXIT_USAGE;
	if (outputs_metrics_address(run->outs))
		log_info("metrics on http://%s/metrics", outputs_metrics_address(run->outs));
	return 0;
}

/* The metrics endpoint's snapshot: the status object, once a tick. */
static void run_publish(struct run *run)
{
	cJSON *st;

	if (!outputs_metrics_address(run->outs) || !(st = status_build(1, run->started)))
		return;
	outputs_publish(run->outs, st);
	cJSON_Delete(st);
}

/* Config, preconditions, state directory and sinks. */
static int open_base(struct run *run, char *err, size_t errsz)
{
	struct run_opts *o = &run->o;

	/* Captured bytes hold raw tokens: no core dump may write them out,
	 * and no other process of our uid may read our memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		log_warn("cannot turn off core dumps: %s", strerror(errno));
	/* $TOKENWARD_LEDGER as for every command: a --ledger flag, then it,
	 * then the config file */
	if (config_origin_of(run->cfg, "ledger", NULL) >= 0 && getenv(LEDGER_ENV) && *getenv(LEDGER_ENV))
		o->ledger_path = getenv(LEDGER_ENV);
	/* not root, no BTF: said first, before any file is touched */
	if (sysprep_run(err, errsz))
		return EXIT_USAGE;
	/* Root writes status.json and events.jsonl here: nobody else may
	 * (an existing directory's owner and mode are checked too). */
	if (safefile_make_dir(o->state_dir, "state directory", err, errsz))
		return EXIT_USAGE;
	/* one monitor per state directory: a second would race on its files */
	if ((run->lock_fd = instlock_take(o->state_dir, err, errsz)) < 0)
		return EXIT_USAGE;
	if (!o->events_flag)
		o->out.npaths = config_sinks(run, run->cfg, o->out.paths);
	o->out.boot_to_real = util_boot_to_realtime_offset();
	if (eventlog_open(&o->out, &run->out, err, errsz))
		return EXIT_USAGE;
	return open_outputs(run, err, errsz);
}

static int open_pipeline(struct run *run, char *err, size_t errsz)
{
	char list[4096];
	struct pipeline_opts po = {
		.cfg = run->cfg, .ledger_path = run->o.ledger_path, .rules_dirs = run->o.rules,
		.boot_to_real = run->o.out.boot_to_real,
		.emit = emit_verdict, .emit_ctx = run, .store = run->store,
		.flood_cap = (size_t)run->o.flood_cap,
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
	status_add_provider("outputs", outputs_status, run->outs);
	status_add_provider("events_store", store_status, run);
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
	run_publish(run);
	sdnotify_ready(); /* Type=notify: where the ready file is made */
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
	if ((r = open_store(run, err, errsz)) || (r = open_pipeline(run, err, errsz)))
		return r;
	return open_sensors(run, err, errsz);
}

/* Keys a running monitor cannot take: their new value waits for a restart,
 * and the log says so (never silently ignored). */
static void reload_warn_restart(const struct tw_config *old, const struct tw_config *n)
{
	const struct { const char *key; int changed; } k[] = {
		{ "state_dir", strcmp(old->state_dir, n->state_dir) != 0 },
		{ "ledger", strcmp(old->ledger_path, n->ledger_path) != 0 },
		{ "ringbuf_size", old->ringbuf_size != n->ringbuf_size },
		{ "capture_size", old->capture_size != n->capture_size },
		{ "wakeup_bytes", old->wakeup_bytes != n->wakeup_bytes },
		{ "stream_tail", old->stream_tail != n->stream_tail },
		{ "file_tail", old->file_tail != n->file_tail || old->file_tail_ms != n->file_tail_ms },
		{ "sock_batch", old->sock_batch != n->sock_batch || old->sock_batch_ms != n->sock_batch_ms },
		{ "tls", old->tls != n->tls },
		{ "capture_pipes", old->capture_pipes != n->capture_pipes },
		{ "path_cache", old->path_cache != n->path_cache },
		{ "trace_io", old->trace_io != n->trace_io },
		{ "cgroup", strcmp(old->cgroup ? old->cgroup : "", n->cgroup ? n->cgroup : "") != 0 },
		{ "revocation", memcmp(&old->revocation, &n->revocation, offsetof(struct tw_revocation_cfg, key_file)) != 0 },
		{ "issuers", old->nissuers != n->nissuers + (config_issuer(old, LEDGER_BUILTIN_ISSUER) &&
							   !config_issuer(n, LEDGER_BUILTIN_ISSUER)) },
	};

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (k[i].changed && config_origin_of(old, k[i].key, NULL) >= 0)
			log_warn("SIGHUP: '%s' changed in the config; it takes effect at the next start", k[i].key);
}

/* The new config's event sinks opened beside the running ones; none
 * (*out NULL) when --events fixed them. 0 or -1 with err. */
static int reload_sinks_prepare(struct run *run, const struct tw_config *n, struct eventlog_next **out,
				char *err, size_t errsz)
{
	const char *paths[EVENTLOG_MAX_SINKS];
	int np;

	*out = NULL;
	if (run->o.events_flag)
		return 0;
	np = config_sinks(run, n, paths);
	return eventlog_prepare(run->out, paths, np, out, err, errsz) ? -1 : 0;
}

/* The outputs and event sinks of a reload that is going ahead: swapped
 * in, said in the log; the config in use then names the outputs in use. */
static void reload_outputs(struct run *run, struct tw_config *n, struct outputs_next *next,
			   struct eventlog_next *sinks)
{
	const char *was = outputs_metrics_address(run->outs);
	struct outputs_cfg *t = run->cfg->outputs;
	char old_addr[96];
	int changed = outputs_next_changed(next);

	if (sinks && eventlog_next_changed(sinks))
		log_info("SIGHUP: event outputs changed to the new config's");
	if (sinks)
		eventlog_commit(run->out, sinks);
	run->cfg->outputs = n->outputs;
	n->outputs = t;
	snprintf(old_addr, sizeof(old_addr), "%s", was ? was : "");
	outputs_commit(run->outs, next);
	if (!changed)
		return;
	log_info("SIGHUP: outputs rebuilt (replaced ones send on what they hold, then close)");
	if (outputs_metrics_address(run->outs) && strcmp(old_addr, outputs_metrics_address(run->outs)))
		log_info("metrics on http://%s/metrics", outputs_metrics_address(run->outs));
	else if (!outputs_metrics_address(run->outs) && old_addr[0])
		log_info("SIGHUP: metrics endpoint closed");
	run_publish(run);  /* a new listener serves figures at once */
}

/* The config file again: loaded and checked whole first, so a bad file
 * changes nothing (the reason is logged); then its outputs opened beside
 * the running ones, then the rules it names; then everything swapped in
 * with the live keys (policy, poll_ms, rotation). 0 when the new config
 * is in use. */
static int reload_config(struct run *run)
{
	const char *dirs[RUN_RULES_MAX + 1];
	struct tw_config *n = NULL;
	char err[8192] = "";
	int nd = 0;
	struct outputs_next *next = NULL;
	struct eventlog_next *sinks = NULL;

	if (config_load(cmd_config_path(run->o.config_path), &n, err, sizeof(err))) {
		log_error("SIGHUP: the new config was not loaded, the old one stays: %s", err);
		return -1;
	}
	/* the new outputs opened beside the running ones: one that cannot
	 * open (a port in use, a name that does not resolve) refuses the
	 * whole config, as a bad file does */
	if (outputs_prepare(run->outs, n->outputs, metrics_listen(run, n), &next, err, sizeof(err)) ||
	    reload_sinks_prepare(run, n, &sinks, err, sizeof(err))) {
		log_error("SIGHUP: the new outputs could not be opened, the old config stays: %s", err);
		outputs_abort(next);
		config_free(n);
		return -1;
	}
	if (run->o.rules_flag)
		memcpy(dirs, run->o.rules, sizeof(dirs));   /* --rules wins over the file */
	else
		for (char **d = n->rules_dirs; *d && nd < RUN_RULES_MAX; d++)
			dirs[nd++] = *d;
	if (!run->o.rules_flag)
		dirs[nd] = NULL;
	if (pipeline_reload_rules(run->pipe, dirs, err, sizeof(err))) {
		log_error("SIGHUP: the new rules were not loaded, the old ones stay: %s", err);
		outputs_abort(next);
		eventlog_abort(sinks);
		config_free(n);
		return -1;
	}
	log_info("SIGHUP: rules reloaded");
	if (!run->o.flood_cap_flag) {   /* a flag wins over the file; only a config in use changes it */
		run->o.flood_cap = n->flood_cap;
		pipeline_set_flood_cap(run->pipe, (size_t)n->flood_cap);
	}
	reload_outputs(run, n, next, sinks);
	reload_warn_restart(run->cfg, n);
	/* the revoker reads policy on this thread (revoker_submit): a plain copy */
	memcpy(run->cfg->policy, n->policy, sizeof(n->policy));
	if (config_origin_of(run->cfg, "poll_ms", NULL) >= 0)
		run->o.poll_ms = n->poll_ms;
	if (!run->o.rotation_flag)
		eventlog_set_rotation(run->out, n->events_max_size, (int)n->events_keep);
	if (!run->o.rules_flag) {
		char **t = run->cfg->rules_dirs;

		run->cfg->rules_dirs = n->rules_dirs;  /* o.rules points into these now */
		n->rules_dirs = t;
		memcpy(run->o.rules, dirs, sizeof(dirs));
		run->o.nrules = nd;
	}
	config_free(n);
	log_info("SIGHUP: config reloaded from %s", run->cfg->path ? run->cfg->path : "defaults");
	return 0;
}

/* SIGHUP (logrotate, or an operator who changed the config or the rules):
 * the event files are opened again by path; the config, its outputs and
 * the rules are loaded (opened, compiled) again beside the running ones
 * and swapped in only if all of it succeeds.
 * Nothing in flight is dropped: the loop thread does this between two
 * polls, and the ring buffer holds what arrives meanwhile. */
static void run_reload(struct run *run)
{
	reload_requested = 0;
	if (eventlog_reopen(run->out) == 0)
		log_info("SIGHUP: event outputs reopened");
	if (reload_config(run) == 0)
		run->config_reloads++;
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
		outputs_pump(run->outs);
		if (reload_requested)
			run_reload(run);
		now = util_now_ns(CLOCK_MONOTONIC);
		if (now >= next_tick || status_requested) {
			status_requested = 0;
			next_tick = now + TICK_NS;
			ingest_tick(run->in);
			status_write(run->o.state_dir, 1, run->started);
			run_publish(run);
			store_sample(run, 1, 0);
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
		sdnotify_stopping();
		ingest_drain(run->in);
		eventlog_flush(run->out);
		status_write(run->o.state_dir, 0, run->started);
		store_sample(run, 0, 1);
	}
	status_clear_providers();
	ingest_close(run->in);
	pipeline_close(run->pipe);
	outputs_close(run->outs); /* after the pipeline: its last verdicts go out too */
	instlock_release(run->lock_fd);
	evstore_close(run->store);
	if (run->watching) {
		if (run->o.ready)
			unlink(run->o.ready);
		log_info("detached; %llu events written", (unsigned long long)eventlog_count(run->out));
	}
	eventlog_close(run->out);
	/* last: the options (paths, rules dirs) and the config's file outputs,
	 * the sinks' paths, point into it */
	config_free(run->cfg);
}

int cmd_run(int argc, char **argv)
{
	struct run run = { .lock_fd = -1 };
	char err[512] = "";
	int rc = run_parse(argc, argv, &run);

	if (rc >= 0) {
		config_free(run.cfg);
		return rc;
	}
	if ((rc = run_open(&run, err, sizeof(err))))
		log_error("%s", err);
	else
		rc = run_loop(&run);
	run_close(&run);
	return rc;
}
