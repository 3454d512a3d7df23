/*
 * Why a keyword prefilter and not one big alternation: every rule needs
 * its own capture, checksum and window, and almost every byte of a log
 * is not near any keyword. A 64K-entry table indexed by the next two
 * bytes rejects most positions with one load; only positions whose
 * bigram starts some keyword are compared in full, and only a full
 * keyword runs a regex. Each regex search may start only in
 * [keyword - before, keyword] (PCRE2's offset limit) and must end within
 * max_len, and a per-rule cursor never searches the same start twice.
 *
 * What keeps hostile text cheap (issue 13: "eyJ" every three bytes,
 * JWT-shaped runs, near misses of every rule):
 *  - a rule whose search can only start at its keyword (before: 0) is
 *    compiled without PCRE2's start-of-match optimisations: they buy
 *    nothing when the start is fixed, and the "required character" scan
 *    alone read up to the whole window (16 KiB for JWTs) at every keyword;
 *  - the built-in patterns use possessive quantifiers wherever giving
 *    characters back cannot lead to a match (the comments in
 *    the rule files say why each is safe), so a failed search costs one
 *    pass over its run;
 *  - a match longer than its rule's max_len is a token the window cut,
 *    whose hash would be wrong: it is counted (too_long), not reported;
 *  - a rule whose searches hit PCRE2's limits DETECT_LIMIT_HITS_PER_RULE
 *    times in one buffer sits out the rest of it, so a catastrophic
 *    custom pattern costs a few limit hits per buffer, not one per
 *    keyword; every keyword hit it skips is counted.
 */
#include <errno.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "detect/bigram.h"
#include "detect/checksum.h"
#include "detect/detect.h"
#include "detect/views.h"
#include "detect/opaque.h"
#include "detect/shape.h"
#include "lib/sha256.h"
#include "lib/util.h"

#define MATCH_LIMIT   200000   /* backtracking steps per search */
#define DEPTH_LIMIT   10000    /* nested backtracking frames (interpreter) */
#define HEAP_LIMIT_KB 4096
#define JIT_STACK_MAX (1u << 20)
#define CTX_SLACK     64       /* lookbehind/lookahead beyond the match */
#define NONE_POS      ((size_t)-1)
#define DENSE_GAP     64       /* a miss of the same rule this close behind: dense */
#define CLUSTER_SPAN  256      /* starts one search covers where keywords are dense */
#define RUN_AHEAD     4096     /* bytes of a run read beyond what a hit needs */

struct drule {
	const struct rule *r;
	pcre2_code *re;       /* for a search from one keyword */
	pcre2_code *re_dense; /* for one search over many starts; NULL: re */
	int jit, jit_dense;
	size_t scan_pos;      /* no match of this rule starts before here */
	unsigned limit_hits;  /* in this scan; at DETECT_LIMIT_HITS_PER_RULE it sits out */
	size_t last_miss;     /* the last keyword hit whose search found nothing, or NONE_POS */
	struct runcur *run;   /* its run class's cursor, or NULL */
	/* the rule's, here: the run gate reads them at every keyword hit */
	size_t max_len, min_len;
	int before0;          /* before is 0 */
	int short_simd;       /* run_short_avx2 applies: a run class of bytes below 0x80,
			       * before 0, and the CPU has AVX2 */
	struct shape *shape;  /* matched natively where the whole window is in the buffer
			       * (shape.h), or NULL: PCRE2 always */
	int bearer;           /* the built-in Bearer pattern: searched natively where
			       * shape_bearer_search can answer (shape.h) */
	int jwt;              /* the built-in JWT pattern: likewise, shape_jwt_search */
	struct runcur *lead;  /* a pattern that starts (?<![SET]) (shape_lead_class): SET,
			       * to rule out searches with no start it allows; or NULL */
	size_t flood_reported; /* distinct unmanaged secrets reported in this raw buffer and
				* its views, for the flood bound */
	size_t flood_kept;    /* without a lookup: distinct secrets kept in this raw buffer's
			       * region, for the flood bound decided at the match (flood_early) */
};

/* Rules with the same run class share one cursor: each byte of a run is
 * read once per class, not once per rule. */
struct runcur {
	const unsigned char *set;  /* the class (struct rule run_set) */
	size_t from, to;           /* this scan: [from, to) are bytes of the class */
	/* the class as one byte per value: keyword-dense text reads every
	 * byte of its runs once per class, and a load is cheaper there than
	 * the bitmap's shift and test */
	unsigned char in[256];
	/* With AVX2, for long runs ("ghp_" repeated), 32 bytes a step: by
	 * low nibble, the high nibbles (0-7) whose byte is in the class; the
	 * class has no byte above 0x7f, else simd is 0. */
	unsigned char nib_lo[32]; /* twice, for a 32-byte load */
	int simd;
};
#define MAX_RUN_CLASSES 16

struct kwent {
	/* the first 8 bytes as one word: (input | fold) & mask == word */
	uint64_t word, fold, mask;
	unsigned len;
	unsigned rule;
	/* lower case, in d->kwtext: apart, so that a group's entries, which
	 * a keyword hit walks, are 40 bytes each and not 96 */
	unsigned char *kw;
};
#define KW_MAX 64

/*
 * A group's keywords' first 8 bytes, side by side, for AVX2: where
 * keywords are dense the one-by-one compares of a group (sk-, sk-proj-,
 * sk-ant-, sk-admin-, sk-svcacct-, sk_live_) were a third of a hit's
 * cost; four at a time they are two instructions. Slots past n never
 * match (mask 0, word all ones).
 */
#define GRP_VEC 8
struct grpvec {
	uint64_t word[GRP_VEC], fold[GRP_VEC], mask[GRP_VEC];
	unsigned n;           /* the group's keywords; 0: compared one by one */
} __attribute__((aligned(32))); /* a size of 32s: every entry of the array is aligned */
_Static_assert(sizeof(struct grpvec) % 32 == 0, "grpvec entries stay 32-byte aligned");

/*
 * Repeats within one buffer (issue 13: the same valid JWT packed
 * densely, one keyword run over and over): a secret whose bytes the same
 * rule found earlier in this buffer reuses that one's checks, hash and
 * lookup, and with DETECT_COLLAPSE_REPEATS only its first
 * DETECT_REPEATS_PER_BUFFER are reported, the rest counted
 * (repeats_collapsed). The table is of fixed size: a secret that finds
 * no slot is checked and reported as if there were none, so a full table
 * costs speed, never a finding.
 */
#define MEMO_SIZE  4096       /* entries, a power of two */
#define MEMO_PROBE 8          /* a bucket: 8 tags, one cache line */
#define MEMO_NONE  UINT32_MAX

/* Each entry's tag, gen << 32 | hash, apart from the entry: a lookup
 * reads one line of tags (distinct secrets, the worst case, miss in all
 * of them) and an entry only where a tag matches. gen: the scan that
 * filled it (d->memo_gen). */
struct memo {
	unsigned rule;
	uint32_t len;
	size_t start;         /* the first one, in this scan's buffer */
	int8_t cv, accepted, hashed, known;
	int8_t capped;        /* past the flood bound: every copy counted, none reported */
	uint32_t reported;
	long long token_id;
	unsigned char sha[32];
};

/*
 * A match kept for reporting. Small on purpose: a dense hostile input
 * gives 200 000 of them in a 4 MiB piece, passed over four times
 * (order check, two dedupe passes, the report loop); at 88 bytes each,
 * with the hash in it, those passes ran from memory, not cache. The hash
 * and lookup are made in the report loop (struct found), or kept in the
 * memo entry, or for an opaque token (hashed to be found at all) in
 * d->opq.
 */
struct cand {
	size_t start;
	uint32_t len;
	uint32_t memo;        /* its struct memo, or MEMO_NONE; opaque: its d->opq index */
	uint32_t rule;        /* index into rules, or nrules for opaque */
	int8_t checksum_valid;
	uint8_t generic;
};

/* An opaque candidate's hash and lookup, made when it was found. */
struct opq {
	unsigned char sha[32];
	long long token_id;
};

/* A candidate's hash and lookup, for the report. */
struct found {
	unsigned char sha[32];
	int known;
	long long token_id;
};

struct detector {
	struct drule *rules;
	size_t nrules;
	struct runcur runs[MAX_RUN_CLASSES];
	size_t nruns;
	struct kwent *kws;
	size_t nkws;
	unsigned char *kwtext; /* KW_MAX bytes a keyword */
	uint16_t *bigram;     /* (b0 | b1 << 8) -> 1 + group, 0 none */
	struct bigram_filter bgf; /* where bigram[] is not 0, searched fast */
	uint32_t *grp_start;  /* kws of group g: [grp_start[g], grp_start[g+1]) */
	struct grpvec *grpvec; /* by group, 32-byte aligned */
	int32_t *grp_rule;    /* the one rule all of group g's keywords belong to, or -1 */
	size_t ngroups;
	unsigned char lower[256];
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	detect_known_fn known;
	void *known_ctx;
	uint8_t *lenmap;      /* lengths registered for opaque tokens */
	unsigned char b64_nib[32]; /* base64url bytes by nibble, for AVX2 (as runcur nib_lo) */
	unsigned max_opaque;
	unsigned flags;
	size_t flood_cap;     /* detector_set_flood_cap; 0 off */
	size_t overlap;
	size_t seam_min;      /* bytes a stream must always carry: a keyword cut at the
			       * seam, the rule's lead-in before it, and context */
	size_t open_from;     /* last scan: offset from which a later buffer must resume */
	int cut;              /* this scan's buffer was cut (detector_scan_cut) */
	size_t last_len;
	struct cand *cands;
	size_t ncands, capcands;
	struct opq *opq;
	size_t nopq, capopq;
	struct sha256_ctx *hash;  /* kept: a fresh context per candidate costs 4x the hash */
	struct detect_stats st;
	struct views *views;      /* decoded views' scratch (views.h) */
	struct memo *memo;        /* MEMO_SIZE entries; NULL: no memo */
	uint64_t *memo_tag;       /* theirs */
	uint32_t memo_gen;
	size_t rep_lo, rep_hi;    /* the next raw scan's report region (detector_set_region) */
	size_t cur_lo, cur_hi;    /* this raw scan's */
	int in_view;              /* scanning a decoded view of the last raw buffer */
	int reference;            /* detector_set_reference: no fast path */
};

