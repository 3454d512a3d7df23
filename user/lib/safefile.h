/*
 * Files tokenward opens because someone named them, and files it creates
 * or appends to, usually as root. One place holds the open flags, so that
 * no call site forgets one:
 *
 *  - a read never blocks in open() or read() on a FIFO or a device: the
 *    open is O_NONBLOCK and anything but a regular file is refused;
 *  - a write never follows a symbolic link (O_NOFOLLOW), never lands in a
 *    file with other hard links, and a new file is created with O_EXCL;
 *  - a file replaced as a whole (a report, status.json, a ready file) is
 *    written to a new temporary file in the same directory, then renamed
 *    over the old one: a failed write leaves the old file as it was;
 *  - the directories that hold tokenward's state must belong to this user
 *    (or root) and be writable by nobody else (safefile_check_dir).
 *
 * Every function returns 0 (or an fd) or -errno, with one line naming the
 * file in err (NULL is fine).
 */
#ifndef TW_SAFEFILE_H
#define TW_SAFEFILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

enum {
	SAFEFILE_NOFOLLOW = 1, /* read: refuse a symbolic link (a secret's mode is checked on the fd) */
	SAFEFILE_RDWR = 2,     /* append: also readable */
	SAFEFILE_DEVICE = 4,   /* append: a character device (/dev/null) is fine */
	SAFEFILE_NOSYNC = 8,   /* replace: no fsync (status.json, rewritten every second) */
};

/* "a FIFO", "a directory", "a character device"...: for messages. */
const char *safefile_kind(mode_t m);

/* A regular file opened for reading, blocking again once its type is
 * known. Returns the fd (O_CLOEXEC) or -errno: -EINVAL "not a regular
 * file (a FIFO)", -ELOOP for a link under SAFEFILE_NOFOLLOW. */
int safefile_open_read(const char *path, int flags, char *err, size_t errsz);

/* The same as a stdio stream ("re"); NULL with errno set and err filled. */
FILE *safefile_fopen_read(const char *path, int flags, char *err, size_t errsz);

/* The whole file (at most max bytes, else -EFBIG) into a new buffer with
 * a NUL after the last byte; the caller frees *buf. */
int safefile_read_all(const char *path, int flags, size_t max, char **buf, size_t *len,
		      char *err, size_t errsz);

/* Open for appending (O_APPEND, O_CREAT with mode when missing), never
 * through a symbolic link and never into a file with other hard links.
 * Only a regular file, or with SAFEFILE_DEVICE a character device.
 * Returns the fd or -errno. */
int safefile_open_append(const char *path, int flags, mode_t mode, char *err, size_t errsz);

/* The same as a stdio stream ("ae"). */
FILE *safefile_fopen_append(const char *path, int flags, mode_t mode, char *err, size_t errsz);

/* Size-based rotation of a file tokenward appends to (events.jsonl):
 * PATH.(keep-1) becomes PATH.keep (the old PATH.keep is replaced),
 * ..., PATH becomes PATH.1; the caller then opens PATH anew. Only names
 * are moved, never through a link: rename() moves a symbolic link
 * itself and replaces one at the target without following it, and PATH
 * must be a regular file (lstat) or nothing is moved. A missing PATH.i
 * is skipped. keep 1..100. 0 or -errno with err. */
int safefile_rotate(const char *path, int keep, char *err, size_t errsz);

/* Replacing a file as a whole: open a temporary file beside path, write
 * to t->fd, then commit (fsync unless SAFEFILE_NOSYNC, close, rename over
 * path) or abort (close, unlink). path may be absent or a regular file;
 * a link, a directory or a device at path is refused. mode is applied
 * through the umask. */
struct safefile_tmp {
	int fd;
	FILE *f;          /* set by safefile_tmp_stream() */
	char *path, *tmp;
};
int safefile_tmp_open(struct safefile_tmp *t, const char *path, mode_t mode, char *err, size_t errsz);
/* t->fd as a stdio stream, owned by t (commit flushes and closes it). */
FILE *safefile_tmp_stream(struct safefile_tmp *t);
int safefile_tmp_commit(struct safefile_tmp *t, int flags, char *err, size_t errsz);
void safefile_tmp_abort(struct safefile_tmp *t);

/* data as the whole new content of path, by safefile_tmp_*. */
int safefile_replace(const char *path, const void *data, size_t len, mode_t mode, int flags,
		     char *err, size_t errsz);

/*
 * A directory tokenward keeps state in (what: "state directory", "ledger
 * directory"): it must be a directory owned by this user or by root and
 * writable by neither group nor others, and so must every directory
 * above it unless it is sticky (/tmp); no symbolic link on the way may
 * belong to anyone else. Otherwise -EPERM with the reason, or the stat
 * error (-ENOENT when it does not exist).
 */
int safefile_check_dir(const char *dir, const char *what, char *err, size_t errsz);

/* safefile_check_dir() of the directory that holds path. */
int safefile_check_parent(const char *path, const char *what, char *err, size_t errsz);

/* Create dir (0700, not its parents) when missing, then check it. */
int safefile_make_dir(const char *dir, const char *what, char *err, size_t errsz);

#endif
