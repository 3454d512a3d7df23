/* Tests for user/lib/cgroup.c: path normalising, the subtree test that
 * --delegate-cgroup relies on, container ids from each runtime's layout,
 * and id -> path through the real cgroup2 mount. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "lib/cgroup.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_normalise(void **state)
{
	char out[256];
	(void)state;

	assert_int_equal(cgroup_normalise("/sys/fs/cgroup/unified/a//b/./c/", "/sys/fs/cgroup/unified",
					  out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b/c");
	/* a pure v2 host's conventional prefix, whatever the root */
	assert_int_equal(cgroup_normalise("/sys/fs/cgroup/x", "/sys/fs/cgroup", out, sizeof(out)), 0);
	assert_string_equal(out, "/x");
	assert_int_equal(cgroup_normalise("/system.slice/x", "/sys/fs/cgroup/unified", out, sizeof(out)), 0);
	assert_string_equal(out, "/system.slice/x");
	assert_int_equal(cgroup_normalise("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_not_equal(cgroup_normalise("rel/x", "/sys/fs/cgroup", out, sizeof(out)), 0);
	assert_int_not_equal(cgroup_normalise("/a/../b", "/sys/fs/cgroup", out, sizeof(out)), 0);
}

static void test_within(void **state)
{
	(void)state;
	assert_true(cgroup_within("/a/b", "/a/b"));
	assert_true(cgroup_within("/a/b/c", "/a/b"));
	assert_false(cgroup_within("/a/bc", "/a/b"));     /* a name prefix is not below */
	assert_false(cgroup_within("/a", "/a/b"));
	assert_true(cgroup_within("/x", "/"));
}

static void expect_ctr(const char *path, const char *runtime)
{
	char id[65] = "";
	const char *rt = cgroup_container(path, id, sizeof(id));

	if (!runtime) {
		if (rt)
			fail_msg("%s: want no container, got %s", path, rt);
		return;
	}
	if (!rt || strcmp(rt, runtime) || strcmp(id, ID64))
		fail_msg("%s: want %s, got %s '%s'", path, runtime, rt ? rt : "none", id);
}

static void test_containers(void **state)
{
	(void)state;
	expect_ctr("/system.slice/docker-" ID64 ".scope", "docker");
	expect_ctr("/docker/" ID64, "docker");
	expect_ctr("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-" ID64 ".scope", "containerd");
	expect_ctr("/kubepods.slice/kubepods-pod1.slice/crio-" ID64 ".scope", "cri-o");
	expect_ctr("/machine.slice/libpod-" ID64 ".scope/container", "podman");
	expect_ctr("/kubepods/besteffort/pod1234/" ID64, "kubernetes");
	expect_ctr("/user.slice/user-0.slice/session-1.scope", NULL);
	expect_ctr("/system.slice/docker-0123.scope", NULL);        /* not 64 hex */
	expect_ctr("/x/" ID64 "0", NULL);
	expect_ctr("/", NULL);
	expect_ctr(NULL, NULL);
}

/* The real mount: the root cgroup's inode is its id, "/" its path. */
static void test_cache_resolves_root(void **state)
{
	const char *root = cgroup_v2_root();
	struct cgcache *c;
	struct stat st;
	const char *p;
	(void)state;

	if (!*root || stat(root, &st))
		skip();
	c = cgcache_new(root);
	assert_non_null(c);
	p = cgcache_path(c, st.st_ino, 0);
	assert_non_null(p);
	assert_string_equal(p, "/");
	assert_ptr_equal(cgcache_path(c, st.st_ino, 0), p);   /* cached */
	assert_int_equal(cgcache_misses(c), 1);
	assert_null(cgcache_path(c, 0, 0));
	cgcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_within),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_cache_resolves_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
