/*
 * user/output/eventlog.c: a sink that cannot take a line (a full disk:
 * /dev/full answers every write with ENOSPC) loses it visibly, counted,
 * while the other sinks get every line; before, stdio buffered the lines
 * and dropped them without a word.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "output/eventlog.h"
#include "lib/log.h"

static int lines_in(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void emit_n(struct eventlog *el, int n)
{
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "n", i);
		eventlog_emit(el, o);
	}
}

static void test_full_sink_counted_other_sink_whole(void **state)
{
	char dir[] = "/tmp/tw-eventlog.XXXXXX", path[64], err[256];
	struct eventlog_opts o = { .npaths = 2 };
	struct eventlog *el;

	(void)state;
	log_threshold = LOG_ERROR;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	o.paths[0] = path;
	o.paths[1] = "/dev/full";
	assert_int_equal(eventlog_open(&o, &el, err, sizeof(err)), 0);
	emit_n(el, 5);
	eventlog_flush(el);
	assert_int_equal(eventlog_count(el), 5);
	assert_int_equal(eventlog_lost(el), 5);   /* all five, on /dev/full */
	assert_int_equal(lines_in(path), 5);      /* and none missing here */
	emit_n(el, 3);                            /* a failing sink is tried again */
	eventlog_flush(el);
	assert_int_equal(eventlog_lost(el), 8);
	assert_int_equal(lines_in(path), 8);
	eventlog_close(el);
	unlink(path);
	rmdir(dir);
}

static void test_lines_reach_file_whole(void **state)
{
	char dir[] = "/tmp/tw-eventlog.XXXXXX", path[64], err[256];
	struct eventlog_opts o = { .npaths = 1 };
	struct eventlog *el;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	o.paths[0] = path;
	assert_int_equal(eventlog_open(&o, &el, err, sizeof(err)), 0);
	emit_n(el, 600000); /* 7.8 MB: past the 4 MiB early-write mark */
	eventlog_close(el);
	assert_int_equal(lines_in(path), 600000);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_sink_counted_other_sink_whole),
		cmocka_unit_test(test_lines_reach_file_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
