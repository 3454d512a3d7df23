/* Tests for user/ledger/seal.c: key file rules, round trip, tamper detection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libgen.h>
#include <errno.h>
#include <fcntl.h>
#include <cmocka.h>
#include "ledger/seal.h"

/* dirname() of a copy, in a static buffer (no leak in tests under ASan). */
static char *parent_dir(const char *p)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s", p);
	return dirname(buf);
}

static char dir[64];
static char keypath[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/tw-seal.XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* in a directory that does not exist yet: the first use makes it */
	snprintf(keypath, sizeof(keypath), "%s/state/seal.key", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_create_and_reload(void **state)
{
	struct seal_key a, b;
	struct stat st;
	char err[256];
	(void)state;
	assert_int_equal(seal_key_load(keypath, 0, &a, err, sizeof(err)), -ENOENT);
	assert_int_equal(seal_key_load(keypath, 1, &a, err, sizeof(err)), 0);
	assert_int_equal(stat(keypath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, SEAL_KEY_LEN);
	assert_int_equal(stat(parent_dir(keypath), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(seal_key_load(keypath, 1, &b, err, sizeof(err)), 0);
	assert_memory_equal(a.k, b.k, SEAL_KEY_LEN);
}

static void test_refuses_wide_permissions(void **state)
{
	struct seal_key k;
	char err[256];
	(void)state;
	assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), 0);
	assert_int_equal(chmod(keypath, 0640), 0);
	assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, keypath));
	assert_int_equal(chmod(keypath, 0604), 0);
	assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), -EPERM);
	assert_int_equal(chmod(keypath, 0600), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(keypath, 65534, 65534), 0);
		assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), -EPERM);
		assert_int_equal(chown(keypath, 0, 0), 0);
	}
	assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), 0);
}

static void test_refuses_bad_size_and_symlink(void **state)
{
	struct seal_key k;
	char err[256], link[160];
	int fd;
	(void)state;
	mkdir(parent_dir(keypath), 0700);
	fd = open(keypath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), -EINVAL);
	unlink(keypath);
	assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), 0);
	snprintf(link, sizeof(link), "%s/link.key", dir);
	assert_int_equal(symlink(keypath, link), 0);
	assert_true(seal_key_load(link, 1, &k, err, sizeof(err)) < 0);
}

static void test_round_trip_and_tamper(void **state)
{
	struct seal_key k, other;
	unsigned char blob[256], out[256];
	const char *aad = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char secret[48], err[256], otherpath[160];
	size_t bl, ol;
	(void)state;
	for (int i = 0; i < 40; i++)
		secret[i] = 'A' + (i * 7) % 26;
	secret[40] = 0;
	assert_int_equal(seal_key_load(keypath, 1, &k, err, sizeof(err)), 0);
	assert_int_equal(seal_encrypt(&k, aad, 64, secret, 40, blob, &bl), 0);
	assert_int_equal(bl, 40 + SEAL_OVERHEAD);
	assert_null(memmem(blob, bl, secret, 40));
	assert_int_equal(seal_decrypt(&k, aad, 64, blob, bl, out, &ol), 0);
	assert_int_equal(ol, 40);
	assert_memory_equal(out, secret, 40);
	/* each byte flipped breaks it */
	for (size_t i = 0; i < bl; i++) {
		blob[i] ^= 1;
		assert_int_equal(seal_decrypt(&k, aad, 64, blob, bl, out, &ol), -EBADMSG);
		blob[i] ^= 1;
	}
	/* another row's AAD, another key, a cut blob */
	assert_int_equal(seal_decrypt(&k, "x", 1, blob, bl, out, &ol), -EBADMSG);
	snprintf(otherpath, sizeof(otherpath), "%s/other.key", dir);
	assert_int_equal(seal_key_load(otherpath, 1, &other, err, sizeof(err)), 0);
	assert_int_equal(seal_decrypt(&other, aad, 64, blob, bl, out, &ol), -EBADMSG);
	assert_int_equal(seal_decrypt(&k, aad, 64, blob, SEAL_OVERHEAD - 1, out, &ol), -EBADMSG);
	/* two seals of one secret differ (fresh nonce) */
	unsigned char blob2[256];
	size_t bl2;
	assert_int_equal(seal_encrypt(&k, aad, 64, secret, 40, blob2, &bl2), 0);
	assert_memory_not_equal(blob, blob2, bl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_wide_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_size_and_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_and_tamper, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
