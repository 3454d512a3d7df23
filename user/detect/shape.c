/* Fixed-shape rules matched without PCRE2: see shape.h. */
#include <stdlib.h>
#include <string.h>
#include <emmintrin.h>
#include "detect/shape.h"

/* The bytes a shape may name outside a set: none is a metacharacter. */
static int plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* PCRE2's \w with its default tables (no UCP, no locale), as a table:
 * \b is tested at every keyword hit of a shaped rule. */
static const unsigned char word_byte[256] = {
	['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['_'] = 1,
};

static inline int is_word(unsigned char c)
{
	return word_byte[c];
}

/* "[...]" at *p: its bytes into in[]. */
static int parse_set(const char **p, unsigned char in[256])
{
	const char *s = *p + 1;

	memset(in, 0, 256);
	if (*s == ']')
		return -1;
	while (*s && *s != ']') {
		unsigned char a = (unsigned char)*s;

		if (!plain(a))
			return -1;
		if (a != '-' && s[1] == '-' && s[2] && s[2] != ']') {
			unsigned char b = (unsigned char)s[2];
			if (!plain(b) || b == '-' || b < a)
				return -1;
			for (unsigned c = a; c <= b; c++)
				in[c] = 1;
			s += 3;
			continue;
		}
		/* a '-' counts as itself only first or last */
		if (a == '-' && s != *p + 1 && s[1] != ']')
			return -1;
		in[a] = 1;
		s++;
	}
	if (*s != ']')
		return -1;
	*p = s + 1;
	return 0;
}

static int parse_num(const char **p, unsigned *out)
{
	char *e;
	unsigned long v;

	if (**p < '0' || **p > '9')
		return -1;
	v = strtoul(*p, &e, 10);
	if (v > 65535)
		return -1;
	*out = (unsigned)v;
	*p = e;
	return 0;
}

/* The quantifier after a set, if any: {N}, {N,M}, {N,M}+. */
static int parse_quant(const char **p, struct shape_item *it)
{
	const char *s = *p;

	it->n = it->m = 1;
	if (*s == '?' || *s == '*' || *s == '+')
		return -1;
	if (*s != '{')
		return 0;
	s++;
	if (parse_num(&s, &it->n))
		return -1;
	it->m = it->n;
	if (*s == ',') {
		s++;
		if (parse_num(&s, &it->m) || it->m < it->n)
			return -1;
	}
	if (*s++ != '}')
		return -1;
	if (*s == '+') {
		it->possessive = 1;
		s++;
	}
	if (*s == '?' || *s == '*' || *s == '+' || *s == '{')
		return -1;
	*p = s;
	return 0;
}

/* "(?:LIT|LIT...)" at *p. */
static int parse_alts(const char **p, struct shape_item *it)
{
	const char *s = *p + 3;

	it->kind = SHAPE_LITS;
	for (;;) {
		unsigned n = 0;

		if (it->nalts == SHAPE_ALTS)
			return -1;
		while (plain((unsigned char)*s)) {
			if (n == SHAPE_LIT)
				return -1;
			it->alt[it->nalts][n++] = (unsigned char)*s++;
		}
		if (!n)
			return -1;
		it->alen[it->nalts++] = (unsigned char)n;
		if (*s == ')')
			break;
		if (*s++ != '|')
			return -1;
	}
	*p = s + 1;
	return 0;
}

static int parse_item(const char **p, struct shape *out)
{
	struct shape_item *it;

	if (out->nitems == SHAPE_ITEMS)
		return -1;
	it = &out->items[out->nitems];
	memset(it, 0, sizeof(*it));
	if (!strncmp(*p, "(?:", 3)) {
		if (parse_alts(p, it))
			return -1;
	} else if (**p == '[') {
		it->kind = SHAPE_CLASS;
		if (parse_set(p, it->in) || parse_quant(p, it))
			return -1;
	} else if (plain((unsigned char)**p)) {
		struct shape_item *prev = out->nitems ? it - 1 : NULL;

		/* a run of literal bytes is one item */
		if (prev && prev->kind == SHAPE_LITS && prev->nalts == 1 && prev->alen[0] < SHAPE_LIT &&
		    !strchr("?*+{", (*p)[1])) {
			prev->alt[0][prev->alen[0]++] = (unsigned char)*(*p)++;
			return 0;
		}
		it->kind = SHAPE_LITS;
		it->nalts = 1;
		it->alen[0] = 1;
		it->alt[0][0] = (unsigned char)*(*p)++;
	} else {
		return -1;
	}
	/* a quantifier on a literal or a group is not a shape */
	if (it->kind == SHAPE_LITS && (**p == '?' || **p == '*' || **p == '+' || **p == '{'))
		return -1;
	out->nitems++;
	return 0;
}

/* LEAD or TRAIL at *p: \b, or a negative look (behind or ahead) at one set. */
static int parse_edge(const char **p, const char *look, int *kind, unsigned char in[256])
{
	size_t n = strlen(look);

	*kind = SHAPE_NONE;
	if (!strncmp(*p, "\\b", 2)) {
		*kind = SHAPE_WORD_EDGE;
		*p += 2;
		return 0;
	}
	if (strncmp(*p, look, n))
		return 0;
	*p += n;
	if (**p != '[' || parse_set(p, in) || *(*p)++ != ')')
		return -1;
	*kind = SHAPE_NOT_SET;
	return 0;
}

static size_t item_max(const struct shape_item *it)
{
	size_t m = 0;

	if (it->kind == SHAPE_CLASS)
		return it->m;
	for (unsigned a = 0; a < it->nalts; a++)
		if (it->alen[a] > m)
			m = it->alen[a];
	return m;
}

int shape_parse(const char *pattern, struct shape *out)
{
	const char *p = pattern;

	memset(out, 0, sizeof(*out));
	if (parse_edge(&p, "(?<!", &out->lead, out->lead_in) || *p++ != '(' || *p == '?')
		return -1;
	while (*p && *p != ')')
		if (parse_item(&p, out))
			return -1;
	if (*p++ != ')' || !out->nitems)
		return -1;
	if (parse_edge(&p, "(?!", &out->trail, out->trail_in) || *p)
		return -1;
	/* only the last item may vary: the rest never need to give way */
	for (size_t i = 0; i + 1 < out->nitems; i++)
		if (out->items[i].kind == SHAPE_CLASS && out->items[i].n != out->items[i].m)
			return -1;
	for (size_t i = 0; i < out->nitems; i++)
		out->max_extent += item_max(&out->items[i]);
	return 0;
}

static int word_at(const unsigned char *buf, size_t end, size_t i)
{
	return i < end && is_word(buf[i]);
}

static int edge_ok(int kind, const unsigned char in[256], const unsigned char *buf, size_t end, size_t pos,
		   int behind)
{
	if (kind == SHAPE_WORD_EDGE)
		return (pos > 0 && word_at(buf, end, pos - 1)) != word_at(buf, end, pos);
	if (kind == SHAPE_NOT_SET) {
		if (behind)
			return pos == 0 || pos > end || !in[buf[pos - 1]];
		return pos >= end || !in[buf[pos]];
	}
	return 1;
}

int shape_lead_ok(const struct shape *s, const unsigned char *buf, size_t end, size_t pos)
{
	return edge_ok(s->lead, s->lead_in, buf, end, pos, 1);
}

static int trail_ok(const struct shape *s, const unsigned char *buf, size_t end, size_t pos)
{
	return edge_ok(s->trail, s->trail_in, buf, end, pos, 0);
}

/* Items k.. from p, backtracking as PCRE2 does: alternatives in order,
 * then a greedy last repeat from its longest down. */
/* A literal of a few bytes: inline, where memcmp is a call a keyword. */
static inline int lit_at(const unsigned char *p, const unsigned char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != lit[i])
			return 0;
	return 1;
}

