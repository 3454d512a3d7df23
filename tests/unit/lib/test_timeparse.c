/* Tests for user/lib/timeparse.c: the report's --since/--until and the
 * config's retention.max_age. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "lib/timeparse.h"

static void test_age(void **state)
{
	uint64_t s;
	(void)state;
	assert_int_equal(timeparse_age_s("90", &s), 0); assert_int_equal(s, 90);
	assert_int_equal(timeparse_age_s("15m", &s), 0); assert_int_equal(s, 900);
	assert_int_equal(timeparse_age_s("2h", &s), 0); assert_int_equal(s, 7200);
	assert_int_equal(timeparse_age_s("7d", &s), 0); assert_int_equal(s, 7 * 86400);
	assert_int_equal(timeparse_age_s("1w", &s), 0); assert_int_equal(s, 7 * 86400);
	assert_int_equal(timeparse_age_s("0", &s), 0); assert_int_equal(s, 0);
	assert_int_not_equal(timeparse_age_s("", &s), 0);
	assert_int_not_equal(timeparse_age_s("-2h", &s), 0);
	assert_int_not_equal(timeparse_age_s("2 h", &s), 0);
	assert_int_not_equal(timeparse_age_s("5y", &s), 0);
	assert_int_not_equal(timeparse_age_s("h", &s), 0);
	assert_int_not_equal(timeparse_age_s("99999999999999999999d", &s), 0);
	assert_int_not_equal(timeparse_age_s("40000d", &s), 0); /* over 100 years */
}

static void test_point(void **state)
{
	int64_t t, now = 1796188938000000000ll;
	(void)state;
	assert_int_equal(timeparse_point("2026-11-27T06:24:16Z", now, &t), 0);
	assert_true(t == 1795760656000000000ll);
	assert_int_equal(timeparse_point("2026-11-27T06:24:16.123456789Z", now, &t), 0);
	assert_true(t == 1795760656123456789ll);
	assert_int_equal(timeparse_point("2026-11-27T06:24:16.5Z", now, &t), 0);
	assert_true(t == 1795760656500000000ll);
	assert_int_equal(timeparse_point("2026-11-27T07:24:16+01:00", now, &t), 0);
	assert_true(t == 1795760656000000000ll);
	assert_int_equal(timeparse_point("2026-11-27 05:24:16-01:00", now, &t), 0);
	assert_true(t == 1795760656000000000ll);
	assert_int_equal(timeparse_point("2h", now, &t), 0);
	assert_true(t == now - 7200000000000ll);
	assert_int_not_equal(timeparse_point("2026-11-27T06:24:16", now, &t), 0);     /* no zone */
	assert_int_not_equal(timeparse_point("2026-13-27T06:24:16Z", now, &t), 0);    /* month */
	assert_int_not_equal(timeparse_point("2026-11-27T24:00:00Z", now, &t), 0);
	assert_int_not_equal(timeparse_point("2026-11-27T06:24:16.Z", now, &t), 0);
	assert_int_not_equal(timeparse_point("2026-11-27T06:24:16Zjunk", now, &t), 0);
	assert_int_not_equal(timeparse_point("2026-11-27T06:24:16+0100", now, &t), 0);
	assert_int_not_equal(timeparse_point("yesterday", now, &t), 0);
	assert_int_not_equal(timeparse_point("", now, &t), 0);
	assert_int_not_equal(timeparse_point(NULL, now, &t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_point),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
