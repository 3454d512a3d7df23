/*
 * Opening files safely (see safefile.h). Why each check:
 *  - stat before open: opening a device can have effects of its own (a
 *    tape rewinds, a serial line raises DTR), and a FIFO blocks in open()
 *    until a writer comes; the fstat after the open catches a swap.
 *  - O_NOFOLLOW and the hard link count: in a directory another user can
 *    write, a symbolic or hard link would make root append to, or replace,
 *    a file of that user's choosing.
 *  - temporary file and rename: readers see the old file or the new one,
 *    never half of one, and a full disk keeps the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/safefile.h"
#include "lib/util.h"

const char *safefile_kind(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file";
	}
}

static int errno_fail(const char *path, char *err, size_t errsz)
{
	int e = errno;

	util_seterr(err, errsz, "%s: %s", path, strerror(e));
	return -e;
}

static void set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* ---- reading ---------------------------------------------------------- */

static int refuse_read(const char *path, mode_t m, char *err, size_t errsz)
{
	util_seterr(err, errsz, "%s is %s, not a regular file; refusing to read it", path, safefile_kind(m));
	return S_ISDIR(m) ? -EISDIR : -EINVAL;
}

int safefile_open_read(const char *path, int flags, char *err, size_t errsz)
{
	int nofollow = flags & SAFEFILE_NOFOLLOW;
	struct stat st;
	int fd;

	if ((nofollow ? lstat(path, &st) : stat(path, &st)))
		return errno_fail(path, err, errsz);
	if (S_ISLNK(st.st_mode)) {
		util_seterr(err, errsz, "%s is a symbolic link; refusing to follow it", path);
		return -ELOOP;
	}
	if (!S_ISREG(st.st_mode))
		return refuse_read(path, st.st_mode, err, errsz);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (errno == ELOOP && nofollow) {
			util_seterr(err, errsz, "%s is a symbolic link; refusing to follow it", path);
			return -ELOOP;
		}
		return errno_fail(path, err, errsz);
	}
	/* The name may have been swapped for a FIFO since the stat. */
	if (fstat(fd, &st)) {
		int r = errno_fail(path, err, errsz);

		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return refuse_read(path, st.st_mode, err, errsz);
	}
	set_blocking(fd);
	return fd;
}

FILE *safefile_fopen_read(const char *path, int flags, char *err, size_t errsz)
{
	int fd = safefile_open_read(path, flags, err, errsz);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (!(f = fdopen(fd, "re"))) {
		errno_fail(path, err, errsz);
		close(fd);
	}
	return f;
}

int safefile_read_all(const char *path, int flags, size_t max, char **buf, size_t *len,
		      char *err, size_t errsz)
{
	int fd = safefile_open_read(path, flags, err, errsz);
	struct stat st;
	size_t have = 0;
	char *b;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || (uint64_t)st.st_size > max) {
		close(fd);
		util_seterr(err, errsz, "%s: larger than %zu bytes", path, max);
		return -EFBIG;
	}
	if (!(b = malloc(max + 1))) {
		close(fd);
		util_seterr(err, errsz, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* Read to the end, not to st_size: the file may grow meanwhile. */
	for (;;) {
		ssize_t n = read(fd, b + have, max + 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = errno_fail(path, err, errsz);

			close(fd);
			free(b);
			return r;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max) {
			close(fd);
			free(b);
			util_seterr(err, errsz, "%s: larger than %zu bytes", path, max);
			return -EFBIG;
		}
	}
	close(fd);
	b[have] = 0;
	*buf = b;
	*len = have;
	return 0;
}

/* ---- appending -------------------------------------------------------- */

/* What may be appended to: st from lstat (exists) or fstat (opened). */
static int append_target_ok(const char *path, const struct stat *st, int flags, char *err, size_t errsz)
{
	if (S_ISLNK(st->st_mode)) {
		util_seterr(err, errsz, "%s is a symbolic link; refusing to write through it", path);
		return -ELOOP;
	}
	if (S_ISCHR(st->st_mode) && (flags & SAFEFILE_DEVICE))
		return 0;
	if (!S_ISREG(st->st_mode)) {
		util_seterr(err, errsz, "%s is %s, not a regular file; refusing to write to it", path,
			    safefile_kind(st->st_mode));
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	}
	if (st->st_nlink > 1) {
		util_seterr(err, errsz, "%s has %lu hard links; refusing to write to it", path,
			    (unsigned long)st->st_nlink);
		return -EMLINK;
	}
	return 0;
}

int safefile_open_append(const char *path, int flags, mode_t mode, char *err, size_t errsz)
{
	int acc = (flags & SAFEFILE_RDWR) ? O_RDWR : O_WRONLY;
	struct stat before, st;
	int existed, fd, r;

	existed = lstat(path, &before) == 0;
	if (!existed && errno != ENOENT)
		return errno_fail(path, err, errsz);
	if (existed && (r = append_target_ok(path, &before, flags, err, errsz)))
		return r;
	fd = open(path, acc | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == ELOOP) {
			util_seterr(err, errsz, "%s is a symbolic link; refusing to write through it", path);
			return -ELOOP;
		}
		return errno_fail(path, err, errsz);
	}
	if (fstat(fd, &st)) {
		r = errno_fail(path, err, errsz);
		close(fd);
		return r;
	}
	/* The name may have been swapped between lstat and open. */
	if ((r = append_target_ok(path, &st, flags, err, errsz)) ||
	    (existed && (st.st_dev != before.st_dev || st.st_ino != before.st_ino))) {
		if (!r)
			util_seterr(err, errsz, "%s changed while it was opened; refusing it", path);
		close(fd);
		return r ? r : -EAGAIN;
	}
	set_blocking(fd);
	return fd;
}

