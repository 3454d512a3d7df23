/* Decoded views: decode, scan, decode again (see views.h). */
#include <errno.h>
#include <pthread.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "detect/decode.h"
#include "detect/views.h"

struct frame {
	size_t a;            /* the region's start in the buffer one level up */
	const uint32_t *map; /* view offset -> offset in the region */
	enum decode_kind k;
	int basic;           /* base64 after "Basic " that decoded to user:password */
	const unsigned char *up; /* the buffer one level up */
	size_t uplen;
};

struct found {
	uint64_t sha8;
	size_t a, b;         /* raw range */
};

struct views {
	unsigned char *out[VIEWS_DEPTH_MAX];   /* level i+1's bytes, DECODE_REGION_MAX each */
	uint32_t *map[VIEWS_DEPTH_MAX];
	struct frame fr[VIEWS_DEPTH_MAX + 1];  /* fr[1..depth] */
	int depth;
	const char *chain;                     /* fr[1..depth]'s names, "base64>json" */
	struct found found[VIEWS_FOUND_MAX];
	size_t nfound;
	size_t budget;
	struct detector *d;
	unsigned char cls[256];                /* raw_inert's byte classes, for d */
	int cls_ready;
	struct detect_stats *st;
	detect_fn fn;
	void *ctx;
};

struct views *views_new(void)
{
	return calloc(1, sizeof(struct views));
}

void views_free(struct views *v)
{
	if (!v)
		return;
	for (int i = 0; i < VIEWS_DEPTH_MAX; i++) {
		if (v->out[i])
			explicit_bzero(v->out[i], DECODE_REGION_MAX); /* decoded tokens */
		free(v->out[i]);
		free(v->map[i]);
	}
	free(v);
}

static uint64_t sha8(const unsigned char sha[32])
{
	uint64_t x;
	memcpy(&x, sha, 8);
	return x;
}

/* 1 when the same secret was reported from bytes overlapping [a, b). */
static int seen(struct views *v, const unsigned char sha[32], size_t a, size_t b)
{
	uint64_t h = sha8(sha);

	for (size_t i = 0; i < v->nfound; i++)
		if (v->found[i].sha8 == h && v->found[i].a < b && a < v->found[i].b)
			return 1;
	return 0;
}

static void remember(struct views *v, const unsigned char sha[32], size_t a, size_t b)
{
	if (v->nfound < VIEWS_FOUND_MAX)
		v->found[v->nfound++] = (struct found){ sha8(sha), a, b };
}

/* A raw match: remembered, then passed on. */
static int on_raw(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct views *v = ctx;

	remember(v, m->sha256, m->start, m->start + m->len);
	return v->fn(v->ctx, m, buf, len);
}

/* An offset in the view at the current depth, as an offset in the raw buffer. */
static size_t raw_of(const struct views *v, size_t pos)
{
	for (int j = v->depth; j >= 1; j--)
		pos = v->fr[j].a + v->fr[j].map[pos];
	return pos;
}

static int on_view(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct views *v = ctx;
	struct detect_match x = *m;
	size_t a = raw_of(v, m->start), b = raw_of(v, m->start + m->len);

	if (b <= a)
		b = a + 1; /* inside one escape */
	if (seen(v, m->sha256, a, b)) {
		v->st->view_dups++;
		return 0;
	}
	/* remembered even when past the flood bound: a deeper view's copy
	 * of it is the same finding, not one more to count */
	remember(v, m->sha256, a, b);
	if (detector_flood_view(v->d, m, a))
		return 0;
	v->st->view_findings++;
	x.raw_start = a;
	x.raw_len = b - a;
	x.decoded = v->chain;
	return v->fn(v->ctx, &x, buf, len);
}

/* Every chain of up to VIEWS_DEPTH_MAX kinds, made once: a finding's
 * decoded string must outlive the scan (scan.c keeps findings). Index:
 * the kinds as digits 1..DECODE_NKINDS, and HTTP Basic's base64 as
 * DECODE_NKINDS + 1 ("base64>http-basic": what revealed it), innermost
 * lowest. */
#define CHAIN_BASE (DECODE_NKINDS + 2)
#define NCHAINS 216 /* CHAIN_BASE ^ VIEWS_DEPTH_MAX */
_Static_assert(DECODE_NKINDS == 4 && VIEWS_DEPTH_MAX == 3, "NCHAINS is (kinds + 2) ^ depth");
static char chains[NCHAINS][VIEWS_DEPTH_MAX * 18];
static pthread_once_t chains_once = PTHREAD_ONCE_INIT;

