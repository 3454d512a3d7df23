/* Tests for user/sensors/tlsattach.c with a fake /proc: each file is
 * examined and probed once however many processes map it, a file named
 * like a TLS library without its functions is warned about once, the
 * maps-read budget is kept and counted, a failed attach is not retried,
 * a probed file that is gone is detached, and the first-run hooks: the
 * kernel told of each file only once it is examined, a process settled
 * only when every mapping was, a burst of new-file records bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>
#include "sensors/tlsattach.h"

/* This binary defines SSL_write: a copy of it is a "TLS library". */
__attribute__((noinline, used)) int SSL_write(void *ssl, const void *buf, int num)
{
	return ssl && buf ? num : -1;
}

static char root[64];
static int attaches, detaches, attach_err;

static int fake_attach(void *ctx, const char *path, const struct tlself_result *r, void **h)
{
	(void)ctx;
	assert_true(r->found & (1u << TLSELF_SSL_WRITE));
	assert_int_equal(strncmp(path, "/proc/self/fd/", 14), 0);
	attaches++;
	*h = &attaches;
	return attach_err;
}

static void fake_detach(void *ctx, void *h)
{
	(void)ctx;
	assert_ptr_equal(h, &attaches);
	detaches++;
}

/* The first-run hooks (tlsattach_set_hooks): what the kernel side was told. */
static int known_adds, known_dels, settles;
static uint32_t settled_pid;
static uint64_t settle_unseen; /* what the fake kernel says the process sent unseen */

static void fake_known(void *ctx, uint64_t dev, uint64_t ino, int known)
{
	(void)ctx;
	assert_true(ino != 0);
	(void)dev;
	if (known)
		known_adds++;
	else
		known_dels++;
}

static uint64_t fake_settle(void *ctx, uint32_t tgid, uint64_t scan_ns)
{
	(void)ctx;
	assert_true(scan_ns > 0);
	settles++;
	settled_pid = tgid;
	return settle_unseen;
}

static void run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

/* A file under root/lib: a copy of this binary, or text. */
static void make_file(const char *name, int elf)
{
	char cmd[512];

	if (elf)
		snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe %s/lib/%s", getpid(), root, name);
	else
		snprintf(cmd, sizeof(cmd), "echo not an ELF file > %s/lib/%s", root, name);
	run(cmd);
}

/* Fake process @pid mapping the files named (NULL-terminated), each with
 * an executable range and a map_files link to it. */
static void make_proc(unsigned pid, const char *const *names)
{
	char p[512], f[1024];
	FILE *maps;

	snprintf(p, sizeof(p), "%s/proc/%u/map_files", root, pid);
	snprintf(f, sizeof(f), "mkdir -p %s", p);
	run(f);
	snprintf(p, sizeof(p), "%s/proc/%u/maps", root, pid);
	assert_non_null(maps = fopen(p, "w"));
	for (unsigned i = 0; names[i]; i++) {
		struct stat sb;
		unsigned long lo = 0x400000ul + i * 0x10000ul;

		snprintf(f, sizeof(f), "%s/lib/%s", root, names[i]);
		assert_int_equal(stat(f, &sb), 0);
		fprintf(maps, "%lx-%lx r--p 00000000 %02x:%02x %lu %s\n", lo - 0x1000, lo,
			major(sb.st_dev), minor(sb.st_dev), (unsigned long)sb.st_ino, f);
		fprintf(maps, "%lx-%lx r-xp 00001000 %02x:%02x %lu %s\n", lo, lo + 0x1000,
			major(sb.st_dev), minor(sb.st_dev), (unsigned long)sb.st_ino, f);
		snprintf(p, sizeof(p), "%s/proc/%u/map_files/%lx-%lx", root, pid, lo, lo + 0x1000);
		assert_int_equal(symlink(f, p), 0);
	}
	fprintf(maps, "7ffd0000-7ffd1000 r-xp 00000000 00:00 0 [vdso]\n");
	fclose(maps);
}

static int setup(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tw-tlsattach.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/lib %s/proc", root, root);
	run(cmd);
	attaches = detaches = attach_err = 0;
	known_adds = known_dels = settles = 0;
	settled_pid = 0;
	settle_unseen = 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	run(cmd);
	return 0;
}

static struct tlsattach *open_fake_opts(unsigned scans_per_sec, unsigned max_files)
{
	char procdir[128];
	static char keep[128];