int safefile_rotate(const char *path, int keep, char *err, size_t errsz)
{
	char from[4096], to[4096];
	struct stat st;

	if (keep < 1 || keep > 100 || strlen(path) + 5 > sizeof(from)) {
		util_seterr(err, errsz, "cannot rotate %s: bad name or count", path);
		return -EINVAL;
	}
	if (lstat(path, &st))
		return errno_fail(path, err, errsz);
	if (!S_ISREG(st.st_mode)) {
		util_seterr(err, errsz, "cannot rotate %s: it is %s, not a regular file", path,
			    safefile_kind(st.st_mode));
		return -EINVAL;
	}
	for (int i = keep - 1; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", path, i);
		snprintf(to, sizeof(to), "%s.%d", path, i + 1);
		if (rename(from, to) && errno != ENOENT)
			return errno_fail(to, err, errsz);
	}
	snprintf(to, sizeof(to), "%s.1", path);
	if (rename(path, to))
		return errno_fail(to, err, errsz);
	return 0;
}

FILE *safefile_fopen_append(const char *path, int flags, mode_t mode, char *err, size_t errsz)
{
	int fd = safefile_open_append(path, flags, mode, err, errsz);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (!(f = fdopen(fd, (flags & SAFEFILE_RDWR) ? "a+e" : "ae"))) {
		errno_fail(path, err, errsz);
		close(fd);
	}
	return f;
}

/* ---- replacing -------------------------------------------------------- */

/* The umask without changing it (umask() sets it, for every thread):
 * Linux 4.7+ shows it in /proc/self/status. */
static mode_t current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned m = 022;

	if (!f)
		return 022;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &m) == 1)
			break;
	fclose(f);
	return (mode_t)(m & 0777);
}

/* "DIR/.NAME.XXXXXX" for path "DIR/NAME" (or "NAME"). */
static char *temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
	const char *base = path + dlen;
	size_t n = dlen + 1 + strlen(base) + 8;
	char *t = malloc(n);

	if (t)
		snprintf(t, n, "%.*s.%s.XXXXXX", (int)dlen, path, base);
	return t;
}

