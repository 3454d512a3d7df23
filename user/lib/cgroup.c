/*
 * cgroup v2 identity. The sensors record a cgroup id (the kernfs inode of
 * the cgroup's directory); verdicts and --delegate-cgroup need its path.
 * The id is turned into a path by opening it as a file handle on the
 * cgroup2 mount (kernfs exports ids as handles) and reading the link of
 * the fd: exact, even for a process that has exited. Where that is not
 * allowed, /proc/TGID/cgroup is asked and believed only if the path it
 * gives still has that inode.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/cgroup.h"

#define CGCACHE_SLOTS 4096        /* power of two; cleared whole when full */
#define FILEID_KERNFS 0xfe

const char *cgroup_v2_root(void)
{
	static char root[PATH_MAX];
	static int done;
	char line[4096];
	FILE *f;

	if (done)
		return root;
	done = 1;
	if (!(f = fopen("/proc/self/mountinfo", "re")))
		return root;
	/* id parent maj:min root mountpoint opts... - fstype source superopts */
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			snprintf(root, sizeof(root), "%s", mnt);
			break;
		}
	}
	fclose(f);
	return root;
}

static size_t prefix_of(const char *p, const char *root)
{
	size_t n = root ? strlen(root) : 0;

	if (n > 1 && !strncmp(p, root, n) && (p[n] == '/' || !p[n]))
		return n;
	return 0;
}

int cgroup_normalise(const char *in, const char *root, char *out, size_t outsz)
{
	size_t n = 0, skip;
	const char *p = in;

	/* the mount point named, or the conventional one on a pure v2 host */
	if (!(skip = prefix_of(p, root)))
		skip = prefix_of(p, "/sys/fs/cgroup");
	p += skip;
	if (!skip && *p != '/')
		return -EINVAL;
	if (strlen(p) > PATH_MAX / 2 || outsz < 2)
		return -EINVAL;
	while (*p) {
		size_t k;

		p += strspn(p, "/");
		k = strcspn(p, "/");
		if (k == 0 || (k == 1 && p[0] == '.')) {
			p += k;
			continue;
		}
		if (k == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (n + 1 + k + 1 > outsz)
			return -EINVAL;
		out[n++] = '/';
		memcpy(out + n, p, k);
		n += k;
		p += k;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = 0;
	return 0;
}

int cgroup_within(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		return path[0] == '/';
	return !strncmp(path, root, n) && (path[n] == 0 || path[n] == '/');
}

static int is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* One component (not NUL-terminated) in a runtime's layout; parent is the
 * component above it. Returns the runtime or NULL; *id_at the id. */
static const char *component_runtime(const char *c, size_t n, const char *parent, size_t pn,
				     const char **id_at)
{
	static const struct { const char *prefix, *runtime; } layouts[] = {
		{ "docker-", "docker" }, { "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" }, { "libpod-", "podman" },
	};

	if (n > 6 && !memcmp(c + n - 6, ".scope", 6))
		n -= 6;
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		size_t k = strlen(layouts[i].prefix);

		if (n > k && !memcmp(c, layouts[i].prefix, k) && is_hex64(c + k, n - k)) {
			*id_at = c + k;
			return layouts[i].runtime;
		}
	}
	if (!is_hex64(c, n))
		return NULL;
	*id_at = c;
	/* cgroupfs drivers: /docker/ID, /libpod_parent/libpod-ID, /kubepods/.../ID */
	if (pn == 6 && !memcmp(parent, "docker", 6))
		return "docker";
	if (pn > 3 && !memcmp(parent, "pod", 3))
		return "kubernetes";
	return NULL;
}

const char *cgroup_container(const char *path, char *id, size_t idsz)
{
	const char *end, *start, *pend, *pstart, *rt, *id_at = NULL;

	if (!path || idsz < 65)
		return NULL;
	/* deepest first: podman's libpod-ID.scope/container names the scope */
	for (end = path + strlen(path); end > path; end = start - 1) {
		start = end;
		while (start > path && start[-1] != '/')
			start--;
		pend = start > path ? start - 1 : path;
		pstart = pend;
		while (pstart > path && pstart[-1] != '/')
			pstart--;
		rt = component_runtime(start, end - start, pstart, pend - pstart, &id_at);
		if (rt) {
			memcpy(id, id_at, 64);
			id[64] = 0;
			return rt;
		}
		if (start == path)
			break;
	}
	return NULL;
}

/* ---- id -> path ------------------------------------------------------ */

struct cgcache {
	char root[PATH_MAX];
	int mount_fd;
	size_t used;
	uint64_t misses;
	struct { uint64_t id; char *path; } slot[CGCACHE_SLOTS];
};

struct cgcache *cgcache_new(const char *root)
{
	struct cgcache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(c->root, sizeof(c->root), "%s", root ? root : "");
	c->mount_fd = c->root[0] ? open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	return c;
}

static void cgcache_clear(struct cgcache *c)
{
	for (size_t i = 0; i < CGCACHE_SLOTS; i++) {
		free(c->slot[i].path);
		c->slot[i].path = NULL;
		c->slot[i].id = 0;
	}
	c->used = 0;
}

void cgcache_free(struct cgcache *c)
{
	if (!c)
		return;
	cgcache_clear(c);
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	free(c);
}

uint64_t cgcache_misses(const struct cgcache *c)
{
	return c ? c->misses : 0;
}

/* An absolute path under the mount -> relative path in out. */
static int strip_root(const struct cgcache *c, const char *abs, char *out, size_t outsz)
{
	size_t n = strlen(c->root);

	if (strncmp(abs, c->root, n) || (abs[n] && abs[n] != '/'))
		return -1;
	snprintf(out, outsz, "%s", abs[n] ? abs + n : "/");
	return 0;
}

static int by_handle(const struct cgcache *c, uint64_t id, char *out, size_t outsz)
{
	union { struct file_handle fh; char buf[sizeof(struct file_handle) + 8]; } h;
	char link[64], abs[PATH_MAX];
	ssize_t n;
	int fd;

	if (c->mount_fd < 0)
		return -1;
	h.fh.handle_bytes = 8;
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, 8);
	fd = open_by_handle_at(c->mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, abs, sizeof(abs) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	abs[n] = 0;
	return strip_root(c, abs, out, outsz);
}

static int by_proc(const struct cgcache *c, uint64_t id, uint32_t tgid, char *out, size_t outsz)
{
	char f[64], line[PATH_MAX + 8], abs[PATH_MAX * 2];
	struct stat st;
	FILE *fp;
	int rc = -1;

	if (!tgid || !c->root[0])
		return -1;
	snprintf(f, sizeof(f), "/proc/%u/cgroup", tgid);
	if (!(fp = fopen(f, "re")))
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "0::/", 4))
			continue;
		line[strcspn(line, "\n")] = 0;
		if (snprintf(abs, sizeof(abs), "%s%s", c->root, line + 3) >= (int)sizeof(abs))
			break;
		/* the process may have moved since the record: only the same inode counts */
		if (!stat(abs, &st) && st.st_ino == id && snprintf(out, outsz, "%s", line + 3) < (int)outsz)
			rc = 0;
		break;
	}
	fclose(fp);
	return rc;
}

