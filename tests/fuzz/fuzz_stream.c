/*
 * The detector's streaming contract (detect.h, detector_overlap): a
 * buffer scanned whole and the same buffer scanned as two pieces that
 * overlap by detector_overlap() bytes, keeping from each piece only the
 * matches that start in its half of the overlap, report the same matches.
 * `scan` reads files that way. The rule pack here is the built-in one
 * without its two long-window rules (jwt, http: 16 KiB and 4 KiB), so
 * that the overlap is small enough for a fuzz input to hold two pieces.
 *
 * Input: byte 0 picks the flags, bytes 1..2 the split point; the rest is
 * the buffer.
 */
#include "detect/detect.h"
#include "detect/rules.h"
#include "fuzz.h"

#define MAXM 512

static struct ruleset *rs;
static struct detector *det[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	rs = rules_new();
	for (size_t i = 0; i < rules_builtin_nfiles; i++) {
		const char *n = rules_builtin_files[i].name;
		if (strstr(n, "jwt.yaml") || strstr(n, "http.yaml"))
			continue;
		if (rules_load_buffer(rs, n, rules_builtin_files[i].text, rules_builtin_files[i].len,
				      err, sizeof(err)))
			abort();
	}
	for (int f = 0; f < 4; f++) {
		if (!(det[f] = detector_new(rs, err, sizeof(err))))
			abort();
		/* the contract is the raw scan's: a decoded view's region
		 * across a piece seam is decoded in each piece as far as it
		 * goes (docs/RULES.md) */
		detector_set_flags(det[f], (unsigned)f | DETECT_NO_VIEWS);
	}
	return 0;
}

struct m {
	size_t start, len;
	const char *rule;
	int valid;
};

struct set {
	struct m v[MAXM];
	size_t n;
	size_t base, lo, hi; /* keep starts in [lo, hi) of this piece, shifted by base */
};

static int keep(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct set *s = ctx;

	(void)buf;
	(void)len;
	if (m->start < s->lo || m->start >= s->hi || s->n == MAXM)
		return 0;
	s->v[s->n++] = (struct m){ s->base + m->start, m->len, m->rule_id, m->checksum_valid };
	return 0;
}

static int same(const struct m *a, const struct m *b)
{
	return a->start == b->start && a->len == b->len && !strcmp(a->rule, b->rule) && a->valid == b->valid;
}

static int in(const struct set *s, const struct m *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (same(&s->v[i], x))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct set whole, parts;
	struct detector *d;
	const uint8_t *buf = data + 3;
	size_t len, h, m;

	if (size < 4)
		return 0;
	d = det[data[0] & 3];
	len = size - 3;
	h = (detector_overlap(d) + 1) / 2;
	if (len <= 2 * h)
		return 0;
	m = h + (data[1] | (size_t)data[2] << 8) % (len - 2 * h + 1); /* in [h, len - h] */

	whole = (struct set){ .lo = 0, .hi = len };
	detector_scan(d, buf, len, keep, &whole);
	if (whole.n == MAXM)
		return 0;
	parts = (struct set){ .base = 0, .lo = 0, .hi = m };
	detector_scan(d, buf, m + h, keep, &parts);
	parts.base = m - h;
	parts.lo = h;
	parts.hi = len - (m - h);
	detector_scan(d, buf + m - h, len - (m - h), keep, &parts);
	for (size_t i = 0; i < whole.n; i++)
		FUZZ_CHECK(in(&parts, &whole.v[i]), "split at %zu (overlap %zu): %s [%zu,+%zu) found whole, "
			   "not in pieces", m, 2 * h, whole.v[i].rule, whole.v[i].start, whole.v[i].len);
	for (size_t i = 0; i < parts.n; i++)
		FUZZ_CHECK(in(&whole, &parts.v[i]), "split at %zu (overlap %zu): %s [%zu,+%zu) found in pieces, "
			   "not whole", m, 2 * h, parts.v[i].rule, parts.v[i].start, parts.v[i].len);
	return 0;
}