/* In the AVX2 prefilter: the last one-rule group whose hits were skipped
 * (its rule had searched well past them), its pair (lower case) and that
 * rule's cursor then: its positions below are cleared from the block
 * masks at once ("eyJ" repeated: a hit every 3 bytes, each a lookup). */
struct skip {
	size_t until;
	unsigned g;
	unsigned char pair[2];
};

void detector_free(struct detector *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nrules; i++) {
		pcre2_code_free(d->rules[i].re);
		pcre2_code_free(d->rules[i].re_dense);
		free(d->rules[i].shape);
		free(d->rules[i].lead);
	}
	free(d->rules);
	free(d->kws);
	free(d->kwtext);
	free(d->bigram);
	free(d->grp_start);
	free(d->grp_rule);
	free(d->grpvec);
	pcre2_match_data_free(d->md);
	pcre2_match_context_free(d->mctx);
	pcre2_jit_stack_free(d->jstack);
	free(d->lenmap);
	free(d->cands);
	free(d->opq);
	sha256_ctx_free(d->hash);
	views_free(d->views);
	free(d->memo);
	free(d->memo_tag);
	free(d);
}

static int kw_cmp_group(const void *a, const void *b, void *arg)
{
	const uint16_t *g = arg;
	const struct kwent *x = a, *y = b;
	unsigned gx = g[x->kw[0] | x->kw[1] << 8], gy = g[y->kw[0] | y->kw[1] << 8];

	if (gx != gy)
		return gx < gy ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Every case variant of the first two bytes points at the group. */
static void bigram_set(uint16_t *t, unsigned char a, unsigned char b, uint16_t v)
{
	unsigned char av[2] = { a, a }, bv[2] = { b, b };

	if (a >= 'a' && a <= 'z')
		av[1] = a - 32;
	if (b >= 'a' && b <= 'z')
		bv[1] = b - 32;
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			t[av[i] | bv[j] << 8] = v;
}

/* Comparing a keyword byte by byte mispredicts a branch per byte; where
 * keywords are dense (one group holds sk-, sk-proj-, sk-ant-, sk_live_...)
 * that was most of the cost. OR-ing 0x20 folds exactly the letters: for
 * no other byte b is b | 0x20 a lower-case letter. */
static void kw_words(struct kwent *e)
{
	unsigned char w[8] = { 0 }, f[8] = { 0 }, m[8] = { 0 };

	for (unsigned c = 0; c < e->len && c < 8; c++) {
		w[c] = e->kw[c];
		f[c] = e->kw[c] >= 'a' && e->kw[c] <= 'z' ? 0x20 : 0;
		m[c] = 0xff;
	}
	memcpy(&e->word, w, 8);
	memcpy(&e->fold, f, 8);
	memcpy(&e->mask, m, 8);
}

/* Is keyword e at buf[i..]? x: the 8 bytes there, when there are 8. */
static inline int kw_at(const struct detector *d, const struct kwent *e, const unsigned char *buf, size_t len,
			size_t i, uint64_t x)
{
	unsigned c = 2;

	if (i + e->len > len)
		return 0;
	if (i + 8 <= len) {
		if (((x | e->fold) & e->mask) != e->word)
			return 0;
		c = 8;
	}
	for (; c < e->len; c++)
		if (d->lower[buf[i + c]] != e->kw[c])
			return 0;
	return 1;
}

static inline uint64_t load8(const unsigned char *buf, size_t len, size_t i)
{
	uint64_t x = 0;

	if (i + 8 <= len)
		memcpy(&x, buf + i, 8);
	return x;
}

static int build_prefilter(struct detector *d, char *err, size_t errsz)
{
	uint16_t *group_of = calloc(65536, sizeof(uint16_t)); /* lower bigram -> 1+group */
	size_t k = 0;

	for (size_t i = 0; i < d->nrules; i++)
		d->nkws += d->rules[i].r->nkeywords;
	d->kws = calloc(d->nkws ? d->nkws : 1, sizeof(*d->kws));
	d->kwtext = calloc(d->nkws ? d->nkws : 1, KW_MAX);
	d->bigram = calloc(65536, sizeof(uint16_t));
	if (!group_of || !d->kws || !d->kwtext || !d->bigram) {
		free(group_of);
		util_seterr(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < d->nrules; i++) {
		const struct rule *r = d->rules[i].r;
		for (size_t j = 0; j < r->nkeywords; j++) {
			struct kwent *e = &d->kws[k];
			e->kw = d->kwtext + KW_MAX * k++;
			e->len = (unsigned)strlen(r->keywords[j]);
			if (e->len - 1 + r->before + CTX_SLACK > d->seam_min)
				d->seam_min = e->len - 1 + r->before + CTX_SLACK;
			for (unsigned c = 0; c < e->len; c++)
				e->kw[c] = d->lower[(unsigned char)r->keywords[j][c]];
			e->rule = (unsigned)i;
			kw_words(e);
			unsigned bg = e->kw[0] | e->kw[1] << 8;
			if (!group_of[bg])
				group_of[bg] = (uint16_t)++d->ngroups;
		}
	}
	qsort_r(d->kws, d->nkws, sizeof(*d->kws), kw_cmp_group, group_of);
	d->grp_start = calloc(d->ngroups + 1, sizeof(uint32_t));
	if (!d->grp_start) {
		free(group_of);
		util_seterr(err, errsz, "out of memory");
		return -1;
	}
	/* kws are sorted by group: record where each begins. */
	for (size_t i = d->nkws; i-- > 0;) {
		unsigned g = group_of[d->kws[i].kw[0] | d->kws[i].kw[1] << 8] - 1;
		d->grp_start[g] = (uint32_t)i;
	}
	d->grp_start[d->ngroups] = (uint32_t)d->nkws;
	d->grp_rule = malloc((d->ngroups + 1) * sizeof(int32_t));
	if (!d->grp_rule) {
		free(group_of);
		util_seterr(err, errsz, "out of memory");
		return -1;
	}
	if (posix_memalign((void **)&d->grpvec, 32, (d->ngroups + 1) * sizeof(*d->grpvec))) {
		d->grpvec = NULL;
		free(group_of);
		util_seterr(err, errsz, "out of memory");
		return -1;
	}
	for (size_t g = 0; g < d->ngroups; g++) {
		struct grpvec *v = &d->grpvec[g];
		uint32_t n = d->grp_start[g + 1] - d->grp_start[g];

		/* a group of one or two compares faster one by one */
		v->n = n >= 3 && n <= GRP_VEC ? n : 0;
		for (unsigned k = 0; k < GRP_VEC; k++) {
			v->word[k] = k < v->n ? d->kws[d->grp_start[g] + k].word : ~0ull;
			v->fold[k] = k < v->n ? d->kws[d->grp_start[g] + k].fold : 0;
			v->mask[k] = k < v->n ? d->kws[d->grp_start[g] + k].mask : 0;
		}
		d->grp_rule[g] = (int32_t)d->kws[d->grp_start[g]].rule;
		for (uint32_t k = d->grp_start[g]; k < d->grp_start[g + 1]; k++)
			if (d->kws[k].rule != (unsigned)d->grp_rule[g])
				d->grp_rule[g] = -1;
	}
	for (size_t i = 0; i < d->nkws; i++) {
		unsigned g = group_of[d->kws[i].kw[0] | d->kws[i].kw[1] << 8];
		bigram_set(d->bigram, d->kws[i].kw[0], d->kws[i].kw[1], (uint16_t)g);
	}
	bigram_filter_init(&d->bgf);
	for (size_t i = 0; i < d->nkws; i++)
		bigram_filter_add(&d->bgf, d->kws[i].kw, d->kws[i].len);
	bigram_filter_finish(&d->bgf, 1);
	free(group_of);
	return 0;
}

static struct runcur *run_class(struct detector *d, const struct rule *r)
{
	for (size_t i = 0; i < d->nruns; i++)
		if (!memcmp(d->runs[i].set, r->run_set, sizeof(r->run_set)))
			return &d->runs[i];
	if (d->nruns == MAX_RUN_CLASSES)
		return NULL;
	struct runcur *rc = &d->runs[d->nruns];
	rc->set = r->run_set;
	rc->simd = __builtin_cpu_supports("avx2");
	for (int c = 0; c < 256; c++) {
		rc->in[c] = (unsigned char)rules_in_run(r, (unsigned char)c);
		if (rc->in[c] && c > 0x7f)
			rc->simd = 0;
		else if (rc->in[c])
			rc->nib_lo[c & 15] = rc->nib_lo[16 + (c & 15)] |= (unsigned char)(1u << (c >> 4));
	}
	d->nruns++;
	return rc;
}

static int rule_compile(const struct rule *r, uint32_t opts, pcre2_code **out, int *jit, char *err, size_t errsz)
{
	int ec;
	PCRE2_SIZE off;

	*out = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, PCRE2_USE_OFFSET_LIMIT | opts, &ec, &off, NULL);
	if (!*out) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		util_seterr(err, errsz, "%s:%u: rule '%s': pattern does not compile at offset %zu: %s",
			    r->file, r->line, r->id, (size_t)off, (char *)msg);
		return -1;
	}
	/* JIT is an optimisation: a pattern it refuses still runs, interpreted.
	 * Partial matching finds tokens the window or the buffer end cut. */
	*jit = pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD) == 0;
	return 0;
}

