/*
 * Startup cost, two ways (tools/bench-startup.sh runs both):
 *
 *   startup ready N READY_FILE -- CMD [ARG...]
 *     Runs CMD N times. Each time: exec, then wait (inotify on the ready
 *     file's directory, no polling interval) until READY_FILE exists; the
 *     time between the two is one sample. Then SIGTERM, and wait for it.
 *     Prints every sample and the median/min/max in ms.
 *
 *   startup verify OBJECT [VAR=VALUE...]
 *     Opens a linked BPF object (build/tokenward.bpf.o), sets its .rodata
 *     variables by name (as the loader would), and loads every program
 *     with BPF_LOG_STATS. Per program: the verifier's own time ("verification
 *     time N usec"), verified_insns from bpf_prog_info, and the load time
 *     (the gap between this program's load_time stamp and the previous
 *     one's, so it covers the verifier and the kernel's JIT). Nothing is
 *     attached.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define LOG_SIZE (64 << 10)
#define MAX_PROGS 64

static double now_ms(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Wait until @path exists or @pid exits; 0 when it exists. */
static int wait_ready(const char *path, pid_t pid, int deadline_ms)
{
	char dir[4096];
	int in, r = -1;
	double end = now_ms(CLOCK_MONOTONIC) + deadline_ms;

	snprintf(dir, sizeof(dir), "%s", path);
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in < 0 || inotify_add_watch(in, dirname(dir), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		perror("inotify");
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = in, .events = POLLIN };
		char buf[4096];
		int status;

		if (access(path, F_OK) == 0) {
			r = 0;
			break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "startup: the monitor exited before it was ready\n");
			break;
		}
		if (now_ms(CLOCK_MONOTONIC) > end) {
			fprintf(stderr, "startup: not ready after %d ms\n", deadline_ms);
			break;
		}
		/* a wakeup per event in the directory; the timeout only
		 * notices a monitor that died */
		if (poll(&p, 1, 100) > 0)
			while (read(in, buf, sizeof(buf)) > 0)
				;
	}
	close(in);
	return r;
}

static int cmd_ready(int argc, char **argv)
{
	int n, i;
	const char *ready;
	double *t;

	if (argc < 5 || strcmp(argv[3], "--")) {
		fprintf(stderr, "usage: startup ready N READY_FILE -- CMD [ARG...]\n");
		return 2;
	}
	n = atoi(argv[1]);
	ready = argv[2];
	t = calloc(n > 0 ? n : 1, sizeof(*t));
	for (i = 0; i < n; i++) {
		double t0;
		pid_t pid;
		int status;

		unlink(ready);
		t0 = now_ms(CLOCK_MONOTONIC);
		pid = fork();
		if (pid == 0) {
			execvp(argv[4], argv + 4);
			perror("exec");
			_exit(127);
		}
		if (pid < 0 || wait_ready(ready, pid, 120000)) {
			if (pid > 0) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
			}
			return 1;
		}
		t[i] = now_ms(CLOCK_MONOTONIC) - t0;
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
		printf("start %d: %.0f ms\n", i + 1, t[i]);
		fflush(stdout);
	}
	qsort(t, n, sizeof(*t), cmp_double);
	printf("exec->ready over %d starts: median %.0f ms, min %.0f ms, max %.0f ms\n", n,
	       n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2, t[0], t[n - 1]);
	return 0;
}

/* Set .rodata variable @name to @val, from the object's BTF. */
static int set_rodata(struct bpf_object *obj, const char *name, unsigned long long val)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	size_t size;
	char *data;
	int id, i, r;

	bpf_object__for_each_map(map, obj) {
		const char *m = bpf_map__name(map);
		size_t l = strlen(m);

		if (l >= 7 && !strcmp(m + l - 7, ".rodata"))
			break;
	}
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!map || id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, v->name_off), name))
			continue;
		const void *init = bpf_map__initial_value(map, &size);

		if (!init || vs->offset + vs->size > size)
			return -EINVAL;
		data = malloc(size);
		memcpy(data, init, size);
		if (vs->size == 8)
			*(unsigned long long *)(data + vs->offset) = val;
		else if (vs->size == 4)
			*(unsigned int *)(data + vs->offset) = val;
		else
			return -EINVAL;
		r = bpf_map__set_initial_value(map, data, size);
		free(data);
		return r;
	}
	return -ENOENT;
}

struct prog_row {
	const char *name;
	double load_ms;
	unsigned long long load_ns;
	long verify_us;
	unsigned int insns, xlated;
};

static int cmp_row(const void *a, const void *b)
{
	const struct prog_row *x = a, *y = b;

	return x->load_ns < y->load_ns ? -1 : x->load_ns > y->load_ns;
}

