/* HTTP/2 request headers, decoded (see h2.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include "detect/h2.h"

enum { FRAME_HEADERS = 1, FRAME_CONTINUATION = 9 };
enum { FLAG_END_HEADERS = 0x4, FLAG_PADDED = 0x8, FLAG_PRIORITY = 0x20 };

struct h2conn {
	struct h2_stats *st;
	nghttp2_hd_inflater *inf;
	size_t preface_got;      /* preface bytes seen so far */
	unsigned char hdr[9];    /* the frame header being read */
	size_t hdr_len;
	uint32_t frame_left;     /* payload bytes still to come */
	uint8_t type, flags;
	int keep;                /* HEADERS or CONTINUATION: the payload is gathered */
	unsigned char *frame;    /* ... here (grown to the largest frame, up to H2_FRAME_MAX) */
	size_t frame_cap, frame_len, frame_got;
	int in_block;            /* a HEADERS without END_HEADERS was seen */
	char *text;              /* the block decoded so far, as lines */
	size_t text_cap, text_len;
	int text_cut;
};

int h2_is_preface(const unsigned char *p, size_t n)
{
	return n && !memcmp(p, H2_PREFACE, n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN);
}

struct h2conn *h2conn_new(struct h2_stats *st)
{
	struct h2conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->st = st;
	/* The server's SETTINGS_HEADER_TABLE_SIZE (which we do not see) lets
	 * the client grow its table; allow it up to our bound. */
	if (nghttp2_hd_inflate_new(&c->inf) ||
	    nghttp2_hd_inflate_change_table_size(c->inf, H2_TABLE_MAX)) {
		h2conn_free(c);
		return NULL;
	}
	st->connections++;
	return c;
}

void h2conn_free(struct h2conn *c)
{
	if (!c)
		return;
	if (c->inf)
		nghttp2_hd_inflate_del(c->inf);
	if (c->text)
		explicit_bzero(c->text, c->text_cap); /* decoded headers hold tokens */
	if (c->frame)
		explicit_bzero(c->frame, c->frame_cap);
	free(c->text);
	free(c->frame);
	free(c);
}

/* Room for n bytes in *buf (capacity *cap), grown by doubling up to max. */
static int grow(void *bufp, size_t *cap, size_t n, size_t max)
{
	unsigned char **buf = bufp, *b;
	size_t c = *cap ? *cap : 1024;

	if (n <= *cap)
		return 0;
	if (n > max)
		return -E2BIG;
	while (c < n)
		c *= 2;
	if (c > max)
		c = max;
	if (!(b = malloc(c)))
		return -ENOMEM;
	if (*buf) { /* never realloc: the old copy would be left unwiped */
		memcpy(b, *buf, *cap);
		explicit_bzero(*buf, *cap);
		free(*buf);
	}
	*buf = b;
	*cap = c;
	return 0;
}

static void text_add(struct h2conn *c, const nghttp2_nv *nv)
{
	size_t need = nv->namelen + 2 + nv->valuelen + 1;

	c->st->fields++;
	if (grow(&c->text, &c->text_cap, c->text_len + need, H2_BLOCK_MAX)) {
		c->text_cut = 1;
		return;
	}
	memcpy(c->text + c->text_len, nv->name, nv->namelen);
	c->text_len += nv->namelen;
	memcpy(c->text + c->text_len, ": ", 2);
	c->text_len += 2;
	memcpy(c->text + c->text_len, nv->value, nv->valuelen);
	c->text_len += nv->valuelen;
	c->text[c->text_len++] = '\n';
}

/* One fragment of a header block through the inflater; at the block's end,
 * its text to fn. */
static int block_feed(struct h2conn *c, const unsigned char *p, size_t n, int final,
		      h2_block_fn fn, void *ctx)
{
	int r = 0;

	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t used = nghttp2_hd_inflate_hd2(c->inf, &nv, &flags, p, n, final);

		if (used < 0)
			return -EPROTO;
		if (used) { /* an empty payload is a NULL p: not moved, even by 0 */
			p += used;
			n -= (size_t)used;
		}
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			text_add(c, &nv);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(c->inf);
			break;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !n)
			return 0; /* the rest of the block is in a CONTINUATION */
	}
	c->st->blocks++;
	c->st->bytes_decoded += c->text_len;
	c->st->blocks_cut += c->text_cut;
	if (c->text_len) { /* no field yet: no buffer either */
		r = fn(ctx, c->text, c->text_len);
		explicit_bzero(c->text, c->text_len);
	}
	c->text_len = 0;
	c->text_cut = 0;
	return r;
}

