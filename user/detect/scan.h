/*
 * Offline scanning: files, directories (recursively), standard input and
 * gzip streams, read in fixed-size pieces that overlap by
 * detector_overlap() bytes, so a token across a piece boundary is found
 * once and memory stays flat whatever the input size. Pieces are scanned
 * by a pool of worker threads (one detector each); findings are delivered
 * to the caller in input order, on the caller's thread.
 */
#ifndef TW_SCAN_H
#define TW_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "detect/detect.h"
#include "detect/rules.h"

struct scan_finding {
	const struct detect_match *m;
	const char *path;            /* as given or found by the walk; "-" for stdin */
	uint64_t offset;             /* of the secret, in the (decompressed) stream; for one
				      * found in a decoded view (m->decoded), of the encoded
				      * run it was decoded from (m->raw_len bytes) */
	uint64_t line, column;       /* 1-based; column counts bytes; where offset is */
	const unsigned char *secret; /* m->len bytes (decoded), valid during the callback only */
};

/* Findings, in order. A non-zero return stops the whole scan. */
typedef int (*scan_finding_fn)(void *ctx, const struct scan_finding *f);
/* Something skipped or odd, one line; error 1 means the scan is incomplete. */
typedef void (*scan_notice_fn)(void *ctx, const char *path, int error, const char *msg);

struct scan_opts {
	unsigned threads;   /* workers; 0 = online CPUs */
	size_t chunk;       /* bytes per piece; 0 = 4 MiB */
	int binary;         /* also scan files that look binary */
	unsigned flags;     /* detector_set_flags() */
	size_t flood_cap;   /* detector_set_flood_cap() per piece; 0 = DETECT_FLOOD_CAP_DEFAULT,
			     * SCAN_FLOOD_CAP_OFF = every finding listed */
};
#define SCAN_FLOOD_CAP_OFF SIZE_MAX

struct scan_stats {
	uint64_t files, bytes, findings, skipped, errors;
	struct detect_stats det;     /* all workers' detectors (coverage.h names the losses);
				      * bytes in piece overlaps count twice */
};

struct scanner;

struct scanner *scanner_new(const struct ruleset *rs, const struct scan_opts *o, char *err, size_t errsz);
/* Lookup for managed tokens, as detector_set_known(). fn is called from
 * worker threads, concurrently: it must be thread-safe. */
void scanner_set_known(struct scanner *s, detect_known_fn fn, void *ctx, const uint32_t *lengths, size_t n);
/*
 * Scan a path: "-" is standard input; a directory is walked recursively
 * (symlinks to files are followed, to directories not, dangling ones are
 * reported); a gzip stream is decompressed. Returns 0, or the callback's
 * non-zero value. Problems go to note and are counted in the stats.
 */
int scanner_scan_path(struct scanner *s, const char *path, scan_finding_fn fn, scan_notice_fn note, void *ctx);
/* Scan an open descriptor (read to its end) under a display name. */
int scanner_scan_fd(struct scanner *s, int fd, const char *name, scan_finding_fn fn, scan_notice_fn note, void *ctx);
void scanner_stats(const struct scanner *s, struct scan_stats *out);
void scanner_free(struct scanner *s);

/* Number of '\n' in p[0..n). */
size_t scan_count_newlines(const unsigned char *p, size_t n);

#endif
