/*
 * Why a keyword prefilter and not one big alternation: every rule needs
 * its own capture, checksum and window, and almost every byte of a log
 * is not near any keyword. A 64K-entry table indexed by the next two
 * bytes rejects most positions with one load; only positions whose
 * bigram starts some keyword are compared in full, and only a full
 * keyword runs a regex. Each regex search may start only in
 * [keyword - before, keyword] (PCRE2's offset limit) and must end within
 * max_len, and a per-rule cursor never searches the same start twice, so
 * the work per byte is bounded whatever the input.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "detect/checksum.h"
#include "detect/detect.h"
#include "detect/opaque.h"
#include "lib/sha256.h"
#include "lib/util.h"

#define MATCH_LIMIT   200000   /* backtracking steps per search */
#define DEPTH_LIMIT   10000    /* nested backtracking frames (interpreter) */
#define HEAP_LIMIT_KB 4096
#define JIT_STACK_MAX (1u << 20)
#define CTX_SLACK     64       /* lookbehind/lookahead beyond the match */

struct drule {
	const struct rule *r;
	pcre2_code *re;
	int jit;
	size_t scan_pos;      /* no match of this rule starts before here */
};

struct kwent {
	unsigned char kw[64]; /* lower case */
	unsigned len;
	unsigned rule;
};

struct cand {
	size_t start, len;
	unsigned rule;        /* index into rules, or nrules for opaque */
	int checksum_valid;
	int generic;
	int known;
	long long token_id;
	unsigned char sha[32];
	int hashed;
};

struct detector {
	struct drule *rules;
	size_t nrules;
	struct kwent *kws;
	size_t nkws;
	uint16_t *bigram;     /* (b0 | b1 << 8) -> 1 + group, 0 none */
	uint32_t *grp_start;  /* kws of group g: [grp_start[g], grp_start[g+1]) */
	size_t ngroups;
	unsigned char lower[256];
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jstack;
	detect_known_fn known;
	void *known_ctx;
	uint8_t *lenmap;      /* lengths registered for opaque tokens */
	unsigned max_opaque;
	unsigned flags;
	size_t overlap;
	size_t seam_min;      /* bytes a stream must always carry: a keyword cut at the
			       * seam, the rule's lead-in before it, and context */
	size_t open_from;     /* last scan: offset from which a later buffer must resume */
	size_t last_len;
	struct cand *cands;
	size_t ncands, capcands;
	struct detect_stats st;
};

void detector_free(struct detector *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nrules; i++)
		pcre2_code_free(d->rules[i].re);
	free(d->rules);
	free(d->kws);
	free(d->bigram);
	free(d->grp_start);
	pcre2_match_data_free(d->md);
	pcre2_match_context_free(d->mctx);
	pcre2_jit_stack_free(d->jstack);
	free(d->lenmap);
	free(d->cands);
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