static int match_from(const struct shape *s, size_t k, const unsigned char *buf, size_t end, size_t p,
		      size_t *mend)
{
	const struct shape_item *it;

	if (k == s->nitems) {
		if (!trail_ok(s, buf, end, p))
			return 0;
		*mend = p;
		return 1;
	}
	it = &s->items[k];
	if (it->kind == SHAPE_LITS) {
		for (unsigned a = 0; a < it->nalts; a++)
			if (p + it->alen[a] <= end && lit_at(buf + p, it->alt[a], it->alen[a]) &&
			    match_from(s, k + 1, buf, end, p + it->alen[a], mend))
				return 1;
		return 0;
	}
	/* the repeat: four bytes a step (a shape's run is up to 200 bytes) */
	size_t got = 0, lim = end - p < it->m ? end - p : it->m;
	const unsigned char *in = it->in, *q = buf + p;

	while (got + 4 <= lim && in[q[got]] & in[q[got + 1]] & in[q[got + 2]] & in[q[got + 3]])
		got += 4;
	while (got < lim && in[q[got]])
		got++;
	if (got < it->n)
		return 0;
	if (it->n == it->m || it->possessive)
		return match_from(s, k + 1, buf, end, p + got, mend);
	for (size_t j = got + 1; j-- > it->n;)
		if (match_from(s, k + 1, buf, end, p + j, mend))
			return 1;
	return 0;
}

