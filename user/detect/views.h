/*
 * Decoded views: where a buffer holds percent-encoding, JSON string
 * escapes, base64 or HTML entities, the detector also scans the decoded
 * bytes (decode.h), and the decoded views of those, to VIEWS_DEPTH_MAX
 * decodings deep. A token at the seam of an escape is found because word
 * boundaries apply in the view. A finding from a view carries its
 * decoding chain (detect_match.decoded, "base64>json": applied left to
 * right) and the range of the encoded bytes in the scanned buffer
 * (raw_start, raw_len); one already reported from the same bytes (raw, or
 * by another view) is not reported again.
 *
 * Bounds, each hit counted in struct detect_stats: a region is at most
 * DECODE_REGION_MAX bytes (longer runs are decoded in pieces: view_cut);
 * the encoded bytes decoded per scan are at most VIEWS_BUDGET_PER_BYTE
 * times the buffer plus VIEWS_BUDGET_MIN (view_budget: regions skipped);
 * a view that is VIEWS_DEPTH_MAX decodings deep is scanned but not
 * decoded again (view_depth). A percent, JSON or HTML region whose view
 * can give nothing (views.c raw_inert) is neither decoded nor scanned,
 * only counted (views_skipped): the findings and every other counter are
 * those of a scan that decodes it. Private to user/detect/.
 */
#ifndef TW_VIEWS_H
#define TW_VIEWS_H

#include <stddef.h>
#include "detect/detect.h"

#define VIEWS_DEPTH_MAX 3
#define VIEWS_BUDGET_PER_BYTE 4
#define VIEWS_BUDGET_MIN 4096
#define VIEWS_FOUND_MAX 256   /* findings remembered per scan for the no-second-report rule */

struct views;

struct views *views_new(void);
void views_free(struct views *v);

/* The raw scan of buf and then its views, as detector_scan(). cut: the
 * buffer was cut (detector_scan_cut). */
int views_scan(struct views *v, struct detector *d, struct detect_stats *st, const unsigned char *buf,
	       size_t len, int cut, detect_fn fn, void *ctx);

/* Tests: 0 decodes and scans every region; 1, the default, skips a
 * region of an escape kind whose view can give nothing (views_skipped). */
void views_set_skip(int on);

/* detect.c: scan one decoded view as a buffer of its own, leaving the
 * stream state of the raw buffer (detector_tail_need) as it was; its
 * bytes count in view_bytes, not bytes. */
int detector_scan_view(struct detector *d, const unsigned char *buf, size_t len, int cut, detect_fn fn,
		       void *ctx);

/* detect.c: a stream's next buffer must carry buf[from..] too (an encoded
 * run open at the end of the raw buffer): lowers what detector_tail_need
 * asks for, never raises it. */
void detector_seam_open_at(struct detector *d, size_t from);

/* detect.c: the flood bound (detector_set_flood_cap) for a finding of a
 * decoded view whose encoded bytes start at raw_pos of the raw buffer:
 * 1 when it is past the bound (counted, not to be reported), else 0. A
 * view's findings share their raw buffer's count. */
int detector_flood_view(struct detector *d, const struct detect_match *m, size_t raw_pos);

/* detect.c: 1 when no rule can match in buf[0..len) because it holds
 * none of the rules' keywords (ASCII case-insensitive) and no opaque
 * lengths are registered; 0 when a match may be there. */
int detector_keyword_free(const struct detector *d, const unsigned char *buf, size_t len);

/* detect.c: out[c] is 1 for each byte c that occurs in a keyword (either
 * case), else 0. */
void detector_keyword_bytes(const struct detector *d, unsigned char out[256]);

#endif
