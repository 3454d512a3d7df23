/* Tests for user/detect/shape.c: the native matcher says what PCRE2 says.
 * Every built-in rule with a shape, and patterns made to exercise the
 * parts (alternatives one a prefix of another, greedy repeats giving way,
 * \b beside '-', a cut subject), are matched both ways at every position
 * of random and edge inputs; the answer and the capture must agree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "detect/rules.h"
#include "detect/shape.h"

/* What the matcher is compared with: PCRE2, anchored at pos, subject buf[0..end). */
static int pcre_at(pcre2_code *re, pcre2_match_data *md, const unsigned char *buf, size_t end, size_t pos,
		   size_t *mend)
{
	int rc = pcre2_match(re, buf, end, pos, PCRE2_ANCHORED, md, NULL);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	assert_true(rc >= 2);
	assert_int_equal(ov[0], pos);
	assert_int_equal(ov[2], pos); /* the capture is the whole match */
	assert_int_equal(ov[3], ov[1]);
	*mend = ov[1];
	return 1;
}

/* One item's bytes, near what it accepts: a literal, now and then with
 * a byte's case flipped; a run of the set near the repeat's bounds, now
 * and then with a byte from outside it. */
static size_t put_item(unsigned char *buf, size_t i, size_t len, const struct shape_item *it)
{
	if (it->kind == SHAPE_LITS) {
		unsigned a = (unsigned)rand() % it->nalts;
		for (unsigned c = 0; c < it->alen[a] && i < len; c++)
			buf[i++] = it->alt[a][c] ^ (rand() % 16 == 0 ? 0x20 : 0);
		return i;
	}
	size_t n = it->n + (size_t)(rand() % (int)(it->m - it->n + 1));
	if (rand() % 4 == 0) /* just past either bound */
		n = rand() % 2 ? it->m + 1 : it->n - (it->n > 0);
	for (size_t c = 0; c < n && i < len; c++) {
		unsigned b;
		do
			b = (unsigned)rand() % 128;
		while (!it->in[b] && rand() % 256);
		buf[i++] = (unsigned char)b;
	}
	return i;
}

/* Bytes a hostile input is made of: whole near-matches of the shape,
 * single items, and the edges (space, '-', '_', '.', 0xff, any byte). */
static void fill(unsigned char *buf, size_t len, const struct shape *s, unsigned seed)
{
	static const char edge[] = " -_.\xff";

	srand(seed);
	for (size_t i = 0; i < len;) {
		switch (rand() % 5) {
		case 0:
			buf[i++] = (unsigned char)edge[rand() % 5];
			break;
		case 1:
			buf[i++] = (unsigned char)(rand() % 256);
			break;
		case 2:
			i = put_item(buf, i, len, &s->items[(size_t)rand() % s->nitems]);
			break;
		default:
			for (size_t k = 0; k < s->nitems; k++)
				i = put_item(buf, i, len, &s->items[k]);
			if (i < len && rand() % 2)
				buf[i++] = (unsigned char)edge[rand() % 5];
		}
	}
}

/* Every position of many inputs, the whole subject and cut ones; returns
 * how many matches were seen (so a test can insist on some). */
static size_t compare(const char *pattern, unsigned rounds)
{
	struct shape *s = malloc(sizeof(*s));
	pcre2_code *re;
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	int ec;
	PCRE2_SIZE off;
	size_t matches = 0;
	unsigned char buf[1200];

	assert_non_null(s);
	assert_int_equal(shape_parse(pattern, s), 0);
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
	assert_non_null(re);
	for (unsigned seed = 1; seed <= rounds; seed++) {
		size_t len = 1 + seed % sizeof(buf);
		fill(buf, len, s, seed);
		for (size_t cut = 0; cut < 40 && cut < len; cut += 1 + (size_t)rand() % 17)
			for (size_t pos = 0, end = len - cut; pos <= end; pos++) {
				size_t want = 0, got = 0;
				int w = pcre_at(re, md, buf, end, pos, &want);
				int g = shape_match(s, buf, end, pos, &got);

				if (w != g || want != got)
					fail_msg("%s: seed %u end %zu pos %zu: pcre2 %d..%zu, shape %d..%zu", pattern, seed, end,
						 pos, w, want, g, got);
				matches += (size_t)w;
				assert_true(!w || want - pos <= s->max_extent);
			}
	}
	pcre2_code_free(re);
	pcre2_match_data_free(md);
	free(s);
	return matches;
}