int shape_match(const struct shape *s, const unsigned char *buf, size_t end, size_t pos, size_t *mend)
{
	if (pos > end || !shape_lead_ok(s, buf, end, pos))
		return 0;
	return match_from(s, 0, buf, end, pos, mend);
}

/* Does the pattern have a '|' outside every group and class? */
static int top_level_alt(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '\\') {
			if (!*++p)
				return 1;
		} else if (*p == '[') {
			/* a class: a ']' right after '[' or '[^' is a byte of it */
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p += *p == '\\' && p[1] ? 2 : 1;
			if (!*p)
				return 1;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			depth--;
		} else if (*p == '|' && depth == 0) {
			return 1;
		}
	}
	return 0;
}

int shape_lead_class(const char *pattern, unsigned char in[256])
{
	const char *p = pattern;
	int kind;

	if (strncmp(p, "(?<![", 5) || parse_edge(&p, "(?<!", &kind, in) || kind != SHAPE_NOT_SET || *p != '(' ||
	    top_level_alt(pattern))
		return -1;
	return 0;
}

/*
 * The built-in Bearer rule (rules/http.yaml), natively. Every quantifier
 * in it is possessive and the lookahead atomic, so an attempt at a start
 * has one path: the bytes it reads and its answer follow from the bytes,
 * in order, and PCRE2 reads the same ones. The only case left to PCRE2
 * is an attempt that would read at or past the subject's end (its
 * partial-match and `$` rules), and a subject that is the buffer's end.
 */
static const char bearer_pattern[] =
	"(?i)\\bauthorization[\"']?+\\s*+[:=]\\s*+[\"']?+\\s*+bearer\\s++([A-Za-z0-9._~+/-]{6,}+=*+)"
	"(?=[\\s\"',;)\\]}]|$)";

int shape_is_bearer(const char *pattern)
{
	return pattern && !strcmp(pattern, bearer_pattern);
}

/* PCRE2's \s with its default tables: space, \t \n \v \f \r. */
static int is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The value's class, [A-Za-z0-9._~+/-], as a table: a value may be 64
 * KiB long, and a load a byte is what PCRE2's JIT spends on it. */
