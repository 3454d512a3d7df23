/* Tests for user/detect/rules.c: the embedded pack, bad rule files, templates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "detect/checksum.h"
#include "detect/rules.h"

static const char good_rule[] =
	"rules:\n"
	"  - id: demo\n"
	"    name: Demo\n"
	"    pattern: '\\b(demo_[a-z]{8})\\b'\n"
	"    keywords: [demo_]\n"
	"    severity: low\n"
	"    examples: ['x demo_{{lower:8}}']\n";

static void test_builtin_pack(void **state)
{
	struct ruleset *rs;
	char err[256];
	static const char *const want[] = { "tokenward", "jwt", "github-classic", "github-fine-grained",
					    "gitlab-pat", "npm", "aws-access-key-id", "slack", "stripe",
					    "openai", "anthropic", "google-api-key", "bearer" };
	(void)state;
	assert_int_equal(rules_load_builtin(&rs, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(rules_find(rs, want[i]));
	assert_int_equal(rules_find(rs, "tokenward")->checksum, CHECKSUM_TOKENWARD_CRC32);
	assert_int_equal(rules_find(rs, "github-classic")->checksum, CHECKSUM_GITHUB_CRC32);
	assert_int_equal(rules_find(rs, "npm")->checksum, CHECKSUM_GITHUB_CRC32);
	assert_true(rules_find(rs, "bearer")->generic);
	for (size_t i = 0; i < rules_count(rs); i++) {
		assert_true(rules_get(rs, i)->nexamples > 0);
		assert_true(rules_get(rs, i)->nnegatives > 0);
	}
	rules_free(rs);
}

static int load(struct ruleset *rs, const char *text, char *err, size_t errsz)
{
	return rules_load_buffer(rs, "t.yaml", text, strlen(text), err, errsz);
}

static void test_override_and_add(void **state)
{
	struct ruleset *rs;
	char err[256];
	size_t n;
	(void)state;
	assert_int_equal(rules_load_builtin(&rs, err, sizeof(err)), 0);
	n = rules_count(rs);
	assert_int_equal(load(rs, good_rule, err, sizeof(err)), 0);
	assert_int_equal(rules_count(rs), n + 1);
	assert_int_equal(load(rs,
			      "rules:\n  - id: jwt\n    name: Replaced\n    pattern: '(eyJ\\w+)'\n"
			      "    keywords: [eyJ]\n    severity: low\n",
			      err, sizeof(err)), 0);
	assert_int_equal(rules_count(rs), n + 1);
	assert_string_equal(rules_find(rs, "jwt")->name, "Replaced");
	rules_free(rs);
}

static void expect_error(const char *text, const char *want1, const char *want2)
{
	struct ruleset *rs = rules_new();
	char err[512] = "";
	assert_int_equal(load(rs, text, err, sizeof(err)), -1);
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("error '%s' lacks '%s' / '%s'", err, want1, want2 ? want2 : "");
	assert_int_equal(rules_count(rs), 0);
	rules_free(rs);
}

static void test_bad_files_name_file_line_rule(void **state)
{
	(void)state;
	/* YAML syntax */
	expect_error("rules:\n  - id: a\n    name: [unclosed\n", "t.yaml:", "YAML error");
	/* missing pattern, named by rule and the line where the rule starts */
	expect_error("rules:\n  - id: first\n    pattern: '(a)'\n    keywords: [ab]\n    severity: low\n"
		     "  - id: nopat\n    keywords: [ab]\n    severity: low\n",
		     "t.yaml:6: rule 'nopat'", "missing 'pattern'");
	/* a pattern that does not compile: an error, not a crash */
	expect_error("rules:\n  - id: broken\n    pattern: '(abc'\n    keywords: [ab]\n    severity: low\n",
		     "t.yaml:3: rule 'broken'", "does not compile");
	expect_error("rules:\n  - id: twocap\n    pattern: '(a)(b)'\n    keywords: [ab]\n    severity: low\n",
		     "rule 'twocap'", "exactly one capture");
	expect_error("rules:\n  - id: nocap\n    pattern: 'ab'\n    keywords: [ab]\n    severity: low\n",
		     "rule 'nocap'", "exactly one capture");
	expect_error("rules:\n  - id: k\n    pattern: '(a)'\n    keywords: [ab]\n    severity: low\n    colour: red\n",
		     "t.yaml:6: rule 'k'", "unknown key 'colour'");
	expect_error("rules:\n  - id: k\n    pattern: '(a)'\n    keywords: [a]\n    severity: low\n",
		     "rule 'k'", "2 to 64 bytes");
	expect_error("rules:\n  - id: k\n    pattern: '(a)'\n    severity: low\n", "rule 'k'", "keywords");
	expect_error("rules:\n  - id: k\n    pattern: '(a)'\n    keywords: [ab]\n    severity: huge\n",
		     "t.yaml:5: rule 'k'", "severity");
	expect_error("rules:\n  - id: k\n    pattern: '(a)'\n    keywords: [ab]\n    severity: low\n    checksum: md5\n",
		     "rule 'k'", "unknown checksum");
	expect_error("rules:\n  - id: k\n    pattern: '(a)'\n    keywords: [ab]\n    severity: low\n"
		     "  - id: k\n    pattern: '(b)'\n    keywords: [ab]\n    severity: low\n",
		     "t.yaml:6: rule 'k'", "duplicate id");
	expect_error("rules:\n  - name: anonymous\n", "t.yaml:2", "without an 'id'");
	expect_error("something: else\n", "t.yaml:1", "unknown top-level key");
	expect_error("", "t.yaml", "empty");
	/* a bad rule after a good one: the file adds nothing */
	expect_error("rules:\n  - id: ok1\n    pattern: '(ab)'\n    keywords: [ab]\n    severity: low\n"
		     "  - id: bad\n    pattern: '(['\n    keywords: [ab]\n    severity: low\n",
		     "rule 'bad'", "does not compile");
}

