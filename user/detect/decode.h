/*
 * Decoders for the detector's decoded views (views.h): the encodings a
 * token travels in inside logs and requests. Each kind has a cheap finder
 * (where is a region worth decoding: a `%XX`, a `\` escape, an `&…;`
 * entity, a base64 run of plausible length and mix) and a decoder into a
 * caller's bounded buffer that also records, for every decoded byte, the
 * offset of the encoded bytes it came from, so that a finding in the view
 * still points at the raw bytes.
 *
 * Pure functions: no allocation, no state; the bounds are the caller's
 * buffer (DECODE_REGION_MAX) and the regions the finder returns.
 */
#ifndef TW_DECODE_H
#define TW_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* A region longer than this is decoded in pieces of this size (a token
 * across a piece seam is lost: counted as view_cut). */
#define DECODE_REGION_MAX (64u << 10)
/* The shortest base64 run decoded: 24 characters, 18 bytes: a secret of
 * 18 bytes or more encoded alone, or "user:" and a secret of 13 (the
 * shortest token rules' secrets are 20 and longer). Also the stride of
 * the run finder's samples: longer is faster on ordinary text. */
#define DECODE_B64_MIN 24

enum decode_kind {
	DECODE_PERCENT, /* %XX, partial or whole runs */
	DECODE_JSON,    /* JSON / JavaScript string escapes: \n \t \" \/ \uXXXX \xHH */
	DECODE_BASE64,  /* standard or URL-safe alphabet, padded or not */
	DECODE_HTML,    /* &amp; &#61; &#x3D; and the basic named entities */
	DECODE_NKINDS
};

/* "percent", "json", "base64", "html". */
const char *decode_name(enum decode_kind k);

/*
 * The next region of p[from..n) to decode as k: [*a, *b), at most
 * DECODE_REGION_MAX bytes; *cut set when the run went on past that (the
 * rest is found by the next call from *b). Returns 1, or 0 when there is
 * none. Regions of one kind never overlap when each search starts at the
 * previous region's end.
 */
int decode_find(enum decode_kind k, const unsigned char *p, size_t n, size_t from,
		size_t *a, size_t *b, int *cut);

/* The same, where the region may begin before from, down to lo (the end
 * of the last region of this kind); the escape kinds only. */
int decode_find_from(enum decode_kind k, const unsigned char *p, size_t n, size_t lo, size_t from,
		     size_t *a, size_t *b, int *cut);

/* 1 when p[0..n) holds an escape that decode_find would open a region
 * of percent, JSON or HTML at; 0 when none of them finds one. */
int decode_holds_escape(const unsigned char *p, size_t n);

/*
 * Would the view of the region buf[a..b) of kind k (percent, JSON, HTML)
 * hold nothing level (views.c) could decode further, no escape's byte in
 * the class C_KW of cls, and no base64 run it would decode that the raw
 * bytes do not hold bounded the same way? 1 when so, from the raw bytes
 * without decoding them; 0 also where it cannot tell. cls: from
 * decode_inert_classes. Reads buf[0..len) around the region (its bounds).
 */
int decode_inert(enum decode_kind k, const unsigned char *buf, size_t len, size_t a, size_t b,
		 const unsigned char cls[256]);

/* decode_inert's byte classes, kw[c] 1 for the bytes of the detector's
 * keywords. */
void decode_inert_classes(const unsigned char kw[256], unsigned char cls[256]);

/* The first byte of p[0..n) that may open an escape ('%', '\\', '&'),
 * or n. */
size_t decode_next_opener(const unsigned char *p, size_t n);

/* Tests: 0 finds base64 runs without AVX2 even where the CPU has it (the
 * SSE2 path), 1 with it where it has it (the default). */
void decode_set_simd(int on);

/* 1 for a byte of a base64 run (either alphabet, no padding). */
int decode_b64_byte(unsigned char c);

/* For a base64 run whose start is not known (it began before the buffer):
 * the offset 0-3 in r at which its quanta most likely begin, judged by
 * how much of what its first 64 characters decode to is printable text
 * (a wrong quantum of text is mostly bytes >= 0x80 or control bytes). */
size_t decode_b64_quantum(const unsigned char *r, size_t n);

/*
 * Decode r[0..n) (n <= DECODE_REGION_MAX) into out (room for n bytes);
 * map[i] is the offset in r of the encoded bytes of out[i], map[len] = n
 * (map has room for n + 1). Returns the decoded length, or 0 when the
 * region is not worth scanning (base64 that does not decode to text).
 */
size_t decode_run(enum decode_kind k, const unsigned char *r, size_t n, unsigned char *out, uint32_t *map);

#endif
