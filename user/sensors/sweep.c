/*
 * Walk /proc once. Every read may race with the process exiting; a
 * process that vanishes half-way is counted and skipped, never an error.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include "sensors/proctable.h"
#include "sensors/sweep.h"
#include "lib/util.h"

#define CGROUP2_MAGIC 0x63677270

/* Read up to max bytes of a /proc file; *more is set when it has more. */
static ssize_t read_small(const char *path, unsigned char *buf, size_t max, int *more)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	*more = 0;
	if (fd < 0)
		return -errno;
	while (n < max && (r = read(fd, buf + n, max - n)) > 0)
		n += r;
	if (n == max) {
		unsigned char c;
		*more = read(fd, &c, 1) == 1;
	}
	close(fd);
	return n;
}

static const char *cgroup2_root(void)
{
	static const char *const candidates[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	struct statfs sf;

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (statfs(candidates[i], &sf) == 0 && sf.f_type == CGROUP2_MAGIC)
			return candidates[i];
	return NULL;
}

/* The cgroup v2 id is the inode number of the cgroup's directory. */
static uint64_t cgroup_id_of(const char *procdir, const char *pid, const char *root)
{
	char path[4096], line[4096];
	uint64_t id = 0;
	FILE *f;

	if (!root)
		return 0;
	snprintf(path, sizeof(path), "%s/%s/cgroup", procdir, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			struct stat st;
			line[strcspn(line, "\n")] = 0;
			snprintf(path, sizeof(path), "%s%s", root, line + 3);
			if (stat(path, &st) == 0)
				id = st.st_ino;
			break;
		}
	}
	fclose(f);
	return id;
}

struct pstat {
	char comm[TW_COMM_LEN + 1];
	uint32_t ppid, uid;
	uint64_t start_ticks;
};

static int read_stat(const char *procdir, const char *pid, struct pstat *ps)
{
	char path[512], buf[2048], *close_paren, *p;
	unsigned long long start = 0;
	unsigned ppid = 0;
	int more, field;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/stat", procdir, pid);
	n = read_small(path, (unsigned char *)buf, sizeof(buf) - 1, &more);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* comm is in parentheses and may itself contain ") " */
	p = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!p || !close_paren || close_paren < p)
		return -1;
	snprintf(ps->comm, sizeof(ps->comm), "%.*s", (int)(close_paren - p - 1), p + 1);
	p = close_paren + 2; /* field 3: state */
	for (field = 3; *p && field < 22; field++) {
		if (field == 4)
			ppid = strtoul(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	start = strtoull(p, NULL, 10);
	ps->ppid = ppid;
	ps->start_ticks = start;

	ps->uid = 0;
	snprintf(path, sizeof(path), "%s/%s/status", procdir, pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "Uid: %u", &ps->uid) == 1)
				break;
		fclose(f);
	}
	return 0;
}

static int sweep_one(struct capture_ctx *cc, const char *procdir, const char *pid,
		     const char *cgroot, unsigned char *buf, struct sweep_stats *st)
{
	static const struct { const char *file; enum capture_kind kind; } parts[] = {
		{ "cmdline", CAP_EXEC_ARGV },
		{ "environ", CAP_EXEC_ENV },
	};
	struct tw_hdr hdr = { 0 };
	struct capture c = { 0 };
	const struct proc_info *proc;
	char path[512], exe[4096];
	struct pstat ps;
	ssize_t n;
	int more, r;
	long tick = sysconf(_SC_CLK_TCK);

	if (read_stat(procdir, pid, &ps)) {
		st->vanished++;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s/exe", procdir, pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0) {
		/* Kernel threads (kthreadd and its children) have no exe and
		 * nothing to sweep; anything else without one has just exited. */
		if (ps.ppid == 2 || !strcmp(pid, "2"))
			st->kthreads++;
		else
			st->vanished++;
		return 0;
	}
	exe[n] = 0;
	hdr.type = TW_EV_EXEC;
	hdr.ts_boot_ns = util_now_ns(CLOCK_BOOTTIME);
	hdr.tgid = hdr.pid = strtoul(pid, NULL, 10);
	hdr.ppid = ps.ppid;
	hdr.uid = ps.uid;
	hdr.cgroup_id = cgroup_id_of(procdir, pid, cgroot);
	hdr.start_boot_ns = ps.start_ticks * (1000000000ull / (tick > 0 ? tick : 100));
	memcpy(hdr.comm, ps.comm, TW_COMM_LEN);
	proc = proctable_note_proc(hdr.tgid, hdr.ppid, hdr.uid, hdr.start_boot_ns,
				   hdr.cgroup_id, ps.comm, exe);
	st->procs++;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", procdir, pid, parts[i].file);
		n = read_small(path, buf, SWEEP_READ_MAX, &more);
		if (n < 0)
			continue;
		memset(&c, 0, sizeof(c));
		c.kind = parts[i].kind;
		c.hdr = &hdr;
		c.proc = proc;
		c.fd = -1;
		c.path = exe;
		c.data = buf;
		c.len = n;
		c.total_len = n + (more ? 1 : 0);
		c.truncated = more;
		c.from_sweep = 1;
		st->truncated += more;
		if ((r = capture_deliver(cc, &c)))
			return r;
	}
	return 0;
}

int sweep_run(struct capture_ctx *cc, const char *procdir, uint32_t self_tgid,
	      struct sweep_stats *st)
{
	const char *cgroot = cgroup2_root();
	unsigned char *buf = malloc(SWEEP_READ_MAX);
	struct dirent *d;
	DIR *dir;
	int r = 0;

	memset(st, 0, sizeof(*st));
	if (!buf)
		return -ENOMEM;
	dir = opendir(procdir);
	if (!dir) {
		r = -errno;
		free(buf);
		return r;
	}
	while (!r && (d = readdir(dir))) {
		if (!isdigit((unsigned char)d->d_name[0]) ||
		    strtoul(d->d_name, NULL, 10) == self_tgid)
			continue;
		r = sweep_one(cc, procdir, d->d_name, cgroot, buf, st);
	}
	closedir(dir);
	free(buf);
	return r;
}