/* Issue 13, defect 10: YAML without bounds. A second document and a key
 * given twice within one rule were silently ignored; size and depth are
 * capped (lib/yamldoc.h), each refusal naming the file and line. */
static void test_yaml_bounds(void **state)
{
	char dir[] = "/tmp/tw-rules-XXXXXX", path[300], err[512];
	struct ruleset *rs = rules_new();
	FILE *f;
	(void)state;
	expect_error("rules:\n  - id: k\n    pattern: '(ab)'\n    keywords: [ab]\n    severity: low\n"
		     "    severity: critical\n", "t.yaml:6: 'severity' given twice (first at line 5)", NULL);
	expect_error("rules:\n  - id: k\n    id: j\n    pattern: '(ab)'\n    keywords: [ab]\n    severity: low\n",
		     "t.yaml:3: 'id' given twice", NULL);
	expect_error("rules:\n  - id: k\n    pattern: '(ab)'\n    keywords: [ab]\n    severity: low\n"
		     "rules:\n  - id: j\n    pattern: '(cd)'\n    keywords: [cd]\n    severity: low\n",
		     "t.yaml:6: 'rules' given twice", NULL);
	expect_error("rules:\n  - id: k\n    pattern: '(ab)'\n    keywords: [ab]\n    severity: low\n"
		     "---\nrules:\n  - id: j\n    pattern: '(cd)'\n    keywords: [cd]\n    severity: low\n",
		     "t.yaml:6: a second YAML document", NULL);
	expect_error("rules:\n  - id: k\n    pattern: '(ab)'\n    keywords: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ab]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
		     "    severity: low\n", "t.yaml:4: nested deeper than 64 levels", NULL);
	/* a file over 1 MiB, read from disk */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	f = fopen(path, "w");
	fputs(good_rule, f);
	for (int i = 0; i < 20000; i++)
		fputs("# a comment line to pad this rule file well beyond one MiB......\n", f);
	fclose(f);
	assert_int_equal(rules_load_file(rs, path, err, sizeof(err)), -1);
	if (!strstr(err, "big.yaml:") || !strstr(err, "larger than 1 MiB"))
		fail_msg("%s", err);
	assert_int_equal(rules_count(rs), 0);
	unlink(path);
	rmdir(dir);
	rules_free(rs);
}

static void test_load_dir(void **state)
{
	char dir[] = "/tmp/tw-rules-XXXXXX", path[300], err[512];
	struct ruleset *rs = rules_new();
	FILE *f;
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(rules_load_dir(rs, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no *.yaml"));
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	f = fopen(path, "w");
	fputs(good_rule, f);
	fclose(f);
	assert_int_equal(rules_load_dir(rs, dir, err, sizeof(err)), 0);
	assert_non_null(rules_find(rs, "demo"));
	assert_string_equal(rules_find(rs, "demo")->file, path);
	snprintf(path, sizeof(path), "%s/b.yaml", dir);
	f = fopen(path, "w");
	fputs("rules:\n  - id: x\n", f);
	fclose(f);
	assert_int_equal(rules_load_dir(rs, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "b.yaml:2: rule 'x'"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	unlink(path);
	rmdir(dir);
	assert_int_equal(rules_load_dir(rs, "/nonexistent-tw", err, sizeof(err)), -1);
	rules_free(rs);
}

static void test_templates(void **state)
{
	char *s, err[128];
	(void)state;
	assert_int_equal(rules_expand_example("t=ghp_{{b62crc:30}};", &s, err, sizeof(err)), 0);
	assert_int_equal(strlen(s), strlen("t=;") + 40);
	assert_true(checksum_verify(CHECKSUM_GITHUB_CRC32, s + 2, 40));
	free(s);
	assert_int_equal(rules_expand_example("twd_{{twd}}", &s, err, sizeof(err)), 0);
	assert_true(checksum_verify(CHECKSUM_TOKENWARD_CRC32, s, 53));
	free(s);
	assert_int_equal(rules_expand_example("{{jwt:at+jwt}}", &s, err, sizeof(err)), 0);
	assert_true(checksum_verify(CHECKSUM_JWT, s, strlen(s)));
	free(s);
	assert_int_equal(rules_expand_example("{{rep:x:5}}-{{lit:ab}}", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "xxxxx-ab");
	free(s);
	/* two expansions differ: the content is random */
	char *a, *b;
	assert_int_equal(rules_expand_example("{{b62:32}}", &a, err, sizeof(err)), 0);
	assert_int_equal(rules_expand_example("{{b62:32}}", &b, err, sizeof(err)), 0);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(rules_expand_example("{{nope:3}}", &s, err, sizeof(err)), -1);
	assert_int_equal(rules_expand_example("{{b62:x}}", &s, err, sizeof(err)), -1);
	assert_int_equal(rules_expand_example("{{b62:3", &s, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_pack),
		cmocka_unit_test(test_override_and_add),
		cmocka_unit_test(test_bad_files_name_file_line_rule),
		cmocka_unit_test(test_yaml_bounds),
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_templates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