/*
 * A rule matched natively (shape.h): its pattern has a shape, its search
 * starts only at its keyword (before 0), and a match with the byte after
 * it fits in the window PCRE2 would be given (max_len + CTX_SLACK), so
 * that both read the same bytes and PCRE2 could never have reached the
 * window's end (hard partial). *out NULL when not; -1 out of memory.
 */
static int rule_shape(const struct rule *r, struct shape **out)
{
	struct shape s;

	*out = NULL;
	if (r->before || shape_parse(r->pattern, &s) || s.max_extent + 1 > (size_t)r->max_len + CTX_SLACK)
		return 0;
	if (!(*out = malloc(sizeof(s))))
		return -1;
	memcpy(*out, &s, sizeof(s));
	return 0;
}

/* The lead class of a rule that is not a shape (shape_lead_class), as a
 * class cursor's tables. 0, dr->lead NULL when it has none; -1 no memory. */
static int rule_lead(struct drule *dr)
{
	unsigned char in[256];

	if (shape_lead_class(dr->r->pattern, in))
		return 0;
	if (!(dr->lead = calloc(1, sizeof(*dr->lead))))
		return -1;
	dr->lead->simd = __builtin_cpu_supports("avx2");
	for (int c = 0; c < 256; c++) {
		dr->lead->in[c] = in[c];
		if (in[c] && c > 0x7f)
			dr->lead->simd = 0;
		else if (in[c])
			dr->lead->nib_lo[c & 15] = dr->lead->nib_lo[16 + (c & 15)] |= (unsigned char)(1u << (c >> 4));
	}
	return 0;
}

struct detector *detector_new(const struct ruleset *rs, char *err, size_t errsz)
{
	struct detector *d = calloc(1, sizeof(*d));
	size_t maxspan = 0;

	if (!d) {
		util_seterr(err, errsz, "out of memory");
		return NULL;
	}
	for (int c = 0; c < 256; c++)
		d->lower[c] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : (unsigned char)c;
	d->nrules = rules_count(rs);
	d->rules = calloc(d->nrules ? d->nrules : 1, sizeof(*d->rules));
	if (!d->rules) {
		util_seterr(err, errsz, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < d->nrules; i++) {
		const struct rule *r = rules_get(rs, i);
		struct drule *dr = &d->rules[i];

		dr->r = r;
		dr->max_len = r->max_len;
		dr->min_len = r->min_len;
		dr->before0 = !r->before;
		/* With before 0 a search from one keyword has one start: scanning
		 * ahead for a first or required character is pure cost (see the
		 * top). A dense search, over many starts, wants that scan. */
		if (rule_compile(r, r->before ? 0 : PCRE2_NO_START_OPTIMIZE, &dr->re, &dr->jit, err, errsz))
			goto fail;
		if (!r->before && rule_compile(r, 0, &dr->re_dense, &dr->jit_dense, err, errsz))
			goto fail;
		if (r->run && !(dr->run = run_class(d, r))) {
			util_seterr(err, errsz, "%s:%u: rule '%s': more than %d distinct run classes",
				    r->file, r->line, r->id, MAX_RUN_CLASSES);
			goto fail;
		}
		dr->short_simd = dr->run && dr->run->simd && dr->before0;
		dr->bearer = shape_is_bearer(r->pattern);
		dr->jwt = shape_is_jwt(r->pattern);
		if (rule_shape(r, &dr->shape) || (!dr->shape && rule_lead(dr))) {
			util_seterr(err, errsz, "out of memory");
			goto fail;
		}
		if (r->max_len + r->before > maxspan)
			maxspan = r->max_len + r->before;
	}
	d->overlap = 2 * (maxspan + CTX_SLACK);
	d->md = pcre2_match_data_create(4, NULL);
	d->mctx = pcre2_match_context_create(NULL);
	d->jstack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
	if (!d->md || !d->mctx || !d->jstack) {
		util_seterr(err, errsz, "out of memory");
		goto fail;
	}
	pcre2_set_match_limit(d->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(d->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(d->mctx, HEAP_LIMIT_KB);
	pcre2_jit_stack_assign(d->mctx, NULL, d->jstack);
	if (build_prefilter(d, err, errsz))
		goto fail;
	for (int c = 0; c < 128; c++)
		if (detect_opaque_byte((unsigned char)c))
			d->b64_nib[c & 15] = d->b64_nib[16 + (c & 15)] |= (unsigned char)(1u << (c >> 4));
	d->hash = sha256_ctx_new(); /* NULL: the slower one-shot digest */
	d->memo = calloc(MEMO_SIZE, sizeof(*d->memo)); /* NULL: every secret checked anew */
	if (posix_memalign((void **)&d->memo_tag, 64, MEMO_SIZE * sizeof(uint64_t)))
		d->memo_tag = NULL;
	if (!d->memo_tag) {
		free(d->memo);
		d->memo = NULL;
	} else {
		memset(d->memo_tag, 0, MEMO_SIZE * sizeof(uint64_t));
	}
	d->rep_hi = SIZE_MAX;
	d->flood_cap = DETECT_FLOOD_CAP_DEFAULT;
	return d;
fail:
	detector_free(d);
	return NULL;
}

void detector_set_known(struct detector *d, detect_known_fn fn, void *ctx, const uint32_t *lengths, size_t nlengths)
{
	d->known = fn;
	d->known_ctx = ctx;
	free(d->lenmap);
	d->lenmap = NULL;
	d->max_opaque = 0;
	if (!fn || !nlengths)
		return;
	d->lenmap = calloc(DETECT_MAX_OPAQUE_LEN + 1, 1);
	if (!d->lenmap)
		return;
	for (size_t i = 0; i < nlengths; i++) {
		if (lengths[i] < DETECT_OPAQUE_MIN_LEN || lengths[i] > DETECT_MAX_OPAQUE_LEN)
			continue;
		d->lenmap[lengths[i]] = 1;
		if (lengths[i] > d->max_opaque)
			d->max_opaque = lengths[i];
	}
	if (!d->max_opaque) {
		free(d->lenmap);
		d->lenmap = NULL;
	}
}

void detector_set_region(struct detector *d, size_t lo, size_t hi)
{
	d->rep_lo = lo;
	d->rep_hi = hi;
}

void detector_set_flags(struct detector *d, unsigned flags)
{
	d->flags = flags;
}

void detector_set_flood_cap(struct detector *d, size_t cap)
{
	d->flood_cap = cap;
}

void detector_set_reference(struct detector *d, int on)
{
	d->reference = on;
	bigram_filter_finish(&d->bgf, !on);
}

size_t detector_overlap(const struct detector *d)
{
	size_t o = d->overlap;

	if (2 * ((size_t)d->max_opaque + CTX_SLACK) > o)
		o = 2 * ((size_t)d->max_opaque + CTX_SLACK);
	return o;
}

size_t detector_tail_need(const struct detector *d)
{
	return d->last_len - d->open_from;
}

void detector_seam_open_at(struct detector *d, size_t from)
{
	if (from < d->open_from)
		d->open_from = from;
}

void detector_stats(const struct detector *d, struct detect_stats *out)
{
	*out = d->st;
}

static struct cand *cand_push(struct detector *d)
{
	if (d->ncands == d->capcands) {
		size_t cap = d->capcands ? d->capcands * 2 : 64;
		struct cand *nc = realloc(d->cands, cap * sizeof(*nc));
		if (!nc)
			return NULL;
		d->cands = nc;
		d->capcands = cap;
	}
	return &d->cands[d->ncands++];
}

static uint32_t memo_hash(unsigned rule, const unsigned char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)rule << 32) ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x9fb21c651e98df25ULL;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s + i, n - i);
	h = (h ^ w) * 0x9fb21c651e98df25ULL;
	return (uint32_t)(h ^ h >> 32);
}

/* This buffer's entry for rule's secret buf[start..+len): found (*fresh
 * 0), or a new one (*fresh 1), or NULL when its slots are all taken. */
