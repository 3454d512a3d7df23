/* Tests for user/lib/util.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include "lib/util.h"

/* A fake pair of clocks: REALTIME is BOOTTIME + 1e18 ns, each read
 * advances time by 50 ns, and the process is "preempted" for 40 ms just
 * after the first REALTIME read (a loaded machine). */
static uint64_t fake_boot = 5000000000ull;
static int fake_reads;
static uint64_t fake_now(int clock_id)
{
	uint64_t t;

	fake_boot += 50;
	t = clock_id == CLOCK_REALTIME ? fake_boot + 1000000000000000000ull : fake_boot;
	if (clock_id == CLOCK_REALTIME && fake_reads++ == 0)
		fake_boot += 40000000ull;
	return t;
}

/* The offset is read between two BOOTTIME reads, and the tightest of a
 * few tries is kept: a preemption in one try does not shift every event
 * time by its length (a sighting was once shown before its token's issue). */
static void test_clock_offset_survives_preemption(void **state)
{
	int64_t off;

	(void)state;
	off = util_clock_offset(fake_now, 4);
	assert_true(off > 1000000000000000000ll - 1000 && off < 1000000000000000000ll + 1000);
}

static void test_rfc3339(void **state)
{
	char out[40];
	(void)state;
	util_rfc3339(1795760656123456789ull, out, sizeof(out));
	assert_string_equal(out, "2026-11-27T06:24:16.123456Z");
}

static void test_parse_size(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(util_parse_size("4096", &v), 0); assert_int_equal(v, 4096);
	assert_int_equal(util_parse_size("64K", &v), 0); assert_int_equal(v, 65536);
	assert_int_equal(util_parse_size("16MiB", &v), 0); assert_int_equal(v, 16u << 20);
	assert_int_not_equal(util_parse_size("", &v), 0);
	assert_int_not_equal(util_parse_size("12q", &v), 0);
	assert_int_not_equal(util_parse_size("-", &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_clock_offset_survives_preemption),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
