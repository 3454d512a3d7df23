/*
 * The detection engine: which bytes are tokens.
 *
 *   1. a multi-pattern prefilter finds every rule keyword (ASCII
 *      case-insensitive) in one pass over the buffer;
 *   2. at each keyword not already covered by its rule's cursor, run
 *      class (rules.h) or limit budget, that rule's PCRE2 pattern (JIT,
 *      with match, depth and heap limits) runs on a window bounded by the
 *      rule's max_len and before; where keywords are dense one search
 *      covers many of them; a rule that keeps hitting the limits sits out
 *      the rest of the buffer. Every bound that may cost a finding is
 *      counted (struct detect_stats, coverage.h);
 *   3. checksum (GitHub/npm/tokenward CRC32, JWT header), placeholder
 *      and entropy checks drop look-alikes;
 *   4. each surviving secret (the rule's capture group) is hashed with
 *      SHA-256 and, if a lookup is set, looked up (the ledger); a secret
 *      whose bytes the same rule found before in this buffer reuses the
 *      checks, hash and lookup of the first, and with
 *      DETECT_COLLAPSE_REPEATS is reported at most
 *      DETECT_REPEATS_PER_BUFFER times there (the rest counted);
 *   5. runs of base64url characters whose length is one of the
 *      registered opaque-token lengths are hashed and looked up too, and
 *      reported as rule "opaque" when known;
 *   6. where the buffer holds percent-encoding, JSON string escapes,
 *      base64 or HTML entities, the decoded bytes are scanned the same
 *      way, to a bounded depth (views.h); such a finding says its
 *      decoding chain and where its encoded bytes are.
 *
 * Matches are reported in order of start; where a generic rule (e.g. the
 * Authorization: Bearer value) overlaps a specific one (e.g. a JWT) only
 * the specific one is reported.
 *
 * Threads: a detector holds per-scan state (match data, JIT stack), so
 * use one detector per thread. Several detectors may share one ruleset,
 * which must outlive them and not change while they exist.
 */
#ifndef TW_DETECT_H
#define TW_DETECT_H

#include <stddef.h>
#include <stdint.h>
#include "detect/rules.h"

#define DETECT_OPAQUE_RULE "opaque"
#define DETECT_MAX_OPAQUE_LEN 65536 /* what `ledger register` accepts (64 KiB of input) */

struct detect_match {
	const char *rule_id;
	const char *rule_name;
	int severity;                 /* enum rule_severity */
	size_t start, len;            /* the secret (capture group) within the scanned buffer */
	unsigned char sha256[32];     /* of the secret */
	int checksum_valid;           /* 1 valid, 0 no checksum for this rule, -1 invalid */
	int known;                    /* 1 when the known-lookup recognised the hash */
	long long token_id;           /* the lookup's id when known, else -1 */
	/* Where the secret's bytes are in the buffer given to detector_scan():
	 * for a raw finding start and len again; for one from a decoded view
	 * the encoded run that decodes to it. */
	size_t raw_start, raw_len;
	/* NULL for a raw finding; else the decodings that revealed it, applied
	 * left to right: "percent", "json", "base64", "html", "base64>json";
	 * an HTTP Basic credential's base64 is "base64>http-basic".
	 * Then the callback's buf is the decoded view, and start/len index
	 * it (buf + start is the secret, as for a raw finding). */
	const char *decoded;
};

/* Called once per match, in order of start. A non-zero return stops the
 * scan and becomes detector_scan()'s return value. buf/len: the buffer. */
typedef int (*detect_fn)(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len);
/* 1 known (and *token_id set), 0 not known. */
typedef int (*detect_known_fn)(void *ctx, const unsigned char sha256[32], long long *token_id);

struct detector;

/* Compile every rule (JIT). NULL with err set ("FILE:LINE: rule 'ID': why")
 * when a pattern does not compile. */
struct detector *detector_new(const struct ruleset *rs, char *err, size_t errsz);

