/*
 * One monitor per state directory: `run` holds an flock on
 * STATE_DIR/run.lock for its whole life, with its pid written in the file
 * so that a second `run` can name the one that holds it. The kernel drops
 * the lock when the holder dies, however it dies: no stale lock to clean.
 */
#ifndef TW_INSTLOCK_H
#define TW_INSTLOCK_H

#include <stddef.h>

#define INSTLOCK_FILE "run.lock"

/* The lock fd (>= 0, kept open), or -EWOULDBLOCK (err names the holder's
 * pid) or another -errno. */
int instlock_take(const char *state_dir, char *err, size_t errsz);
void instlock_release(int fd);

#endif
