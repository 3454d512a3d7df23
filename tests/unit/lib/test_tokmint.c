/* Tests for tests/unit/tokmint.h's registry record: the redaction audit
 * searches for what it records, so a token it leaves out is never checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "../tokmint.h"

/* A token of LEN bytes recorded into a registry of the test's own: one
 * line, "TEST<TAB>HEX" with the bytes reversed. */
static void check_record(size_t len)
{
	char reg[] = "/tmp/tw-tokmint.XXXXXX", *tok, *buf, *tab;
	int fd = mkstemp(reg);
	size_t cap = 4 * len + 256;
	ssize_t n;

	assert_true(fd >= 0);
	close(fd);
	unlink(reg);
	tok = malloc(len + 1);
	buf = malloc(cap);
	assert_non_null(tok);
	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		tok[i] = tm_b62[i % 62];
	tok[len] = '\0';
	setenv("TW_TOKENS", reg, 1);
	setenv("TW_TEST", "unit/tokmint", 1);
	tm_record(tok);
	fd = open(reg, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, cap - 1);
	close(fd);
	unlink(reg);
	assert_int_equal(n, (ssize_t)(strlen("unit/tokmint\t") + 2 * len + 1));
	buf[n] = '\0';
	tab = strchr(buf, '\t');
	assert_non_null(tab);
	assert_int_equal(buf[n - 1], '\n');
	for (size_t i = 0; i < len; i++) {
		char want[3];
		snprintf(want, sizeof(want), "%02x", (unsigned char)tok[len - 1 - i]);
		assert_memory_equal(tab + 1 + 2 * i, want, 2);
	}
	free(tok);
	free(buf);
}

static void test_record_short(void **state) { (void)state; check_record(40); }
/* Over the old 2 KiB line: a 64 KiB JWT is what the ledger accepts. */
static void test_record_long(void **state) { (void)state; check_record(65536); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_short),
		cmocka_unit_test(test_record_long),
	};
	/* Its tokens go to a registry of its own (check_record), not the suite's. */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
