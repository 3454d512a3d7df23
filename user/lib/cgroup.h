/*
 * Where a process's cgroup v2 lives, and what it says about the process:
 * the hierarchy's mount point (pure v2 at /sys/fs/cgroup, hybrid hosts at
 * /sys/fs/cgroup/unified), a cgroup id (what the sensors record) turned
 * back into its path, the container a path names, and the host's own
 * identity (host name, boot id) that every verdict carries.
 */
#ifndef TW_CGROUP_H
#define TW_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* The cgroup2 mount point from /proc/self/mountinfo, read once; "" when
 * none is mounted. */
const char *cgroup_v2_root(void);

/*
 * A cgroup path as the sensors report it: relative to the cgroup2 root,
 * "/" then components joined by single slashes, no ".". A prefix naming
 * the cgroup2 mount point (root, or /sys/fs/cgroup) is dropped. ".." is
 * refused rather than resolved. 0, or -EINVAL.
 */
int cgroup_normalise(const char *in, const char *root, char *out, size_t outsz);

/* Is path (normalised) the cgroup root_path or below it? */
int cgroup_within(const char *path, const char *root_path);

/*
 * The container a cgroup path names: the deepest component that is a
 * container id in a runtime's layout (docker-ID.scope, /docker/ID,
 * cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope, a bare 64-hex
 * leaf under kubepods). The id (64 hex) goes to id; returns the runtime
 * ("docker", "containerd", "cri-o", "podman", "kubernetes"), or NULL.
 */
const char *cgroup_container(const char *path, char *id, size_t idsz);

/* id -> path, cached (ids are not reused within a boot). */
struct cgcache;
struct cgcache *cgcache_new(const char *root);
void cgcache_free(struct cgcache *c);
/* The path of cgroup id, relative to the root; tgid (0: none) is asked
 * through /proc when the id cannot be opened directly. NULL unknown. */
const char *cgcache_path(struct cgcache *c, uint64_t id, uint32_t tgid);
uint64_t cgcache_misses(const struct cgcache *c);

/* gethostname() and /proc/sys/kernel/random/boot_id; "" when unknown. */
void host_identity(char *host, size_t hostsz, char *boot_id, size_t bootsz);

#endif
