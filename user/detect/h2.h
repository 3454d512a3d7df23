/*
 * HTTP/2 request headers, decoded. A client's bytes on one connection
 * (h2c, or TLS plaintext) are HTTP/2 frames whose HEADERS and
 * CONTINUATION payloads are HPACK-compressed, usually Huffman-coded: the
 * token in `authorization: Bearer …` never appears in them as bytes. An
 * h2conn follows one direction of one connection: it reassembles frames
 * across sends, keeps the connection's HPACK dynamic table (libnghttp2's
 * inflater: the table is the connection's state, so the decoder must see
 * every header block in order), and hands each complete header block on
 * as text, one "name: value\n" line per field, for the detector to scan.
 *
 * Bounds (each hit counted in struct h2_stats): a frame larger than
 * H2_FRAME_MAX is skipped; a header block longer than H2_BLOCK_MAX as
 * text is cut; the dynamic table is capped at H2_TABLE_MAX. A decoding
 * error, or bytes that are not HTTP/2, end the connection's decoding
 * (h2conn_feed returns < 0): the caller frees it, the raw bytes are still
 * scanned as they are.
 */
#ifndef TW_H2_H
#define TW_H2_H

#include <stddef.h>
#include <stdint.h>

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_FRAME_MAX (64u << 10)
#define H2_BLOCK_MAX (64u << 10)
#define H2_TABLE_MAX (64u << 10)

struct h2_stats {
	uint64_t connections;    /* prefaces seen */
	uint64_t blocks;         /* header blocks decoded */
	uint64_t fields;
	uint64_t bytes_decoded;  /* text handed on */
	uint64_t frames_skipped; /* over H2_FRAME_MAX */
	uint64_t blocks_cut;     /* over H2_BLOCK_MAX */
	uint64_t errors;         /* decoding given up on a connection */
};

struct h2conn;

/* One decoded header block; text is "name: value\n" lines, len bytes. */
typedef int (*h2_block_fn)(void *ctx, const char *text, size_t len);

/* 1 when p (n bytes) starts with the client connection preface, or with
 * as much of it as n holds. */
int h2_is_preface(const unsigned char *p, size_t n);

/* A connection whose first bytes (the preface) are the next fed. */
struct h2conn *h2conn_new(struct h2_stats *st);
void h2conn_free(struct h2conn *c);
/* Feed the next bytes the client sent. Calls fn for each header block
 * completed by them; a non-zero return from fn is returned. < 0: not (or
 * no longer) decodable; free the h2conn. */
int h2conn_feed(struct h2conn *c, const unsigned char *p, size_t n, h2_block_fn fn, void *ctx);

#endif