static const unsigned char bearer_value[256] = {
	['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1,
	['.'] = 1, ['_'] = 1, ['~'] = 1, ['+'] = 1, ['/'] = 1, ['-'] = 1,
};

static int bearer_after(unsigned char c)
{
	return is_space(c) || c == '"' || c == '\'' || c == ',' || c == ';' || c == ')' || c == ']' || c == '}';
}

/* ASCII letters lit[0..n) at buf[p..], either case. p + n <= end. */
static int caseless_at(const unsigned char *buf, size_t p, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((buf[p + i] | 0x20) != (unsigned char)lit[i])
			return 0;
	return 1;
}

/* Past a possessive run of \s from p: its end, or end. */
static size_t skip_spaces(const unsigned char *buf, size_t end, size_t p)
{
	while (p < end && is_space(buf[p]))
		p++;
	return p;
}

/* One attempt at s: 1 a match (*c0, *m1), 0 none, -1 it reaches end. */
static int bearer_at(const unsigned char *buf, size_t end, size_t s, size_t *c0, size_t *m1)
{
	size_t p = s;

	/* \b before a word byte: the byte before is not one */
	if (s > 0 && is_word(buf[s - 1]))
		return 0;
	if (p + 13 >= end)
		return -1;
	if (!caseless_at(buf, p, "authorization", 13))
		return 0;
	p += 13;
	if (buf[p] == '"' || buf[p] == '\'')
		p++;
	if ((p = skip_spaces(buf, end, p)) >= end)
		return -1;
	if (buf[p] != ':' && buf[p] != '=')
		return 0;
	if ((p = skip_spaces(buf, end, p + 1)) >= end)
		return -1;
	if (buf[p] == '"' || buf[p] == '\'')
		p++;
	if ((p = skip_spaces(buf, end, p)) + 6 >= end)
		return -1;
	if (!caseless_at(buf, p, "bearer", 6))
		return 0;
	p += 6;
	if (!is_space(buf[p]))
		return 0;
	if ((p = skip_spaces(buf, end, p)) >= end)
		return -1;
	*c0 = p;
	while (p + 4 <= end && bearer_value[buf[p]] & bearer_value[buf[p + 1]] & bearer_value[buf[p + 2]] &
				       bearer_value[buf[p + 3]])
		p += 4;
	while (p < end && bearer_value[buf[p]])
		p++;
	if (p >= end)
		return -1;
	if (p - *c0 < 6)
		return 0;
	while (p < end && buf[p] == '=')
		p++;
	if (p >= end)
		return -1;
	/* the lookahead's `$` could only hold at the end, left to PCRE2 */
	if (!bearer_after(buf[p]))
		return 0;
	*m1 = p;
	return 1;
}

/* The first s in [from, to] where "au" (either case) may start, else to
 * + 1: sixteen starts a step (SSE2, every x86-64 has it) while
 * buf[s + 16] is below end; the search spans up to 320 starts a keyword
 * and most bytes of keyword-dense text are not 'a'. */
static size_t next_au(const unsigned char *buf, size_t end, size_t from, size_t to)
{
	const __m128i lc = _mm_set1_epi8(0x20), a = _mm_set1_epi8('a'), u = _mm_set1_epi8('u');
	size_t s = from;

	for (; s + 16 <= to + 1 && s + 17 <= end; s += 16) {
		__m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(buf + s)), lc);
		__m128i y = _mm_or_si128(_mm_loadu_si128((const __m128i *)(buf + s + 1)), lc);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(x, a), _mm_cmpeq_epi8(y, u)));

		if (m)
			return s + (size_t)__builtin_ctz(m);
	}
	for (; s <= to; s++)
		if ((buf[s] | 0x20) == 'a' && (s + 1 >= end || (buf[s + 1] | 0x20) == 'u'))
			return s; /* an 'a' last: a partial match, which bearer_at says */
	return to + 1;
}

int shape_bearer_search(const unsigned char *buf, size_t end, size_t ws, size_t lim, size_t ov[4])
{
	/* PCRE2's JIT (10.42 here) lets a match, or with hard partial
	 * matching a partial one, start one byte past the offset limit, where
	 * the interpreter does not; and it answers partial at the subject's
	 * end when the limit reaches it. Where either could happen the search
	 * stays with PCRE2, whichever it runs. */
	if (lim + 1 >= end)
		return -1;
	for (size_t s = ws; (s = next_au(buf, end, s, lim + 1)) <= lim + 1; s++) {
		size_t c0, m1;
		int rc;

		if ((rc = bearer_at(buf, end, s, &c0, &m1)) == 0)
			continue;
		if (s > lim)
			return -1;
		if (rc > 0) {
			ov[0] = s;
			ov[1] = m1;
			ov[2] = c0;
			ov[3] = m1;
		}
		return rc;
	}
	return 0;
}