static int build_prefilter(struct detector *d, char *err, size_t errsz)
{
	uint16_t *group_of = calloc(65536, sizeof(uint16_t)); /* lower bigram -> 1+group */
	size_t k = 0;

	for (size_t i = 0; i < d->nrules; i++)
		d->nkws += d->rules[i].r->nkeywords;
	d->kws = calloc(d->nkws ? d->nkws : 1, sizeof(*d->kws));
	d->bigram = calloc(65536, sizeof(uint16_t));
	if (!group_of || !d->kws || !d->bigram) {
		free(group_of);
		util_seterr(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < d->nrules; i++) {
		const struct rule *r = d->rules[i].r;
		for (size_t j = 0; j < r->nkeywords; j++) {
			struct kwent *e = &d->kws[k++];
			e->len = (unsigned)strlen(r->keywords[j]);
			if (e->len - 1 + r->before + CTX_SLACK > d->seam_min)
				d->seam_min = e->len - 1 + r->before + CTX_SLACK;
			for (unsigned c = 0; c < e->len; c++)
				e->kw[c] = d->lower[(unsigned char)r->keywords[j][c]];
			e->rule = (unsigned)i;
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
	for (size_t i = 0; i < d->nkws; i++) {
		unsigned g = group_of[d->kws[i].kw[0] | d->kws[i].kw[1] << 8];
		bigram_set(d->bigram, d->kws[i].kw[0], d->kws[i].kw[1], (uint16_t)g);
	}
	free(group_of);
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
		int ec;
		PCRE2_SIZE off;

		d->rules[i].r = r;
		d->rules[i].re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED,
					       PCRE2_USE_OFFSET_LIMIT, &ec, &off, NULL);
		if (!d->rules[i].re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			util_seterr(err, errsz, "%s:%u: rule '%s': pattern does not compile at offset %zu: %s",
			       r->file, r->line, r->id, (size_t)off, (char *)msg);
			goto fail;
		}
		/* JIT is an optimisation: a pattern it refuses still runs, interpreted. */
		d->rules[i].jit = pcre2_jit_compile(d->rules[i].re, PCRE2_JIT_COMPLETE) == 0;
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
	return d;
fail:
	detector_free(d);
	return NULL;
}

void detector_set_known(struct detector *d, detect_known_fn fn, void *ctx, const unsigned *lengths, size_t nlengths)
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

void detector_set_flags(struct detector *d, unsigned flags)
{
	d->flags = flags;
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

void detector_stats(const struct detector *d, struct detect_stats *out)
{
	*out = d->st;
}

double detect_entropy(const unsigned char *s, size_t n)
{
	unsigned cnt[256] = { 0 };
	double h = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		cnt[s[i]]++;
	for (int c = 0; c < 256; c++) {
		if (cnt[c]) {
			double p = (double)cnt[c] / (double)n;
			h -= p * log2(p);
		}
	}
	return h;
}

/*
 * Documentation samples are not findings. The markers are chosen so that
 * a random base62 string contains one with probability ~1e-5 or less;
 * a secret whose checksum verifies never reaches this test.
 */
/* Is low[i] outside the string or not a letter or digit? */
static int word_edge(const char *low, size_t m, size_t i)
{
	unsigned char c;

	if (i >= m)
		return 1;
	c = (unsigned char)low[i];
	return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
}

int detect_is_placeholder(const unsigned char *s, size_t n)
{
	/* Words count only as words: at an end of the string or beside a
	 * separator ("YOUR_API_KEY", "my-dummy-key"). Inside a run of letters
	 * and digits they are chance: a random 40-character secret holds
	 * "your" about once in 25 000. */
	static const char *const words[] = {
		"example", "your", "placeholder", "redacted", "changeme",
		"dummy", "insert", "token_here", "token-here", "key_here", "key-here",
	};
	static const char *const marks[] = {
		"xxxx", "<", ">", "${", "{{", "****", "....", "0000000", "1234567",
	};
	char low[256];
	size_t m = n < sizeof(low) - 1 ? n : sizeof(low) - 1, run = 1;

	for (size_t i = 0; i < m; i++)
		low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : (char)s[i];
	low[m] = 0;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (memmem(low, m, marks[i], strlen(marks[i])))
			return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t wl = strlen(words[i]);
		const char *p = low;

		while ((p = memmem(p, m - (size_t)(p - low), words[i], wl))) {
			size_t at = (size_t)(p - low);
			if ((at == 0 || word_edge(low, m, at - 1)) || word_edge(low, m, at + wl))
				return 1;
			p++;
		}
	}
	/* The same character eight times: "aaaaaaaa", "--------". */
	for (size_t i = 1; i < m; i++) {
		run = low[i] == low[i - 1] ? run + 1 : 1;
		if (run >= 8)
			return 1;
	}
	return 0;
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
	memset(&d->cands[d->ncands], 0, sizeof(struct cand));
	return &d->cands[d->ncands++];
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
	if (detect_is_placeholder(s, n))
		return 0;
	if (r->min_entropy > 0 && detect_entropy(s, n) < r->min_entropy)
		return 0;
	return 1;
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

/* A keyword of rule ri ends at buf[kpos..]: search for a match that
 * starts in [kpos - before, kpos] and ends within max_len. */
static int try_rule(struct detector *d, unsigned ri, const unsigned char *buf, size_t len, size_t kpos)
{
	struct drule *dr = &d->rules[ri];
	const struct rule *r = dr->r;
	size_t ws, we;
	PCRE2_SIZE *ov;
	int rc, cv;

	if (kpos < dr->scan_pos)
		return 0;
	ws = kpos > r->before ? kpos - r->before : 0;
	if (ws < dr->scan_pos)
		ws = dr->scan_pos;
	we = kpos + r->max_len + CTX_SLACK;
	if (we > len)
		we = len;
	pcre2_set_offset_limit(d->mctx, kpos);
	d->st.regex_calls++;
	if (dr->jit)
		rc = pcre2_jit_match(dr->re, buf, we, ws, 0, d->md, d->mctx);
	else
		rc = pcre2_match(dr->re, buf, we, ws, 0, d->md, d->mctx);
	if (rc < 0) {
		if (rc != PCRE2_ERROR_NOMATCH)
			d->st.limit_hits++;
		dr->scan_pos = kpos + 1;
		/* The buffer ended inside the window: could more bytes of the
		 * stream complete a match? PCRE2's hard partial matching says
		 * so exactly (and where it would start); rare, so interpreted. */
		if (rc == PCRE2_ERROR_NOMATCH && we == len &&
		    pcre2_match(dr->re, buf, we, ws, PCRE2_PARTIAL_HARD, d->md, d->mctx) == PCRE2_ERROR_PARTIAL)
			seam_open(d, pcre2_get_ovector_pointer(d->md)[0]);
		return 0;
	}
	ov = pcre2_get_ovector_pointer(d->md);
	/* A match that reaches the end of the buffer may go on in the next. */
	if (we == len && ov[1] + CTX_SLACK > len)
		seam_open(d, ov[0]);
	/* Never let a search restart inside what it just covered. */
	dr->scan_pos = ov[1] > kpos ? ov[1] : kpos + 1;
	if (rc < 2 || ov[2] == PCRE2_UNSET || ov[3] <= ov[2])
		return 0;
	if (!accept(d, r, buf + ov[2], ov[3] - ov[2], &cv)) {
		d->st.rejected++;
		return 0;
	}
	struct cand *c = cand_push(d);
	if (!c)
		return -ENOMEM;
	c->start = ov[2];
	c->len = ov[3] - ov[2];
	c->rule = ri;
	c->checksum_valid = cv;
	c->generic = r->generic;
	c->token_id = -1;
	return 0;
}

static int prefilter_pass(struct detector *d, const unsigned char *buf, size_t len)
{
	const uint16_t *bg = d->bigram;
	const unsigned char *lower = d->lower;

	if (len < 2)
		return 0;
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned g = bg[buf[i] | buf[i + 1] << 8];
		if (__builtin_expect(!g, 1))
			continue;
		g--;
		for (uint32_t k = d->grp_start[g]; k < d->grp_start[g + 1]; k++) {
			const struct kwent *e = &d->kws[k];
			unsigned c;

			if (i + e->len > len)
				continue;
			for (c = 2; c < e->len && lower[buf[i + c]] == e->kw[c]; c++)
				;
			if (c < e->len)
				continue;
			d->st.keyword_hits++;
			int rc = try_rule(d, e->rule, buf, len, i);
			if (rc)
				return rc;
		}
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

/* Runs of exactly a registered length, bounded by non-base64url bytes. */
static int opaque_pass(struct detector *d, const unsigned char *buf, size_t len)
{
	const unsigned char *cls = b64u_class();
	size_t i = 0;

	while (i < len) {
		if (!cls[buf[i]]) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && cls[buf[j]])
			j++;
		size_t n = j - i;
		if (n <= d->max_opaque && d->lenmap[n]) {
			unsigned char sha[32];
			long long id = -1;

			sha256_digest(buf + i, n, sha);
			d->st.opaque_hashed++;
			if (d->known(d->known_ctx, sha, &id) == 1) {
				struct cand *c = cand_push(d);
				if (!c)
					return -ENOMEM;
				c->start = i;
				c->len = n;
				c->rule = (unsigned)d->nrules;
				c->known = 1;
				c->token_id = id;
				memcpy(c->sha, sha, 32);
				c->hashed = 1;
			}
		}
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

int detector_scan(struct detector *d, const void *vbuf, size_t len, detect_fn fn, void *ctx)
{
	const unsigned char *buf = vbuf;
	int rc;

	d->ncands = 0;
	d->st.bytes += len;
	d->last_len = len;
	d->open_from = len > d->seam_min ? len - d->seam_min : 0;
	for (size_t i = 0; i < d->nrules; i++)
		d->rules[i].scan_pos = 0;
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
	qsort(d->cands, d->ncands, sizeof(*d->cands), cand_cmp);
	dedupe(d);
	for (size_t i = 0; i < d->ncands; i++) {
		struct cand *c = &d->cands[i];
		struct detect_match m = { 0 };

		if (!c->hashed) {
			sha256_digest(buf + c->start, c->len, c->sha);
			if (d->known && d->known(d->known_ctx, c->sha, &c->token_id) == 1)
				c->known = 1;
			else
				c->token_id = -1;
		}
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
		memcpy(m.sha256, c->sha, 32);
		m.checksum_valid = c->checksum_valid;
		m.known = c->known;
		m.token_id = c->known ? c->token_id : -1;
		rc = fn(ctx, &m, buf, len);
		if (rc)
			return rc;
	}
	return 0;
}
