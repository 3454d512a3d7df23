/*
 * Rule files (user/detect/rules.c via lib/yamldoc.c) on arbitrary bytes:
 * a file loads, or is refused with a message naming the file; a loaded
 * rule is complete; its example templates expand within bounds.
 */
#include "detect/rules.h"
#include "lib/yamldoc.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset *rs = rules_new();
	char err[512] = "";

	if (!rs)
		return 0;
	if (rules_load_buffer(rs, "fuzz.yaml", data, size, err, sizeof(err))) {
		FUZZ_CHECK(!strncmp(err, "fuzz.yaml", 9), "error without the file name: %s", err);
		FUZZ_CHECK(rules_count(rs) == 0, "a refused file added %zu rules", rules_count(rs));
		rules_free(rs);
		return 0;
	}
	FUZZ_CHECK(size <= YAMLDOC_MAX_BYTES, "%zu bytes accepted", size);
	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		FUZZ_CHECK(r->id && *r->id && r->pattern && r->name && r->nkeywords > 0 &&
			   r->severity >= SEV_LOW && r->severity <= SEV_CRITICAL,
			   "incomplete rule %zu", i);
		FUZZ_CHECK(rules_find(rs, r->id) == r, "rule '%s' not found by id", r->id);
		for (size_t k = 0; k < r->nkeywords; k++)
			FUZZ_CHECK(strlen(r->keywords[k]) >= 2 && strlen(r->keywords[k]) <= 64, "keyword length");
		/* Templates: only short ones, so one input cannot ask for
		 * gigabytes ({{rep:x:100000}} a thousand times). */
		for (size_t k = 0; k < r->nexamples; k++) {
			char *out = NULL;
			if (strlen(r->examples[k]) > 200)
				continue;
			if (!rules_expand_example(r->examples[k], &out, err, sizeof(err)))
				free(out);
		}
	}
	rules_free(rs);
	return 0;
}
