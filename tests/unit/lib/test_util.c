/* Tests for user/lib/util.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "lib/util.h"

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