static struct memo *memo_get(struct detector *d, unsigned rule, const unsigned char *buf, size_t start,
			     size_t len, int *fresh)
{
	uint64_t tag, gen = (uint64_t)d->memo_gen << 32;
	size_t b;

	if (!d->memo || len > UINT32_MAX)
		return NULL;
	tag = gen | memo_hash(rule, buf + start, len);
	b = (size_t)(tag & (MEMO_SIZE - 1) & ~(size_t)(MEMO_PROBE - 1));
	for (size_t k = b; k < b + MEMO_PROBE; k++) {
		struct memo *e = &d->memo[k];

		if ((d->memo_tag[k] & ~0xffffffffULL) != gen) { /* stale: free */
			d->memo_tag[k] = tag;
			*e = (struct memo){ .rule = rule, .len = (uint32_t)len, .start = start, .token_id = -1 };
			*fresh = 1;
			return e;
		}
		if (d->memo_tag[k] == tag && e->rule == rule && e->len == len &&
		    !memcmp(buf + e->start, buf + start, len)) {
			*fresh = 0;
			return e;
		}
	}
	return NULL;
}

/* A new scan: every entry of the last one is stale. */
static void memo_reset(struct detector *d)
{
	if (d->memo && ++d->memo_gen == 0) {
		memset(d->memo_tag, 0, MEMO_SIZE * sizeof(uint64_t));
		d->memo_gen = 1;
	}
}

/* The checks after the regex: is this capture a secret worth reporting? */
static int accept(struct detector *d, const struct rule *r, const unsigned char *s, size_t n, int *cv)
{
	*cv = 0;
	if (r->checksum) {
		*cv = checksum_verify(r->checksum, (const char *)s, n) ? 1 : -1;
		if (*cv < 0 && !(d->flags & DETECT_KEEP_INVALID))
			return 0;
	}
	if (*cv == 1 || (d->flags & DETECT_NO_FILTERS))
		return 1;
	/* entropy first: the cheaper test, and what repetitive hostile
	 * look-alikes fail */
	if (r->min_entropy > 0 && detect_entropy_below(s, n, r->min_entropy))
		return 0;
	return !detect_is_placeholder(s, n);
}

/* A match from @start may continue past the end of the buffer: a stream's
 * next buffer must begin early enough to find it whole (with context for
 * lookbehind). */
static void seam_open(struct detector *d, size_t start)
{
	size_t from = start > CTX_SLACK ? start - CTX_SLACK : 0;

	if (from < d->open_from)
		d->open_from = from;
}

/* A search of rule ri stopped at a PCRE2 limit: counted; after a few in
 * one buffer the rule sits out the rest of it. */
static void limit_hit(struct detector *d, struct drule *dr)
{
	d->st.limit_hits++;
	if (++dr->limit_hits == DETECT_LIMIT_HITS_PER_RULE)
		d->st.rules_suspended++;
}

static int rule_match(struct detector *d, struct drule *dr, int dense, const unsigned char *buf, size_t end,
		      size_t start, uint32_t opts)
{
	pcre2_code *re = dense && dr->re_dense ? dr->re_dense : dr->re;
	int jit = dense && dr->re_dense ? dr->jit_dense : dr->jit;

	if (jit)
		return pcre2_jit_match(re, buf, end, start, opts, d->md, d->mctx);
	return pcre2_match(re, buf, end, start, opts, d->md, d->mctx);
}

/* No match before the end of the buffer: could more bytes of the stream
 * complete one? PCRE2's hard partial matching says so exactly, and
 * where it would start. */
static void seam_check(struct detector *d, struct drule *dr, int dense, const unsigned char *buf, size_t len,
		       size_t ws)
{
	int rc = rule_match(d, dr, dense, buf, len, ws, PCRE2_PARTIAL_HARD);

	if (rc == PCRE2_ERROR_PARTIAL)
		seam_open(d, pcre2_get_ovector_pointer(d->md)[0]);
	else if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
		limit_hit(d, dr);
}

/*
 * Rules with a run class (rules.h): after its keyword a match is a run of
 * those bytes, and it ends where the run ends. A hit whose run goes on
 * for more than max_len holds no match, nor (before 0) one whose run is
 * shorter than the pattern's minimum length: skipped without a search.
 * "xoxb-" repeated for a megabyte is one run, read once, not a 250-byte
 * search every 5 bytes. Hits come in order, so the class's cursor moves
 * forward; a shorter keyword's run may begin a few bytes before it.
 */
/* From t, the first byte not in the class, or limit: 32 bytes a step. */
__attribute__((target("avx2"), noinline)) static size_t run_extend_avx2(const struct runcur *rc,
									 const unsigned char *buf, size_t t,
									 size_t limit)
{
	/* high nibble h -> 1 << h for h < 8; 0 above (no such byte is in it) */
	static const unsigned char hibit[32] __attribute__((aligned(32))) = {
		1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128,
	};
	const __m256i lo = _mm256_loadu_si256((const __m256i *)rc->nib_lo);
	const __m256i hi = _mm256_load_si256((const __m256i *)hibit);
	const __m256i low4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();

	for (; t + 32 <= limit; t += 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(buf + t));
		__m256i m = _mm256_and_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(x, low4)),
					     _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
		uint32_t out = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, zero));

		if (out)
			return t + (size_t)__builtin_ctz(out);
	}
	while (t < limit && rc->in[buf[t]])
		t++;
	return t;
}

/* Move the class's run end forward to the first byte not in it, or limit:
 * with AVX2 32 bytes a step (one step tells a short run of keyword-dense
 * text, "sk-" repeated, where byte by byte cost a third of a hit), else
 * four. */
/* The first byte at or after t not in the class, or limit. */
static inline __attribute__((always_inline)) size_t class_end(const struct runcur *rc, const unsigned char *buf,
							      size_t t, size_t limit)
{
	const unsigned char *in = rc->in;

	if (rc->simd)
		return run_extend_avx2(rc, buf, t, limit);
	while (t + 4 <= limit && in[buf[t]] & in[buf[t + 1]] & in[buf[t + 2]] & in[buf[t + 3]])
		t += 4;
	while (t < limit && in[buf[t]])
		t++;
	return t;
}

static inline __attribute__((always_inline)) void run_extend(struct runcur *rc, const unsigned char *buf,
							     size_t limit)
{
	rc->to = class_end(rc, buf, rc->to, limit);
}

static inline __attribute__((always_inline)) int run_gate(struct drule *dr, const unsigned char *buf, size_t len, size_t kpos, size_t p)
{
	struct runcur *rc = dr->run;
	/* Read ahead of what this hit needs: a long run then moves the
	 * rule's cursor far ahead at once, and its later keyword hits cost
	 * one comparison each in the prefilter. */
	size_t limit = kpos + dr->max_len + 1 + RUN_AHEAD;

	if (!rc)
		return 0;
	if (p < rc->from)
		while (rc->from > p && rc->in[buf[rc->from - 1]])
			rc->from--;
	if (p < rc->from || p > rc->to)
		rc->from = rc->to = p;
	if (limit > len)
		limit = len;
	/* a run already known to end before limit needs no reading */
	if (rc->to >= limit || rc->in[buf[rc->to]])
		run_extend(rc, buf, limit);
	if (rc->to - kpos > dr->max_len) {
		/* nor does any later start whose run goes on that far */
		if (rc->to - dr->max_len > dr->scan_pos)
			dr->scan_pos = rc->to - dr->max_len;
		return 1;
	}
	return rc->to < len && dr->before0 && rc->to - kpos < dr->min_len;
}

/* Is a keyword of rule ri at one of buf[from..to]? (Rare: dense searches
 * that matched.) */
static int keyword_near(const struct detector *d, unsigned ri, const unsigned char *buf, size_t len,
			size_t from, size_t to)
{
	for (size_t k = 0; k < d->nkws; k++) {
		const struct kwent *e = &d->kws[k];
		for (size_t p = from; e->rule == ri && p <= to && p + e->len <= len; p++)
			if (d->lower[buf[p]] == e->kw[0] && d->lower[buf[p + 1]] == e->kw[1] &&
			    kw_at(d, e, buf, len, p, load8(buf, len, p)))
				return 1;
	}
	return 0;
}

struct search {
	size_t ws, lim, we;   /* first start, last start (offset limit), subject end */
	size_t ov[4];         /* the match and its capture (PCRE2's ovector), or the partial match */
};

/*
 * May a match of a rule whose pattern starts (?<![SET]) start in
 * [ws, lim + 1]? (lim + 1: PCRE2's JIT lets a match start one past the
 * offset limit, shape.c says when.) Only where the byte before is not in
 * SET: in "eyJ" repeated for megabytes, a dense JWT search of 64 KiB of
 * starts, each failing at the look-behind, cost PCRE2 20 instructions a
 * byte; this reads the run once, 32 bytes a step. Such a search has no
 * match and no partial one: the look-behind fails before any byte at the
 * subject's end is read (the caller keeps lim + 1 below it).
 */
static int lead_allows(const struct runcur *lead, const unsigned char *buf, size_t ws, size_t lim)
{
	return ws == 0 || class_end(lead, buf, ws - 1, lim + 1) <= lim;
}

/* The JWT rule's native search; one of many starts in text with no '.'
 * (keyword soup) ruled out by a memchr first, not 16 starts a step. Out
 * of line, as one call: the test inline in search_once made every search
 * of dense fragments dearer (try_rule's registers). */
