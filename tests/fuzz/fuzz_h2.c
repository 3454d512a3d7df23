/*
 * HTTP/2 request headers (user/detect/h2.c) on arbitrary bytes after the
 * client preface, fed in two sends split where bytes 0..1 say (frames
 * cross sends): no crash, every header block handed on is within
 * H2_BLOCK_MAX, and a connection that stops parsing stays stopped (the
 * caller frees it, as the pipeline does).
 */
#include "detect/h2.h"
#include "fuzz.h"

static int on_block(void *ctx, const char *text, size_t len)
{
	size_t *n = ctx;

	FUZZ_CHECK(len > 0 && len <= H2_BLOCK_MAX, "block of %zu", len);
	FUZZ_CHECK(text[len - 1] == '\n', "block not ended by a line");
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h2_stats st = { 0 };
	struct h2conn *c;
	size_t split, blocks = 0;
	int r;

	if (size < 2)
		return 0;
	split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	data += 2;
	size -= 2;
	if (!(c = h2conn_new(&st)))
		return 0;
	r = h2conn_feed(c, (const unsigned char *)H2_PREFACE, H2_PREFACE_LEN, on_block, &blocks);
	FUZZ_CHECK(r == 0, "preface refused");
	r = h2conn_feed(c, data, split, on_block, &blocks);
	if (r >= 0)
		r = h2conn_feed(c, data + split, size - split, on_block, &blocks);
	FUZZ_CHECK(st.blocks >= blocks, "blocks counted %llu, handed on %zu", (unsigned long long)st.blocks, blocks);
	FUZZ_CHECK(r <= 0, "feed returned %d", r);
	h2conn_free(c);
	return 0;
}