/* A whole HEADERS or CONTINUATION payload: padding and priority off. */
static int frame_done(struct h2conn *c, h2_block_fn fn, void *ctx)
{
	/* an empty first frame leaves no buffer: inflate from an empty one,
	 * never from NULL (p += 0 on NULL is undefined) */
	const unsigned char *p = c->frame ? c->frame : (const unsigned char *)"";
	size_t n = c->frame_len;

	if (c->type == FRAME_HEADERS) {
		if (c->flags & FLAG_PADDED) {
			size_t pad = n ? p[0] : 1;

			if (pad + 1 > n)
				return -EPROTO;
			p++;
			n -= pad + 1;
		}
		if (c->flags & FLAG_PRIORITY) {
			if (n < 5)
				return -EPROTO;
			p += 5;
			n -= 5;
		}
	}
	c->in_block = !(c->flags & FLAG_END_HEADERS);
	return block_feed(c, p, n, !c->in_block, fn, ctx);
}

/* The 9-byte frame header is complete: what to do with the payload. */
static int frame_start(struct h2conn *c)
{
	uint32_t len = (uint32_t)c->hdr[0] << 16 | (uint32_t)c->hdr[1] << 8 | c->hdr[2];

	c->type = c->hdr[3];
	c->flags = c->hdr[4];
	c->frame_left = len;
	c->frame_len = len;
	c->frame_got = 0;
	c->keep = c->type == FRAME_HEADERS || c->type == FRAME_CONTINUATION;
	/* Only CONTINUATION may follow a HEADERS without END_HEADERS. */
	if (c->in_block != (c->type == FRAME_CONTINUATION))
		return -EPROTO;
	if (len > H2_FRAME_MAX) {
		c->st->frames_skipped++;
		if (c->keep)
			return -E2BIG; /* a lost block: the table is out of step */
	}
	if (c->keep && grow(&c->frame, &c->frame_cap, len, H2_FRAME_MAX))
		return -ENOMEM;
	return 0;
}

/* Consume the next bytes of the preface, a frame header or a payload. */
static int h2conn_step(struct h2conn *c, const unsigned char **p, size_t *n)
{
	size_t take;

	if (c->preface_got < H2_PREFACE_LEN) {
		take = H2_PREFACE_LEN - c->preface_got < *n ? H2_PREFACE_LEN - c->preface_got : *n;
		if (memcmp(*p, &H2_PREFACE[c->preface_got], take))
			return -EPROTO;
		c->preface_got += take;
	} else if (c->hdr_len < sizeof(c->hdr)) {
		take = sizeof(c->hdr) - c->hdr_len < *n ? sizeof(c->hdr) - c->hdr_len : *n;
		memcpy(c->hdr + c->hdr_len, *p, take);
		c->hdr_len += take;
	} else {
		take = c->frame_left < *n ? c->frame_left : *n;
		if (c->keep) {
			memcpy(c->frame + c->frame_got, *p, take);
			c->frame_got += take;
		}
		c->frame_left -= (uint32_t)take;
	}
	*p += take;
	*n -= take;
	return 0;
}

int h2conn_feed(struct h2conn *c, const unsigned char *p, size_t n, h2_block_fn fn, void *ctx)
{
	int r;

	while (n) {
		int had_hdr = c->hdr_len == sizeof(c->hdr);

		if ((r = h2conn_step(c, &p, &n)))
			goto bad;
		if (!had_hdr && c->hdr_len == sizeof(c->hdr) && (r = frame_start(c)))
			goto bad;
		if (c->hdr_len == sizeof(c->hdr) && !c->frame_left) {
			c->hdr_len = 0; /* the frame is whole */
			if (c->keep && (r = frame_done(c, fn, ctx)))
				goto bad;
		}
	}
	return 0;
bad:
	if (r < 0)
		c->st->errors++;
	return r;
}