	struct tlsattach_opts o = { .scans_per_sec = scans_per_sec, .max_files = max_files };

	snprintf(procdir, sizeof(procdir), "%s/proc", root);
	memcpy(keep, procdir, sizeof(keep));
	o.procdir = keep;
	return tlsattach_new(&o, fake_attach, fake_detach, NULL);
}

static struct tlsattach *open_fake(unsigned scans_per_sec)
{
	return open_fake_opts(scans_per_sec, 0);
}

static void test_once_per_file(void **state)
{
	static const char *const names[] = { "libfake.so", "libssl.so.3", NULL };
	struct tlsattach_stats st;
	struct tlsattach *t;
	(void)state;
	make_file("libfake.so", 1);
	make_file("libssl.so.3", 0); /* named like libssl, not a library at all */
	/* The sweep skips tokenward's own pid: the fake ones never hold ours
	 * (this failed in CI when the test ran as pid 1000..1199). */
	unsigned base = (unsigned)getpid() >= 1000 && (unsigned)getpid() < 1200 ? 2000 : 1000;
	for (unsigned pid = base; pid < base + 200; pid++)
		make_proc(pid, names);
	assert_non_null(t = open_fake(0));
	tlsattach_sweep(t, 1);
	tlsattach_get_stats(t, &st);
	assert_int_equal(attaches, 1);
	assert_int_equal(st.scans, 200);
	assert_int_equal(st.mappings, 400);
	assert_int_equal(st.known, 398);
	assert_int_equal(st.examined, 2);
	assert_int_equal(st.no_symbols, 1);
	assert_int_equal(st.probed, 1);
	assert_non_null(tlsattach_probed_path(t, 0));
	assert_non_null(strstr(tlsattach_probed_path(t, 0), "libfake.so"));
	assert_null(tlsattach_probed_path(t, 1));
	tlsattach_free(t);
	assert_int_equal(detaches, 1);
}

/* An exec reads the maps now and again later; the budget caps reads. */
static void test_exec_rescans_within_budget(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const lib[] = { "libfake.so", NULL };
	const uint64_t ms = 1000000;
	struct tlsattach_stats st;
	struct tlsattach *t;
	char cmd[256];
	(void)state;
	make_file("libfake.so", 1);
	make_proc(42, none); /* just exec'd: its libraries not mapped yet */
	assert_non_null(t = open_fake(10));
	tlsattach_exec(t, 42, 1000 * ms);
	assert_int_equal(tlsattach_timeout_ms(t, 1000 * ms, 5000), 0);
	tlsattach_run(t, 1000 * ms);
	assert_int_equal(attaches, 0);
	assert_int_equal(tlsattach_timeout_ms(t, 1000 * ms, 5000), 20);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/proc/42", root);
	run(cmd);
	make_proc(42, lib); /* the loader mapped it meanwhile */
	tlsattach_run(t, 1020 * ms);
	assert_int_equal(attaches, 1);
	/* a burst of 100 execs against a budget of 10 reads a second */
	for (unsigned pid = 2000; pid < 2100; pid++)
		tlsattach_exec(t, pid, 1030 * ms);
	tlsattach_run(t, 1030 * ms);
	tlsattach_get_stats(t, &st);
	assert_true(st.scans + st.vanished <= 12);
	assert_true(st.scans_skipped >= 90);
	tlsattach_free(t);
}

static void test_failed_attach_not_retried(void **state)
{
	static const char *const lib[] = { "libfake.so", NULL };
	struct tlsattach_stats st;
	struct tlsattach *t;
	(void)state;
	make_file("libfake.so", 1);
	make_proc(7, lib);
	make_proc(8, lib);
	attach_err = -EINVAL;
	assert_non_null(t = open_fake(0));
	tlsattach_sweep(t, 1);
	tlsattach_get_stats(t, &st);
	assert_int_equal(attaches, 1);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.probed, 0);
	tlsattach_free(t);
	assert_int_equal(detaches, 0);
}