static void chains_init(void)
{
	for (int i = 1; i < NCHAINS; i++) {
		char *o = chains[i];
		int x = i, d[VIEWS_DEPTH_MAX], nd = 0;
		while (x && nd < VIEWS_DEPTH_MAX) {
			d[nd++] = x % CHAIN_BASE;
			x /= CHAIN_BASE;
		}
		o[0] = 0;
		for (int j = nd; j-- > 0;) {
			if (!d[j])
				continue;
			if (o[0])
				strcat(o, ">");
			strcat(o, d[j] == DECODE_NKINDS + 1 ? "base64>http-basic"
							       : decode_name((enum decode_kind)(d[j] - 1)));
		}
	}
}

static void chain_set(struct views *v)
{
	int idx = 0;

	for (int j = 1; j <= v->depth; j++)
		idx = idx * CHAIN_BASE + (v->fr[j].basic ? DECODE_NKINDS + 1 : (int)v->fr[j].k + 1);
	v->chain = chains[idx];
}

static int scratch(struct views *v, int i)
{
	if (!v->out[i])
		v->out[i] = malloc(DECODE_REGION_MAX);
	if (!v->map[i])
		v->map[i] = malloc((DECODE_REGION_MAX + 1) * sizeof(uint32_t));
	return v->out[i] && v->map[i] ? 0 : -ENOMEM;
}

static int level(struct views *v, const unsigned char *buf, size_t len, int cut);

/* An HTTP Basic credential: a base64 run right after "Basic " (any case,
 * spaces or tabs) that decoded to user:password. */
static int is_basic(const unsigned char *buf, size_t a, const unsigned char *dec, size_t n)
{
	size_t i = a;

	while (i > 0 && (buf[i - 1] == ' ' || buf[i - 1] == '\t'))
		i--;
	if (i == a || i < 5 || strncasecmp((const char *)buf + i - 5, "basic", 5))
		return 0;
	if (i > 5 && (isalnum(buf[i - 6]) || buf[i - 6] == '_' || buf[i - 6] == '-'))
		return 0;
	return memchr(dec, ':', n) != NULL;
}

/* The byte classes of decode_inert's walk for this detector's keywords. */
static const unsigned char *inert_classes(struct views *v)
{
	unsigned char kw[256];

	if (v->cls_ready)
		return v->cls;
	detector_keyword_bytes(v->d, kw);
	decode_inert_classes(kw, v->cls);
	v->cls_ready = 1;
	return v->cls;
}

/*
 * A region of an escape kind whose view can give nothing: scanning the
 * view and following its own views would report no finding and count
 * nothing (views.h), so it is neither decoded nor scanned, only counted
 * (views_skipped). Most percent and JSON regions are a URL's query or a
 * JSON string's text. Told from the raw bytes, conservatively:
 *  - no keyword in them (detector_keyword_free: every rule match starts
 *    at one; with opaque lengths registered it always says "may"), and
 *    no escape decodes to a keyword byte (decode_inert): every escape
 *    gives at least one byte, so a keyword in the view would be literal
 *    bytes with no escape between them, in the raw bytes too;
 *  - the view holds no escape of any kind, and every base64 run level
 *    would find in it is a plain copy it passes over (same_one_up):
 *    decode_inert, which says why each byte matters.
 * The decoding budget is spent on the region as before, and nothing in
 * its view would have spent more: the regions after it fare as before.
 */
static int raw_inert(struct views *v, enum decode_kind k, const unsigned char *buf, size_t len, size_t a, size_t b)
{
	/* the walk first: where it says no (an escape's keyword byte, a run
	 * raw does not hold) the keyword search is not needed */
	return decode_inert(k, buf, len, a, b, inert_classes(v)) && detector_keyword_free(v->d, buf + a, b - a);
}

/* Tests: 0 decodes and scans every region, 1 (the default) skips the
 * inert ones. */
static int skip_on = 1;

void views_set_skip(int on)
{
	skip_on = on;
}

