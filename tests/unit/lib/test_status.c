/*
 * Tests for user/lib/status.c: status.json is replaced whole and never
 * through a link, and read only from a private state directory, without
 * blocking on a FIFO (the binary runs under alarm()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "lib/status.h"

static char dir[64], file[128], err[512];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tw-status.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/%s", dir, STATUS_FILE);
	err[0] = 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_write_then_read(void **state)
{
	mode_t old = umask(022);
	struct stat st;
	cJSON *o;

	(void)state;
	assert_int_equal(status_write(dir, 1, 0), 0);
	assert_int_equal(status_write(dir, 0, 0), 0);
	umask(old);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640); /* readable by root and its group only (issue 15) */
	assert_int_equal(entries(), 1); /* no temporary file left */
	assert_int_equal(status_read(dir, &o, err, sizeof(err)), 0);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "running")));
	cJSON_Delete(o);
}

/* A link left where status.json goes is not written through. */
static void test_write_never_through_a_link(void **state)
{
	char victim[160], buf[32] = "";
	FILE *f;

	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	f = fopen(victim, "w");
	fputs("precious\n", f);
	fclose(f);
	assert_int_equal(symlink(victim, file), 0);
	assert_int_equal(status_write(dir, 1, 0), -ELOOP);
	f = fopen(victim, "r");
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
	fclose(f);
	assert_string_equal(buf, "precious\n");
}

static void test_read_refuses(void **state)
{
	cJSON *o = NULL;
	FILE *f;

	(void)state;
	assert_int_equal(status_read(dir, &o, err, sizeof(err)), -ENOENT);
	/* a FIFO nobody writes: refused at once */
	assert_int_equal(mkfifo(file, 0600), 0);
	assert_int_equal(status_read(dir, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is a FIFO"));
	unlink(file);
	f = fopen(file, "w");
	fputs("not json", f);
	fclose(f);
	assert_int_equal(status_read(dir, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a status object"));
	/* a state directory others can write: anyone could have written it */
	assert_int_equal(status_write(dir, 1, 0), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(status_read(dir, &o, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "writable by others"));
	assert_null(o);
	assert_int_equal(chmod(dir, 0700), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_then_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_never_through_a_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_refuses, setup, teardown),
	};

	alarm(20); /* a blocked open() fails the binary, never stalls the suite */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