/* Deleted, and its process gone: detached; a new file there is new. */
static void test_gone_file_detached(void **state)
{
	static const char *const lib[] = { "libfake.so", NULL };
	const uint64_t s = 1000000000ull;
	struct tlsattach_stats st;
	struct tlsattach *t;
	char cmd[256];
	(void)state;
	make_file("libfake.so", 1);
	make_proc(9, lib);
	assert_non_null(t = open_fake(0));
	tlsattach_sweep(t, 1 * s);
	tlsattach_run(t, 3 * s);
	assert_int_equal(detaches, 0); /* its process still runs */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/proc/9 %s/lib/libfake.so", root, root);
	run(cmd);
	tlsattach_run(t, 5 * s);
	tlsattach_get_stats(t, &st);
	assert_int_equal(detaches, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.probed, 0);
	make_file("libfake.so", 1); /* replaced: a new inode at the path */
	make_proc(10, lib);
	tlsattach_sweep(t, 6 * s);
	assert_int_equal(attaches, 2);
	tlsattach_free(t);
	assert_int_equal(detaches, 2);
}

/* The kernel side learns of the files examined at start when the hooks
 * go in, of a new one only once it is examined (and probed), and of a
 * forgotten one; a process whose every mapping is examined is settled,
 * and what it sent unseen before is counted. */
static void test_first_run_hooks(void **state)
{
	static const char *const sys[] = { "libc.so", NULL };
	static const char *const both[] = { "libc.so", "libfake.so", NULL };
	const uint64_t s = 1000000000ull;
	struct tlsattach_stats st;
	struct tlsattach *t;
	char cmd[256];
	(void)state;
	make_file("libc.so", 0);
	make_file("libfake.so", 1);
	make_proc(11, sys);
	assert_non_null(t = open_fake(0));
	tlsattach_sweep(t, 1 * s);
	assert_int_equal(known_adds, 0); /* no hooks yet */
	tlsattach_set_hooks(t, fake_known, fake_settle);
	assert_int_equal(known_adds, 1); /* libc.so, examined at start */
	/* pid 12 maps a new library: the kernel's record reads it now */
	make_proc(12, both);
	settle_unseen = 1; /* it sent one TLS record before its probe went in */
	tlsattach_mapped(t, 12, 2 * s);
	tlsattach_get_stats(t, &st);
	assert_int_equal(attaches, 1);
	assert_int_equal(known_adds, 2);
	assert_int_equal(settles, 1);
	assert_int_equal(settled_pid, 12);
	assert_int_equal(st.map_records, 1);
	assert_int_equal(st.settled, 2); /* the sweep's read of 11, and this one */
	assert_int_equal(st.unprobed_procs, 1);
	/* gone: its probes go, and the kernel forgets it */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/proc/12 %s/lib/libfake.so", root, root);
	run(cmd);
	tlsattach_run(t, 4 * s);
	assert_int_equal(detaches, 1);
	assert_true(known_dels >= 1);
	tlsattach_free(t);
}

/* A mapping that could not be examined (the file table full) leaves its
 * process unsettled: its TLS sends go on being counted. */
static void test_unexamined_mapping_not_settled(void **state)
{
	static const char *const two[] = { "liba.so", "libfake.so", NULL };
	struct tlsattach_stats st;
	struct tlsattach *t;
	(void)state;
	make_file("liba.so", 0);
	make_file("libfake.so", 1);
	make_proc(13, two);
	assert_non_null(t = open_fake_opts(0, 1));
	tlsattach_set_hooks(t, fake_known, fake_settle);
	tlsattach_mapped(t, 13, 1);
	tlsattach_get_stats(t, &st);
	assert_int_equal(st.table_full, 1);
	assert_int_equal(settles, 0);
	assert_int_equal(st.settled, 0);
	tlsattach_free(t);
}

/* Thousands of new-file records (short-lived processes, each mapping a
 * file not examined yet): the maps reads stay within the budget, the
 * rest counted, and the file is examined once. */
static void test_mapped_burst_within_budget(void **state)
{
	static const char *const lib[] = { "libfake.so", NULL };
	const uint64_t ms = 1000000;
	struct tlsattach_stats st;
	struct tlsattach *t;
	(void)state;
	make_file("libfake.so", 1);
	make_proc(14, lib);
	assert_non_null(t = open_fake(50));
	tlsattach_set_hooks(t, fake_known, fake_settle);
	for (unsigned i = 0; i < 5000; i++)
		tlsattach_mapped(t, 14, 1000 * ms);
	tlsattach_get_stats(t, &st);
	assert_int_equal(st.map_records, 5000);
	assert_true(st.scans <= 50);
	assert_int_equal(st.scans + st.scans_skipped, 5000);
	assert_int_equal(st.examined, 1);
	assert_int_equal(attaches, 1);
	tlsattach_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_once_per_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_rescans_within_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_attach_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_file_detached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_run_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unexamined_mapping_not_settled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapped_burst_within_budget, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
