/*
 * Where the TLS plaintext probes go: every file that some process maps
 * executable and that defines a TLS write function (tlself.h), probed once
 * per file (device and inode), whichever mount namespace it lives in.
 *
 *  - at start: the usual system paths of libssl and libgnutls, then
 *    /proc/PID/maps of every process;
 *  - at exec (the exec sensor's record): the new process's maps at once
 *    (its executable: node, Go programs) and again at +20 ms, +250 ms and
 *    +2 s (the libraries its loader and dlopen() map after exec);
 *  - a file is opened through /proc/PID/map_files (the mapped inode
 *    itself, even deleted or in another mount namespace), or else
 *    /proc/PID/root/PATH, read once, and remembered whatever it held: a
 *    later mapping of a known file costs one hash lookup;
 *  - once a second, a probed file whose last known user has exited and
 *    whose path no longer leads to it (deleted, replaced) is detached.
 *
 * The work is bounded: maps reads per second (the rest counted as
 * skipped), files remembered, files probed at once. Single-threaded; the
 * probes themselves are attached by the caller (monitor.c), so this file
 * needs no BPF and is unit-tested with a fake /proc.
 */
#ifndef TW_TLSATTACH_H
#define TW_TLSATTACH_H

#include <stdint.h>
#include "sensors/tlself.h"

struct tlsattach_opts {
	const char *procdir;    /* "/proc", or a test's fake one */
	unsigned max_files;     /* files remembered, probed or not; 0: 4096 */
	unsigned max_probed;    /* files probed at once; 0: 256 */
	unsigned scans_per_sec; /* /proc/PID/maps reads per second; 0: 1000 */
};

struct tlsattach_stats {
	uint64_t scans;         /* /proc/PID/maps read */
	uint64_t scans_skipped; /* not read: over the budget, or the queue full */
	uint64_t vanished;      /* the process was gone before its maps were read */
	uint64_t mappings;      /* executable file mappings seen */
	uint64_t known;         /* ... of a file already examined: no work */
	uint64_t examined;      /* files opened and read for TLS functions */
	uint64_t probed;        /* files with probes now */
	uint64_t attached;      /* files ever probed */
	uint64_t no_symbols;    /* named like a TLS library, without its functions */
	uint64_t go_stripped;   /* stripped Go binaries before 1.18: not probed */
	uint64_t failed;        /* files that could not be opened or probed */
	uint64_t dropped;       /* probed files gone (deleted, replaced): detached */
	uint64_t table_full;    /* mappings not examined: max_files reached */
	uint64_t map_records;   /* new executable mappings the kernel told of (TW_EV_MAP_NEW) */
	uint64_t settled;       /* maps reads that found every mapping examined */
	uint64_t unprobed_procs;/* processes that sent TLS before their library was probed */
};

/* Attach the probes for the file at @path (a /proc/self/fd link) whose
 * functions are in @r; keep whatever detaching needs in *handle. 0 or a
 * negative errno. */
typedef int (*tlsattach_attach_fn)(void *ctx, const char *path, const struct tlself_result *r,
				   void **handle);
typedef void (*tlsattach_detach_fn)(void *ctx, void *handle);

/* Optional (tlsattach_set_hooks): the file with key @dev, @ino (as in
 * /proc/PID/maps) has been examined (@known 1) or forgotten (0). */
typedef void (*tlsattach_known_fn)(void *ctx, uint64_t dev, uint64_t ino, int known);
/* Optional: a maps read of @tgid begun at @scan_ns found every executable
 * mapping examined (and attached where it could be). Returns how many TLS
 * records the process sent before that, unseen (0: none, or unknown). */
typedef uint64_t (*tlsattach_settle_fn)(void *ctx, uint32_t tgid, uint64_t scan_ns);

struct tlsattach;

struct tlsattach *tlsattach_new(const struct tlsattach_opts *o, tlsattach_attach_fn attach,
				tlsattach_detach_fn detach, void *ctx);
void tlsattach_set_hooks(struct tlsattach *t, tlsattach_known_fn known, tlsattach_settle_fn settle);
/* The kernel saw @tgid map executable a file not examined yet (or exec
 * one): its maps are read now, within the budget, before the rest of the
 * ring is handled: the process is on its way to its first TLS write. */
void tlsattach_mapped(struct tlsattach *t, uint32_t tgid, uint64_t now_ns);
/* A file at a fixed path, mapped or not yet (the system libssl). */
void tlsattach_path(struct tlsattach *t, const char *path);
/* Every process in procdir, now. */
void tlsattach_sweep(struct tlsattach *t, uint64_t now_ns);
/* Process @tgid has just exec'd: read its maps now and three times later. */
void tlsattach_exec(struct tlsattach *t, uint32_t tgid, uint64_t now_ns);
/* Milliseconds until the next rescan is due, at most @max_ms. */
int tlsattach_timeout_ms(const struct tlsattach *t, uint64_t now_ns, int max_ms);
/* Rescans that are due; once a second, the probed files' check. */
void tlsattach_run(struct tlsattach *t, uint64_t now_ns);
void tlsattach_get_stats(const struct tlsattach *t, struct tlsattach_stats *s);
/* The path of the @i-th file with probes now (0, 1, ...), or NULL after
 * the last: the path as the process that mapped it first saw it. */
const char *tlsattach_probed_path(const struct tlsattach *t, unsigned i);
/* Detach everything and free. NULL-safe. */
void tlsattach_free(struct tlsattach *t);

#endif
