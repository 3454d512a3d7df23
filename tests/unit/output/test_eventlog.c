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
#include <sys/stat.h>
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

static long size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

/* Size rotation: PATH, PATH.1, PATH.2 under the limit, every line in one
 * of them; a link planted at PATH.1 is moved, never followed. */
static void test_rotation_by_size(void **state)
{
	char dir[] = "/tmp/tw-rot.XXXXXX", path[128], name[160], victim[160];
	struct eventlog_opts o = { .npaths = 1, .max_size = 300, .keep = 2 };
	struct eventlog *el;
	char err[256];
	uint64_t rot, fails;
	int total = 0;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ev.jsonl", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(name, sizeof(name), "%s.1", path);
	FILE *v = fopen(victim, "w");
	fputs("victim\n", v);
	fclose(v);
	assert_int_equal(symlink(victim, name), 0);
	o.paths[0] = path;
	assert_int_equal(eventlog_open(&o, &el, err, sizeof(err)), 0);
	for (int i = 0; i < 60; i++) {
		emit_n(el, 1);          /* {"n":0}: 8 bytes a line, 480 in all: one rotation */
		eventlog_flush(el);
	}
	eventlog_rotation_status(el, &rot, &fails);
	assert_int_equal(rot, 1);
	assert_int_equal(fails, 0);
	assert_true(size_of(path) > 0 && size_of(path) <= 300);
	snprintf(name, sizeof(name), "%s.1", path);
	assert_true(size_of(name) > 0 && size_of(name) <= 300);
	total = lines_in(path) + lines_in(name);
	assert_int_equal(total, 60);          /* none lost at the rotation */
	/* the planted link was moved up to PATH.2 as a link, never written through */
	snprintf(name, sizeof(name), "%s.2", path);
	struct stat lst;
	assert_int_equal(lstat(name, &lst), 0);
	assert_true(S_ISLNK(lst.st_mode));
	snprintf(name, sizeof(name), "%s.3", path);
	assert_int_equal(size_of(name), -1);
	assert_int_equal(lines_in(victim), 1);
	eventlog_close(el);
	/* a reload turns it off: no more rotations */
	assert_int_equal(eventlog_open(&o, &el, err, sizeof(err)), 0);
	eventlog_set_rotation(el, 0, 2);
	for (int i = 0; i < 100; i++) {
		emit_n(el, 1);
		eventlog_flush(el);
	}
	eventlog_rotation_status(el, &rot, &fails);
	assert_int_equal(rot, 0);
	assert_true(size_of(path) > 300);
	eventlog_close(el);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A reload's sink list: a path already open is kept, a new one opened,
 * a dropped one gets what was due and is closed; a path that cannot be
 * opened fails prepare and changes nothing. */
static void test_sinks_rebuilt(void **state)
{
	char dir[] = "/tmp/tw-sinks.XXXXXX", a[128], b[128], c[128], bad[128];
	struct eventlog_opts o = { .npaths = 2 };
	struct eventlog *el;
	struct eventlog_next *n;
	char err[256];
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(c, sizeof(c), "%s/c", dir);
	snprintf(bad, sizeof(bad), "%s/no/such", dir);
	o.paths[0] = a;
	o.paths[1] = b;
	assert_int_equal(eventlog_open(&o, &el, err, sizeof(err)), 0);
	emit_n(el, 3);                       /* due, not yet flushed */
	const char *badlist[] = { a, bad };
	assert_true(eventlog_prepare(el, badlist, 2, &n, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no/such"));
	const char *list[] = { a, c };
	assert_int_equal(eventlog_prepare(el, list, 2, &n, err, sizeof(err)), 0);
	assert_true(eventlog_next_changed(n));
	eventlog_commit(el, n);
	assert_int_equal(lines_in(b), 3);    /* the dropped sink got what was due */
	emit_n(el, 2);
	eventlog_flush(el);
	assert_int_equal(lines_in(a), 5);    /* kept: nothing lost, nothing twice */
	assert_int_equal(lines_in(c), 2);
	assert_int_equal(lines_in(b), 3);
	assert_int_equal(eventlog_lost(el), 0);
	/* the same list again: nothing changes */
	assert_int_equal(eventlog_prepare(el, list, 2, &n, err, sizeof(err)), 0);
	assert_false(eventlog_next_changed(n));
	eventlog_commit(el, n);
	eventlog_close(el);
	unlink(a);
	unlink(b);
	unlink(c);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_sink_counted_other_sink_whole),
		cmocka_unit_test(test_lines_reach_file_whole),
		cmocka_unit_test(test_rotation_by_size),
		cmocka_unit_test(test_sinks_rebuilt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