static __attribute__((noinline)) int jwt_search(const unsigned char *buf, size_t we, size_t ws, size_t lim,
						size_t ov[4])
{
	if (lim >= ws + 64 && lim + 1 < we && shape_jwt_no_dot(buf, we, ws, lim + 1))
		return 0;
	return shape_jwt_search(buf, we, ws, lim, ov);
}

/*
 * One search of rule_search's: PCRE2's, or where the rule is the Bearer
 * one, inside the buffer and not cut, the native one when it can answer
 * (with PCRE2's answer, shape.h); the JWT one likewise, at the buffer's
 * end too (an attempt that reaches the end is PCRE2's, and the others
 * answer the same with or without partial matching: test_shape checks
 * both), since a JWT search's window is 128 KiB and the last one of
 * every buffer went to PCRE2. Hard partial inside the buffer, as
 * rule_search says.
 */
static int search_once(struct detector *d, struct drule *dr, const unsigned char *buf, size_t len, size_t kpos,
		       struct search *s)
{
	PCRE2_SIZE *ov;
	int rc;

	/* the look-behind's test first where a search has many starts:
	 * "eyJ" repeated for megabytes is ruled out 32 bytes a step, faster
	 * than the JWT search's 16 (which tests it first at a single start) */
	if (dr->lead && !d->reference && s->lim + 1 < s->we && !(dr->jwt && s->lim == s->ws) &&
	    !lead_allows(dr->lead, buf, s->ws, s->lim)) {
		d->st.shape_calls++;
		return PCRE2_ERROR_NOMATCH;
	}
	if (((dr->bearer && s->we < len) || dr->jwt) && !d->cut && !d->reference) {
		rc = dr->bearer ? shape_bearer_search(buf, s->we, s->ws, s->lim, s->ov)
				: jwt_search(buf, s->we, s->ws, s->lim, s->ov);
		if (rc >= 0) {
			d->st.shape_calls++;
			return rc ? 2 : PCRE2_ERROR_NOMATCH;
		}
	}
	d->st.regex_calls++;
	/* Hard partial costs a third more per search; a rule with a run
	 * class does without: its match cannot reach the window's end
	 * unseen (one that does is longer than max_len, and counted). */
	rc = rule_match(d, dr, s->lim > kpos, buf, s->we, s->ws,
			(s->we < len && !dr->run) || d->cut ? PCRE2_PARTIAL_HARD : 0);
	ov = pcre2_get_ovector_pointer(d->md);
	for (int k = 0; k < 4; k++)
		s->ov[k] = rc >= 0 || rc == PCRE2_ERROR_PARTIAL ? ov[k] : PCRE2_UNSET;
	if (rc == 1)
		s->ov[2] = s->ov[3] = PCRE2_UNSET;
	return rc;
}

/*
 * Search for rule ri from a keyword at kpos. Usually the only starts are
 * [kpos - before, kpos]. Where the rule's last search, close behind,
 * found nothing, keywords are dense ("eyJ" every three bytes): one
 * search then covers the starts up to kpos + CLUSTER_SPAN, PCRE2's own
 * loop over start positions costing a few ns each where a call per
 * keyword cost twenty and more; a match it finds counts only if a
 * keyword lies within `before` after its start, as the rule requires.
 * Inside the buffer the search is hard-partial: one that reaches the
 * end of its window is a candidate longer than max_len, which the
 * window would cut. At the end of the buffer a match is taken as it
 * stands (the stream may end there), and the seam is kept open.
 */
static int rule_search(struct detector *d, unsigned ri, const unsigned char *buf, size_t len, size_t kpos,
		       struct search *s)
{
	struct drule *dr = &d->rules[ri];
	const struct rule *r = dr->r;
	int rc;

	s->ws = kpos > r->before ? kpos - r->before : 0;
	if (s->ws < dr->scan_pos)
		s->ws = dr->scan_pos;
	s->lim = kpos;
	if (dr->last_miss != NONE_POS && kpos - dr->last_miss <= DENSE_GAP) {
		/* A dense search (before 0) runs with start optimisations: as
		 * wide as the window, PCRE2's scan for a required character then
		 * reads each byte about twice, not once per span. */
		size_t span = !r->before && r->max_len > CLUSTER_SPAN ? r->max_len : CLUSTER_SPAN;
		s->lim = kpos + span < len ? kpos + span : len;
	}
	s->we = s->lim + r->max_len + CTX_SLACK;
	if (s->we > len)
		s->we = len;
	pcre2_set_offset_limit(d->mctx, s->lim);
	for (;;) {
		size_t at;

		rc = search_once(d, dr, buf, len, kpos, s);
		if ((rc < 0 && rc != PCRE2_ERROR_PARTIAL) || s->lim == kpos)
			return rc;
		at = s->ov[0];
		if (keyword_near(d, ri, buf, len, at, at + r->before))
			return rc;
		if (at >= s->lim)
			return PCRE2_ERROR_NOMATCH;
		s->ws = at + 1;
	}
}

/*
 * The flood bound decided where a match is found, not in the report
 * loop: without a lookup (no ledger) no finding can be managed, so once
 * a rule has kept flood_cap distinct secrets in this raw buffer's
 * region, each new one there is counted (findings_capped) and costs no
 * checksum, placeholder or entropy check, no candidate and no report
 * pass; its later copies are counted too. A dense flood (3 million AWS
 * key ids in 64 MiB) spent most of its time on checks of findings it
 * was never going to list. What is reported is what the report loop's
 * bound would report: the first flood_cap distinct secrets of the rule
 * that pass the checks, and their repeats. What is counted differs:
 * a look-alike past the bound is counted capped, not rejected. Not for
 * a generic rule (dedupe may drop its matches) nor in a decoded view
 * (views.c bounds those by their raw place).
 */
static int flood_on(const struct detector *d);
static int flood_early(const struct detector *d, const struct drule *dr, size_t c0)
{
	return !d->known && flood_on(d) && !d->in_view && !dr->r->generic && c0 >= d->cur_lo && c0 < d->cur_hi;
}

/* A match of rule ri at buf[m0..m1) with capture [c0, c1): checked,
 * and a candidate when it passes. */
static int rule_found(struct detector *d, unsigned ri, const unsigned char *buf, size_t kpos, size_t m0, size_t m1,
		      size_t c0, size_t c1)
{
	struct drule *dr = &d->rules[ri];
	const struct rule *r = dr->r;
	struct memo *e;
	int cv, ok, fresh = 0, early;

	/* Never let a search restart inside what it just covered. */
	dr->scan_pos = m1 > kpos ? m1 : kpos + 1;
	/* Longer than the rule allows (it ended in the window's context
	 * slack): a token cut there would have a hash that matches nothing.
	 * Said, not reported. */
	if (m1 - m0 > r->max_len) {
		d->st.too_long++;
		return 0;
	}
	if (c0 == PCRE2_UNSET || c1 <= c0)
		return 0;
	e = memo_get(d, ri, buf, c0, c1 - c0, &fresh);
	early = flood_early(d, dr, c0);
	if (early && e && !fresh && e->capped) {
		d->st.findings_capped++;
		return 0;
	}
	if (early && (!e || fresh) && dr->flood_kept >= d->flood_cap) {
		/* past the bound: counted, not checked (see flood_early) */
		if (e)
			e->capped = 1;
		d->st.findings_capped++;
		return 0;
	}
	if (e && !fresh) {
		ok = e->accepted;
		cv = e->cv;
	} else {
		ok = accept(d, r, buf + c0, c1 - c0, &cv);
		if (e) {
			e->accepted = (int8_t)ok;
			e->cv = (int8_t)cv;
		}
	}
	if (!ok) {
		d->st.rejected++;
		return 0;
	}
	if (early && (!e || fresh))
		dr->flood_kept++;
	struct cand *c = cand_push(d);
	if (!c)
		return -ENOMEM;
	c->memo = e ? (uint32_t)(e - d->memo) : MEMO_NONE;
	c->start = c0;
	c->len = (uint32_t)(c1 - c0);
	c->rule = ri;
	c->checksum_valid = (int8_t)cv;
	c->generic = (uint8_t)r->generic;
	return 0;
}

/*
 * A rule with a shape, away from the buffer's end and not in a cut
 * buffer: matched natively at its keyword, with the window PCRE2 would
 * get, so with PCRE2's answer (shape.h) and no call. 1: done (rc set);
 * 0: not here, search with PCRE2.
 */
static int try_shape(struct detector *d, unsigned ri, const unsigned char *buf, size_t len, size_t kpos, int *rc)
{
	struct drule *dr = &d->rules[ri];
	size_t we = kpos + dr->r->max_len + CTX_SLACK, mend;

	if (!dr->shape || d->cut || we >= len || d->reference)
		return 0;
	d->st.shape_calls++;
	if (!shape_match(dr->shape, buf, we, kpos, &mend)) {
		dr->last_miss = kpos;
		dr->scan_pos = kpos + 1;
		*rc = 0;
		return 1;
	}
	*rc = rule_found(d, ri, buf, kpos, kpos, mend, kpos, mend);
	return 1;
}

/* A keyword of rule ri ends at buf[kpos..]: a match of the rule that
 * starts at most `before` ahead of it and is at most max_len long. */
