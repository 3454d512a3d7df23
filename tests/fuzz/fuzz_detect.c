/*
 * The detector (user/detect/detect.c) on arbitrary bytes, with the ledger
 * lookup on (so the opaque pass runs) and each flag combination: every
 * match lies inside the buffer, raw ones in order of start, one from a
 * decoded view with its chain and its encoded run inside the buffer, and
 * the streaming figures stay inside the buffer too. The first byte picks the flags.
 */
#include "detect/detect.h"
#include "detect/rules.h"
#include "fuzz.h"

static struct ruleset *rs;
static struct detector *det[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (rules_load_builtin(&rs, err, sizeof(err)))
		abort();
	for (int f = 0; f < 4; f++) {
		det[f] = detector_new(rs, err, sizeof(err));
		if (!det[f])
			abort();
		detector_set_flags(det[f], (unsigned)f);
	}
	return 0;
}

/* "Known" when the hash's first byte is small: some opaque runs and rule
 * matches are then reported as known, which takes other paths. */
static int lookup(void *ctx, const unsigned char sha[32], long long *id)
{
	(void)ctx;
	*id = sha[1];
	return sha[0] < 16;
}

struct order {
	size_t last_start, n, size; /* size: the buffer given to detector_scan */
};

static int on_match(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct order *o = ctx;

	(void)buf;
	FUZZ_CHECK(m->len > 0 && m->start <= len && m->len <= len - m->start,
		   "match [%zu, +%zu) outside %zu bytes", m->start, m->len, len);
	FUZZ_CHECK(m->raw_len > 0 && m->raw_start <= o->size && m->raw_len <= o->size - m->raw_start,
		   "raw range [%zu, +%zu) outside %zu bytes", m->raw_start, m->raw_len, o->size);
	if (m->decoded) { /* a decoded view's findings follow the raw ones */
		FUZZ_CHECK(m->decoded[0], "empty decoding chain");
		o->n++;
		return 0;
	}
	FUZZ_CHECK(m->raw_start == m->start && m->raw_len == m->len, "raw finding with another raw range");
	FUZZ_CHECK(!o->n || m->start >= o->last_start, "match at %zu after one at %zu", m->start, o->last_start);
	FUZZ_CHECK(m->rule_id && m->rule_name, "match without a rule");
	FUZZ_CHECK(m->known == 0 || m->token_id >= 0, "known without an id");
	o->last_start = m->start;
	o->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned lens[] = { 8, 12, 20, 32, 43, 64, 100 };
	struct order o = { 0, 0, size ? size - 1 : 0 };
	struct detector *d;
	struct detect_stats st;

	if (size < 1)
		return 0;
	d = det[data[0] & 3];
	detector_set_known(d, data[0] & 4 ? lookup : NULL, NULL, lens, sizeof(lens) / sizeof(lens[0]));
	FUZZ_CHECK(detector_scan(d, data + 1, size - 1, on_match, &o) == 0, "scan failed");
	FUZZ_CHECK(detector_tail_need(d) <= size - 1, "tail need %zu of %zu", detector_tail_need(d), size - 1);
	detector_stats(d, &st);
	FUZZ_CHECK(st.bytes >= size - 1, "bytes counted");
	return 0;
}