/* Which built-in rules are shapes: a rule that stops being one would
 * quietly cost a PCRE2 call a keyword again. */
static void test_builtin_rules_agree(void **state)
{
	static const char *const shaped[] = { "anthropic", "aws-access-key-id", "github-classic",
					      "github-fine-grained", "gitlab-pat", "google-api-key", "npm",
					      "openai", "openai-legacy", "slack", "stripe", "tokenward" };
	struct ruleset *rs;
	char err[256];
	size_t nshaped = 0;

	(void)state;
	assert_int_equal(rules_load_builtin(&rs, err, sizeof(err)), 0);
	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		struct shape s;
		int want = 0;

		for (size_t k = 0; k < sizeof(shaped) / sizeof(shaped[0]); k++)
			want |= !strcmp(r->id, shaped[k]);
		if (shape_parse(r->pattern, &s)) {
			assert_false(want);
			continue;
		}
		assert_true(want);
		nshaped++;
		assert_true(s.max_extent <= r->max_len);
		size_t nm = compare(r->pattern, 600);
		print_message("%s: %zu matches\n", r->id, nm);
		if (nm < 50)
			fail_msg("%s: too few matches to compare", r->id);
	}
	assert_int_equal(nshaped, sizeof(shaped) / sizeof(shaped[0]));
	rules_free(rs);
}