static __attribute__((noinline)) int try_rule(struct detector *d, unsigned ri, const unsigned char *buf,
					      size_t len, size_t kpos)
{
	struct drule *dr = &d->rules[ri];
	struct search sr;
	const size_t *ov = sr.ov;
	int rc;

	if (try_shape(d, ri, buf, len, kpos, &rc))
		return rc;
	rc = rule_search(d, ri, buf, len, kpos, &sr);
	if (rc == PCRE2_ERROR_PARTIAL) {
		if (sr.we < len)
			d->st.too_long++;
		else
			d->st.cut_short++;
		dr->last_miss = kpos;
		dr->scan_pos = (ov[0] > kpos ? ov[0] : kpos) + 1;
		return 0;
	}
	if (rc == PCRE2_ERROR_NOMATCH) {
		/* no match starts anywhere up to the offset limit */
		dr->last_miss = sr.lim;
		dr->scan_pos = sr.lim + 1;
		if (sr.we == len && !d->cut)
			seam_check(d, dr, sr.lim > kpos, buf, len, sr.ws);
		return 0;
	}
	if (rc < 0) {
		/* Which start gave up is unknown: the next hit searches on its
		 * own again, so each abandoned search is one keyword's. */
		limit_hit(d, dr);
		dr->last_miss = NONE_POS;
		dr->scan_pos = kpos + 1;
		return 0;
	}
	/* A match that reaches the end of the buffer may go on in the next. */
	if (sr.we == len && ov[1] + CTX_SLACK > len)
		seam_open(d, ov[0]);
	return rule_found(d, ri, buf, kpos, ov[0], ov[1], ov[2], ov[3]);
}

/* A keyword hit the rule may search from: counted, and 0 when the rule
 * has searched here already or sits out this buffer. */
static inline __attribute__((always_inline)) int kw_counted(struct detector *d, const struct drule *dr, size_t i)
{
	if (i < dr->scan_pos)
		return 0; /* the rule has searched here already */
	d->st.keyword_hits++;
	if (dr->limit_hits >= DETECT_LIMIT_HITS_PER_RULE) {
		d->st.skipped_hits++;
		return 0;
	}
	return 1;
}

/* After kw_counted, the gates: the run gate first (a run too long moves
 * the rule's cursor past the rest of its hits, "twd_" repeated); then a
 * shape's lead (\b, a look-behind: one byte before the keyword), which
 * most hits of keyword-dense text fail; then try_rule. */
static inline __attribute__((always_inline)) int kw_gated(struct detector *d, const struct kwent *e,
						       const unsigned char *buf, size_t len, size_t i)
{
	struct drule *dr = &d->rules[e->rule];

	if (run_gate(dr, buf, len, i, i + e->len))
		return 0;
	if (dr->shape && !d->reference && !shape_lead_ok(dr->shape, buf, len, i))
		return 0;
	return try_rule(d, e->rule, buf, len, i);
}

/* The cheap reasons not to search, inline; then try_rule. */
static inline __attribute__((always_inline)) int kw_hit(struct detector *d, const struct kwent *e,
						     const unsigned char *buf, size_t len, size_t i)
{
	if (!kw_counted(d, &d->rules[e->rule], i))
		return 0;
	return kw_gated(d, e, buf, len, i);
}

/*
 * Is the run after a keyword at kpos (from p) told short by the 32 bytes
 * at p, with AVX2? 1 exactly where run_gate would say so: a byte not in
 * the class there is the run's end t (t < len, t - kpos < min_len <=
 * max_len: neither the too-long case nor the buffer's end), so for a
 * rule with before 0 the gate holds. 0: ask run_gate. Where keywords are
 * dense ("sk-" repeated: every hit's run two bytes) run_gate's cursor
 * and its call to run_extend_avx2 were a third of a hit's cost; this
 * leaves the cursor alone, which only caches.
 */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) int
run_short_avx2(const struct drule *dr, const unsigned char *buf, size_t len, size_t kpos, size_t p)
{
	static const unsigned char hibit[32] __attribute__((aligned(32))) = {
		1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128,
	};
	const __m256i low4 = _mm256_set1_epi8(0x0f);
	__m256i x, m;
	uint32_t out;

	if (!dr->short_simd || p + 32 > len)
		return 0;
	x = _mm256_loadu_si256((const __m256i *)(buf + p));
	m = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)dr->run->nib_lo), _mm256_and_si256(x, low4)),
			     _mm256_shuffle_epi8(_mm256_load_si256((const __m256i *)hibit),
						 _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
	out = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, _mm256_setzero_si256()));
	return out && p + (size_t)__builtin_ctz(out) - kpos < dr->min_len;
}

/* kw_hit in the AVX2 prefilter: run_short_avx2 before the gates. */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) int
kw_hit_avx2(struct detector *d, const struct kwent *e, const unsigned char *buf, size_t len, size_t i)
{
	const struct drule *dr = &d->rules[e->rule];

	if (!kw_counted(d, dr, i) || run_short_avx2(dr, buf, len, i, i + e->len))
		return 0;
	return kw_gated(d, e, buf, len, i);
}

/*
 * A position whose pair starts some keyword, with 8 bytes from it: a
 * keyword's first 8 bytes are one masked compare (a group such as sk-,
 * sk-proj-, sk-ant-, sk_live_ costs a few instructions a keyword, which
 * is what keyword-dense hostile text exercises); longer keywords compare
 * their tail byte by byte.
 */
static inline __attribute__((always_inline)) int prefilter_at(struct detector *d, const unsigned char *buf,
							      size_t len, size_t i)
{
	unsigned g = d->bigram[buf[i] | buf[i + 1] << 8];
	const struct kwent *e, *end;
	uint64_t x;
	int rc;

	/* a one-rule group whose rule has searched past i: nothing to do */
	if (d->grp_rule[g - 1] >= 0 && i < d->rules[d->grp_rule[g - 1]].scan_pos)
		return 0;
	memcpy(&x, buf + i, 8);
	end = d->kws + d->grp_start[g];
	for (e = d->kws + d->grp_start[g - 1]; e < end; e++) {
		if (((x | e->fold) & e->mask) != e->word)
			continue;
		if (e->len > 8 && !kw_at(d, e, buf, len, i, x))
			continue;
		if ((rc = kw_hit(d, e, buf, len, i)))
			return rc;
	}
	return 0;
}

/* prefilter_at with the group's compares four at a time (struct grpvec). */
__attribute__((target("avx2"))) static inline __attribute__((always_inline)) int
prefilter_at_avx2(struct detector *d, const unsigned char *buf, size_t len, size_t i, struct skip *sk)
{
	unsigned g = d->bigram[buf[i] | buf[i + 1] << 8];
	const struct grpvec *v = &d->grpvec[g - 1];
	const struct kwent *first = d->kws + d->grp_start[g - 1];
	unsigned bits;
	uint64_t x;
	int rc;

	if (d->grp_rule[g - 1] >= 0 && i < d->rules[d->grp_rule[g - 1]].scan_pos) {
		size_t until = d->rules[d->grp_rule[g - 1]].scan_pos;

		/* worth it past a block or two only */
		if (until >= i + 64 && (g != sk->g || sk->until < until)) {
			sk->g = g;
			sk->pair[0] = d->lower[buf[i]];
			sk->pair[1] = d->lower[buf[i + 1]];
			sk->until = until;
		}
		return 0;
	}
	if (!v->n)
		return prefilter_at(d, buf, len, i);
	memcpy(&x, buf + i, 8);
	__m256i xv = _mm256_set1_epi64x((long long)x);
	__m256i m = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_or_si256(xv, _mm256_loadu_si256((const __m256i *)v->fold)),
							  _mm256_loadu_si256((const __m256i *)v->mask)),
				       _mm256_loadu_si256((const __m256i *)v->word));
	bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(m));
	if (v->n > 4) {
		m = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_or_si256(xv, _mm256_loadu_si256((const __m256i *)(v->fold + 4))),
							 _mm256_loadu_si256((const __m256i *)(v->mask + 4))),
				       _mm256_loadu_si256((const __m256i *)(v->word + 4)));
		bits |= (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(m)) << 4;
	}
	while (bits) {
		const struct kwent *e = first + __builtin_ctz(bits);

		bits &= bits - 1;
		if (e->len > 8 && !kw_at(d, e, buf, len, i, x))
			continue;
		if ((rc = kw_hit_avx2(d, e, buf, len, i)))
			return rc;
	}
	return 0;
}

/* Bit k: p[k], p[k + 1] are the pair (lower case), in either case. */
__attribute__((target("avx2"))) static inline uint32_t pair_mask(const unsigned char *p, const unsigned char pair[2])
{
	const __m256i A = _mm256_set1_epi8('A' - 1), Z = _mm256_set1_epi8('Z' + 1), lc = _mm256_set1_epi8(0x20);
	__m256i x = _mm256_loadu_si256((const __m256i *)p), y = _mm256_loadu_si256((const __m256i *)(p + 1));
	/* lower case: 0x20 added to A-Z only (bytes above 0x7f compare negative) */
	x = _mm256_or_si256(x, _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi8(x, A), _mm256_cmpgt_epi8(Z, x)), lc));
	y = _mm256_or_si256(y, _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi8(y, A), _mm256_cmpgt_epi8(Z, y)), lc));
	return (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)pair[0])),
							      _mm256_cmpeq_epi8(y, _mm256_set1_epi8((char)pair[1]))));
}

