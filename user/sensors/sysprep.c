/*
 * A fresh machine here has neither tracefs nor bpffs mounted, and libbpf's
 * own failure for that is a page of noise. Check each precondition and
 * name the first one that is missing in a single line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "sensors/sysprep.h"

#define TRACEFS_MAGIC_NR 0x74726163
#define BPF_FS_MAGIC_NR  0xcafe4a11
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

static int check_privileges(char *err, size_t errsz)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {0};

	if (geteuid() == 0)
		return 0;
	if (syscall(SYS_capget, &hdr, data) == 0 &&
	    has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON) &&
	    has_cap(data, CAP_SYS_ADMIN))
		return 0;
	snprintf(err, errsz, "needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to load its sensors");
	return -EPERM;
}

static int ensure_mounted(const char *dir, const char *fstype, long magic,
			  char *err, size_t errsz)
{
	struct statfs st;

	if (statfs(dir, &st) == 0 && st.f_type == magic)
		return 0;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errsz, "cannot create %s for %s: %s", dir, fstype, strerror(errno));
		return -errno;
	}
	if (mount(fstype, dir, fstype, 0, NULL)) {
		int e = errno;
		snprintf(err, errsz, "%s is not mounted at %s and mounting it failed: %s",
			 fstype, dir, strerror(e));
		return -e;
	}
	return 0;
}

int sysprep_run(char *err, size_t errsz)
{
	int r;

	if ((r = check_privileges(err, errsz)))
		return r;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errsz, "kernel BTF (/sys/kernel/btf/vmlinux) is missing: "
			 "a kernel built with CONFIG_DEBUG_INFO_BTF=y is required");
		return -ENOENT;
	}
	if ((r = ensure_mounted("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC_NR, err, errsz)))
		return r;
	return ensure_mounted("/sys/fs/bpf", "bpf", BPF_FS_MAGIC_NR, err, errsz);
}
