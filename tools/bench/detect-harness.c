/*
 * The detector alone, for instruction counts (callgrind is deterministic
 * where this machine's clock is not): detector_scan with
 * DETECT_COLLAPSE_REPEATS (as `tokenward scan`) and views, over PIECE-byte
 * pieces of FILE, the built-in rules. Prints a digest of every finding
 * (rule, place, length, checksum verdict, SHA-256: never the bytes) and
 * every loss counter, so that two builds can be compared for identical
 * answers.
 * Built and run under callgrind by tools/bench/detect-icount.sh; by hand:
 *   detect-harness FILE [PIECE_KIB (4096)] [MAX_MIB (all)] [noviews]
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "detect/detect.h"
#include "detect/rules.h"

/* FNV-1a, 64 bits: a digest to compare builds, not a security hash */
static uint64_t dig = 14695981039346656037ull;

static void mix(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dig = (dig ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
}
static unsigned long nfound;

static int on_match(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	size_t base = *(size_t *)ctx;
	(void)buf;
	(void)len;
	mix(m->rule_id, strlen(m->rule_id) + 1);
	size_t pos[3] = {base + m->raw_start, m->raw_len, m->len};
	mix(pos, sizeof(pos));
	mix(&m->checksum_valid, sizeof(m->checksum_valid));
	mix(m->sha256, 32);
	if (m->decoded)
		mix(m->decoded, strlen(m->decoded));
	nfound++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	size_t piece = (argc > 2 ? strtoul(argv[2], 0, 10) : 4096) << 10;
	size_t max = argc > 3 ? strtoul(argv[3], 0, 10) << 20 : (size_t)-1;
	int noviews = argc > 4 && !strcmp(argv[4], "noviews");
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return 2;
	unsigned char *buf = malloc(piece);
	char err[256];
	struct ruleset *rs;
	if (rules_load_builtin(&rs, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	struct detector *d = detector_new(rs, err, sizeof err);
	if (!d) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	detector_set_flags(d, DETECT_COLLAPSE_REPEATS | (noviews ? DETECT_NO_VIEWS : 0));
	size_t base = 0, n;
	while (base < max && (n = fread(buf, 1, piece, f)) > 0) {
		detector_scan(d, buf, n, on_match, &base);
		base += n;
	}
	struct detect_stats st;
	detector_stats(d, &st);
	mix(&st, sizeof(st));
	printf("findings %lu hits %llu regex %llu shape %llu views %llu digest %016llx\n", nfound,
	       (unsigned long long)st.keyword_hits, (unsigned long long)st.regex_calls,
	       (unsigned long long)st.shape_calls, (unsigned long long)st.views, (unsigned long long)dig);
	printf("view_bytes %llu views_rejected %llu view_dups %llu views_skipped %llu view_findings %llu\n",
	       (unsigned long long)st.view_bytes, (unsigned long long)st.views_rejected, (unsigned long long)st.view_dups,
	       (unsigned long long)st.views_skipped, (unsigned long long)st.view_findings);
	return 0;
}
