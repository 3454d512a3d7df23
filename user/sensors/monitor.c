/*
 * Owns the BPF skeleton: sizes maps, loads and attaches every sensor, and
 * drains the ring buffer. libbpf's messages are kept back unless verbose,
 * so a failure reaches the user as one line from the caller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "tokenward.skel.h"
#include "lib/log.h"
#include "sensors/monitor.h"

struct monitor {
	struct tw_bpf *skel;
	struct ring_buffer *rb;
	monitor_event_fn fn;
	void *ctx;
	int ncpus;
	uint64_t ringbuf_bytes;
	struct bpf_link *tls_links[4];
	const char *tls_lib;
	struct tw_tail_slot *tail;  /* the kernel's tail_slots, mapped; NULL when off */
	size_t tail_bytes;
	struct tw_batch_slot *batch; /* the kernel's batch_slots, mapped; NULL when off */
	size_t batch_bytes;
};

/* Where Debian and friends keep OpenSSL 3's libssl. */
static const char *const libssl_paths[] = {
	"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3",
	"/usr/lib/aarch64-linux-gnu/libssl.so.3", "/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3",
};

/*
 * The TLS plaintext sensor: uprobes on SSL_write and SSL_write_ex in the
 * system libssl, for every process that maps it. Optional: a host without
 * libssl, or one it cannot attach to, loses TLS plaintext only, and says so.
 */
static void attach_tls(struct monitor *m)
{
	struct {
		struct bpf_program *prog;
		const char *func;
		bool ret;
	} probes[4] = {
		{ m->skel->progs.tw_ssl_write, "SSL_write", false },
		{ m->skel->progs.tw_ssl_write_ret, "SSL_write", true },
		{ m->skel->progs.tw_ssl_write_ex, "SSL_write_ex", false },
		{ m->skel->progs.tw_ssl_write_ex_ret, "SSL_write_ex", true },
	};
	const char *lib = NULL;

	for (size_t i = 0; i < sizeof(libssl_paths) / sizeof(libssl_paths[0]) && !lib; i++)
		if (access(libssl_paths[i], R_OK) == 0)
			lib = libssl_paths[i];
	if (!lib) {
		log_warn("TLS plaintext capture off: no OpenSSL 3 libssl found");
		return;
	}
	for (int i = 0; i < 4; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = probes[i].func, .retprobe = probes[i].ret);

		m->tls_links[i] = bpf_program__attach_uprobe_opts(probes[i].prog, -1, lib, 0, &uo);
		if (!m->tls_links[i]) {
			log_warn("TLS plaintext capture off: attaching to %s in %s failed: %s",
				 probes[i].func, lib, strerror(errno));
			for (int j = 0; j < i; j++) {
				bpf_link__destroy(m->tls_links[j]);
				m->tls_links[j] = NULL;
			}
			return;
		}
	}
	m->tls_lib = lib;
}

const char *monitor_tls_lib(const struct monitor *m)
{
	return m->tls_lib;
}

static int libbpf_verbose;
static char libbpf_last[512];

/* Keep libbpf's last line for the error message; print all only when asked. */
static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	if (lvl != LIBBPF_DEBUG) {
		vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, copy);
		libbpf_last[strcspn(libbpf_last, "\n")] = 0;
	}
	va_end(copy);
	if (libbpf_verbose)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct monitor *m = ctx;

	if (len < sizeof(struct tw_hdr))
		return 0;
	return m->fn(m->ctx, data, len);
}

/* mmap a BPF_F_MMAPABLE array map whole, read-write. */
static int map_shared(const struct bpf_map *map, void **out, size_t *bytes, const char *what,
		      char *err, size_t errsz)
{
	void *p;

	*bytes = (size_t)bpf_map__max_entries(map) * bpf_map__value_size(map);
	p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
	if (p == MAP_FAILED) {
		int r = -errno;

		snprintf(err, errsz, "mapping the %s slots failed: %s", what, strerror(-r));
		return r;
	}
	*out = p;
	return 0;
}

int monitor_open(const struct monitor_opts *opts, monitor_event_fn fn, void *ctx,
		 struct monitor **out, char *err, size_t errsz)
{
	struct monitor *m;
	int r;

