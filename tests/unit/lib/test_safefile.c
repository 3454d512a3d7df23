/*
 * Tests for user/lib/safefile.c: reads that never block on a FIFO, writes
 * that never follow a link, replacements that keep the old file when the
 * write fails, and the state directory check. The whole binary runs under
 * alarm(): a hang fails it instead of stalling the suite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include "lib/safefile.h"

#define DEADLINE_S 20
#define NOBODY 65534

static char dir[64];
static char err[512];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tw-safefile.XXXXXX");
	err[0] = 0;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", dir, dir);
	return system(cmd);
}

static const char *at(const char *name)
{
	static char bufs[4][256];
	static int i;
	char *b = bufs[i++ & 3];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static void put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	assert_int_equal(fclose(f), 0);
}

static char *get(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

/* Entries in dir, to prove no temporary file is left behind. */
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

/* ---- reading ---- */

static void test_read_regular(void **state)
{
	char *buf;
	size_t n;

	(void)state;
	put(at("a"), "hello\n");
	assert_int_equal(safefile_read_all(at("a"), 0, 100, &buf, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 6);
	assert_string_equal(buf, "hello\n");
	free(buf);
	assert_int_equal(safefile_read_all(at("a"), 0, 5, &buf, &n, err, sizeof(err)), -EFBIG);
	assert_null(buf);
	assert_non_null(strstr(err, "larger than 5 bytes"));
	assert_int_equal(safefile_read_all(at("none"), 0, 5, &buf, &n, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/none: No such file"));
}

/* A FIFO nobody writes blocks open() and read(); it must be refused at once. */
static void test_read_fifo_refused(void **state)
{
	char *buf;
	size_t n;
	FILE *f;

	(void)state;
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	assert_int_equal(safefile_open_read(at("fifo"), 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is a FIFO, not a regular file"));
	assert_int_equal(safefile_read_all(at("fifo"), 0, 100, &buf, &n, err, sizeof(err)), -EINVAL);
	f = safefile_fopen_read(at("fifo"), 0, err, sizeof(err));
	assert_null(f);
	assert_int_equal(errno, EINVAL);
	/* a link to a FIFO is the FIFO */
	assert_int_equal(symlink(at("fifo"), at("tofifo")), 0);
	assert_int_equal(safefile_open_read(at("tofifo"), 0, err, sizeof(err)), -EINVAL);
}

static void test_read_devices_and_dirs_refused(void **state)
{
	(void)state;
	assert_int_equal(safefile_open_read("/dev/null", 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a character device"));
	assert_int_equal(safefile_open_read("/dev/zero", 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(safefile_open_read(dir, 0, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, "a directory"));
}

static void test_read_nofollow(void **state)
{
	int fd;

	(void)state;
	put(at("real"), "x");
	assert_int_equal(symlink(at("real"), at("link")), 0);
	fd = safefile_open_read(at("link"), 0, err, sizeof(err));
	assert_true(fd >= 0);
	/* blocking again: a later read must not see EAGAIN */
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	assert_int_equal(safefile_open_read(at("link"), SAFEFILE_NOFOLLOW, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "is a symbolic link; refusing to follow it"));
}

/* ---- appending ---- */

static void test_append_creates_and_appends(void **state)
{
	mode_t old = umask(022);
	struct stat st;
	FILE *f;
	int fd;

	(void)state;
	fd = safefile_open_append(at("log"), 0, 0640, err, sizeof(err));
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "one\n", 4), 4);
	close(fd);
	assert_int_equal(stat(at("log"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	f = safefile_fopen_append(at("log"), SAFEFILE_RDWR, 0600, err, sizeof(err));
	assert_non_null(f);
	fputs("two\n", f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(get(at("log")), "one\ntwo\n");
}

/* In a directory another user can write, a link planted by that user
 * would make root append to a file of their choosing. */
static void test_append_refuses_links(void **state)
{
	(void)state;
	put(at("victim"), "precious\n");
	assert_int_equal(symlink(at("victim"), at("sym")), 0);
	assert_int_equal(safefile_open_append(at("sym"), 0, 0644, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	assert_string_equal(get(at("victim")), "precious\n");
	/* a dangling link: the file it names must not be created */
	assert_int_equal(symlink(at("created"), at("dangling")), 0);
	assert_int_equal(safefile_open_append(at("dangling"), 0, 0644, err, sizeof(err)), -ELOOP);
	assert_int_equal(access(at("created"), F_OK), -1);
	assert_int_equal(link(at("victim"), at("hard")), 0);
	assert_int_equal(safefile_open_append(at("hard"), 0, 0644, err, sizeof(err)), -EMLINK);
	assert_non_null(strstr(err, "2 hard links"));
	assert_string_equal(get(at("victim")), "precious\n");
}

static void test_append_fifo_and_devices(void **state)
{
	int fd;

	(void)state;
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	assert_int_equal(safefile_open_append(at("fifo"), 0, 0644, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a FIFO"));
	assert_int_equal(safefile_open_append("/dev/null", 0, 0644, err, sizeof(err)), -EINVAL);
	fd = safefile_open_append("/dev/null", SAFEFILE_DEVICE, 0644, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(safefile_open_append(dir, SAFEFILE_DEVICE, 0644, err, sizeof(err)), -EISDIR);
}

/* ---- replacing ---- */

static void test_replace(void **state)
{
	mode_t old = umask(022);
	struct safefile_tmp t;
	struct stat st;
	FILE *f;

	(void)state;
	assert_int_equal(safefile_replace(at("r"), "first\n", 6, 0644, 0, err, sizeof(err)), 0);
	assert_string_equal(get(at("r")), "first\n");
	assert_int_equal(stat(at("r"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(safefile_tmp_open(&t, at("r"), 0600, err, sizeof(err)), 0);
	umask(old);
	f = safefile_tmp_stream(&t);
	assert_non_null(f);
	fputs("second\n", f);
	/* until the commit, readers see the old file */
	assert_string_equal(get(at("r")), "first\n");
	assert_int_equal(safefile_tmp_commit(&t, SAFEFILE_NOSYNC, err, sizeof(err)), 0);
	assert_string_equal(get(at("r")), "second\n");
	assert_int_equal(stat(at("r"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(entries(), 1);
	/* abort leaves the old file and no temporary one */
	assert_int_equal(safefile_tmp_open(&t, at("r"), 0644, err, sizeof(err)), 0);
	assert_int_equal(write(t.fd, "x", 1), 1);
	safefile_tmp_abort(&t);
	assert_string_equal(get(at("r")), "second\n");
	assert_int_equal(entries(), 1);
}

static void test_replace_refuses_non_files(void **state)
{
	(void)state;
	put(at("victim"), "precious\n");
	assert_int_equal(symlink(at("victim"), at("sym")), 0);
	assert_int_equal(safefile_replace(at("sym"), "x", 1, 0644, 0, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "is a symbolic link; refusing to replace it"));
	assert_string_equal(get(at("victim")), "precious\n");
	assert_int_equal(mkdir(at("d"), 0700), 0);
	assert_int_equal(safefile_replace(at("d"), "x", 1, 0644, 0, err, sizeof(err)), -EISDIR);
	assert_int_equal(safefile_replace("/dev/null", "x", 1, 0644, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(entries(), 3);
}

/* A write that fails half way (here the file size limit, as a full disk
 * would) keeps the previous file whole and leaves no temporary file. */
static void test_replace_failed_write_keeps_old(void **state)
{
	static char big[65536];
	pid_t pid;
	int status;

	(void)state;
	put(at("report"), "previous report\n");
	memset(big, 'z', sizeof(big));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		_exit(safefile_replace(at("report"), big, sizeof(big), 0644, 0, err, sizeof(err)) == -EFBIG &&
		      strstr(err, "left as it was") ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(get(at("report")), "previous report\n");
	assert_int_equal(entries(), 1);
}

/* ---- directories ---- */

static void test_check_dir_modes(void **state)
{
	(void)state;
	assert_int_equal(safefile_check_dir(dir, "state directory", err, sizeof(err)), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(safefile_check_dir(dir, "state directory", err, sizeof(err)), 0);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(safefile_check_dir(dir, "state directory", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "is writable by its group (mode 0770); refusing it"));
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(safefile_check_dir(dir, "ledger directory", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "ledger directory"));
	assert_non_null(strstr(err, "writable by others (mode 1777)"));
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(safefile_check_dir(at("none"), "state directory", err, sizeof(err)), -ENOENT);
	put(at("file"), "");
	assert_int_equal(safefile_check_dir(at("file"), "state directory", err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "is not a directory"));
}

static void test_check_dir_owner_and_ancestors(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(at("theirs"), 0700), 0);
	assert_int_equal(chown(at("theirs"), NOBODY, NOBODY), 0);
	assert_int_equal(safefile_check_dir(at("theirs"), "state directory", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "belongs to uid 65534"));
	/* a private directory inside one others can write: they can rename it away */
	assert_int_equal(mkdir(at("open"), 0777), 0);
	assert_int_equal(chmod(at("open"), 0777), 0);
	assert_int_equal(mkdir(at("open/mine"), 0700), 0);
	assert_int_equal(safefile_check_dir(at("open/mine"), "state directory", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "which others can write (mode 0777)"));
	/* inside a sticky one (/tmp) it is fine */
	assert_int_equal(chmod(at("open"), 01777), 0);
	assert_int_equal(safefile_check_dir(at("open/mine"), "state directory", err, sizeof(err)), 0);
	/* inside a directory of another user */
	assert_int_equal(mkdir(at("theirs/mine"), 0700), 0);
	assert_int_equal(safefile_check_dir(at("theirs/mine"), "state directory", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "inside"));
	/* a symbolic link on the way that another user owns */
	assert_int_equal(symlink(at("open/mine"), at("via")), 0);
	assert_int_equal(safefile_check_dir(at("via"), "state directory", err, sizeof(err)), 0);
	assert_int_equal(lchown(at("via"), NOBODY, NOBODY), 0);
	assert_int_equal(safefile_check_dir(at("via"), "state directory", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "a symbolic link that belongs to uid 65534"));
}

static void test_check_parent_and_make_dir(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(safefile_check_parent(at("ledger.db"), "ledger directory", err, sizeof(err)), 0);
	assert_int_equal(safefile_check_parent(at("none/ledger.db"), "ledger directory", err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(safefile_make_dir(at("new"), "state directory", err, sizeof(err)), 0);
	assert_int_equal(stat(at("new"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(chmod(at("new"), 0757), 0);
	assert_int_equal(safefile_make_dir(at("new"), "state directory", err, sizeof(err)), -EPERM);
	assert_int_equal(safefile_make_dir(at("a/b"), "state directory", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot create state directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_fifo_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_devices_and_dirs_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_nofollow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_creates_and_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_refuses_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_fifo_and_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_refuses_non_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_failed_write_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_dir_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_dir_owner_and_ancestors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_parent_and_make_dir, setup, teardown),
	};

	alarm(DEADLINE_S); /* a blocked open() fails the binary, never stalls the suite */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