static void test_parts_agree(void **state)
{
	static const char *const pats[] = {
		"\\b((?:sk|sk-x)-[a-z-]{2,6})\\b",       /* a prefix alternative; greedy with \b and '-' */
		"(?<![a-z])((?:ab|a)[a-c]{0,4})\\b",     /* alternatives that overlap the repeat */
		"\\b(-[a-z]{1,3})\\b",                   /* \b before a non-word byte */
		"((?:x|xy|xyz)[yz]{1,2})(?![z])",        /* giving way to satisfy the look-ahead */
		"\\b(a[0-9]{2}-[a-z_-]{3,5}+)(?![a-z])", /* possessive: no giving way */
		"(q[a-c][0-9]{3})",                      /* no edges at all */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (compare(pats[i], 400) < 50)
			fail_msg("%s: too few matches to compare", pats[i]);
}

/* Anything outside the grammar stays with PCRE2. */
static void test_not_shapes(void **state)
{
	static const char *const pats[] = {
		"(?i)\\b(x[a-z]{3})", "\\b(a+)\\b", "(a|b)", "\\b([^a]{3})", "\\b(x[a-z]{3,}+)",
		"\\b([a-z]{2,3}[0-9])", "\\b(\\d{3})", "(x)(y)", "x(y)", "(y)z", "\\b(a[b-]c])",
		"((?:ab)?c)", "(a[a-z]{2,3}?)", "([z-a])", "()", "\\b(a{2})", "(a.b)",
	};
	struct shape s;

	(void)state;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (!shape_parse(pats[i], &s))
			fail_msg("'%s' parsed as a shape", pats[i]);
}

/* Bytes near the Bearer rule: its words in any case and cut short, every
 * separator and \s byte, value runs near six bytes, '=' runs, every
 * byte that may end it, word bytes before the header name, any byte. */
/* len bytes drawn from three kinds, 1 in 8 any byte, runk in 8 a run of
 * up to maxrun - 1 bytes of cls, the rest one of frag[0..nfrag). */
static size_t soup_fill(unsigned char *buf, size_t len, const char *const *frag, int nfrag,
			const char *cls, int runk, int maxrun)
{
	int ncls = (int)strlen(cls);
	size_t i = 0;

	while (i < len) {
		int k = rand() % 8;
		if (k == 0) {
			buf[i++] = (unsigned char)(rand() % 256);
		} else if (k <= runk) {
			for (int n = rand() % maxrun; n-- > 0 && i < len;)
				buf[i++] = (unsigned char)cls[rand() % ncls];
		} else {
			const char *f = frag[rand() % nfrag];
			for (size_t c = 0; f[c] && i < len; c++)
				buf[i++] = (unsigned char)f[c];
		}
	}
	return len;
}

static size_t bearer_fill(unsigned char *buf, size_t len)
{
	static const char *const frag[] = {
		"authorization", "Authorization", "AUTHORIZATION", "authorizatio", "x", "_", "-", "\"", "'",
		" ", " ", "\t", "\n", "\v", "\f", "\r", ":", ": ", "=", "bearer", "Bearer ", "BEARER", "bearer\t",
		"bearex", "==", "=", ",", ";", ")", "]", "}", ".", "~", "+", "/", "Authorization: Bearer ",
		"authorization=\"bearer ", "Authorization\": \"Bearer ",
	};

	return soup_fill(buf, len, frag, (int)(sizeof(frag) / sizeof(frag[0])), "abcXYZ019._~+/-", 2, 10);
}

/* One search's window as the agreement tests draw it: the subject's end
 * short of len, a first start, an offset limit; a quarter of them every
 * start of the subject, and (one_start) a quarter a single start. */
static void window_draw(size_t len, int one_start, size_t *end, size_t *ws, size_t *lim)
{
	*end = len - (size_t)rand() % 20;
	*ws = (size_t)rand() % (*end / 2 + 1);
	*lim = *ws + (size_t)rand() % 100;
	if (rand() % 4 == 0)
		*ws = 0, *lim = *end - 1;
	if (one_start && rand() % 4 == 0)
		*lim = *ws;
	if (*lim >= *end)
		*lim = *end - 1;
}

/* PCRE2 under hard partial matching (the interpreter when nojit) says
 * what the native search said: rc 0 no match, else the match at ov.
 * Returns 1 for a match. */
static int partial_agrees(pcre2_code *re, const unsigned char *buf, size_t end, size_t ws, size_t lim,
			  int nojit, int rc, const size_t *ov, pcre2_match_data *md, pcre2_match_context *mc,
			  unsigned round)
{
	int want;

	pcre2_set_offset_limit(mc, lim);
	want = pcre2_match(re, buf, end, ws, PCRE2_PARTIAL_HARD | (nojit ? PCRE2_NO_JIT : 0), md, mc);
	PCRE2_SIZE *pv = pcre2_get_ovector_pointer(md);
	if (rc == 0) {
		if (want != PCRE2_ERROR_NOMATCH)
			fail_msg("round %u: native no match, PCRE2 %d at %zu", round, want, (size_t)pv[0]);
		return 0;
	}
	if (want < 2)
		fail_msg("round %u: native match at %zu, PCRE2 %d", round, ov[0], want);
	for (int k = 0; k < 4; k++)
		assert_int_equal(ov[k], pv[k]);
	return 1;
}

/* The Bearer rule's native search says what PCRE2 says, compiled and
 * called as the detector does (offset limit, start optimisations, JIT,
 * hard partial; and the interpreter), for many starts, offset limits and
 * subject ends. */
static void test_bearer_agrees(void **state)
{
	struct ruleset *rs;
	char err[256];
	int ec;
	PCRE2_SIZE off;
	size_t matches = 0, native = 0, total = 0;
	unsigned char buf[300];

	(void)state;
	assert_int_equal(rules_load_builtin(&rs, err, sizeof(err)), 0);
	const struct rule *r = rules_find(rs, "bearer");
	assert_non_null(r);
	assert_true(shape_is_bearer(r->pattern));
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, PCRE2_USE_OFFSET_LIMIT, &ec, &off, NULL);
	assert_non_null(re);
	assert_int_equal(pcre2_jit_compile(re, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD), 0);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	srand(7);
	for (unsigned round = 0; round < 20000; round++) {
		size_t len = bearer_fill(buf, 40 + (size_t)rand() % (sizeof(buf) - 40));
		size_t end, ws, lim, ov[4];
		int rc;

		window_draw(len, 0, &end, &ws, &lim);
		total++;
		rc = shape_bearer_search(buf, end, ws, lim, ov);
		if (rc < 0)
			continue;
		native++;
		/* JIT as the detector runs it; now and then the interpreter */
		matches += (size_t)partial_agrees(re, buf, end, ws, lim, round % 5 == 0, rc, ov, md, mc, round);
	}
	print_message("bearer: %zu of %zu searches native, %zu matches\n", native, total, matches);
	assert_true(matches >= 500);
	assert_true(native * 2 >= total); /* the rest: attempts that reach the short subjects' end */
	/* one byte off is not the rule: PCRE2 then */
	assert_false(shape_is_bearer("(?i)\\bauthorization"));
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	rules_free(rs);
}

/* Bytes near the JWT rule: its parts whole and cut, runs of its class
 * near the {9,} bound, every byte that may precede or end a part, the
 * look-behind's bytes, any byte. */
