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
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <sys/sysmacros.h>
#include "tokenward.skel.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sensors/monitor.h"
#include "sensors/tlsattach.h"

static char libbpf_last[512]; /* libbpf's last message, for errors */

struct monitor {
	struct tw_bpf *skel;
	struct ring_buffer *rb;
	monitor_event_fn fn;
	void *ctx;
	int ncpus;
	uint64_t ringbuf_bytes;
	struct tlsattach *tls;       /* NULL with --no-tls */
	struct bpf_link *mmap_link;  /* new executable mappings; NULL: not followed */
	struct ring_buffer *ctl;     /* their records (tls_ctl), drained between any two others */
	struct tw_tail_slot *tail;  /* the kernel's tail_slots, mapped; NULL when off */
	size_t tail_bytes;
	struct tw_batch_slot *batch; /* the kernel's batch_slots, mapped; NULL when off */
	size_t batch_bytes;
};

/* Where distributions keep the shared TLS libraries: probed at start even
 * before a process maps them. Any other copy is found in /proc/PID/maps. */
static const char *const tls_lib_paths[] = {
	"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
	"/usr/lib/x86_64-linux-gnu/libgnutls.so.30", "/usr/lib/aarch64-linux-gnu/libssl.so.3",
	"/usr/lib/aarch64-linux-gnu/libgnutls.so.30", "/usr/lib64/libssl.so.3",
	"/usr/lib64/libgnutls.so.30", "/usr/lib/libssl.so.3", "/usr/lib/libgnutls.so.30",
};

/* The probes of one file (tlsattach.c's handle). */
struct tls_links {
	struct bpf_link *l[TLSELF_NFN];
};

static void tls_detach(void *ctx, void *handle)
{
	struct tls_links *t = handle;

	(void)ctx;
	for (int i = 0; t && i < TLSELF_NFN; i++)
		bpf_link__destroy(t->l[i]);
	free(t);
}

/* Entry probes only (bpf/tls.bpf.c): one per function the file defines,
 * at its file offset, for every process (pid -1). All or none. */
static int tls_attach(void *ctx, const char *path, const struct tlself_result *r, void **handle)
{
	struct monitor *m = ctx;
	struct bpf_program *prog[TLSELF_NFN] = {
		[TLSELF_SSL_WRITE] = m->skel->progs.tw_ssl_write,
		[TLSELF_SSL_WRITE_EX] = m->skel->progs.tw_ssl_write_ex,
		[TLSELF_GNUTLS_SEND] = m->skel->progs.tw_gnutls_send,
		[TLSELF_GO_WRITE] = m->skel->progs.tw_go_tls_write,
	};
	struct tls_links *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (int i = 0; i < TLSELF_NFN; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo);

		if (!(r->found & (1u << i)))
			continue;
		t->l[i] = bpf_program__attach_uprobe_opts(prog[i], -1, path, r->off[i], &uo);
		if (!t->l[i]) {
			int e = -errno;

			tls_detach(NULL, t);
			return e ? e : -EINVAL;
		}
	}
	*handle = t;
	return 0;
}

/* tlsattach.c examined a file: its mappings stop unsettling processes
 * (bpf/unsettled.bpf.h). The kernel keys it by its own dev_t. */
static void tls_known(void *ctx, uint64_t dev, uint64_t ino, int known)
{
	struct monitor *m = ctx;
	struct tw_file_key k = { .dev = ((uint64_t)major(dev) << 20) | minor(dev), .ino = ino };
	uint8_t one = 1;
	int fd = bpf_map__fd(m->skel->maps.tls_known);

	if (known)
		bpf_map_update_elem(fd, &k, &one, BPF_ANY); /* full: its mappings keep waking us */
	else
		bpf_map_delete_elem(fd, &k);
}

/* A maps read of @tgid found everything examined: from a note's lifetime
 * on, its TLS sends are no longer counted as unprobed, unless a mapping
 * came after the read began. Returns what it sent unseen, new since the
 * last settle. (A mapping between this lookup and update is settled too
 * early; its own record's read settles it again, within the grace.) */
static uint64_t tls_settle(void *ctx, uint32_t tgid, uint64_t scan_ns)
{
	struct monitor *m = ctx;
	int fd = bpf_map__fd(m->skel->maps.tls_unsettled);
	struct tw_unsettled u;
	uint64_t unseen;

	if (bpf_map_lookup_elem(fd, &tgid, &u) || u.flag_ts > scan_ns)
		return 0;
	unseen = u.unseen - u.reported;
	u.reported = u.unseen;
	if (!u.grace_until)
		u.grace_until = util_now_ns(CLOCK_MONOTONIC) + TW_TLS_NOTE_TTL_NS;
	bpf_map_update_elem(fd, &tgid, &u, BPF_EXIST);
	return unseen;
}

/* New executable mappings (bpf/mmap.bpf.c, exec.bpf.c): the first run
 * of a TLS library new to the monitor is read at once, or counted. */
static void attach_mmap_hook(struct monitor *m)
{
	/* the files examined so far go in first, or each would wake us */
	tlsattach_set_hooks(m->tls, tls_known, tls_settle);
	if ((m->mmap_link = bpf_program__attach(m->skel->progs.tw_mmap_exec)))
		return;
	tlsattach_set_hooks(m->tls, NULL, NULL);
	log_warn("TLS: new executable mappings cannot be followed (%s): the first run of a "
		 "TLS library new to the monitor is read only at its exec and after", libbpf_last);
}