	libbpf_verbose = opts->verbose;
	libbpf_set_print(libbpf_print);

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->ctx = ctx;
	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus <= 0)
		m->ncpus = 1;

	m->skel = tw_bpf__open();
	if (!m->skel) {
		r = -errno;
		snprintf(err, errsz, "opening the BPF object failed: %s", strerror(-r));
		goto fail;
	}
	m->skel->rodata->tw_self_tgid = getpid();
	m->skel->rodata->tw_wakeup_bytes = opts->wakeup_bytes;
	m->skel->rodata->tw_cap_max = opts->capture_bytes ? opts->capture_bytes : TW_CAP_DEFAULT;
	if (m->skel->rodata->tw_cap_max > TW_CAP_LIMIT)
		m->skel->rodata->tw_cap_max = TW_CAP_LIMIT;
	m->skel->rodata->tw_cap_other = !!opts->capture_other;
	m->skel->rodata->tw_path_cache = !opts->no_path_cache;
	m->skel->rodata->tw_filter_cgroup = opts->cgroup != NULL;
	m->skel->rodata->tw_tail_on = !opts->no_file_tail;
	m->skel->rodata->tw_batch_on = !opts->no_sock_batch;
	{
		uint64_t key = 0;
		if (getrandom(&key, sizeof(key), 0) != sizeof(key))
			key = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
		m->skel->rodata->tw_id_key = key;
	}
	m->ringbuf_bytes = opts->ringbuf_bytes;
	if ((r = bpf_map__set_max_entries(m->skel->maps.events, opts->ringbuf_bytes)) ||
	    (r = bpf_map__set_max_entries(m->skel->maps.scratch, m->ncpus))) {
		snprintf(err, errsz, "sizing BPF maps failed: %s", strerror(-r));
		goto fail;
	}
	/* uprobes need a library path: attached by attach_tls() below */
	bpf_program__set_autoattach(m->skel->progs.tw_ssl_write, false);
	bpf_program__set_autoattach(m->skel->progs.tw_ssl_write_ret, false);
	bpf_program__set_autoattach(m->skel->progs.tw_ssl_write_ex, false);
	bpf_program__set_autoattach(m->skel->progs.tw_ssl_write_ex_ret, false);
	if ((r = tw_bpf__load(m->skel))) {
		snprintf(err, errsz, "loading the BPF sensors failed: %s (%s)%s",
			 strerror(-r), libbpf_last, opts->verbose ? "" : "; -v shows libbpf's log");
		goto fail;
	}
	if (opts->cgroup) {
		int cg = open(opts->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		uint32_t zero = 0;

		if (cg < 0) {
			r = -errno;
			snprintf(err, errsz, "cannot open cgroup %s: %s", opts->cgroup, strerror(-r));
			goto fail;
		}
		r = bpf_map_update_elem(bpf_map__fd(m->skel->maps.cgroup_filter), &zero, &cg, BPF_ANY);
		close(cg);
		if (r) {
			r = -errno;
			snprintf(err, errsz, "cannot watch cgroup %s (is it a cgroup v2 directory?): %s",
				 opts->cgroup, strerror(-r));
			goto fail;
		}
	}
	if ((r = tw_bpf__attach(m->skel))) {
		snprintf(err, errsz, "attaching the BPF sensors failed: %s (%s)",
			 strerror(-r), libbpf_last);
		goto fail;
	}
	if (!opts->no_tls)
		attach_tls(m);
	/* Shared with the kernel: userspace takes pending file runs and send
	 * batches with a compare-and-swap on this memory, no syscall
	 * (user/sensors/filetail.c, user/sensors/sockbatch.c). */
	if ((!opts->no_file_tail &&
	     (r = map_shared(m->skel->maps.tail_slots, (void **)&m->tail, &m->tail_bytes,
			     "file-tail", err, errsz))) ||
	    (!opts->no_sock_batch &&
	     (r = map_shared(m->skel->maps.batch_slots, (void **)&m->batch, &m->batch_bytes,
			     "send-batch", err, errsz))))
		goto fail;
	m->rb = ring_buffer__new(bpf_map__fd(m->skel->maps.events), on_record, m, NULL);
	if (!m->rb) {
		r = -errno;
		snprintf(err, errsz, "opening the ring buffer failed: %s", strerror(-r));
		goto fail;
	}
	*out = m;
	return 0;
fail:
	monitor_close(m);
	return r < 0 ? r : -EINVAL;
}

int monitor_poll(struct monitor *m, int timeout_ms)
{
	int n = ring_buffer__poll(m->rb, timeout_ms);

	/* Records sent without a wakeup do not make epoll return; after the
	 * timeout, read whatever has queued up since. */
	if (n == 0)
		n = ring_buffer__consume(m->rb);
	return n;
}

int monitor_drops(struct monitor *m, uint64_t out[TW_DROP_MAX])
{
	uint64_t *vals = calloc(m->ncpus, sizeof(uint64_t));
	int fd = bpf_map__fd(m->skel->maps.drops);

	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < TW_DROP_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals) == 0)
			for (int c = 0; c < m->ncpus; c++)
				out[k] += vals[c];
	}
	free(vals);
	return 0;
}

int monitor_drops_percpu(struct monitor *m, uint64_t *out)
{
	int fd = bpf_map__fd(m->skel->maps.drops);

	for (uint32_t k = 0; k < TW_DROP_MAX; k++)
		if (bpf_map_lookup_elem(fd, &k, out + (size_t)k * m->ncpus))
			memset(out + (size_t)k * m->ncpus, 0, sizeof(uint64_t) * m->ncpus);
	return 0;
}

int monitor_ncpus(const struct monitor *m)
{
	return m->ncpus;
}

uint64_t monitor_ringbuf_bytes(const struct monitor *m)
{
	return m->ringbuf_bytes;
}

struct tw_tail_slot *monitor_tail_slots(const struct monitor *m)
{
	return m->tail;
}

struct tw_batch_slot *monitor_batch_slots(const struct monitor *m)
{
	return m->batch;
}

const char *monitor_drop_name(int reason)
{
	static const char *const names[TW_DROP_MAX] = {
		[TW_DROP_RINGBUF_FULL] = "ringbuf_full",
		[TW_DROP_READ_FAIL] = "read_failed",
		[TW_DROP_PATH_TRUNC] = "path_truncated",
		[TW_DROP_ARGS_TRUNC] = "exec_args_truncated",
		[TW_DROP_CAP_TRUNC] = "capture_truncated",
		[TW_DROP_CHUNK_LOST] = "chunk_lost",
		[TW_DROP_META_LOST] = "meta_lost",
	};
	return reason >= 0 && reason < TW_DROP_MAX && names[reason] ? names[reason] : "unknown";
}

void monitor_close(struct monitor *m)
{
	if (!m)
		return;
	ring_buffer__free(m->rb);
	if (m->tail)
		munmap(m->tail, m->tail_bytes);
	if (m->batch)
		munmap(m->batch, m->batch_bytes);
	for (int i = 0; i < 4; i++)
		bpf_link__destroy(m->tls_links[i]);
	tw_bpf__destroy(m->skel);
	free(m);
}
