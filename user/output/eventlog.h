/*
 * The event stream of `tokenward run`: JSON lines to up to four sinks
 * (files, or '-' for stdout). What goes in it:
 *  - every exec, from its record (argv redacted by sensors/event.c);
 *  - every verdict (verdict/pipeline.c emits them through eventlog_emit);
 *  - with --trace-io, every capture and connect: identity, path,
 *    addresses and sizes, never content;
 *  - with --watch-literal (tests), where each watched string sits in a
 *    capture: an exec's hits ride on its exec line, the rest on the
 *    capture's trace line.
 */
#ifndef TW_EVENTLOG_H
#define TW_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "sensors/capture.h"

#define EVENTLOG_MAX_SINKS 4
#define EVENTLOG_MAX_LITERALS 16

struct eventlog_opts {
	const char *paths[EVENTLOG_MAX_SINKS]; /* appended to; "-" is stdout */
	int npaths;
	int trace_io;
	const char *literals[EVENTLOG_MAX_LITERALS];
	int nliterals;
	int64_t boot_to_real;                  /* CLOCK_BOOTTIME -> CLOCK_REALTIME */
	uint64_t max_size;                     /* events_max_size: rotate regular files; 0 never */
	int keep;                              /* events_keep: PATH.1 .. PATH.keep */
};

struct eventlog;

/* On failure err names the sink that could not be opened. */
int eventlog_open(const struct eventlog_opts *o, struct eventlog **out, char *err, size_t errsz);
/* Write one line to every sink; takes ownership of o. */
void eventlog_emit(struct eventlog *el, cJSON *o);
void eventlog_capture(struct eventlog *el, const struct capture *c);
void eventlog_connect(struct eventlog *el, const struct conn_event *c);
/* A ring record whose captures were all handed to eventlog_capture. */
void eventlog_record(struct eventlog *el, const void *rec, size_t len);
/* The longest watched literal: captures must carry at least this much. */
size_t eventlog_literal_max(const struct eventlog *el);
uint64_t eventlog_count(const struct eventlog *el);
/* Lines some sink never got (a full disk, a closed pipe), all sinks. */
uint64_t eventlog_lost(const struct eventlog *el);
void eventlog_flush(struct eventlog *el);
/* Open every file sink again by its path (after logrotate moved it); a
 * sink that cannot be opened keeps writing to its old file. */
int eventlog_reopen(struct eventlog *el);
/* Size-based rotation of the regular-file sinks (a reload may change it):
 * before a flush would take a file past max_size it is moved to PATH.1
 * (the older ones up to PATH.keep) and a new PATH is opened; whole lines
 * only, none lost. */
void eventlog_set_rotation(struct eventlog *el, uint64_t max_size, int keep);
void eventlog_rotation_status(const struct eventlog *el, uint64_t *rotations, uint64_t *failures);

/*
 * A reload's new list of sinks: prepare opens the paths not open yet (a
 * path already open keeps its sink); nothing running changes, and a path
 * that cannot be opened is -errno with err. commit swaps the list in: a
 * sink no longer listed is flushed and closed. abort undoes prepare.
 */
struct eventlog_next;
int eventlog_prepare(const struct eventlog *el, const char *const *paths, int npaths,
		     struct eventlog_next **out, char *err, size_t errsz);
int eventlog_next_changed(const struct eventlog_next *n);
void eventlog_commit(struct eventlog *el, struct eventlog_next *n);
void eventlog_abort(struct eventlog_next *n);
void eventlog_close(struct eventlog *el);

#endif
