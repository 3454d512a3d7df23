/* The single-instance lock (instlock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/instlock.h"
#include "lib/util.h"

int instlock_take(const char *state_dir, char *err, size_t errsz)
{
	char path[4096], buf[32];
	struct stat st;
	ssize_t n;
	int fd, e;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir, INSTLOCK_FILE) >= (int)sizeof(path)) {
		util_seterr(err, errsz, "state directory path too long");
		return -ENAMETOOLONG;
	}
	/* root opens it: never through a link someone planted */
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		util_seterr(err, errsz, "cannot open the instance lock %s: %s", path,
			    e == ELOOP ? "it is a symbolic link" : strerror(e));
		return -e;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		util_seterr(err, errsz, "the instance lock %s is not a regular file", path);
		return -EINVAL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		e = errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		close(fd);
		if (e == EWOULDBLOCK) {
			util_seterr(err, errsz, "another tokenward run (pid %s) already uses the state "
				    "directory %s", *buf ? buf : "unknown", state_dir);
			return -EWOULDBLOCK;
		}
		util_seterr(err, errsz, "cannot lock %s: %s", path, strerror(e));
		return -e;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, n, 0) != n) {
		e = errno;
		close(fd);
		util_seterr(err, errsz, "cannot write the instance lock %s: %s", path, strerror(e));
		return -e;
	}
	return fd;
}

void instlock_release(int fd)
{
	if (fd >= 0)
		close(fd);  /* the lock goes with the fd; the file stays, unlocked */
}
