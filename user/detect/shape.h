/*
 * Native matching for fixed-shape rules (issue 13: hostile text makes a
 * PCRE2 call every twenty bytes, and the call itself, not the matching,
 * was most of its cost).
 *
 * A pattern has a shape when it is exactly
 *
 *   [LEAD] '(' ITEM... ')' [TRAIL]
 *
 *   LEAD   \b | (?<![SET])
 *   TRAIL  \b | (?![SET])
 *   ITEM   a literal byte of [A-Za-z0-9_-]
 *        | (?:LIT|LIT...)          literals of those bytes, tried in order
 *        | [SET] | [SET]{N} | [SET]{N,M} | [SET]{N,M}+
 *   SET    bytes of [A-Za-z0-9_-] and ranges a-z; a '-' first or last
 *
 * where only the last ITEM may repeat a variable number of times. That is
 * every built-in rule but the JWT and Bearer ones: an AWS key id is
 * \b((?:AKIA|ASIA)[A-Z2-7]{16})\b. Anything else (flags, escapes, other
 * quantifiers, negated sets) is not a shape, and the rule keeps PCRE2.
 *
 * shape_match() answers what PCRE2 (no UTF, default character tables,
 * so \b's word bytes are [A-Za-z0-9_]) answers for an anchored match at
 * pos in a subject that ends at end: the same yes or no and the same
 * capture, including the order in which alternatives and a greedy
 * repeat give way (tests/unit/detect/test_shape.c checks it against
 * PCRE2 on random and edge inputs, every built-in rule).
 */
#ifndef TW_DETECT_SHAPE_H
#define TW_DETECT_SHAPE_H

#include <stddef.h>

#define SHAPE_ITEMS 8
#define SHAPE_ALTS  8
#define SHAPE_LIT   24

enum { SHAPE_NONE, SHAPE_WORD_EDGE, SHAPE_NOT_SET };
enum { SHAPE_LITS = 1, SHAPE_CLASS };

struct shape_item {
	int kind;                 /* SHAPE_LITS (one literal: nalts 1) or SHAPE_CLASS */
	unsigned n, m;            /* SHAPE_CLASS: at least n, at most m bytes */
	int possessive;
	unsigned nalts;
	unsigned char alen[SHAPE_ALTS];
	unsigned char alt[SHAPE_ALTS][SHAPE_LIT];
	unsigned char in[256];    /* SHAPE_CLASS: 1 for a byte of the set */
};

struct shape {
	int lead, trail;          /* SHAPE_NONE, SHAPE_WORD_EDGE, SHAPE_NOT_SET */
	unsigned char lead_in[256], trail_in[256];
	size_t nitems;
	struct shape_item items[SHAPE_ITEMS];
	size_t max_extent;        /* the longest match, bytes */
};

/* 0 and *out filled when pattern has a shape, else -1. */
int shape_parse(const char *pattern, struct shape *out);

/* Does the pattern's lead assertion hold at pos? (1 when it has none.)
 * Reads buf[pos - 1] and buf[pos] where they are below end. */
int shape_lead_ok(const struct shape *s, const unsigned char *buf, size_t end, size_t pos);

/* An anchored match at pos in buf[0 .. end): 1 and *mend (the match and
 * its capture are [pos, *mend)), or 0. Reads no byte at or past end. */
int shape_match(const struct shape *s, const unsigned char *buf, size_t end, size_t pos, size_t *mend);

/*
 * For a pattern that is not a shape but starts (?<![SET])( with no '|'
 * outside a group (the JWT rule): every match starts where the byte
 * before is not in SET, or at the subject's start. 0 and in[] set (1 for
 * a byte of SET), or -1.
 */
int shape_lead_class(const char *pattern, unsigned char in[256]);

/*
 * The built-in Bearer rule's pattern (rules/http.yaml: a case-insensitive
 * header name, separators, "bearer", a value class), which is not a
 * shape, has its own native search: shape_is_bearer() says whether a
 * pattern is exactly it.
 */
int shape_is_bearer(const char *pattern);

/*
 * What PCRE2 answers for that pattern searched in buf[0 .. end) from
 * start ws, with the offset limit lim (the match starts in [ws, lim]) and
 * hard partial matching: 1 a match (ov: the match and the capture, as
 * PCRE2's ovector), 0 no match, -1 left to PCRE2 (an attempt would read
 * at or past end). tests/unit/detect/test_shape.c holds it to PCRE2.
 */
int shape_bearer_search(const unsigned char *buf, size_t end, size_t ws, size_t lim, size_t ov[4]);

/*
 * The built-in JWT rule's pattern (rules/jwt.yaml) has one too, with the
 * same contract: shape_is_jwt() says whether a pattern is exactly it, and
 * shape_jwt_search() answers as shape_bearer_search() does (1 a match,
 * ov as PCRE2's ovector; 0 none; -1 left to PCRE2).
 */
int shape_is_jwt(const char *pattern);
int shape_jwt_search(const unsigned char *buf, size_t end, size_t ws, size_t lim, size_t ov[4]);
/* 1 when shape_jwt_search(buf, end, ws, to - 1, ...) would answer 0 for
 * want of a '.', no attempt reading the end (keyword soup); 0: search.
 * For a search of many starts: to - ws >= 64, to < end. */
int shape_jwt_no_dot(const unsigned char *buf, size_t end, size_t ws, size_t to);

#endif