/*
 * The TLS plaintext sensor: probes on every file that defines a TLS write
 * function, at start (system paths, then every process's maps) and then as
 * programs start (tlsattach.c). Optional: nothing found loses TLS
 * plaintext only, and says so.
 */
static int open_tls(struct monitor *m, char *err, size_t errsz)
{
	struct tlsattach_opts o = { .procdir = "/proc" };
	uint64_t now = util_now_ns(CLOCK_MONOTONIC);
	struct tlsattach_stats st;

	m->tls = tlsattach_new(&o, tls_attach, tls_detach, m);
	if (!m->tls) {
		snprintf(err, errsz, "cannot start the TLS sensor: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(tls_lib_paths) / sizeof(tls_lib_paths[0]); i++)
		tlsattach_path(m->tls, tls_lib_paths[i]);
	tlsattach_sweep(m->tls, now);
	/* after the sweep: what it examined is known before the hook fires */
	attach_mmap_hook(m);
	tlsattach_get_stats(m->tls, &st);
	if (!st.probed)
		log_warn("TLS plaintext capture: no TLS library found yet; probes follow as "
			 "programs map one");
	else
		log_info("TLS plaintext capture: %llu files probed",
			 (unsigned long long)st.probed);
	return 0;
}

const struct tlsattach *monitor_tls(const struct monitor *m)
{
	return m->tls;
}

static int libbpf_verbose;

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

/* The TLS sensor's control ring (bpf/unsettled.bpf.h): a file mapped
 * executable, or exec'd, that was never examined. Its maps are read now. */
static int on_ctl(void *ctx, void *data, size_t len)
{
	struct monitor *m = ctx;

	if (len >= sizeof(struct tw_map_event) && ((const struct tw_hdr *)data)->type == TW_EV_MAP_NEW)
		tlsattach_mapped(m->tls, ((const struct tw_hdr *)data)->tgid,
				 util_now_ns(CLOCK_MONOTONIC));
	return 0;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct monitor *m = ctx;

	/* before each record: a new library waits behind no backlog (reading
	 * the ring's positions, no syscall, when it is empty) */
	if (m->ctl)
		ring_buffer__consume(m->ctl);
	if (len < sizeof(struct tw_hdr))
		return 0;
	/* a new program: perhaps a TLS library or TLS stack not probed yet */
	if (m->tls && ((const struct tw_hdr *)data)->type == TW_EV_EXEC)
		tlsattach_exec(m->tls, ((const struct tw_hdr *)data)->tgid,
			       util_now_ns(CLOCK_MONOTONIC));
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
	/* uprobes need a file: attached by open_tls() below */
	bpf_program__set_autoattach(m->skel->progs.tw_ssl_write, false);
	bpf_program__set_autoattach(m->skel->progs.tw_ssl_write_ex, false);
	bpf_program__set_autoattach(m->skel->progs.tw_gnutls_send, false);
	bpf_program__set_autoattach(m->skel->progs.tw_go_tls_write, false);
	/* attached by open_tls(), after the sweep; loaded only where it can be */
	bpf_program__set_autoattach(m->skel->progs.tw_mmap_exec, false);
	bpf_program__set_autoload(m->skel->progs.tw_mmap_exec, !opts->no_tls);
	m->skel->rodata->tw_tls_first_on = !opts->no_tls;
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
	if (!opts->no_tls && (r = open_tls(m, err, errsz)))
		goto fail;
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
	/* The control ring twice: in the poll's epoll set, so an idle monitor
	 * wakes for it, and alone, for on_record to drain mid-batch. One
	 * thread, and libbpf reads the shared consumer position afresh on
	 * each pass, so the two never take the same record. */
	if (m->tls && ((r = ring_buffer__add(m->rb, bpf_map__fd(m->skel->maps.tls_ctl), on_ctl, m)) ||
		       !(m->ctl = ring_buffer__new(bpf_map__fd(m->skel->maps.tls_ctl), on_ctl, m,
						   NULL)))) {
		r = r ? r : -errno;
		snprintf(err, errsz, "opening the TLS control ring failed: %s", strerror(-r));
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
	int n;

	if (m->tls)
		timeout_ms = tlsattach_timeout_ms(m->tls, util_now_ns(CLOCK_MONOTONIC), timeout_ms);
	n = ring_buffer__poll(m->rb, timeout_ms);
	/* Records sent without a wakeup do not make epoll return; after the
	 * timeout, read whatever has queued up since. */
	if (n == 0)
		n = ring_buffer__consume(m->rb);
	/* the maps of programs that started, and the probed files' check */
	if (m->tls)
		tlsattach_run(m->tls, util_now_ns(CLOCK_MONOTONIC));
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
		[TW_DROP_TLS_UNSENT] = "tls_unsent",
		[TW_DROP_CAP_RING] = "capture_cut_ring_room",
		[TW_DROP_TLS_UNPROBED] = "tls_unprobed",
	};
	return reason >= 0 && reason < TW_DROP_MAX && names[reason] ? names[reason] : "unknown";
}

void monitor_close(struct monitor *m)
{
	if (!m)
		return;
	bpf_link__destroy(m->mmap_link);
	ring_buffer__free(m->ctl);
	ring_buffer__free(m->rb);
	if (m->tail)
		munmap(m->tail, m->tail_bytes);
	if (m->batch)
		munmap(m->batch, m->batch_bytes);
	tlsattach_free(m->tls);
	tw_bpf__destroy(m->skel);
	free(m);
}
