/*
 * user/detect/h2.c: HTTP/2 frames in, header blocks out as text. The
 * HPACK vectors are RFC 7541 Appendix C.4 (requests with Huffman coding,
 * one connection, so the dynamic table carries from one block to the
 * next); the token case is encoded by libnghttp2's own deflater.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>
#include "detect/h2.h"
#include "../tokmint.h"

struct got {
	char text[4][512];
	int n;
};

static int on_block(void *ctx, const char *text, size_t len)
{
	struct got *g = ctx;

	if (g->n < 4 && len < sizeof(g->text[0])) {
		memcpy(g->text[g->n], text, len);
		g->text[g->n][len] = 0;
	}
	g->n++;
	return 0;
}

static size_t unhex(const char *h, unsigned char *out)
{
	size_t n = 0;
	unsigned v;

	for (; *h; h++) {
		if (*h == ' ')
			continue;
		sscanf(h, "%2x", &v);
		out[n++] = (unsigned char)v;
		h++;
	}
	return n;
}

/* A frame: 9-byte header, then the payload. */
static size_t frame(unsigned char *out, uint8_t type, uint8_t flags, uint32_t stream,
		    const unsigned char *p, size_t n)
{
	out[0] = (unsigned char)(n >> 16);
	out[1] = (unsigned char)(n >> 8);
	out[2] = (unsigned char)n;
	out[3] = type;
	out[4] = flags;
	out[5] = (unsigned char)(stream >> 24);
	out[6] = (unsigned char)(stream >> 16);
	out[7] = (unsigned char)(stream >> 8);
	out[8] = (unsigned char)stream;
	if (n)
		memcpy(out + 9, p, n);
	return 9 + n;
}

static const char *c4[] = {
	"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
	"8286 84be 5886 a8eb 1064 9cbf",
	"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
};
static const char *c4_text[] = {
	":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n",
	":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n",
	(":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\n"
	 "custom-key: custom-value\n"),
};

/* The preface, then the three C.4 requests as HEADERS frames. */
static size_t c4_stream(unsigned char *out)
{
	unsigned char blk[64];
	size_t n = H2_PREFACE_LEN;

	memcpy(out, H2_PREFACE, n);
	n += frame(out + n, 4, 0, 0, NULL, 0); /* an empty SETTINGS */
	for (int i = 0; i < 3; i++) {
		size_t b = unhex(c4[i], blk);

		n += frame(out + n, 1, 0x4 | 0x1, 1 + 2 * i, blk, b);
	}
	return n;
}

static void test_rfc7541_c4_requests(void **state)
{
	struct h2_stats st = { 0 };
	unsigned char buf[512];
	size_t n = c4_stream(buf);
	struct got g = { 0 };
	struct h2conn *c = h2conn_new(&st);

	(void)state;
	assert_true(h2_is_preface(buf, n));
	assert_int_equal(h2conn_feed(c, buf, n, on_block, &g), 0);
	assert_int_equal(g.n, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(g.text[i], c4_text[i]);
	assert_int_equal(st.blocks, 3);
	assert_int_equal(st.errors, 0);
	h2conn_free(c);
}

/* Frames cut anywhere across sends: byte by byte gives the same blocks. */
static void test_bytewise_feed(void **state)
{
	struct h2_stats st = { 0 };
	unsigned char buf[512];
	size_t n = c4_stream(buf);
	struct got g = { 0 };
	struct h2conn *c = h2conn_new(&st);

	(void)state;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(h2conn_feed(c, buf + i, 1, on_block, &g), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.text[2], c4_text[2]);
	h2conn_free(c);
}

/* A minted token in authorization, Huffman-coded by nghttp2's deflater,
 * in a padded, prioritised HEADERS and a CONTINUATION. */
static void test_token_in_split_block(void **state)
{
	char tok[64], bearer[80];
	unsigned char blk[256], pay[300], buf[700];
	nghttp2_hd_deflater *d;
	struct h2_stats st = { 0 };
	struct got g = { 0 };
	struct h2conn *c = h2conn_new(&st);
	size_t n = H2_PREFACE_LEN, half, p = 0;
	ssize_t b;

	(void)state;
	tm_twd(tok);
	snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)":authority", (uint8_t *)"api.example", 10, 11, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"authorization", (uint8_t *)bearer, 13, strlen(bearer), NGHTTP2_NV_FLAG_NONE },
	};
	assert_int_equal(nghttp2_hd_deflate_new(&d, 4096), 0);
	b = nghttp2_hd_deflate_hd(d, blk, sizeof(blk), nv, 3);
	assert_true(b > 0);
	assert_null(memmem(blk, (size_t)b, tok, strlen(tok))); /* not there as bytes */
	half = (size_t)b / 2;
	pay[p++] = 3;                 /* pad length */
	memset(pay + p, 0, 5);        /* priority: stream dependency + weight */
	p += 5;
	memcpy(pay + p, blk, half);
	p += half;
	memset(pay + p, 0, 3);        /* the padding */
	p += 3;
	memcpy(buf, H2_PREFACE, n);
	n += frame(buf + n, 1, 0x8 | 0x20 | 0x1, 1, pay, p);
	n += frame(buf + n, 9, 0x4, 1, blk + half, (size_t)b - half);
	assert_int_equal(h2conn_feed(c, buf, n, on_block, &g), 0);
	assert_int_equal(g.n, 1);
	assert_non_null(strstr(g.text[0], "authorization: Bearer "));
	assert_non_null(strstr(g.text[0], tok));
	nghttp2_hd_deflate_del(d);
	h2conn_free(c);
	explicit_bzero(g.text, sizeof(g.text));
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(bearer, sizeof(bearer));
}