/*
 * The built-in JWT rule (rules/jwt.yaml), natively: PCRE2 spent 45% of
 * a scan of dense valid JWTs, and of "eyJ" fragments, in its calls, and
 * a search over the 64 KiB of starts a dense JWT search covers cost it
 * four instructions a byte. Like the Bearer rule's, every quantifier is
 * possessive, so an attempt has one path; an attempt that would read at
 * or past the subject's end, and a search at the buffer's end, stay
 * with PCRE2.
 */
static const char jwt_pattern[] =
	"(?<![A-Za-z0-9_-])(e[wy][A-Za-z0-9_-]{9,}+\\.e[wy3][A-Za-z0-9_-]++\\.[A-Za-z0-9_-]*+)";

int shape_is_jwt(const char *pattern)
{
	return pattern && !strcmp(pattern, jwt_pattern);
}

/* The rule's class, [A-Za-z0-9_-] (base64url), as a table. */
static const unsigned char b64u_byte[256] = {
	['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['_'] = 1, ['-'] = 1,
};

/* Bit k: x's byte k is in [A-Za-z0-9_-]. Signed compares: a byte above
 * 0x7f is negative, below every bound, so in no range. */
static inline unsigned b64u_mask16(__m128i x)
{
	__m128i l = _mm_or_si128(x, _mm_set1_epi8(0x20)); /* letters to lower case; no other byte lands in a-z */
	__m128i let = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)), _mm_cmpgt_epi8(_mm_set1_epi8('z' + 1), l));
	__m128i dig = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)), _mm_cmpgt_epi8(_mm_set1_epi8('9' + 1), x));
	__m128i oth = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('_')), _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(let, dig), oth));
}

/* From p, the first byte not in the class, or end: sixteen a step (a
 * JWT's runs are tens to thousands of bytes). Reads below end only. */
static size_t b64u_run_end(const unsigned char *buf, size_t end, size_t p)
{
	for (; p + 16 <= end; p += 16) {
		unsigned out = ~b64u_mask16(_mm_loadu_si128((const __m128i *)(buf + p))) & 0xffffu;

		if (out)
			return p + (size_t)__builtin_ctz(out);
	}
	while (p < end && b64u_byte[buf[p]])
		p++;
	return p;
}

/* One attempt at s, its reads in PCRE2's order: 1 a match ending at
 * *m1, 0 none, -1 it reaches end (partial matching's case). */
static int jwt_at(const unsigned char *buf, size_t end, size_t s, size_t *m1)
{
	size_t p, q;

	if (s > 0 && b64u_byte[buf[s - 1]])
		return 0; /* the look-behind */
	if (s >= end)
		return -1;
	if (buf[s] != 'e')
		return 0;
	if (s + 1 >= end)
		return -1;
	if (buf[s + 1] != 'w' && buf[s + 1] != 'y')
		return 0;
	/* [A-Za-z0-9_-]{9,}+: its first two bytes one by one ("eyJ "
	 * repeated fails at the second), then the whole run, at least 9 */
	for (p = s + 2; p < s + 4; p++) {
		if (p >= end)
			return -1;
		if (!b64u_byte[buf[p]])
			return 0;
	}
	if ((p = b64u_run_end(buf, end, p)) >= end)
		return -1;
	if (p - (s + 2) < 9 || buf[p] != '.')
		return 0;
	if (p + 1 >= end)
		return -1;
	if (buf[p + 1] != 'e')
		return 0;
	if (p + 2 >= end)
		return -1;
	if (buf[p + 2] != 'w' && buf[p + 2] != 'y' && buf[p + 2] != '3')
		return 0;
	/* [A-Za-z0-9_-]++ then '.' */
	if ((q = b64u_run_end(buf, end, p + 3)) >= end)
		return -1;
	if (q == p + 3 || buf[q] != '.')
		return 0;
	/* [A-Za-z0-9_-]*+ */
	if ((*m1 = b64u_run_end(buf, end, q + 1)) >= end)
		return -1;
	return 1;
}

/* May an attempt at s get past the look-behind and "e[wy]"? (Or read
 * the end there: jwt_at says.) */
