/*
 * The decoded views (user/detect/decode.c, views.c) on arbitrary bytes.
 * Byte 0 picks a decoder for the direct checks; the rest is the input.
 *  - decode_find: every region inside the input, at most
 *    DECODE_REGION_MAX, starting no earlier than asked, and a search from
 *    its end makes progress;
 *  - decode_run: the output no longer than the region, the map
 *    non-decreasing, inside the region, and map[len] the region's length;
 *  - detector_scan with views: every finding's raw range inside the input,
 *    each view's with a chain; the bytes decoded within the budget (4x the
 *    input plus VIEWS_BUDGET_MIN), so no input makes decoding run away;
 *    and the stream carry it asks for (detector_tail_need) inside the input.
 */
#include "detect/decode.h"
#include "detect/detect.h"
#include "detect/rules.h"
#include "detect/views.h"
#include "fuzz.h"

static struct ruleset *rs;
static struct detector *det;
static unsigned char out[DECODE_REGION_MAX];
static uint32_t map[DECODE_REGION_MAX + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (rules_load_builtin(&rs, err, sizeof(err)) || !(det = detector_new(rs, err, sizeof(err))))
		abort();
	detector_set_flags(det, DETECT_KEEP_INVALID | DETECT_NO_FILTERS);
	return 0;
}

static void check_regions(enum decode_kind k, const unsigned char *p, size_t n)
{
	size_t from = 0, a, b, rounds = 0;
	int cut;

	while (decode_find(k, p, n, from, &a, &b, &cut)) {
		FUZZ_CHECK(a >= from && a < b && b <= n, "%s region [%zu, %zu) from %zu of %zu", decode_name(k), a, b,
			   from, n);
		FUZZ_CHECK(b - a <= DECODE_REGION_MAX, "%s region of %zu", decode_name(k), b - a);
		size_t len = decode_run(k, p + a, b - a, out, map);
		FUZZ_CHECK(len <= b - a, "%s decoded %zu from %zu", decode_name(k), len, b - a);
		if (len) {
			FUZZ_CHECK(map[len] == b - a, "%s map end %u of %zu", decode_name(k), map[len], b - a);
			for (size_t i = 0; i < len; i++)
				FUZZ_CHECK(map[i] < b - a && (!i || map[i] >= map[i - 1]), "%s map[%zu] = %u",
					   decode_name(k), i, map[i]);
		}
		from = b;
		FUZZ_CHECK(++rounds <= n, "%s: no progress", decode_name(k));
	}
}

struct ctx {
	size_t size;
};

static int on_match(void *vctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct ctx *c = vctx;

	(void)buf;
	FUZZ_CHECK(m->start <= len && m->len <= len - m->start, "match outside its view");
	FUZZ_CHECK(m->raw_start <= c->size && m->raw_len && m->raw_len <= c->size - m->raw_start,
		   "raw range [%zu, +%zu) outside %zu", m->raw_start, m->raw_len, c->size);
	FUZZ_CHECK(!m->decoded || m->decoded[0], "empty chain");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct detect_stats s0, s1;
	struct ctx c;

	if (size < 1)
		return 0;
	check_regions((enum decode_kind)(data[0] % DECODE_NKINDS), data + 1, size - 1);
	c.size = size - 1;
	detector_stats(det, &s0);
	FUZZ_CHECK(detector_scan(det, data + 1, size - 1, on_match, &c) == 0, "scan failed");
	/* the carry asked for (an encoded run open at the end included) is
	 * inside the buffer */
	FUZZ_CHECK(detector_tail_need(det) <= size - 1, "tail need %zu of %zu", detector_tail_need(det), size - 1);
	detector_stats(det, &s1);
	FUZZ_CHECK(s1.view_bytes - s0.view_bytes <= (size - 1) * VIEWS_BUDGET_PER_BYTE + VIEWS_BUDGET_MIN,
		   "decoded %llu bytes from %zu", (unsigned long long)(s1.view_bytes - s0.view_bytes), size - 1);
	return 0;
}