/*
 * Set the known-token lookup (the ledger). Every rule match is looked up
 * by its SHA-256; in addition every run of base64url characters
 * [A-Za-z0-9_-] whose length is in lengths (each DETECT_OPAQUE_MIN_LEN..
 * DETECT_MAX_OPAQUE_LEN; detect/opaque.h)
 * is hashed and looked up, and reported as rule "opaque" when known.
 * fn NULL turns lookups off. The lengths are copied.
 */
void detector_set_known(struct detector *d, detect_known_fn fn, void *ctx, const uint32_t *lengths, size_t nlengths);

enum {
	/* Report matches whose checksum fails (checksum_valid -1) instead of
	 * dropping them: for measuring recall without validation. */
	DETECT_KEEP_INVALID = 1,
	/* Skip the placeholder and entropy checks: for redaction, where
	 * hiding a placeholder costs nothing and missing a secret is worse. */
	DETECT_NO_FILTERS = 2,
	/* Scan the raw bytes only, no decoded views (views.h). */
	DETECT_NO_VIEWS = 4,
	/* Report a secret at most DETECT_REPEATS_PER_BUFFER times per
	 * buffer (each decoded view is one); the rest are counted
	 * (repeats_collapsed). For the scanner and the monitor, where
	 * each report costs; never for redaction, which must hide every
	 * copy. */
	DETECT_COLLAPSE_REPEATS = 8,
};

/* With DETECT_COLLAPSE_REPEATS: the same rule's same secret (its bytes)
 * reported this many times in one buffer is not reported again there. */
#define DETECT_REPEATS_PER_BUFFER 8

/*
 * The flood bound, also with DETECT_COLLAPSE_REPEATS (issue 13): once
 * this many distinct unmanaged secrets of one rule were reported in one
 * buffer (a scan piece's own region with its decoded views; a capture),
 * the rest of that rule's unmanaged findings there are counted
 * (findings_capped), not reported. Every finding is still hashed and
 * looked up first where a lookup is set: a managed token is always
 * reported. Other rules are not affected, so a flood of one family
 * hides no token of another. A thousand distinct secrets of one family
 * in 4 MiB is a dump or an attack, not a log; real logs stay orders of
 * magnitude below (docs/RULES.md).
 */
#define DETECT_FLOOD_CAP_DEFAULT 1000

/* The flood bound per rule per buffer; 0 turns it off. Default
 * DETECT_FLOOD_CAP_DEFAULT. */
void detector_set_flood_cap(struct detector *d, size_t cap);

/*
 * For the next scan only: the caller keeps just the matches that start in
 * [lo, hi) of the raw buffer (a piece's own region, a write after the
 * carried tail; the rest another buffer reports). Matches outside it are
 * passed on as always and neither count towards nor fall under
 * DETECT_REPEATS_PER_BUFFER, so the first copies the caller keeps are
 * reported and the count is of copies really left out. Default: all.
 */
void detector_set_region(struct detector *d, size_t lo, size_t hi);
void detector_set_flags(struct detector *d, unsigned flags);

/* Scan buf[0..len). Returns 0, the first non-zero callback value, or
 * -ENOMEM. */
int detector_scan(struct detector *d, const void *buf, size_t len, detect_fn fn, void *ctx);

/* Only the raw bytes, whatever the flags: no decoded views. */
int detector_scan_raw(struct detector *d, const void *buf, size_t len, detect_fn fn, void *ctx);

/* The same for a buffer that was cut (a write longer than the capture
 * window, argv past its limit): a candidate that runs into its end is a
 * token cut short, counted (cut_short), never reported with a hash that
 * cannot be right. */
int detector_scan_cut(struct detector *d, const void *buf, size_t len, detect_fn fn, void *ctx);

/*
 * After a scan: how many bytes at the end of that buffer a stream's next
 * buffer must begin with (as carry) so that every match crossing the
 * seam is found whole. Usually a little over the longest keyword plus its
 * rule's lead-in; more when a keyword near the end opens a match that may
 * run past it, or when a registered opaque length may continue. Lets a
 * caller that carries stream tails scan each byte about once instead of
 * re-scanning a fixed tail with every small write.
 */
size_t detector_tail_need(const struct detector *d);