/*
 * The blocks of 32 positions below fast_end, with AVX2, each hit handled
 * in the block's loop: where keywords are dense ("eyJ" every three
 * bytes) a call per hit that recomputed its block cost more than the
 * hits. *next: where the caller goes on.
 */
__attribute__((target("avx2"))) static int prefilter_avx2(struct detector *d, const unsigned char *buf, size_t len,
							  size_t fast_end, size_t *next)
{
	struct bigram_vec v;
	size_t i;
	int rc;

	struct skip sk = { 0 };

	bigram_vec_load(&d->bgf, &v);
	/* i + 32 <= fast_end: the mask reads buf[i + 33], below len */
	for (i = 0; i + 32 <= fast_end; i += 32) {
		uint32_t maybe = bigram_vec_mask(&v, buf + i);

		if (maybe && i + 32 <= sk.until)
			maybe &= ~pair_mask(buf + i, sk.pair);
		while (maybe) {
			size_t j = i + (size_t)__builtin_ctz(maybe);

			maybe &= maybe - 1;
			if (bigram_filter_has(&d->bgf, buf[j] | buf[j + 1] << 8) &&
			    (rc = prefilter_at_avx2(d, buf, len, j, &sk)))
				return rc;
		}
	}
	*next = i;
	return 0;
}

static int prefilter_pass(struct detector *d, const unsigned char *buf, size_t len)
{
	const uint16_t *bg = d->bigram;
	size_t i = 0, fast_end = len >= 8 ? len - 7 : 0;
	int rc;

	if (d->bgf.simd && (rc = prefilter_avx2(d, buf, len, fast_end, &i)))
		return rc;
	for (; i < fast_end; i++) {
		/* buf[fast_end + 1] exists: fast_end is len - 7 */
		if ((i = bigram_filter_next(&d->bgf, buf, i, fast_end)) >= fast_end)
			break;
		if ((rc = prefilter_at(d, buf, len, i)))
			return rc;
	}
	for (; i + 1 < len; i++) {
		unsigned g = bg[buf[i] | buf[i + 1] << 8];

		if (!g)
			continue;
		for (uint32_t k = d->grp_start[g - 1]; k < d->grp_start[g]; k++)
			if (kw_at(d, &d->kws[k], buf, len, i, 0) && (rc = kw_hit(d, &d->kws[k], buf, len, i)))
				return rc;
	}
	return 0;
}

static const unsigned char *b64u_class(void)
{
	static unsigned char t[256];
	static int init;

	if (!init) {
		for (int c = 0; c < 256; c++)
			t[c] = detect_opaque_byte((unsigned char)c); /* detect/opaque.h: registration agrees */
		init = 1;
	}
	return t;
}

/* A known opaque token at buf[start..+n): a candidate, its hash kept. */
static int opaque_push(struct detector *d, size_t start, size_t n, const unsigned char sha[32], long long id)
{
	struct cand *c;

	if (d->nopq == d->capopq) {
		size_t cap = d->capopq ? d->capopq * 2 : 16;
		struct opq *no = realloc(d->opq, cap * sizeof(*no));
		if (!no)
			return -1;
		d->opq = no;
		d->capopq = cap;
	}
	if (!(c = cand_push(d)))
		return -1;
	memcpy(d->opq[d->nopq].sha, sha, 32);
	d->opq[d->nopq].token_id = id;
	*c = (struct cand){ .start = start, .len = (uint32_t)n, .memo = (uint32_t)d->nopq++,
			    .rule = (uint32_t)d->nrules };
	return 0;
}

/* A run of base64url bytes at buf[i..+n): hashed and looked up when its
 * length is a registered one, a candidate when known. */
static inline int opaque_run(struct detector *d, const unsigned char *buf, size_t i, size_t n)
{
	unsigned char sha[32];
	long long id = -1;

	if (n > d->max_opaque || !d->lenmap[n])
		return 0;
	sha256_ctx_digest(d->hash, buf + i, n, sha);
	d->st.opaque_hashed++;
	if (d->known(d->known_ctx, sha, &id) == 1 && opaque_push(d, i, n, sha, id))
		return -ENOMEM;
	return 0;
}

/*
 * The runs with AVX2: 32 bytes classified a step, and a run's start and
 * end found as the mask's rising and falling edges. Byte by byte the
 * pass cost ~1.5 ns a byte of every buffer scanned with a ledger that
 * holds an opaque token, hostile or not. The same runs as the scalar loop
 * (test_opaque compares them).
 */
__attribute__((target("avx2"))) static int opaque_pass_avx2(struct detector *d, const unsigned char *buf, size_t len)
{
	static const unsigned char hibit[32] = {
		1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128,
	};
	const __m256i lo = _mm256_loadu_si256((const __m256i *)d->b64_nib);
	const __m256i hi = _mm256_loadu_si256((const __m256i *)hibit);
	const __m256i low4 = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
	const unsigned char *cls = b64u_class();
	size_t base = 0, start = NONE_POS;
	uint32_t carry = 0; /* the byte before this block is in a run */
	int rc;

	for (; base + 32 <= len; base += 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(buf + base));
		__m256i m = _mm256_and_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(x, low4)),
					     _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
		uint32_t in = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, zero));
		uint32_t prev = in << 1 | carry, edges = (in & ~prev) | (~in & prev);

		carry = in >> 31;
		while (edges) {
			size_t k = base + (size_t)__builtin_ctz(edges);

			edges &= edges - 1;
			if (start == NONE_POS) {
				start = k;
			} else {
				if ((rc = opaque_run(d, buf, start, k - start)))
					return rc;
				start = NONE_POS;
			}
		}
	}
	for (; base < len; base++) {
		if (cls[buf[base]] && start == NONE_POS) {
			start = base;
		} else if (!cls[buf[base]] && start != NONE_POS) {
			if ((rc = opaque_run(d, buf, start, base - start)))
				return rc;
			start = NONE_POS;
		}
	}
	if (start != NONE_POS)
		return opaque_run(d, buf, start, len - start);
	return 0;
}

/* Runs of exactly a registered length, bounded by non-base64url bytes. */
static int opaque_pass(struct detector *d, const unsigned char *buf, size_t len)
{
	const unsigned char *cls = b64u_class();
	size_t i = 0;
	int rc;

	if (d->bgf.simd)
		return opaque_pass_avx2(d, buf, len);
	while (i < len) {
		if (!cls[buf[i]]) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && cls[buf[j]])
			j++;
		if ((rc = opaque_run(d, buf, i, j - i)))
			return rc;
		i = j;
	}
	return 0;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->generic != y->generic)
		return x->generic - y->generic;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Candidates mostly come in order (keyword order is start order for
 * rules with before 0); where they do not, a few are out of place: a
 * Bearer value found at its keyword, before the specific token in it; a
 * dense search's match ahead. An insertion sort puts those right in
 * O(n + moves), where qsort cost 4% of keyword-dense text; past 8 moves
 * a candidate (input made to disorder them) qsort finishes the job. Both
 * are stable and the order total but for equal candidates. */
static void cands_sort(struct detector *d)
{
	struct cand *c = d->cands;
	size_t n = d->ncands, moves = 0;

	for (size_t i = 1; i < n; i++) {
		struct cand x = c[i];
		size_t j = i;

		while (j > 0 && cand_cmp(&c[j - 1], &x) > 0) {
			c[j] = c[j - 1];
			j--;
			if (++moves > 8 * n) {
				c[j] = x;
				qsort(c, n, sizeof(*c), cand_cmp);
				return;
			}
		}
		c[j] = x;
	}
}

/*
 * Drop a generic match that overlaps a specific one, and a second report
 * of the very same span. Two linear passes over the sorted candidates.
 */
static void dedupe(struct detector *d)
{
	struct cand *c = d->cands;
	size_t n = d->ncands, o = 0, max_end = 0, next_start = SIZE_MAX;
	char *drop = calloc(n ? n : 1, 1);

	if (!drop)
		return; /* reporting a duplicate beats losing a finding */
	for (size_t i = 0; i < n; i++) {
		if (!c[i].generic) {
			if (c[i].start + c[i].len > max_end)
				max_end = c[i].start + c[i].len;
		} else if (c[i].start < max_end) {
			drop[i] = 1;
		}
		if (i && c[i].start == c[i - 1].start && c[i].len == c[i - 1].len)
			drop[i] = 1;
	}
	for (size_t i = n; i-- > 0;) {
		if (c[i].generic && next_start < c[i].start + c[i].len)
			drop[i] = 1;
		if (!c[i].generic)
			next_start = c[i].start;
	}
	for (size_t i = 0; i < n; i++)
		if (!drop[i])
			c[o++] = c[i];
	d->ncands = o;
	free(drop);
}

/*
 * The flood bound for an unmanaged candidate of rule ri in the report
 * region (e: its memo entry, or NULL). A secret already reported here is
 * a repeat, left to the repeat rule; a new one is reported while its
 * rule has reported fewer than flood_cap distinct ones in this buffer,
 * else counted, and so is every later copy of it. 1: not to be reported.
 */
static int flood_capped(struct detector *d, unsigned ri, struct memo *e)
{
	struct drule *dr = &d->rules[ri];

	if (e && e->capped) {
		d->st.findings_capped++;
		return 1;
	}
	if (e && e->reported)
		return 0;
	if (dr->flood_reported < d->flood_cap) {
		dr->flood_reported++;
		return 0;
	}
	if (e)
		e->capped = 1;
	d->st.findings_capped++;
	return 1;
}

