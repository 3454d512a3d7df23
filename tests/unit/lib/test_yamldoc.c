/* Tests for user/lib/yamldoc.c: the bounded YAML reader the config and the
 * rule files share. Every limit is an error naming the file and the line,
 * and nothing takes long whatever the input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <yaml.h>
#include "lib/yamldoc.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Load text; 0 or -1 with err. */
static int load(const char *text, size_t len, char *err, size_t errsz)
{
	yaml_document_t doc;
	int r = yamldoc_load(&doc, "y.yaml", text, len, err, errsz);
	if (!r)
		yaml_document_delete(&doc);
	return r;
}

/* Refused, with "y.yaml:LINE: " first and words in the message, quickly. */
static void refused(const char *text, size_t len, int line, const char *words)
{
	char err[512] = "", prefix[32];
	double t0 = now_s();

	if (load(text, len, err, sizeof(err)) != -1)
		fail_msg("accepted; wanted '%s' at line %d", words, line);
	snprintf(prefix, sizeof(prefix), "y.yaml:%d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, words))
		fail_msg("want '%s...%s', got '%s'", prefix, words, err);
	if (now_s() - t0 > 20.0) /* the unbounded reader took 49 s on deep nesting */
		fail_msg("took %.1f s to refuse", now_s() - t0);
}

static void accepted(const char *text)
{
	char err[512] = "";
	if (load(text, strlen(text), err, sizeof(err)))
		fail_msg("refused: %s", err);
}

static void test_ordinary(void **state)
{
	(void)state;
	accepted("");
	accepted("# only a comment\n");
	accepted("a: 1\nb: [x, y]\nc:\n  d: e\n");
	accepted("---\na: 1\n...\n");
	/* the same key in two different mappings is fine */
	accepted("x:\n  k: 1\ny:\n  k: 2\n");
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;
	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl);
	p[tl] = 0;
	*len = hl + ul * n + tl;
	return s;
}

/* libyaml is quadratic in nesting depth: 100k levels took 49 s. */
static void test_depth(void **state)
{
	size_t len;
	char *s, *t;
	(void)state;
	/* 64 levels (the top mapping is one) load; 65 do not */
	s = repeat("a: ", "[", YAMLDOC_MAX_DEPTH - 1, "", &len);
	t = repeat(s, "]", YAMLDOC_MAX_DEPTH - 1, "\n", &len);
	accepted(t);
	free(s);
	free(t);
	s = repeat("a: ", "[", YAMLDOC_MAX_DEPTH, "", &len);
	t = repeat(s, "]", YAMLDOC_MAX_DEPTH, "\n", &len);
	refused(t, len, 1, "nested deeper than 64");
	free(s);
	free(t);
	/* 100k levels, flow and block: refused at once */
	s = repeat("", "[", 100000, "", &len);
	refused(s, len, 1, "nested deeper than 64");
	free(s);
	s = malloc(200 * 1024);
	size_t o = 0;
	for (int i = 0; i < 200; i++) {
		memset(s + o, ' ', i);
		o += i;
		o += sprintf(s + o, "k%d:\n", i);
	}
	refused(s, o, YAMLDOC_MAX_DEPTH + 1, "nested deeper than 64");
	free(s);
}

static void test_size(void **state)
{
	size_t len;
	char *s;
	(void)state;
	/* exactly the limit loads (one long comment); one byte more does not,
	 * and the message names the line where the limit falls */
	s = malloc(YAMLDOC_MAX_BYTES + 2);
	memcpy(s, "a: 1\nb: 2\n#", 11);
	memset(s + 11, 'x', YAMLDOC_MAX_BYTES - 12);
	s[YAMLDOC_MAX_BYTES - 1] = '\n';
	s[YAMLDOC_MAX_BYTES] = 0;
	accepted(s);
	s[YAMLDOC_MAX_BYTES] = '\n';
	s[YAMLDOC_MAX_BYTES + 1] = 0;
	refused(s, YAMLDOC_MAX_BYTES + 1, 4, "larger than 1 MiB");
	free(s);
	(void)len;
}

static void test_second_document(void **state)
{
	(void)state;
	refused("a: 1\n---\nb: 2\n", 14, 2, "second YAML document");
	refused("---\na: 1\n---\n", 13, 3, "second YAML document");
	refused("a: 1\n...\n---\nb: 2\n", 18, 3, "second YAML document");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	refused("a: 1\nb: 2\na: 3\n", 15, 3, "'a' given twice (first at line 1)");
	refused("x:\n  k: 1\n  j: 2\n  k: 3\n", 24, 4, "'k' given twice (first at line 2)");
	refused("- {p: 1, q: 2, p: 3}\n", 21, 1, "'p' given twice");
	/* keys are compared whole: a prefix is another key */
	accepted("ab: 1\na: 2\nabc: 3\n");
	/* As many keys as 1 MiB holds (~130k): a pairwise check is ~8e9
	 * comparisons, minutes under ASan; sorting is a fraction of a second.
	 * The bound is generous for a loaded machine. */
	size_t cap = YAMLDOC_MAX_BYTES - 64, o = 0;
	char *s = malloc(cap + 64);
	double t0 = now_s();
	for (int i = 0; o + 16 < cap; i++)
		o += sprintf(s + o, "%x: 0\n", i);
	s[o] = 0;
	accepted(s);
	o += sprintf(s + o, "7: again\n");
	int lines = 0;
	for (size_t i = 0; i < o; i++)
		lines += s[i] == '\n';
	refused(s, o, lines, "'7' given twice (first at line 8)");
	free(s);
	if (now_s() - t0 > 20.0)
		fail_msg("%.1f s for %d keys", now_s() - t0, lines);
}

static void test_refused_constructs(void **state)
{
	(void)state;
	/* aliases let one node be reached many times (and, with an anchor on
	 * a collection, from inside itself): neither file needs them */
	refused("a: &x [1, 2]\nb: *x\n", 19, 1, "anchors and aliases");
	refused("a: [1]\nb: *x\n", 13, 2, "");
	/* keys are plain values */
	refused("? [a, b]\n: 1\n", 13, 1, "key must be a plain value");
	refused("{a: 1}: 2\n", 10, 1, "key must be a plain value");
	/* a NUL would cut the C string short */
	refused("a: \"x\\0y\"\n", 10, 1, "NUL");
	/* syntax errors keep libyaml's words and line */
	refused("a: [\n", 5, 2, "YAML error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordinary),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_second_document),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_refused_constructs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