int safefile_tmp_open(struct safefile_tmp *t, const char *path, mode_t mode, char *err, size_t errsz)
{
	struct stat st;

	t->fd = -1;
	t->f = NULL;
	t->tmp = NULL;
	if (!lstat(path, &st) && !S_ISREG(st.st_mode)) {
		util_seterr(err, errsz, "%s is %s; refusing to replace it", path, safefile_kind(st.st_mode));
		return S_ISLNK(st.st_mode) ? -ELOOP : S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if (!*path || path[strlen(path) - 1] == '/') {
		util_seterr(err, errsz, "%s: not a file name", path);
		return -EINVAL;
	}
	if (!(t->path = strdup(path)) || !(t->tmp = temp_name(path))) {
		safefile_tmp_abort(t);
		util_seterr(err, errsz, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* mkostemp: O_CREAT | O_EXCL, so never through a link; mode 0600. */
	if ((t->fd = mkostemp(t->tmp, O_CLOEXEC)) < 0) {
		int r = errno_fail(path, err, errsz);

		free(t->tmp);
		t->tmp = NULL; /* nothing to unlink */
		safefile_tmp_abort(t);
		return r;
	}
	if (fchmod(t->fd, mode & ~current_umask() & 0777)) {
		int r = errno_fail(path, err, errsz);

		safefile_tmp_abort(t);
		return r;
	}
	return 0;
}

FILE *safefile_tmp_stream(struct safefile_tmp *t)
{
	if (!t->f && t->fd >= 0)
		t->f = fdopen(t->fd, "we");
	return t->f;
}

static void replace_fail(const char *path, int r, char *err, size_t errsz)
{
	util_seterr(err, errsz, "%s: %s; the previous file, if any, is left as it was", path,
		    strerror(-r));
}

int safefile_tmp_commit(struct safefile_tmp *t, int flags, char *err, size_t errsz)
{
	int r = 0;

	if (t->f && (fflush(t->f) || ferror(t->f)))
		r = errno ? -errno : -EIO; /* errno of the write that failed */
	if (!r && !(flags & SAFEFILE_NOSYNC) && fsync(t->fd))
		r = -errno;
	if (t->f ? fclose(t->f) : close(t->fd))
		r = r ? r : -errno;
	t->f = NULL;
	t->fd = -1;
	if (!r && rename(t->tmp, t->path))
		r = -errno;
	if (r) {
		replace_fail(t->path, r, err, errsz);
		safefile_tmp_abort(t);
		return r;
	}
	free(t->tmp);
	free(t->path);
	t->tmp = t->path = NULL;
	return 0;
}

void safefile_tmp_abort(struct safefile_tmp *t)
{
	if (t->f)
		fclose(t->f);
	else if (t->fd >= 0)
		close(t->fd);
	if (t->tmp)
		unlink(t->tmp);
	free(t->tmp);
	free(t->path);
	t->f = NULL;
	t->fd = -1;
	t->tmp = t->path = NULL;
}

int safefile_replace(const char *path, const void *data, size_t len, mode_t mode, int flags,
		     char *err, size_t errsz)
{
	struct safefile_tmp t;
	const char *p = data;
	int r;

	if ((r = safefile_tmp_open(&t, path, mode, err, errsz)))
		return r;
	while (len) {
		ssize_t n = write(t.fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			replace_fail(path, r, err, errsz);
			safefile_tmp_abort(&t);
			return r;
		}
		p += n;
		len -= (size_t)n;
	}
	return safefile_tmp_commit(&t, flags, err, errsz);
}

/* ---- directories ------------------------------------------------------ */

static int owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* No symbolic link on the way to dir may belong to anyone else: its owner
 * could point it elsewhere between the check and the use. */
static int check_links(const char *dir, const char *what, char *err, size_t errsz)
{
	size_t n = strlen(dir);
	char *p = strdup(dir);
	struct stat st;
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 1; i <= n && !r; i++) {
		if (i < n && p[i] != '/')
			continue;
		p[i] = 0;
		if (!lstat(p, &st) && S_ISLNK(st.st_mode) && !owner_ok(st.st_uid)) {
			util_seterr(err, errsz, "%s %s passes through %s, a symbolic link that belongs to "
				    "uid %u; refusing it", what, dir, p, (unsigned)st.st_uid);
			r = -EPERM;
		}
		if (i < n)
			p[i] = '/';
	}
	free(p);
	return r;
}

/* Every directory above the real dir: root's or ours, and writable by no
 * one else unless sticky (in /tmp others cannot rename what is ours). */
static int check_ancestors(const char *dir, const char *what, char *err, size_t errsz)
{
	char *real = realpath(dir, NULL), *slash;
	struct stat st;
	int r = 0;

	if (!real)
		return errno_fail(dir, err, errsz);
	while (!r && (slash = strrchr(real, '/'))) {
		slash[slash == real ? 1 : 0] = 0;
		if (stat(real, &st)) {
			r = errno_fail(real, err, errsz);
		} else if (!owner_ok(st.st_uid)) {
			util_seterr(err, errsz, "%s %s is inside %s, which belongs to uid %u; refusing it",
				    what, dir, real, (unsigned)st.st_uid);
			r = -EPERM;
		} else if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
			util_seterr(err, errsz, "%s %s is inside %s, which others can write (mode %04o); "
				    "refusing it", what, dir, real, (unsigned)(st.st_mode & 07777));
			r = -EPERM;
		}
		if (!strcmp(real, "/"))
			break;
	}
	free(real);
	return r;
}

int safefile_check_dir(const char *dir, const char *what, char *err, size_t errsz)
{
	struct stat st;
	int r;

	if (stat(dir, &st)) {
		int e = errno;

		util_seterr(err, errsz, "%s %s: %s", what, dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		util_seterr(err, errsz, "%s %s is not a directory", what, dir);
		return -ENOTDIR;
	}
	if (!owner_ok(st.st_uid)) {
		util_seterr(err, errsz, "%s %s belongs to uid %u; refusing it: it must belong to root%s",
			    what, dir, (unsigned)st.st_uid, geteuid() ? " or to this user" : "");
		return -EPERM;
	}
	if (st.st_mode & 022) {
		util_seterr(err, errsz, "%s %s is writable by %s (mode %04o); refusing it: chmod go-w %s",
			    what, dir, (st.st_mode & 002) ? "others" : "its group",
			    (unsigned)(st.st_mode & 07777), dir);
		return -EPERM;
	}
	if ((r = check_links(dir, what, err, errsz)))
		return r;
	return check_ancestors(dir, what, err, errsz);
}

int safefile_check_parent(const char *path, const char *what, char *err, size_t errsz)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int r;

	if (!slash)
		return safefile_check_dir(".", what, err, errsz);
	if (!(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))))
		return -ENOMEM;
	r = safefile_check_dir(dir, what, err, errsz);
	free(dir);
	return r;
}

int safefile_make_dir(const char *dir, const char *what, char *err, size_t errsz)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		int e = errno;

		util_seterr(err, errsz, "cannot create %s %s: %s", what, dir, strerror(e));
		return -e;
	}
	return safefile_check_dir(dir, what, err, errsz);
}