static int flood_on(const struct detector *d)
{
	return d->flood_cap && (d->flags & DETECT_COLLAPSE_REPEATS);
}

int detector_flood_view(struct detector *d, const struct detect_match *m, size_t raw_pos)
{
	if (!flood_on(d) || m->known || raw_pos < d->cur_lo || raw_pos >= d->cur_hi)
		return 0;
	for (unsigned ri = 0; ri < d->nrules; ri++)
		if (d->rules[ri].r->id == m->rule_id)
			return flood_capped(d, ri, NULL);
	return 0; /* opaque: known, never here */
}

static void cand_lookup(struct detector *d, const struct cand *c, struct memo *e, const unsigned char *buf,
			struct found *f)
{
	if (c->rule == d->nrules) { /* opaque: hashed to be found */
		memcpy(f->sha, d->opq[c->memo].sha, 32);
		f->known = 1;
		f->token_id = d->opq[c->memo].token_id;
	} else if (e && e->hashed) {
		memcpy(f->sha, e->sha, 32);
		f->known = e->known;
		f->token_id = e->token_id;
	} else {
		f->known = 0;
		sha256_ctx_digest(d->hash, buf + c->start, c->len, f->sha);
		if (d->known && d->known(d->known_ctx, f->sha, &f->token_id) == 1)
			f->known = 1;
		else
			f->token_id = -1;
		if (e) {
			memcpy(e->sha, f->sha, 32);
			e->known = (int8_t)f->known;
			e->token_id = f->token_id;
			e->hashed = 1;
		}
	}
}

/* The candidate's hash and lookup, once per distinct secret in the
 * buffer. 1: not to be reported, and counted: a repeat past
 * DETECT_REPEATS_PER_BUFFER, or past the flood bound. */
static int cand_hash(struct detector *d, const struct cand *c, const unsigned char *buf, struct found *f)
{
	struct memo *e = c->rule < d->nrules && c->memo != MEMO_NONE ? &d->memo[c->memo] : NULL;
	/* outside the caller's region: another buffer reports it, or has */
	int outside = !d->in_view && (c->start < d->cur_lo || c->start >= d->cur_hi);
	/* a view's findings meet the bound in views.c, where their raw
	 * place is known (detector_flood_view) */
	int flood = !outside && !d->in_view && c->rule < d->nrules && flood_on(d);

	/* Without a lookup nothing can be managed, and a finding past the
	 * bound needs no hash: a flood then costs no SHA-256 a copy. */
	if (flood && !d->known && flood_capped(d, c->rule, e))
		return 1;
	cand_lookup(d, c, e, buf, f);
	if (outside)
		return 0;
	if (flood && d->known && !f->known && flood_capped(d, c->rule, e))
		return 1;
	if (!e)
		return 0;
	if (++e->reported <= DETECT_REPEATS_PER_BUFFER || !(d->flags & DETECT_COLLAPSE_REPEATS))
		return 0;
	d->st.repeats_collapsed++;
	return 1;
}

int detector_scan_cut(struct detector *d, const void *buf, size_t len, detect_fn fn, void *ctx)
{
	int rc;

	d->cut = 1;
	rc = detector_scan(d, buf, len, fn, ctx);
	d->cut = 0;
	return rc;
}

int detector_scan_raw(struct detector *d, const void *vbuf, size_t len, detect_fn fn, void *ctx)
{
	const unsigned char *buf = vbuf;
	int rc;

	d->ncands = 0;
	d->nopq = 0;
	memo_reset(d);
	if (!d->in_view) { /* the region holds for this scan only */
		d->cur_lo = d->rep_lo;
		d->cur_hi = d->rep_hi;
		d->rep_lo = 0;
		d->rep_hi = SIZE_MAX;
	}
	d->st.bytes += len;
	d->last_len = len;
	d->open_from = len > d->seam_min ? len - d->seam_min : 0;
	for (size_t i = 0; i < d->nrules; i++) {
		d->rules[i].scan_pos = 0;
		/* a decoded view is part of its raw buffer: a rule that sat out
		 * the buffer sits out its views too (views cannot multiply a
		 * catastrophic pattern's cost) */
		if (!d->in_view) {
			d->rules[i].limit_hits = 0;
			d->rules[i].flood_reported = 0;
			d->rules[i].flood_kept = 0;
		}
		d->rules[i].last_miss = NONE_POS;
	}
	for (size_t i = 0; i < d->nruns; i++)
		d->runs[i].from = d->runs[i].to = 0;
	rc = prefilter_pass(d, buf, len);
	if (!rc && d->lenmap && d->known) {
		/* an opaque token may be the run of base64url bytes at the end */
		const unsigned char *cls = b64u_class();
		size_t j = len;

		while (j > 0 && cls[buf[j - 1]] && len - j <= d->max_opaque)
			j--;
		if (j < d->open_from)
			d->open_from = j;
		rc = opaque_pass(d, buf, len);
	}
	if (rc) {
		d->open_from = 0; /* cut short: keep everything */
		return rc;
	}
	if (!d->ncands)
		return 0;
	cands_sort(d);
	dedupe(d);
	for (size_t i = 0; i < d->ncands; i++) {
		struct cand *c = &d->cands[i];
		struct detect_match m = { 0 };
		struct found f;

		if (cand_hash(d, c, buf, &f))
			continue;
		if (c->rule < d->nrules) {
			const struct rule *r = d->rules[c->rule].r;
			m.rule_id = r->id;
			m.rule_name = r->name;
			m.severity = r->severity;
		} else {
			m.rule_id = DETECT_OPAQUE_RULE;
			m.rule_name = "Registered opaque token";
			m.severity = SEV_HIGH;
		}
		m.start = c->start;
		m.len = c->len;
		memcpy(m.sha256, f.sha, 32);
		m.checksum_valid = c->checksum_valid;
		m.known = f.known;
		m.token_id = f.known ? f.token_id : -1;
		m.raw_start = c->start;
		m.raw_len = c->len;
		rc = fn(ctx, &m, buf, len);
		if (rc)
			return rc;
	}
	return 0;
}

int detector_scan(struct detector *d, const void *buf, size_t len, detect_fn fn, void *ctx)
{
	if (d->flags & DETECT_NO_VIEWS)
		return detector_scan_raw(d, buf, len, fn, ctx);
	if (!d->views && !(d->views = views_new()))
		return -ENOMEM;
	return views_scan(d->views, d, &d->st, buf, len, d->cut, fn, ctx);
}

int detector_scan_view(struct detector *d, const unsigned char *buf, size_t len, int cut, detect_fn fn,
		       void *ctx)
{
	size_t open_from = d->open_from, last_len = d->last_len;
	uint64_t bytes = d->st.bytes;
	int was_cut = d->cut, rc;

	d->cut = cut;
	d->in_view = 1;
	rc = detector_scan_raw(d, buf, len, fn, ctx);
	d->in_view = 0;
	d->cut = was_cut;
	d->open_from = open_from;
	d->last_len = last_len;
	d->st.bytes = bytes;
	return rc;
}

/*
 * ---- For decoded views (views.h): can a view hold a keyword? ----
 *
 * Every rule match starts from a keyword the prefilter found in the
 * scanned bytes (a rule without keywords does not load), so a view
 * without one gives no rule finding. Opaque tokens are found by length,
 * not keyword: with registered lengths the answer is always "may".
 * The same test as prefilter_pass's, without its per-rule cursors.
 */
int detector_keyword_free(const struct detector *d, const unsigned char *buf, size_t len)
{
	const uint16_t *bg = d->bigram;
	size_t i = 0, fast_end = len >= 8 ? len - 7 : 0;

	if (d->lenmap && d->known)
		return 0;
	for (; i < fast_end; i++) {
		const struct kwent *e, *end;
		unsigned g;
		uint64_t x;

		/* buf[fast_end + 1] exists: fast_end is len - 7 */
		if ((i = bigram_filter_next(&d->bgf, buf, i, fast_end)) >= fast_end)
			break;
		g = bg[buf[i] | buf[i + 1] << 8];
		memcpy(&x, buf + i, 8);
		end = d->kws + d->grp_start[g];
		for (e = d->kws + d->grp_start[g - 1]; e < end; e++)
			if (((x | e->fold) & e->mask) == e->word && (e->len <= 8 || kw_at(d, e, buf, len, i, x)))
				return 0;
	}
	for (; i + 1 < len; i++) {
		unsigned g = bg[buf[i] | buf[i + 1] << 8];

		if (!g)
			continue;
		for (uint32_t k = d->grp_start[g - 1]; k < d->grp_start[g]; k++)
			if (kw_at(d, &d->kws[k], buf, len, i, 0))
				return 0;
	}
	return 1;
}

/* The bytes that occur in some keyword, either case: out[c] 1 for them. */
void detector_keyword_bytes(const struct detector *d, unsigned char out[256])
{
	memset(out, 0, 256);
	for (size_t k = 0; k < d->nkws; k++)
		for (unsigned c = 0; c < d->kws[k].len; c++) {
			unsigned char x = d->kws[k].kw[c];
			out[x] = 1;
			if (x >= 'a' && x <= 'z')
				out[x - 32] = 1;
		}
}
