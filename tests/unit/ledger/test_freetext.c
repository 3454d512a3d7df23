/* Tests for user/ledger/freetext.c: which free text holds a secret (rules,
 * also glued to a prefix), and that none is ever shown raw; identifiers
 * that merely look random (UUIDs) pass untouched. Tokens are minted here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "ledger/freetext.h"
#include "tokmint.h"

static int holds(const char *s)
{
	return freetext_holds_secret(s, strlen(s), NULL);
}

static void test_plain_values_pass(void **state)
{
	const char *ok[] = { "", "build-42", "release/2026-12", "repo:read issues:write",
			     "550e8400-e29b-41d4-a716-446655440000", "alice", "corp-idp",
			     "https://api.example.test:443", "/system.slice/agent.service" };
	(void)state;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *s = freetext_safe(ok[i]);

		assert_false(holds(ok[i]));
		assert_string_equal(s, ok[i]);
		free(s);
	}
	assert_null(freetext_safe(NULL));
}

static void test_secrets_found_also_glued(void **state)
{
	char ghp[64], twd[64], jwt[1024], v[1200];
	const char *rule;
	(void)state;

	tm_github(ghp, "ghp_");
	tm_twd(twd);
	tm_jwt(jwt, "JWT", 1);
	const char *fmt[] = { "%s", "job-%s", "x%s", "repo %s", "a:%s:b" };
	const char *tok[] = { ghp, twd, jwt };
	for (size_t t = 0; t < 3; t++)
		for (size_t f = 0; f < sizeof(fmt) / sizeof(fmt[0]); f++) {
			char *s;

			snprintf(v, sizeof(v), fmt[f], tok[t]);
			assert_true(freetext_holds_secret(v, strlen(v), &rule));
			assert_string_not_equal(rule, "unchecked");
			s = freetext_safe(v);
			assert_non_null(s);
			assert_null(strstr(s, tok[t]));
			free(s);
		}
}

static void test_json_redacted_in_place(void **state)
{
	char ghp[64], v[128], *out;
	cJSON *o = cJSON_CreateObject(), *a;
	(void)state;

	tm_github(ghp, "gho_");
	snprintf(v, sizeof(v), "scope %s", ghp);
	cJSON_AddStringToObject(o, "task", "build-42");
	a = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "nested"), "list");
	cJSON_AddItemToArray(a, cJSON_CreateString(v));
	cJSON_AddItemToArray(a, cJSON_CreateString(ghp));
	freetext_redact_json(o);
	out = cJSON_PrintUnformatted(o);
	assert_null(strstr(out, ghp));
	assert_non_null(strstr(out, "\"task\":\"build-42\""));
	assert_non_null(strstr(out, "scope gho_"));
	free(out);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_values_pass),
		cmocka_unit_test(test_secrets_found_also_glued),
		cmocka_unit_test(test_json_redacted_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
