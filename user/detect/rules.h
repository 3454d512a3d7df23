/*
 * The rule pack: YAML files (the YAML files under rules/, embedded in the binary at build
 * time; `--rules DIR` adds or overrides) parsed with libyaml.
 *
 *   rules:
 *     - id: github-classic                # unique; a later file overrides
 *       name: GitHub token (classic)
 *       pattern: '\b((?:ghp|gho)_[A-Za-z0-9]{36})\b'   # PCRE2, ONE capture = the secret
 *       keywords: [ghp_, gho_]            # >= 2 chars, ASCII case-insensitive;
 *                                         # every match must contain one
 *       checksum: github_crc32            # optional: github_crc32 | tokenward_crc32 | jwt
 *       min_entropy: 3.0                  # optional: Shannon bits/char of the secret
 *       severity: high                    # low | medium | high | critical
 *       generic: false                    # optional: yields to specific rules on overlap
 *       max_len: 512                      # optional: longest whole match, bytes
 *       before: 128                       # optional: longest distance from match start to keyword
 *       run: '[A-Za-z0-9_]'               # optional: after its keyword a match is a run of
 *                                         # these bytes, and ends where the run ends (never
 *                                         # followed by one); lets the detector skip keyword
 *                                         # hits in runs too long or too short for a match
 *       examples: ['token={{b62crc:30}}'] # each must give a finding of this rule
 *       negative_examples: [...]          # none may give a finding of this rule
 *
 * Examples are templates, expanded at test time so that no committed
 * file holds a token-shaped string; see rules_expand_example().
 */
#ifndef TW_RULES_H
#define TW_RULES_H

#include <stddef.h>

enum rule_severity { SEV_LOW = 1, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

struct rule {
	char *id;
	char *name;
	char *pattern;
	char **keywords;
	size_t nkeywords;
	int checksum;        /* enum checksum_kind */
	double min_entropy;  /* 0: no entropy check */
	int severity;        /* enum rule_severity */
	int generic;
	unsigned max_len;
	unsigned before;
	unsigned min_len;          /* shortest possible match (PCRE2's lower bound) */
	char *run;                 /* the class as written, or NULL */
	unsigned char run_set[32]; /* bitmap of the bytes in it */
	char **examples;
	size_t nexamples;
	char **negatives;
	size_t nnegatives;
	char *file;          /* where it was defined, for messages */
	unsigned line;
};

struct ruleset;

/* Rule files compiled into the binary (build/rules_builtin.c). */
struct rules_blob {
	const char *name;
	const unsigned char *text;
	size_t len;
};
extern const struct rules_blob rules_builtin_files[];
extern const size_t rules_builtin_nfiles;

/*
 * Load the embedded rule pack. Returns 0, or -1 with one line in err
 * ("FILE:LINE: rule 'ID': why").
 */
int rules_load_builtin(struct ruleset **out, char *err, size_t errsz);
/* An empty set, to fill with rules_load_dir()/rules_load_buffer(). */
struct ruleset *rules_new(void);
/*
 * Add every *.yaml (and *.yml) file of DIR in name order; a rule whose id is
 * already present replaces it in place. On error nothing of the failing
 * file is added; err names file, line and rule.
 */
int rules_load_dir(struct ruleset *rs, const char *dir, char *err, size_t errsz);
int rules_load_file(struct ruleset *rs, const char *path, char *err, size_t errsz);
/* The same from memory; name is used in messages. */
int rules_load_buffer(struct ruleset *rs, const char *name, const void *text, size_t len,
		      char *err, size_t errsz);
void rules_free(struct ruleset *rs);
/* The embedded pack, then each dir in order (what `--rules DIR` means). */
int rules_load_with_dirs(struct ruleset **out, char *const *dirs, size_t ndirs, char *err, size_t errsz);

size_t rules_count(const struct ruleset *rs);
const struct rule *rules_get(const struct ruleset *rs, size_t i);
const struct rule *rules_find(const struct ruleset *rs, const char *id);
const char *rules_severity_name(int sev);
/* Is byte c in the rule's run class? (0 when the rule has none.) */
static inline int rules_in_run(const struct rule *r, unsigned char c)
{
	return (r->run_set[c >> 3] >> (c & 7)) & 1;
}

/*
 * Expand an example template into a fresh malloc'd string with random
 * content. Placeholders:
 *   {{b62:N}} {{hex:N}} {{HEX:N}} {{lower:N}} (a-z0-9) {{upper:N}} (A-Z0-9)
 *   {{digits:N}} {{b32:N}} (A-Z2-7) {{b64u:N}} (A-Za-z0-9_-) {{b64:N}} (A-Za-z0-9+/)
 *   {{b62crc:N}}   N base62 chars then their CRC32 in base62 (GitHub/npm)
 *   {{twd}}        a tokenward token body: 43 base62 (256 bits) + CRC32
 *   {{jwt}} {{jwt:TYP}} a signed-looking JWT (header names alg, typ TYP)
 *   {{jwtnoalg}}   JWT-shaped, but the header has no "alg"
 *   {{rep:C:N}}    the character C N times
 *   {{lit:TEXT}}   TEXT as is (to split a literal that looks like a token)
 * Returns 0, or -1 with err set.
 */
int rules_expand_example(const char *tmpl, char **out, char *err, size_t errsz);

#endif