static int cmd_verify(int argc, char **argv)
{
	static char *logs[MAX_PROGS];
	size_t log_size = getenv("STARTUP_LOG_SIZE") ? strtoul(getenv("STARTUP_LOG_SIZE"), NULL, 0) : LOG_SIZE;
	struct prog_row rows[MAX_PROGS];
	struct bpf_program *p;
	struct bpf_object *obj;
	struct bpf_map *scratch;
	double t0, t1, sum_v = 0, sum_l = 0;
	unsigned long long sum_i = 0;
	int n = 0, i;

	if (argc < 2) {
		fprintf(stderr, "usage: startup verify OBJECT [VAR=VALUE...]\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "startup: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq)
			return 2;
		*eq = 0;
		if (set_rodata(obj, argv[i], strtoull(eq + 1, NULL, 0))) {
			fprintf(stderr, "startup: no .rodata variable %s\n", argv[i]);
			return 1;
		}
	}
	scratch = bpf_object__find_map_by_name(obj, "scratch");
	if (scratch)
		bpf_map__set_max_entries(scratch, libbpf_num_possible_cpus());
	bpf_object__for_each_program(p, obj) {
		if (n == MAX_PROGS)
			return 1;
		/* BPF_LOG_STATS; STARTUP_LOG_LEVEL=5 adds the verifier's log */
		bpf_program__set_log_level(p, getenv("STARTUP_LOG_LEVEL") ?
					       atoi(getenv("STARTUP_LOG_LEVEL")) : 4);
		logs[n] = calloc(1, log_size);
		bpf_program__set_log_buf(p, logs[n], log_size);
		rows[n++].name = bpf_program__name(p);
	}
	t0 = now_ms(CLOCK_BOOTTIME);
	if (bpf_object__load(obj)) {
		int e = errno;

		for (i = 0; i < n; i++)
			if (logs[i][0] && (!strstr(logs[i], "verification time ") || getenv("STARTUP_LOG_LEVEL")))
				fprintf(stderr, "--- %s:\n%s\n", rows[i].name,
					strlen(logs[i]) > 8192 && !getenv("STARTUP_LOG_SIZE") ?
					logs[i] + strlen(logs[i]) - 8192 : logs[i]);
		fprintf(stderr, "startup: load failed: %s\n", strerror(e));
		return 1;
	}
	t1 = now_ms(CLOCK_BOOTTIME);
	/* STARTUP_DUMP=PROG: that program's verifier log to stderr */
	for (i = 0; i < n && getenv("STARTUP_DUMP"); i++)
		if (!strcmp(rows[i].name, getenv("STARTUP_DUMP")))
			fputs(logs[i], stderr);
	i = 0;
	bpf_object__for_each_program(p, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		const char *s = strstr(logs[i], "verification time ");

		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			return 1;
		rows[i].load_ns = info.load_time;
		rows[i].insns = info.verified_insns;
		rows[i].xlated = info.xlated_prog_len / 8;
		rows[i].verify_us = s ? atol(s + strlen("verification time ")) : -1;
		i++;
	}
	qsort(rows, n, sizeof(rows[0]), cmp_row);
	printf("| program | verify (ms) | verified_insns | xlated insns | load (ms) |\n");
	printf("|---|---:|---:|---:|---:|\n");
	/* load_time is stamped when the kernel starts on a program, so a
	 * program's load runs until the next one's stamp (the last one's
	 * until bpf_object__load returns). */
	for (i = 0; i < n; i++) {
		double end = i + 1 < n ? rows[i + 1].load_ns / 1e6 : t1;

		rows[i].load_ms = end - rows[i].load_ns / 1e6;
		sum_v += rows[i].verify_us;
		sum_i += rows[i].insns;
		sum_l += rows[i].load_ms;
		printf("| %s | %.1f | %u | %u | %.1f |\n", rows[i].name, rows[i].verify_us / 1e3,
		       rows[i].insns, rows[i].xlated, rows[i].load_ms);
	}
	printf("| **all %d programs** | **%.1f** | **%llu** | | **%.1f** |\n", n, sum_v / 1e3,
	       sum_i, sum_l);
	printf("\nbpf_object__load: %.1f ms (maps and relocations before the first program: %.1f ms)\n",
	       t1 - t0, n ? rows[0].load_ns / 1e6 - t0 : 0);
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "ready"))
		return cmd_ready(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	fprintf(stderr, "usage: startup ready N READY_FILE -- CMD [ARG...]\n"
			"       startup verify OBJECT [VAR=VALUE...]\n");
	return 2;
}