/*
 * Streaming: a caller that scans a stream in overlapping pieces must
 * overlap consecutive buffers by at least detector_overlap() bytes, and
 * keep from each buffer only the matches whose start lies in
 * [lo, hi) where lo = (first buffer ? 0 : overlap/2) and
 * hi = (last buffer ? len : len - overlap/2). Then every match is
 * reported exactly once, with the context it would have had in one
 * contiguous buffer (as long as no match is longer than its rule's
 * max_len).
 */
size_t detector_overlap(const struct detector *d);

/* A rule whose searches hit a PCRE2 limit this many times in one buffer
 * sits out the rest of that buffer (detect_stats.rules_suspended). */
#define DETECT_LIMIT_HITS_PER_RULE 4

/*
 * Counters since detector_new(). The ones marked "loss" are bounds that
 * may have cost a finding; a reader must be shown them (scan's coverage
 * line, the status file's "detection" section).
 */
struct detect_stats {
	uint64_t bytes;
	uint64_t keyword_hits;
	uint64_t regex_calls;
	uint64_t shape_calls;     /* matches tried natively instead (shape.h) */
	uint64_t limit_hits;      /* loss: a search stopped at a PCRE2 match, depth or heap
				   * limit, or out of JIT stack; treated as no match */
	uint64_t too_long;        /* loss: a match longer than its rule's max_len (a token
				   * cut by the window would have the wrong hash): not reported */
	uint64_t cut_short;       /* loss: a candidate ran into the end of a cut buffer
				   * (detector_scan_cut): not reported */
	uint64_t rules_suspended; /* loss: times a rule reached DETECT_LIMIT_HITS_PER_RULE in
				   * one buffer and was not searched for in the rest of it */
	uint64_t skipped_hits;    /* loss: keyword hits not searched because of that */
	uint64_t rejected;        /* regex matched, checksum/placeholder/entropy said no */
	uint64_t opaque_hashed;
	uint64_t repeats_collapsed; /* loss (of places, not of secrets): findings of a secret
				     * already reported DETECT_REPEATS_PER_BUFFER times in that
				     * buffer, not reported (DETECT_COLLAPSE_REPEATS) */
	uint64_t findings_capped; /* loss: unmanaged findings of a rule past the flood bound in
				   * one buffer (detector_set_flood_cap), counted, not reported */
	/* decoded views (views.h) */
	uint64_t views;           /* regions decoded and scanned */
	uint64_t view_bytes;      /* bytes of decoded views scanned (not in bytes) */
	uint64_t view_findings;   /* findings from views */
	uint64_t view_dups;       /* view findings dropped: already reported from the same bytes */
	uint64_t views_rejected;  /* base64 runs that did not decode to text */
	uint64_t view_cut;        /* loss: a run longer than DECODE_REGION_MAX, decoded in pieces
				   * (a token across a piece seam is lost) */
	uint64_t view_budget;     /* loss: regions not decoded, the scan's decoding budget spent */
	uint64_t view_depth;      /* loss: views VIEWS_DEPTH_MAX deep that held more to decode */
	uint64_t views_skipped;   /* escape regions decoded but not scanned: their view held no
				   * keyword and nothing more to decode (views.c view_inert) */
};
void detector_stats(const struct detector *d, struct detect_stats *out);

void detector_free(struct detector *d);

/* For tests: 1 turns every fast path off (the prefilter byte by byte,
 * PCRE2 for every rule: no shapes, no native Bearer search), the
 * reference the fast paths are held to; 0 (the default) back on. */
void detector_set_reference(struct detector *d, int on);

/* Shared checks, also used by redaction and tests. */
double detect_entropy(const unsigned char *s, size_t n);
/* detect_entropy(s, n) < min, the same answer, faster (the detector's
 * per-match check). */
int detect_entropy_below(const unsigned char *s, size_t n, double min);
/* True for documentation placeholders: xxxx, EXAMPLE, your-token-here... */
int detect_is_placeholder(const unsigned char *s, size_t n);
/* The same, byte by byte whatever the CPU (tests compare the two). */
int detect_is_placeholder_scalar(const unsigned char *s, size_t n);

#endif