static inline int jwt_may_start(const unsigned char *buf, size_t end, size_t s)
{
	return buf[s] == 'e' && (s + 1 >= end || buf[s + 1] == 'w' || buf[s + 1] == 'y') &&
	       (s == 0 || !b64u_byte[buf[s - 1]]);
}

/* Bit k: an attempt at s + k may get past the look-behind and "e[wy]"
 * (s >= 1, buf[s + 16] below end). "eyJ" repeated fails the look-behind
 * at every 'e', here. */
static unsigned jwt_starts16(const unsigned char *buf, size_t s)
{
	const __m128i e = _mm_set1_epi8('e'), w = _mm_set1_epi8('w'), y = _mm_set1_epi8('y');
	__m128i x = _mm_loadu_si128((const __m128i *)(buf + s));
	__m128i n = _mm_loadu_si128((const __m128i *)(buf + s + 1));
	unsigned m = (unsigned)_mm_movemask_epi8(
		_mm_and_si128(_mm_cmpeq_epi8(x, e), _mm_or_si128(_mm_cmpeq_epi8(n, w), _mm_cmpeq_epi8(n, y))));

	return m ? m & ~b64u_mask16(_mm_loadu_si128((const __m128i *)(buf + s - 1))) : 0;
}

/* An attempt at c of shape_jwt_search's: 1 it answered (*rc), 0 go on. */
static int jwt_try(const unsigned char *buf, size_t end, size_t c, size_t lim, size_t ov[4], int *rc)
{
	size_t m1;

	if ((*rc = jwt_at(buf, end, c, &m1)) == 0)
		return 0;
	if (c > lim)
		*rc = -1;
	else if (*rc > 0) {
		ov[0] = ov[2] = c;
		ov[1] = ov[3] = m1;
	}
	return 1;
}

/*
 * 1 when no attempt at ws..to can match nor read the end: t, the first
 * byte at or after to outside the class, is below end, and buf[ws..t]
 * holds no '.'. Every attempt's first run then ends at or before t (an
 * attempt at to - 1 or to fails at its "e[wy]" by t), at a byte that is
 * not the '.' it needs. Keyword soup ("eyJghp_sk-...", no dots) made a
 * search read its 20-odd KiB of starts 16 a step; memchr reads them
 * faster, and stops at the first '.' where JWTs are.
 * Asked by the detector before shape_jwt_search, not by it: in it, the
 * search's loop compiled 4% dearer ("eyJ." repeated, CPU). to - ws >= 64.
 */
int shape_jwt_no_dot(const unsigned char *buf, size_t end, size_t ws, size_t to)
{
	size_t t;

	/* the starts first: where JWTs are, a '.' is a few bytes on (the
	 * first 16 inline: to - ws >= 64, so they are there) */
	if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(buf + ws)), _mm_set1_epi8('.'))) ||
	    memchr(buf + ws, '.', to + 1 - ws))
		return 0;
	t = b64u_run_end(buf, end, to);
	return t < end && !memchr(buf + to, '.', t + 1 - to);
}

int shape_jwt_search(const unsigned char *buf, size_t end, size_t ws, size_t lim, size_t ov[4])
{
	size_t s = ws, to = lim + 1;
	int rc;

	/* PCRE2's JIT may start a match one past the offset limit
	 * (shape_bearer_search says more): an attempt there that does not
	 * fail stays with PCRE2, and so does a search whose limit reaches
	 * the end. Attempts in order, sixteen starts tested a step, each
	 * candidate of a step taken in the step (where "eyJ " repeats, one
	 * every four bytes). */
	if (to >= end)
		return -1;
	while (s <= to) {
		if (s >= 1 && s + 16 <= to + 1 && s + 17 <= end) {
			for (unsigned m = jwt_starts16(buf, s); m; m &= m - 1)
				if (jwt_try(buf, end, s + (size_t)__builtin_ctz(m), lim, ov, &rc))
					return rc;
			s += 16;
		} else {
			if (jwt_may_start(buf, end, s) && jwt_try(buf, end, s, lim, ov, &rc))
				return rc;
			s++;
		}
	}
	return 0;
}