static size_t jwt_fill(unsigned char *buf, size_t len)
{
	static const char *const frag[] = {
		"eyJ", "eyI", "eyA", "ew", "ey", "e", "e3", "eyJhbGciOiJIUzI1NiJ9", "eyJzdWIiOiIxIn0", ".", "..", ".e",
		".ey", ".e3", ".ew", " ", "\n", "\"", "=", ":", "_", "-", "a", "Z", "9", "eyJeyJeyJ", "eyJ.eyJ.",
	};

	return soup_fill(buf, len, frag, (int)(sizeof(frag) / sizeof(frag[0])), "abcXYZ019_-ewy3", 3, 14);
}

/* The JWT rule's native search says what PCRE2 says, compiled both ways
 * the detector compiles it (start optimisations off for a search from
 * one keyword, on for a dense one), with the offset limit, hard partial,
 * JIT and now and then the interpreter. */
static void test_jwt_agrees(void **state)
{
	struct ruleset *rs;
	char err[256];
	int ec;
	PCRE2_SIZE off;
	size_t matches = 0, native = 0, total = 0, nodot = 0;
	unsigned char buf[400];
	pcre2_code *re[2];

	(void)state;
	assert_int_equal(rules_load_builtin(&rs, err, sizeof(err)), 0);
	const struct rule *r = rules_find(rs, "jwt");
	assert_non_null(r);
	assert_true(shape_is_jwt(r->pattern));
	for (int k = 0; k < 2; k++) {
		re[k] = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED,
				      PCRE2_USE_OFFSET_LIMIT | (k ? PCRE2_NO_START_OPTIMIZE : 0), &ec, &off, NULL);
		assert_non_null(re[k]);
		assert_int_equal(pcre2_jit_compile(re[k], PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD), 0);
	}
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	srand(11);
	for (unsigned round = 0; round < 40000; round++) {
		size_t len = jwt_fill(buf, 40 + (size_t)rand() % (sizeof(buf) - 40));
		size_t end, ws, lim, ov[4];
		int rc, want;

		/* a quarter with no '.': keyword soup, which the search rules
		 * out at once (jwt_no_dot) where no attempt can read the end */
		if (round % 4 == 1)
			for (size_t i = 0; i < len; i++)
				if (buf[i] == '.')
					buf[i] = round & 8 ? '_' : ' ';

		window_draw(len, 1, &end, &ws, &lim); /* one start: as from a keyword */
		total++;
		/* as the detector asks (detect.c search_once): for many starts
		 * shape_jwt_no_dot first, and its 0 stands for the search's */
		if (lim >= ws + 64 && lim + 1 < end && shape_jwt_no_dot(buf, end, ws, lim + 1)) {
			rc = 0;
			nodot++;
		} else {
			rc = shape_jwt_search(buf, end, ws, lim, ov);
		}
		if (rc < 0)
			continue;
		native++;
		/* at the buffer's end the detector searches without partial
		 * matching: where native answers, that must agree too */
		pcre2_set_offset_limit(mc, lim);
		want = pcre2_match(re[!(round & 1)], buf, end, ws, round % 3 ? 0 : PCRE2_NO_JIT, md, mc);
		if (want != (rc ? 2 : PCRE2_ERROR_NOMATCH) ||
		    (rc && (pcre2_get_ovector_pointer(md)[0] != ov[0] || pcre2_get_ovector_pointer(md)[1] != ov[1])))
			fail_msg("round %u: native %d at %zu, PCRE2 without partial %d", round, rc, rc ? ov[0] : 0, want);
		matches += (size_t)partial_agrees(re[round & 1], buf, end, ws, lim, round % 5 == 0, rc, ov, md, mc, round);
	}
	print_message("jwt: %zu of %zu searches native (%zu ruled out for want of a '.'), %zu matches\n", native, total,
		      nodot, matches);
	assert_true(matches >= 500);
	assert_true(nodot >= 500);
	assert_true(native * 2 >= total);
	assert_false(shape_is_jwt("(?<![A-Za-z0-9_-])(e[wy][A-Za-z0-9_-]{9,}+)"));
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	pcre2_code_free(re[0]);
	pcre2_code_free(re[1]);
	rules_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_rules_agree),
		cmocka_unit_test(test_parts_agree),
		cmocka_unit_test(test_not_shapes),
		cmocka_unit_test(test_bearer_agrees),
		cmocka_unit_test(test_jwt_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