static void test_not_h2_and_bad_frames(void **state)
{
	struct h2_stats st = { 0 };
	struct got g = { 0 };
	unsigned char buf[128], big[64];
	struct h2conn *c;
	size_t n;

	(void)state;
	assert_false(h2_is_preface((const unsigned char *)"GET / HTTP/1.1\r\n", 16));
	c = h2conn_new(&st);
	assert_true(h2conn_feed(c, (const unsigned char *)"GET / HTTP/1.1\r\n", 16, on_block, &g) < 0);
	assert_int_equal(st.errors, 1);
	h2conn_free(c);

	/* A DATA frame over the bound is skipped, counted; the stream goes on. */
	c = h2conn_new(&st);
	memcpy(buf, H2_PREFACE, H2_PREFACE_LEN);
	n = H2_PREFACE_LEN + frame(buf + H2_PREFACE_LEN, 0, 0, 1, NULL, 0);
	buf[H2_PREFACE_LEN] = (H2_FRAME_MAX + 1) >> 16;
	buf[H2_PREFACE_LEN + 1] = (unsigned char)((H2_FRAME_MAX + 1) >> 8);
	buf[H2_PREFACE_LEN + 2] = (unsigned char)(H2_FRAME_MAX + 1);
	assert_int_equal(h2conn_feed(c, buf, n, on_block, &g), 0);
	unsigned char *body = calloc(1, H2_FRAME_MAX + 1);
	assert_int_equal(h2conn_feed(c, body, H2_FRAME_MAX + 1, on_block, &g), 0);
	free(body);
	assert_int_equal(st.frames_skipped, 1);
	n = unhex(c4[0], big);
	n = frame(buf, 1, 0x4, 3, big, n);
	assert_int_equal(h2conn_feed(c, buf, n, on_block, &g), 0);
	assert_int_equal(g.n, 1);
	/* A CONTINUATION with no HEADERS before it: not HTTP/2 as spoken. */
	n = frame(buf, 9, 0x4, 3, big, 3);
	assert_true(h2conn_feed(c, buf, n, on_block, &g) < 0);
	assert_int_equal(st.errors, 2);
	h2conn_free(c);

	/* HPACK garbage: an index past the tables. */
	c = h2conn_new(&st);
	memcpy(buf, H2_PREFACE, H2_PREFACE_LEN);
	big[0] = 0xff;
	big[1] = 0x7f;
	n = H2_PREFACE_LEN + frame(buf + H2_PREFACE_LEN, 1, 0x4, 1, big, 2);
	assert_true(h2conn_feed(c, buf, n, on_block, &g) < 0);
	assert_int_equal(st.errors, 3);
	h2conn_free(c);
}

/* An empty HEADERS frame (no END_HEADERS), its block all in the
 * CONTINUATION after it: found by fuzz/h2, where the empty payload was a
 * NULL pointer moved by zero (undefined; UBSan in unit-asan says so). */
static void test_empty_headers_then_continuation(void **state)
{
	struct h2_stats st = { 0 };
	unsigned char buf[256], blk[64];
	size_t n = H2_PREFACE_LEN, b = unhex(c4[0], blk);
	struct got g = { 0 };
	struct h2conn *c = h2conn_new(&st);

	(void)state;
	memcpy(buf, H2_PREFACE, n);
	n += frame(buf + n, 1, 0x5, 3, NULL, 0); /* a whole block with no fields: no text at all */
	n += frame(buf + n, 1, 0x1, 1, NULL, 0); /* HEADERS, END_STREAM, empty */
	n += frame(buf + n, 9, 0x4, 1, blk, b);  /* CONTINUATION, END_HEADERS */
	assert_int_equal(h2conn_feed(c, buf, n, on_block, &g), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.text[0], c4_text[0]);
	assert_int_equal(st.blocks, 2);
	h2conn_free(c);
}

/* A HEADERS frame with no payload as the connection's first: no frame
 * buffer was ever grown, and the (empty) block must still be inflated
 * without arithmetic on a NULL pointer (UBSan; found by fuzz_h2). */
static void test_empty_headers_frame(void **state)
{
	struct h2_stats st = { 0 };
	struct got g = { 0 };
	unsigned char buf[128], big[64];
	struct h2conn *c = h2conn_new(&st);
	size_t n;

	(void)state;
	memcpy(buf, H2_PREFACE, H2_PREFACE_LEN);
	n = H2_PREFACE_LEN + frame(buf + H2_PREFACE_LEN, 1, 0x4 | 0x1, 1, NULL, 0);
	assert_int_equal(h2conn_feed(c, buf, n, on_block, &g), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(st.blocks, 1);
	/* and the connection goes on */
	n = unhex(c4[0], big);
	n = frame(buf, 1, 0x4, 3, big, n);
	assert_int_equal(h2conn_feed(c, buf, n, on_block, &g), 0);
	assert_int_equal(g.n, 1);
	h2conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7541_c4_requests),
		cmocka_unit_test(test_bytewise_feed),
		cmocka_unit_test(test_token_in_split_block),
		cmocka_unit_test(test_not_h2_and_bad_frames),
		cmocka_unit_test(test_empty_headers_then_continuation),
		cmocka_unit_test(test_empty_headers_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
