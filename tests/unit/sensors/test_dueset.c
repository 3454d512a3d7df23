/* The readers' active sets: membership, removal during a walk, timeouts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "sensors/dueset.h"

static void test_put_del(void **state)
{
	struct dueset d;

	(void)state;
	assert_int_equal(dueset_init(&d, 8), 0);
	dueset_put(&d, 3, 100);
	dueset_put(&d, 5, 200);
	dueset_put(&d, 3, 300); /* reschedules, not a second member */
	assert_int_equal(d.n, 2);
	assert_true(dueset_has(&d, 3));
	assert_int_equal(d.due[3], 300);
	dueset_del(&d, 3);
	dueset_del(&d, 3); /* absent: nothing */
	assert_false(dueset_has(&d, 3));
	assert_true(dueset_has(&d, 5));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.slot[0], 5);
	dueset_free(&d);
}

/* Removing while walking: the last member moves into k, every member is
 * visited once. */
static void test_walk_removing(void **state)
{
	struct dueset d;
	int seen[16] = { 0 };

	(void)state;
	assert_int_equal(dueset_init(&d, 16), 0);
	for (uint32_t s = 0; s < 16; s += 2)
		dueset_put(&d, s, s);
	for (uint32_t k = 0; k < d.n;) {
		uint32_t s = d.slot[k];

		seen[s]++;
		if (s % 4 == 0)
			dueset_del(&d, s);
		else
			k++;
	}
	for (uint32_t s = 0; s < 16; s++)
		assert_int_equal(seen[s], s % 2 == 0);
	assert_int_equal(d.n, 4);
	for (uint32_t k = 0; k < d.n; k++) {
		assert_int_equal(d.slot[k] % 4, 2);
		assert_int_equal(d.pos[d.slot[k]], k + 1);
	}
	dueset_free(&d);
}

static void test_timeout(void **state)
{
	struct dueset d;

	(void)state;
	assert_int_equal(dueset_init(&d, 4), 0);
	assert_int_equal(dueset_timeout_ms(&d, 0, 5), 5);     /* empty: the cap */
	dueset_put(&d, 1, 2500000);                           /* 2.5 ms away */
	assert_int_equal(dueset_timeout_ms(&d, 0, 5), 3);     /* rounded up */
	dueset_put(&d, 2, 0);                                 /* already due */
	assert_int_equal(dueset_timeout_ms(&d, 1000, 5), 0);
	dueset_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_del),
		cmocka_unit_test(test_walk_removing),
		cmocka_unit_test(test_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
