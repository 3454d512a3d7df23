/* Tests for user/sensors/proctable.c: identity by (pid, start time), parents,
 * descendants across pid reuse, /proc seeds, expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sensors/proctable.h"

static struct tw_hdr hdr(uint32_t tgid, uint32_t ppid, uint64_t start)
{
	struct tw_hdr h = { 0 };
	h.tgid = h.pid = tgid;
	h.ppid = ppid;
	h.start_boot_ns = start;
	memcpy(h.comm, "t", 2);
	return h;
}

static void fork_of(uint32_t grandparent, uint32_t parent, uint64_t pstart, uint32_t child,
		    uint64_t cstart)
{
	struct tw_fork_event f = { 0 };
	f.hdr = hdr(parent, grandparent, pstart);
	f.child_tgid = child;
	f.child_start_boot_ns = cstart;
	assert_non_null(proctable_note_fork(&f));
}

static void test_exec_sets_exe_and_fork_inherits(void **state)
{
	struct tw_hdr h = hdr(100, 1, 5000);
	const struct proc_info *p;
	(void)state;
	proctable_reset();
	proctable_note_exec(&h, "/usr/bin/agent");
	fork_of(1, 100, 5000, 200, 6000);
	p = proctable_lookup(200);
	assert_non_null(p);
	assert_int_equal(p->ppid, 100);
	assert_int_equal(p->start_ns, 6000);
	assert_string_equal(p->exe, "/usr/bin/agent");
	assert_int_equal(proctable_count(), 2);
}

/* Found by tests/fuzz/fuzz_event.c: a fork record naming the parent's own
 * tgid as the child (with another start time) replaced the parent's entry
 * while a pointer to it was still in use (heap use after free). A process
 * is never its own child: the record is refused and the parent kept. */
static void test_fork_of_itself_refused(void **state)
{
	struct tw_hdr h = hdr(100, 1, 5000);
	struct tw_fork_event f = { 0 };
	const struct proc_info *p;
	(void)state;
	proctable_reset();
	proctable_note_exec(&h, "/usr/bin/agent");
	f.hdr = h;
	f.child_tgid = 100;
	f.child_start_boot_ns = 7000;
	assert_null(proctable_note_fork(&f));
	p = proctable_lookup(100);
	assert_non_null(p);
	assert_int_equal(p->start_ns, 5000);
	assert_string_equal(p->exe, "/usr/bin/agent");
	assert_int_equal(proctable_count(), 1);
}

static void test_pid_reuse_replaces_entry(void **state)
{
	struct tw_hdr h = hdr(300, 1, 1000);
	const struct proc_info *p;
	(void)state;
	proctable_reset();
	proctable_note_exec(&h, "/bin/old");
	h = hdr(300, 1, 9000); /* same pid, later start: a new process */
	proctable_note_exec(&h, "/bin/new");
	p = proctable_lookup(300);
	assert_int_equal(p->start_ns, 9000);
	assert_string_equal(p->exe, "/bin/new");
	assert_int_equal(proctable_count(), 1);
}

static void test_descendants(void **state)
{
	struct tw_hdr h = hdr(10, 1, 100);
	(void)state;
	proctable_reset();
	proctable_note_exec(&h, "/bin/agent");
	fork_of(1, 10, 100, 20, 200);
	fork_of(10, 20, 200, 30, 300);
	assert_true(proctable_is_descendant(30, 10));
	assert_true(proctable_is_descendant(30, 20));
	assert_true(proctable_is_descendant(20, 10));
	assert_false(proctable_is_descendant(10, 30));
	assert_false(proctable_is_descendant(30, 99));
	assert_false(proctable_is_descendant(30, 30));
	/* 20 exits and its pid goes to a process started after 30: 30's
	 * chain to 10 is broken there, not followed through the stranger. */
	h = hdr(20, 10, 500);
	proctable_note_exec(&h, "/bin/stranger");
	assert_false(proctable_is_descendant(30, 10));
}

static void test_proc_seed_refined_by_kernel_record(void **state)
{
	struct tw_hdr h;
	const struct proc_info *p;
	(void)state;
	proctable_reset();
	/* /proc says 1.23 s (in 10 ms ticks); the kernel knows 1.234567 s */
	proctable_note_proc(400, 1, 0, 1230000000ull, 7, "svc", "/usr/sbin/svc");
	h = hdr(400, 1, 1234567000ull);
	p = proctable_note_hdr(&h);
	assert_int_equal(p->start_ns, 1234567000ull);
	assert_false(p->approx_start);
	assert_string_equal(p->exe, "/usr/sbin/svc"); /* same process: kept */
	/* a record 20 ms later is another process with that pid */
	proctable_reset();
	proctable_note_proc(400, 1, 0, 1230000000ull, 7, "svc", "/usr/sbin/svc");
	h = hdr(400, 1, 1250000000ull);
	p = proctable_note_hdr(&h);
	assert_int_equal(p->start_ns, 1250000000ull);
	assert_true(p->exe == NULL || strcmp(p->exe, "/usr/sbin/svc"));
}

static void test_exit_then_expire(void **state)
{
	struct tw_hdr h = hdr(500, 1, 10);
	(void)state;
	proctable_reset();
	proctable_note_exec(&h, "/bin/x");
	proctable_note_exit(&h, 1000);
	assert_true(proctable_lookup(500)->exited);
	proctable_expire(1500, 1000); /* within grace: kept for late events */
	assert_non_null(proctable_lookup(500));
	proctable_expire(3000, 1000);
	assert_null(proctable_lookup(500));
	/* an exit for another process with the same pid changes nothing */
	proctable_note_exec(&h, "/bin/x");
	h.start_boot_ns = 99;
	proctable_note_exit(&h, 1000);
	assert_false(proctable_lookup(500)->exited);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_sets_exe_and_fork_inherits),
		cmocka_unit_test(test_fork_of_itself_refused),
		cmocka_unit_test(test_pid_reuse_replaces_entry),
		cmocka_unit_test(test_descendants),
		cmocka_unit_test(test_proc_seed_refined_by_kernel_record),
		cmocka_unit_test(test_exit_then_expire),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	proctable_reset();
	return r;
}