/* One region of buf decoded as k, scanned, and its own views followed. */
static int region(struct views *v, enum decode_kind k, const unsigned char *buf, size_t len, size_t a, size_t b,
		  int cut)
{
	int i = v->depth, r;
	size_t n;

	if (b - a > v->budget) {
		v->st->view_budget++;
		return 0;
	}
	v->budget -= b - a;
	if (k != DECODE_BASE64 && skip_on && raw_inert(v, k, buf, len, a, b)) {
		v->st->views_skipped++;
		return 0;
	}
	if ((r = scratch(v, i)))
		return r;
	if (!(n = decode_run(k, buf + a, b - a, v->out[i], v->map[i]))) {
		/* a base64 run given up on after its first 48 bytes */
		explicit_bzero(v->out[i], b - a < 64 ? b - a : 64);
		v->st->views_rejected++;
		return 0;
	}
	v->fr[i + 1] = (struct frame){ a, v->map[i], k, k == DECODE_BASE64 && is_basic(buf, a, v->out[i], n), buf, len };
	v->depth++;
	chain_set(v);
	v->st->views++;
	v->st->view_bytes += n;
	r = detector_scan_view(v->d, v->out[i], n, cut, on_view, v);
	if (!r)
		r = level(v, v->out[i], n, cut);
	/* the decoders copy 16 bytes a step: up to the region's length was
	 * written, not only the view's */
	explicit_bzero(v->out[i], b - a);
	v->depth--;
	chain_set(v);
	return r;
}

/* A region found in buf: decoded and scanned, or at the depth bound
 * counted. 1: stop looking for more of this kind (the bound). */
static int found_region(struct views *v, enum decode_kind k, const unsigned char *buf, size_t len,
			size_t a, size_t b, int rcut, int cut, int unaligned, int *r)
{
	if (v->depth == VIEWS_DEPTH_MAX) {
		v->st->view_depth++; /* more to decode, not followed */
		return 1;
	}
	v->st->view_cut += (uint64_t)rcut;
	/* A base64 run at the very start of a raw buffer may have begun
	 * before it (a stream's carry cut at --stream-tail, a scan piece),
	 * and the pieces of such a run after a cut keep its quantum: where
	 * its quanta begin is judged from what they decode to. */
	if (unaligned)
		a += decode_b64_quantum(buf + a, b - a);
	*r = region(v, k, buf, len, a, b, cut && b == len);
	return 0;
}

/*
 * A base64 run in a view that is a plain copy of the bytes one level up,
 * bounded there the same way: that level decoded it already (a JSON
 * string's id, copied into the JSON view unchanged, is not decoded twice).
 * A run the decoding changed or joined differently (the seam case) is new.
 */
static int same_one_up(const struct views *v, size_t a, size_t b)
{
	const struct frame *f = &v->fr[v->depth];
	size_t pa, pb;

	if (!v->depth || f->k == DECODE_BASE64)
		return 0;
	pa = f->map[a];
	pb = f->map[b];
	if (pb - pa != b - a)
		return 0;
	pa += f->a;
	pb += f->a;
	return (pa == 0 || !decode_b64_byte(f->up[pa - 1])) && (pb >= f->uplen || !decode_b64_byte(f->up[pb]));
}

/* The next byte at or after from that opens an escape of kind k, or len. */
static size_t next_opener(enum decode_kind k, const unsigned char *buf, size_t len, size_t from)
{
	static const unsigned char opener[DECODE_NKINDS] = { [DECODE_PERCENT] = '%', [DECODE_JSON] = '\\',
							     [DECODE_HTML] = '&' };
	const unsigned char *q = from < len ? memchr(buf + from, opener[k], len - from) : NULL;

	return q ? (size_t)(q - buf) : len;
}

/* The escape kinds' regions, in the order of the bytes that open them:
 * each kind's next opener is looked for from the end of its last region
 * (memchr), so the openers inside a region of their own kind (a URL's
 * twenty %XX, a JSON string's \/) are never visited one by one. */
static int level_escapes(struct views *v, const unsigned char *buf, size_t len, int cut)
{
	static const enum decode_kind kinds[] = { DECODE_PERCENT, DECODE_JSON, DECODE_HTML };
	size_t end[DECODE_NKINDS] = { 0 }, next[DECODE_NKINDS], a, b;
	int rcut, r = 0;

	/* most views hold no escape at all: one pass says so, not three */
	if (decode_next_opener(buf, len) == len)
		return 0;
	for (size_t j = 0; j < 3; j++)
		next[kinds[j]] = next_opener(kinds[j], buf, len, 0);
	while (!r) {
		enum decode_kind k = kinds[0];
		size_t i;

		for (size_t j = 1; j < 3; j++)
			if (next[kinds[j]] < next[k])
				k = kinds[j];
		if ((i = next[k]) >= len)
			break;
		if (!decode_find_from(k, buf, len, end[k], i, &a, &b, &rcut)) {
			next[k] = len; /* none of this kind from here on */
			continue;
		}
		end[k] = b > i ? b : i + 1;
		next[k] = found_region(v, k, buf, len, a, b, rcut, cut, 0, &r) ? len : next_opener(k, buf, len, end[k]);
	}
	return r;
}

