/*
 * user/detect/h2.c on arbitrary client bytes: HTTP/2 framing across sends
 * and libnghttp2's HPACK inflater behind it. A send boundary is the
 * kernel's, not the client's: the same bytes fed whole and fed in pieces
 * must give the same header blocks, in the same order, and the same end
 * (decodable or given up on). Each block's text stays within its bound.
 *
 * Input: byte 0 bit 0 set puts the connection preface in front of the
 * rest (so that most inputs reach the frames), bits 1..7 and byte 1 seed
 * the piece sizes; the rest is what the client sent.
 */
#include "detect/h2.h"
#include "fuzz.h"

#define MAXBLOCKS 64

struct blocks {
	uint64_t hash[MAXBLOCKS]; /* FNV-1a of each block's text */
	size_t len[MAXBLOCKS];
	size_t n;
};

static int on_block(void *ctx, const char *text, size_t len)
{
	struct blocks *b = ctx;
	uint64_t h = 1469598103934665603ull;

	FUZZ_CHECK(len <= H2_BLOCK_MAX + 1024, "block of %zu bytes, bound %u", len, H2_BLOCK_MAX);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
	if (b->n < MAXBLOCKS) {
		b->hash[b->n] = h;
		b->len[b->n] = len;
	}
	b->n++;
	return 0;
}

/* Feeds p in pieces (whole when seed is 0); < 0 once the connection is
 * given up on, as the pipeline sees it (it stops feeding then). */
static int feed(const unsigned char *p, size_t n, unsigned seed, struct blocks *b, struct h2_stats *st)
{
	struct h2conn *c = h2conn_new(st);
	size_t off = 0;
	int rc = 0;

	FUZZ_CHECK(c, "h2conn_new failed");
	while (off < n && rc >= 0) {
		size_t k = n - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 97;
			if (k > n - off)
				k = n - off;
		}
		rc = h2conn_feed(c, p + off, k, on_block, b);
		off += k;
	}
	h2conn_free(c);
	return rc < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blocks whole = { 0 }, pieces = { 0 };
	struct h2_stats s1 = { 0 }, s2 = { 0 };
	unsigned char *buf;
	size_t n = 0;
	unsigned seed;
	int r1, r2;

	if (size < 2)
		return 0;
	seed = ((unsigned)data[0] >> 1 | (unsigned)data[1] << 7) + 1;
	buf = malloc(size + H2_PREFACE_LEN);
	if (!buf)
		abort();
	if (data[0] & 1) {
		memcpy(buf, H2_PREFACE, H2_PREFACE_LEN);
		n = H2_PREFACE_LEN;
	}
	memcpy(buf + n, data + 2, size - 2);
	n += size - 2;

	r1 = feed(buf, n, 0, &whole, &s1);
	r2 = feed(buf, n, seed, &pieces, &s2);
	FUZZ_CHECK(r1 == r2, "whole %s, in pieces %s", r1 ? "given up" : "decodable",
		   r2 ? "given up" : "decodable");
	FUZZ_CHECK(whole.n == pieces.n, "whole gave %zu blocks, in pieces %zu", whole.n, pieces.n);
	for (size_t i = 0; i < whole.n && i < MAXBLOCKS; i++)
		FUZZ_CHECK(whole.hash[i] == pieces.hash[i] && whole.len[i] == pieces.len[i],
			   "block %zu differs (%zu and %zu bytes)", i, whole.len[i], pieces.len[i]);
	FUZZ_CHECK(s1.blocks == s2.blocks && s1.fields == s2.fields, "stats differ");
	free(buf);
	return 0;
}