const char *cgcache_path(struct cgcache *c, uint64_t id, uint32_t tgid)
{
	char path[PATH_MAX];
	size_t i;

	if (!c || !id)
		return NULL;
	i = (size_t)(id * 0x9e3779b97f4a7c15ull >> 52) & (CGCACHE_SLOTS - 1);
	for (size_t probe = 0; probe < CGCACHE_SLOTS; probe++, i = (i + 1) & (CGCACHE_SLOTS - 1)) {
		if (c->slot[i].id == id)
			return c->slot[i].path;
		if (!c->slot[i].id)
			break;
	}
	c->misses++;
	if (by_handle(c, id, path, sizeof(path)) && by_proc(c, id, tgid, path, sizeof(path)))
		return NULL;    /* not cached: it may resolve once the process is seen */
	if (c->used >= CGCACHE_SLOTS / 2)
		cgcache_clear(c);      /* every slot empty now, slot i too */
	if (!(c->slot[i].path = strdup(path)))
		return NULL;
	c->slot[i].id = id;
	c->used++;
	return c->slot[i].path;
}

void host_identity(char *host, size_t hostsz, char *boot_id, size_t bootsz)
{
	FILE *f;

	if (hostsz && gethostname(host, hostsz))
		host[0] = 0;
	if (hostsz)
		host[hostsz - 1] = 0;
	if (!bootsz)
		return;
	boot_id[0] = 0;
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re"))) {
		if (fgets(boot_id, bootsz, f))
			boot_id[strcspn(boot_id, "\n")] = 0;
		fclose(f);
	}
}