/*
 * Every region of every kind in buf (the view at v->depth). A region of
 * a kind starts no earlier than the end of that kind's last one, so each
 * byte is in at most one region per kind. Base64 runs first, then the
 * escape kinds (level_escapes).
 */
static int level(struct views *v, const unsigned char *buf, size_t len, int cut)
{
	size_t a, b, from = 0, cut_end = 0;
	int rcut, r = 0;

	while (!r && decode_find(DECODE_BASE64, buf, len, from, &a, &b, &rcut)) {
		int unaligned = !v->depth && a == cut_end; /* at 0, or a cut run's next piece */
		from = b > from ? b : from + 1;
		cut_end = rcut ? b : 0;
		if (!rcut && same_one_up(v, a, b)) {
			v->st->view_dups++;
			continue;
		}
		if (found_region(v, DECODE_BASE64, buf, len, a, b, rcut, cut, unaligned, &r))
			break;
	}
	return r ? r : level_escapes(v, buf, len, cut);
}

/* The trailing run of base64 bytes, if it looks like base64 (the finder's
 * mix: both cases, one alphabet) and is not closed by padding. */
static size_t open_base64(const unsigned char *buf, size_t len, size_t lo)
{
	size_t j = len;
	int upper = 0, lower = 0, std = 0, url = 0;

	while (j > lo && decode_b64_byte(buf[j - 1])) {
		unsigned char c = buf[--j];
		upper |= c >= 'A' && c <= 'Z';
		lower |= c >= 'a' && c <= 'z';
		std |= c == '+' || c == '/';
		url |= c == '-' || c == '_';
	}
	if (len - j < DECODE_B64_MIN || !upper || !lower || (std && url))
		return len; /* shorter runs are inside the raw carry anyway */
	return j;
}

/* The trailing run of URL / attribute bytes, if it holds an escape opened
 * by c ('%' or '&'). */
static size_t open_attr(const unsigned char *buf, size_t len, size_t lo, int *pct, int *amp)
{
	size_t j = len;

	*pct = *amp = 0;
	while (j > lo && buf[j - 1] > 0x20 && buf[j - 1] != 0x7f && buf[j - 1] != '"' && buf[j - 1] != '\'' &&
	       buf[j - 1] != '<' && buf[j - 1] != '>' && buf[j - 1] != '`') {
		j--;
		*pct |= buf[j] == '%';
		*amp |= buf[j] == '&';
	}
	return j;
}

/* The JSON string the buffer ends in (from the last unescaped quote or
 * newline), if it holds a backslash escape. */
static size_t open_json(const unsigned char *buf, size_t len, size_t lo)
{
	size_t j = len;
	int esc = 0;

	while (j > lo && buf[j - 1] != '\n' && !(buf[j - 1] == '"' && (j < 2 || buf[j - 2] != '\\'))) {
		j--;
		esc |= buf[j] == '\\';
	}
	return esc ? j : len;
}

/*
 * Where an encoded run still open at the end of the raw buffer begins: a
 * stream's next capture must carry it whole for a token whose encoded
 * bytes straddle the seam to be decoded (the raw carry is sized for raw
 * tokens: an encoded one is 4/3 to 6 times as long). Looked for back to
 * DECODE_REGION_MAX bytes, the longest region decoded in one piece; a run
 * longer than that asks for all of it, and the capture layer's bound
 * (--stream-tail) cuts it and counts the cut (carry_cut).
 */
static size_t open_run(const unsigned char *buf, size_t len)
{
	size_t lo = len > DECODE_REGION_MAX ? len - DECODE_REGION_MAX : 0, from = len, j;
	int pct, amp;

	if ((j = open_base64(buf, len, lo)) < from)
		from = j;
	if ((j = open_attr(buf, len, lo, &pct, &amp)) < from && (pct || amp))
		from = j;
	if ((j = open_json(buf, len, lo)) < from)
		from = j;
	return from;
}

int views_scan(struct views *v, struct detector *d, struct detect_stats *st, const unsigned char *buf,
	       size_t len, int cut, detect_fn fn, void *ctx)
{
	int r;

	pthread_once(&chains_once, chains_init);
	v->d = d;
	v->st = st;
	v->fn = fn;
	v->ctx = ctx;
	v->nfound = 0;
	v->depth = 0;
	v->budget = len * VIEWS_BUDGET_PER_BYTE + VIEWS_BUDGET_MIN;
	if ((r = detector_scan_raw(d, buf, len, on_raw, v)))
		return r;
	if (!cut)
		detector_seam_open_at(d, open_run(buf, len));
	return level(v, buf, len, cut);
}
