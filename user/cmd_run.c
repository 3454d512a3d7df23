/*
 * `tokenward run`: check preconditions, load the sensors, and turn each
 * record into a JSON line until SIGINT or SIGTERM.
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
#include "cmd.h"
#include "event.h"
#include "log.h"
#include "monitor.h"
#include "sysprep.h"
#include "util.h"

#define MAX_SINKS 4
#define DEFAULT_STATE_DIR "/var/lib/tokenward"

struct run_ctx {
	FILE *sinks[MAX_SINKS];
	int nsinks;
	int64_t boot_to_real;
	uint64_t events_out;
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
	"  --events PATH        write events to PATH ('-' for stdout); repeatable.\n"
	"                       Default: stdout and STATE_DIR/events.jsonl\n"
	"  --state-dir DIR      state directory (default " DEFAULT_STATE_DIR ")\n"
	"  --ready-file PATH    create PATH once every sensor is attached\n"
	"  --ringbuf-size SIZE  ring buffer size, a power of two (default 16M)\n"
	"  --wakeup-bytes N     wake the reader once N bytes are queued (default 64K)\n"
	"  --poll-ms N          longest wait before queued records are read (default 5)\n"
	"  --exit-after SEC     stop after SEC seconds (for scripts)\n"
	"  -v, --verbose        show libbpf's own messages\n"
	"  -h, --help           this text\n";

static int on_event(void *vctx, const void *rec, size_t len)
{
	struct run_ctx *ctx = vctx;
	cJSON *o = event_to_json(rec, len, ctx->boot_to_real);
	char *line;

	if (!o)
		return 0;
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line)
		return 0;
	for (int i = 0; i < ctx->nsinks; i++) {
		fputs(line, ctx->sinks[i]);
		fputc('\n', ctx->sinks[i]);
	}
	free(line);
	ctx->events_out++;
	return 0;
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
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "ringbuf-size", required_argument, NULL, 'b' },
		{ "wakeup-bytes", required_argument, NULL, 'w' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "exit-after", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct monitor_opts mopts = { .ringbuf_bytes = 16 << 20, .wakeup_bytes = 64 << 10 };
	const char *events[MAX_SINKS], *state_dir = DEFAULT_STATE_DIR, *ready = NULL;
	struct run_ctx ctx = { 0 };
	struct monitor *mon = NULL;
	struct sigaction sa = { 0 };
	int nevents = 0, poll_ms = 5, c, r;
	uint64_t v, deadline = 0;
	char err[512];

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
			if (util_parse_size(optarg, &v) || v < 4096 || (v & (v - 1)))
				return cmd_usage_error("run", "--ringbuf-size must be a power of two of at least 4K: '%s'", optarg);
			mopts.ringbuf_bytes = v;
			break;
		case 'w':
			if (util_parse_size(optarg, &v) || v > UINT32_MAX)
				return cmd_usage_error("run", "bad --wakeup-bytes '%s'", optarg);
			mopts.wakeup_bytes = v;
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
		case 'v': mopts.verbose = 1; log_threshold = LOG_DEBUG; break;
		case 'h': fputs(run_help, stdout); return 0;
		default: return cmd_usage_error("run", "unknown or incomplete option");
		}
	}
	if (optind < argc)
		return cmd_usage_error("run", "unexpected argument '%s'", argv[optind]);

	if ((r = sysprep_run(err, sizeof(err)))) {
		log_error("%s", err);
		return EXIT_USAGE;
	}

	if (nevents == 0) {
		static char default_path[4096];
		if (mkdir(state_dir, 0700) && errno != EEXIST) {
			log_error("cannot create state directory %s: %s", state_dir, strerror(errno));
			return EXIT_USAGE;
		}
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

	if ((r = monitor_open(&mopts, on_event, &ctx, &mon, err, sizeof(err)))) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	ctx.boot_to_real = util_boot_to_realtime_offset();
	if (ready && (r = util_touch(ready, "ready\n"))) {
		log_error("cannot create ready file %s: %s", ready, strerror(-r));
		monitor_close(mon);
		return 1;
	}
	log_info("sensors attached; watching (pid %d)", getpid());

	while (!stop_requested) {
		r = monitor_poll(mon, poll_ms);
		if (r < 0 && r != -EINTR) {
			log_error("reading the ring buffer failed: %s", strerror(-r));
			break;
		}
		flush_sinks(&ctx);
		if (deadline && util_now_ns(CLOCK_MONOTONIC) >= deadline)
			break;
	}
	/* Drain what is already queued so nothing seen is lost on shutdown. */
	monitor_poll(mon, 0);
	flush_sinks(&ctx);
	monitor_close(mon);
	if (ready)
		unlink(ready);
	log_info("detached; %llu events written", (unsigned long long)ctx.events_out);
	for (int i = 0; i < ctx.nsinks; i++)
		if (ctx.sinks[i] != stdout)
			fclose(ctx.sinks[i]);
	return r < 0 && r != -EINTR ? 1 : 0;
}
