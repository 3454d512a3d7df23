/*
 * Rule files are parsed with libyaml's document API: the whole file is a
 * small tree, and every node keeps its line, so a bad rule is reported
 * by file, line and id. lib/yamldoc.c bounds each file (1 MiB, depth
 * 64, one document, each key once) before any of it is read. Each pattern is compiled here once, only to
 * reject a broken one at load time with PCRE2's own message; the
 * detector compiles its own copy with JIT.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <yaml.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "detect/checksum.h"
#include "detect/rules.h"
#include "lib/safefile.h"
#include "lib/util.h"
#include "lib/yamldoc.h"

#define RULE_DEFAULT_MAX_LEN 512
#define RULE_DEFAULT_BEFORE  128
#define RULE_MAX_MAX_LEN     131072  /* a 64 KiB token and a long lead-in */

struct ruleset {
	struct rule *r;
	size_t n, cap;
};

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_clear(struct rule *r)
{
	free(r->id);
	free(r->name);
	free(r->pattern);
	free(r->run);
	strv_free(r->keywords, r->nkeywords);
	strv_free(r->examples, r->nexamples);
	strv_free(r->negatives, r->nnegatives);
	free(r->file);
	memset(r, 0, sizeof(*r));
}

struct ruleset *rules_new(void)
{
	return calloc(1, sizeof(struct ruleset));
}

void rules_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_clear(&rs->r[i]);
	free(rs->r);
	free(rs);
}

size_t rules_count(const struct ruleset *rs)
{
	return rs ? rs->n : 0;
}

const struct rule *rules_get(const struct ruleset *rs, size_t i)
{
	return i < rs->n ? &rs->r[i] : NULL;
}

const struct rule *rules_find(const struct ruleset *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++)
		if (!strcmp(rs->r[i].id, id))
			return &rs->r[i];
	return NULL;
}

static const char *sev_names[] = { NULL, "low", "medium", "high", "critical" };

const char *rules_severity_name(int sev)
{
	return sev >= SEV_LOW && sev <= SEV_CRITICAL ? sev_names[sev] : "?";
}

/* ---- YAML -> struct rule ---- */

struct loadctx {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errsz;
};

static int fail(struct loadctx *c, const yaml_node_t *n, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct loadctx *c, const yaml_node_t *n, const char *id, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (id)
		util_seterr(c->err, c->errsz, "%s:%lu: rule '%s': %s", c->file,
		       n ? (unsigned long)n->start_mark.line + 1 : 0, id, msg);
	else
		util_seterr(c->err, c->errsz, "%s:%lu: %s", c->file,
		       n ? (unsigned long)n->start_mark.line + 1 : 0, msg);
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar, or a sequence of scalars, into a string vector. */
static int strv_from(struct loadctx *c, yaml_node_t *n, const char *id, const char *key,
		     char ***out, size_t *nout)
{
	size_t cnt, k = 0;
	char **v;

	if (n->type == YAML_SCALAR_NODE) {
		v = calloc(1, sizeof(*v));
		if (!v || !(v[0] = strdup(scalar(n)))) {
			free(v);
			return fail(c, n, id, "out of memory");
		}
		*out = v;
		*nout = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, id, "'%s' must be a string or a list of strings", key);
	cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (!v)
		return fail(c, n, id, "out of memory");
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		if (!scalar(e)) {
			strv_free(v, k);
			return fail(c, e ? e : n, id, "'%s' must hold only strings", key);
		}
		if (!(v[k] = strdup(scalar(e)))) {
			strv_free(v, k);
			return fail(c, n, id, "out of memory");
		}
		k++;
	}
	*out = v;
	*nout = k;
	return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "no")) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* Compile once to report a broken pattern at load time, and require
 * exactly one capture group: the secret. */
static int check_pattern(struct loadctx *c, const yaml_node_t *n, const char *id, const char *pat,
			 struct rule *r)
{
	int ec;
	PCRE2_SIZE off;
	uint32_t caps = 0;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);

	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		return fail(c, n, id, "pattern does not compile at offset %zu: %s", (size_t)off, (char *)msg);
	}
	pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &caps);
	pcre2_pattern_info(re, PCRE2_INFO_MINLENGTH, &r->min_len);
	pcre2_code_free(re);
	if (caps != 1)
		return fail(c, n, id, "pattern must have exactly one capture group (the secret), has %u", caps);
	return 0;
}

/* `run`: one character class, which PCRE2 itself turns into a byte set
 * (so it means exactly what it means in a pattern). */
static int parse_run(struct loadctx *c, const yaml_node_t *n, const char *id, const char *cls, struct rule *r)
{
	char pat[300];
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re;
	pcre2_match_data *md;
	size_t l = strlen(cls);

	if (r->run)
		return fail(c, n, id, "duplicate key 'run'");
	if (l < 3 || l > 256 || cls[0] != '[' || cls[l - 1] != ']')
		return fail(c, n, id, "run must be one character class, like '[A-Za-z0-9_-]'");
	snprintf(pat, sizeof(pat), "\\A%s\\z", cls);
	if (!(re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL)))
		return fail(c, n, id, "run '%s' is not a character class PCRE2 compiles", cls);
	md = pcre2_match_data_create_from_pattern(re, NULL);
	for (int b = 0; md && b < 256; b++) {
		unsigned char one = (unsigned char)b;
		if (pcre2_match(re, &one, 1, 0, 0, md, NULL) >= 0)
			r->run_set[b >> 3] |= (unsigned char)(1u << (b & 7));
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	if (!md || !(r->run = strdup(cls)))
		return fail(c, n, id, "out of memory");
	return 0;
}

/* The rule's id, first, so that every later message can name the rule. */
static const char *rule_id(struct loadctx *c, yaml_node_t *m)
{
	const char *id = NULL;
	yaml_node_t *idnode = NULL;

	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		if (scalar(k) && !strcmp(scalar(k), "id")) {
			idnode = yaml_document_get_node(c->doc, p->value);
			id = scalar(idnode);
		}
	}
	if (!id || !*id) {
		fail(c, m, NULL, "rule without an 'id'");
		return NULL;
	}
	for (const char *q = id; *q; q++)
		if (!(*q == '-' || *q == '_' || *q == '.' || (*q >= '0' && *q <= '9') ||
		      (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))) {
			fail(c, idnode, "?", "id may hold only letters, digits, '-', '_', '.'");
			return NULL;
		}
	return id;
}

/* One of the keys whose value is a list of strings. */
static int rule_list(struct loadctx *c, yaml_node_t *k, yaml_node_t *v, const char *id, const char *key,
		     struct rule *r)
{
	char ***dst = key[0] == 'e' ? &r->examples : key[0] == 'n' ? &r->negatives : &r->keywords;
	size_t *cnt = key[0] == 'e' ? &r->nexamples : key[0] == 'n' ? &r->nnegatives : &r->nkeywords;

	if (*dst)
		return fail(c, k, id, "duplicate key '%s'", key);
	return strv_from(c, v, id, key, dst, cnt) ? -1 : 0;
}

/* One of the keys whose value is a number, a word or a flag. */
static int rule_setting(struct loadctx *c, yaml_node_t *k, yaml_node_t *v, const char *id, const char *key,
			const char *sv, struct rule *r)
{
	char *end;

	if (!strcmp(key, "checksum")) {
		int ck = checksum_parse(sv);
		if (ck < 0)
			return fail(c, v, id, "unknown checksum '%s' (github_crc32, tokenward_crc32, jwt, none)", sv);
		r->checksum = ck;
	} else if (!strcmp(key, "min_entropy")) {
		r->min_entropy = strtod(sv, &end);
		if (end == sv || *end || r->min_entropy < 0 || r->min_entropy > 8)
			return fail(c, v, id, "min_entropy must be a number of bits per character, 0 to 8");
	} else if (!strcmp(key, "severity")) {
		r->severity = 0;
		for (int s = SEV_LOW; s <= SEV_CRITICAL; s++)
			if (!strcmp(sv, sev_names[s]))
				r->severity = s;
		if (!r->severity)
			return fail(c, v, id, "severity must be low, medium, high or critical");
	} else if (!strcmp(key, "generic")) {
		if (parse_bool(sv, &r->generic))
			return fail(c, v, id, "generic must be true or false");
	} else if (!strcmp(key, "max_len")) {
		if (parse_uint(sv, 8, RULE_MAX_MAX_LEN, &r->max_len))
			return fail(c, v, id, "max_len must be an integer from 8 to %u", RULE_MAX_MAX_LEN);
	} else if (!strcmp(key, "before")) {
		if (parse_uint(sv, 0, 4096, &r->before))
			return fail(c, v, id, "before must be an integer from 0 to 4096");
	} else if (!strcmp(key, "run")) {
		return parse_run(c, v, id, sv, r) ? -1 : 0;
	} else {
		return fail(c, k, id, "unknown key '%s'", key);
	}
	return 0;
}

/* One key of a rule and its value. */
static int rule_key(struct loadctx *c, yaml_node_pair_t *p, const char *id, struct rule *r)
{
	yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
	yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
	const char *key = scalar(k), *sv = scalar(v);

	if (!key)
		return fail(c, k, id, "keys must be strings");
	if (!strcmp(key, "id"))
		return 0;
	if (!strcmp(key, "examples") || !strcmp(key, "negative_examples") || !strcmp(key, "keywords"))
		return rule_list(c, k, v, id, key, r);
	if (!sv)
		return fail(c, v, id, "'%s' must be a string", key);
	if (!strcmp(key, "name")) {
		if (r->name || !(r->name = strdup(sv)))
			return r->name ? fail(c, k, id, "duplicate key 'name'") : -1;
		return 0;
	}
	if (!strcmp(key, "pattern")) {
		if (r->pattern)
			return fail(c, k, id, "duplicate key 'pattern'");
		return check_pattern(c, v, id, sv, r) || !(r->pattern = strdup(sv)) ? -1 : 0;
	}
	return rule_setting(c, k, v, id, key, sv, r);
}

/* What every rule must have, once all its keys are read. */
static int rule_complete(struct loadctx *c, yaml_node_t *m, const char *id, struct rule *r)
{
	if (!r->pattern)
		return fail(c, m, id, "missing 'pattern'");
	if (!r->nkeywords)
		return fail(c, m, id, "missing 'keywords' (the prefilter needs at least one)");
	for (size_t i = 0; i < r->nkeywords; i++)
		if (strlen(r->keywords[i]) < 2 || strlen(r->keywords[i]) > 64)
			return fail(c, m, id, "keyword '%s' must be 2 to 64 bytes long", r->keywords[i]);
	if (!r->severity)
		return fail(c, m, id, "missing 'severity'");
	if (!r->name && !(r->name = strdup(id)))
		return fail(c, m, id, "out of memory");
	return 0;
}

static int rule_from_node(struct loadctx *c, yaml_node_t *m, struct rule *r)
{
	const char *id;

	memset(r, 0, sizeof(*r));
	if (m->type != YAML_MAPPING_NODE)
		return fail(c, m, NULL, "a rule must be a mapping");
	if (!(id = rule_id(c, m)))
		return -1;
	r->line = (unsigned)m->start_mark.line + 1;
	r->max_len = RULE_DEFAULT_MAX_LEN;
	r->before = RULE_DEFAULT_BEFORE;
	if (!(r->id = strdup(id)) || !(r->file = strdup(c->file)))
		return fail(c, m, id, "out of memory");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
		if (rule_key(c, p, id, r))
			return -1;
	return rule_complete(c, m, id, r);
}

static int ruleset_put(struct ruleset *rs, struct rule *r)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (!strcmp(rs->r[i].id, r->id)) {
			rule_clear(&rs->r[i]);
			rs->r[i] = *r;
			return 0;
		}
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 32;
		struct rule *nr = realloc(rs->r, cap * sizeof(*nr));
		if (!nr)
			return -1;
		rs->r = nr;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *r;
	return 0;
}

int rules_load_buffer(struct ruleset *rs, const char *name, const void *text, size_t len,
		      char *err, size_t errsz)
{
	yaml_document_t doc;
	yaml_node_t *root, *seq = NULL;
	struct loadctx c = { .file = name, .doc = &doc, .err = err, .errsz = errsz };
	struct rule *tmp = NULL;
	size_t ntmp = 0, cnt;
	int rc = -1;

	if (yamldoc_load(&doc, name, text, len, err, errsz))
		return -1;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		util_seterr(err, errsz, "%s:1: empty rule file", name);
		goto out;
	}
	if (root->type == YAML_SEQUENCE_NODE) {
		seq = root;
	} else if (root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&doc, p->key);
			if (scalar(k) && !strcmp(scalar(k), "rules"))
				seq = yaml_document_get_node(&doc, p->value);
			else {
				fail(&c, k, NULL, "unknown top-level key '%s' (expected 'rules')",
				     scalar(k) ? scalar(k) : "?");
				goto out;
			}
		}
	}
	if (!seq || seq->type != YAML_SEQUENCE_NODE) {
		fail(&c, seq ? seq : root, NULL, "expected 'rules:' followed by a list of rules");
		goto out;
	}
	cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	tmp = calloc(cnt ? cnt : 1, sizeof(*tmp));
	if (!tmp) {
		util_seterr(err, errsz, "%s: out of memory", name);
		goto out;
	}
	/* Parse the whole file before adding any of it: a bad file changes nothing. */
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&doc, *it);
		if (rule_from_node(&c, n, &tmp[ntmp])) {
			rule_clear(&tmp[ntmp]);
			goto out;
		}
		for (size_t j = 0; j < ntmp; j++) {
			if (!strcmp(tmp[j].id, tmp[ntmp].id)) {
				fail(&c, n, tmp[ntmp].id, "duplicate id (first at line %u)", tmp[j].line);
				rule_clear(&tmp[ntmp]);
				goto out;
			}
		}
		ntmp++;
	}
	for (size_t i = 0; i < ntmp; i++) {
		if (ruleset_put(rs, &tmp[i])) {
			util_seterr(err, errsz, "%s: out of memory", name);
			for (size_t j = i; j < ntmp; j++)
				rule_clear(&tmp[j]);
			ntmp = 0;
			goto out;
		}
	}
	ntmp = 0;
	rc = 0;
out:
	for (size_t i = 0; i < ntmp; i++)
		rule_clear(&tmp[i]);
	free(tmp);
	yaml_document_delete(&doc);
	return rc;
}

int rules_load_file(struct ruleset *rs, const char *path, char *err, size_t errsz)
{
	char *buf;
	size_t n;
	int rc;
	FILE *f;

	/* A FIFO named *.yaml in a rules directory must not stall the load;
	 * yamldoc_read bounds the size. */
	if (!(f = safefile_fopen_read(path, 0, err, errsz)))
		return -1;
	rc = yamldoc_read(f, path, &buf, &n, err, errsz);
	fclose(f);
	if (rc)
		return -1;
	rc = rules_load_buffer(rs, path, buf, n, err, errsz);
	free(buf);
	return rc;
}

static int yaml_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' &&
	       ((n > 5 && !strcmp(d->d_name + n - 5, ".yaml")) || (n > 4 && !strcmp(d->d_name + n - 4, ".yml")));
}

int rules_load_dir(struct ruleset *rs, const char *dir, char *err, size_t errsz)
{
	struct dirent **names;
	int n = scandir(dir, &names, yaml_name, alphasort), rc = 0;

	if (n < 0) {
		util_seterr(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (n == 0) {
		free(names);
		util_seterr(err, errsz, "%s: no *.yaml rule files", dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		if (!rc) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			rc = rules_load_file(rs, path, err, errsz);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int rules_load_builtin(struct ruleset **out, char *err, size_t errsz)
{
	struct ruleset *rs = rules_new();

	if (!rs) {
		util_seterr(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < rules_builtin_nfiles; i++) {
		if (rules_load_buffer(rs, rules_builtin_files[i].name, rules_builtin_files[i].text,
				      rules_builtin_files[i].len, err, errsz)) {
			rules_free(rs);
			return -1;
		}
	}
	*out = rs;
	return 0;
}

int rules_load_with_dirs(struct ruleset **out, char *const *dirs, size_t ndirs, char *err, size_t errsz)
{
	struct ruleset *rs;

	if (rules_load_builtin(&rs, err, errsz))
		return -1;
	for (size_t i = 0; i < ndirs; i++) {
		if (rules_load_dir(rs, dirs[i], err, errsz)) {
			rules_free(rs);
			return -1;
		}
	}
	*out = rs;
	return 0;
}

/* ---- example templates ---- */

struct sbuf {
	char *s;
	size_t n, cap;
};

static int sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *ns = realloc(b->s, cap);
		if (!ns)
			return -1;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
	return 0;
}

static void rand_bytes(unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
}

static int sb_rand(struct sbuf *b, const char *alpha, size_t n)
{
	size_t na = strlen(alpha);
	char tmp[256];

	while (n) {
		unsigned char r[256];
		size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
		rand_bytes(r, k);
		for (size_t i = 0; i < k; i++)
			tmp[i] = alpha[r[i] % na];
		if (sb_put(b, tmp, k))
			return -1;
		n -= k;
	}
	return 0;
}

static const char A_B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char A_B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
		out[o++] = A_B64U[v >> 18];
		out[o++] = A_B64U[(v >> 12) & 63];
		out[o++] = A_B64U[(v >> 6) & 63];
		out[o++] = A_B64U[v & 63];
	}
	if (n - i == 1) {
		unsigned v = in[i] << 16;
		out[o++] = A_B64U[v >> 18];
		out[o++] = A_B64U[(v >> 12) & 63];
	} else if (n - i == 2) {
		unsigned v = in[i] << 16 | in[i + 1] << 8;
		out[o++] = A_B64U[v >> 18];
		out[o++] = A_B64U[(v >> 12) & 63];
		out[o++] = A_B64U[(v >> 6) & 63];
	}
	out[o] = 0;
}

static int sb_jwt(struct sbuf *b, const char *typ, int with_alg)
{
	char hdr[256], pay[256], enc[512], hexid[33];
	unsigned char r[48];

	rand_bytes(r, sizeof(r));
	for (int i = 0; i < 16; i++)
		snprintf(hexid + 2 * i, 3, "%02x", r[i]);
	if (with_alg)
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"typ\":\"%s\",\"kid\":\"%.8s\"}", typ, hexid + 16);
	else
		snprintf(hdr, sizeof(hdr), "{\"typ\":\"%s\",\"ver\":\"%.8s\"}", typ, hexid + 16);
	snprintf(pay, sizeof(pay),
		 "{\"iss\":\"https://issuer.test\",\"sub\":\"agent-%.8s\",\"aud\":\"https://api.test\","
		 "\"exp\":1900000000,\"iat\":1800000000,\"jti\":\"%s\",\"client_id\":\"c1\"}",
		 hexid, hexid);
	b64url((unsigned char *)hdr, strlen(hdr), enc);
	if (sb_put(b, enc, strlen(enc)) || sb_put(b, ".", 1))
		return -1;
	b64url((unsigned char *)pay, strlen(pay), enc);
	if (sb_put(b, enc, strlen(enc)) || sb_put(b, ".", 1))
		return -1;
	b64url(r + 16, 32, enc);
	return sb_put(b, enc, strlen(enc));
}

/* 32 random bytes as a 43-digit base62 number, then its CRC (49 chars). */
static int sb_twd(struct sbuf *b)
{
	unsigned char num[32];
	char body[43 + 7];

	rand_bytes(num, sizeof(num));
	for (int d = 42; d >= 0; d--) {
		unsigned rem = 0;
		for (int i = 0; i < 32; i++) {
			unsigned cur = (rem << 8) | num[i];
			num[i] = (unsigned char)(cur / 62);
			rem = cur % 62;
		}
		body[d] = A_B62[rem];
	}
	checksum_base62_crc32(body, 43, body + 43);
	return sb_put(b, body, 49);
}

/* The placeholders that draw their N characters from an alphabet. */
static const struct {
	const char *name;
	const char *alphabet;
} rand_specs[] = {
	{ "b62", A_B62 },
	{ "hex", "0123456789abcdef" },
	{ "HEX", "0123456789ABCDEF" },
	{ "lower", "abcdefghijklmnopqrstuvwxyz0123456789" },
	{ "upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" },
	{ "b32", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" },
	{ "digits", "0123456789" },
	{ "b64u", A_B64U },
	{ "b64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" },
};

/* A count of 1 to 100000, the whole string. */
static int parse_count(const char *s, unsigned long *n)
{
	char *end;

	*n = strtoul(s, &end, 10);
	return *end || *n == 0 || *n > 100000 ? -1 : 0;
}

/* N base62 characters and their 6-character CRC. */
static int sb_b62crc(struct sbuf *b, unsigned long n)
{
	size_t at = b->n;
	char ck[7];

	if (sb_rand(b, A_B62, n))
		return -1;
	checksum_base62_crc32(b->s + at, n, ck);
	return sb_put(b, ck, 6);
}

/* {{rep:C:N}}: the character C, N times. */
static int sb_rep(struct sbuf *b, const char *arg, char *err, size_t errsz)
{
	unsigned long n;

	if (parse_count(arg + 2, &n)) {
		util_seterr(err, errsz, "bad count in '{{rep:%s}}'", arg);
		return -EINVAL;
	}
	for (unsigned long i = 0; i < n; i++)
		if (sb_put(b, arg, 1))
			return -ENOMEM;
	return 0;
}

/* One placeholder, {{SPEC}} or {{SPEC:ARG}}, appended to @b: 0, -ENOMEM,
 * or -EINVAL with @err set. */
static int expand_one(struct sbuf *b, const char *spec, const char *arg, char *err, size_t errsz)
{
	unsigned long n = 0;
	int r;

	if (arg && strcmp(spec, "jwt") && strcmp(spec, "rep") && strcmp(spec, "lit") && parse_count(arg, &n)) {
		util_seterr(err, errsz, "bad length in '{{%s:%s}}'", spec, arg);
		return -EINVAL;
	}
	for (size_t i = 0; arg && i < sizeof(rand_specs) / sizeof(rand_specs[0]); i++)
		if (!strcmp(spec, rand_specs[i].name))
			return sb_rand(b, rand_specs[i].alphabet, n) ? -ENOMEM : 0;
	if (!strcmp(spec, "rep") && arg && arg[0] && arg[1] == ':')
		return sb_rep(b, arg, err, errsz);
	if (!strcmp(spec, "b62crc") && arg)
		r = sb_b62crc(b, n);
	else if (!strcmp(spec, "twd") && !arg)
		r = sb_twd(b);
	else if (!strcmp(spec, "jwt"))
		r = sb_jwt(b, arg ? arg : "JWT", 1);
	else if (!strcmp(spec, "jwtnoalg") && !arg)
		r = sb_jwt(b, "JWT", 0);
	else if (!strcmp(spec, "lit") && arg)
		r = sb_put(b, arg, strlen(arg));
	else {
		util_seterr(err, errsz, "unknown placeholder '{{%s%s%s}}'", spec, arg ? ":" : "", arg ? arg : "");
		return -EINVAL;
	}
	return r ? -ENOMEM : 0;
}

int rules_expand_example(const char *tmpl, char **out, char *err, size_t errsz)
{
	struct sbuf b = { 0 };
	const char *p = tmpl;
	int r = sb_put(&b, "", 0) ? -ENOMEM : 0;

	while (!r && *p) {
		const char *open = strstr(p, "{{"), *close;
		char spec[128], *arg;

		if (!open) {
			r = sb_put(&b, p, strlen(p)) ? -ENOMEM : 0;
			break;
		}
		if (sb_put(&b, p, (size_t)(open - p))) {
			r = -ENOMEM;
			break;
		}
		close = strstr(open + 2, "}}");
		if (!close || (size_t)(close - open - 2) >= sizeof(spec)) {
			util_seterr(err, errsz, "unterminated '{{' in example");
			r = -EINVAL;
			break;
		}
		memcpy(spec, open + 2, (size_t)(close - open - 2));
		spec[close - open - 2] = 0;
		p = close + 2;
		if ((arg = strchr(spec, ':')))
			*arg++ = 0;
		r = expand_one(&b, spec, arg, err, errsz);
	}
	if (r) {
		if (r == -ENOMEM)
			util_seterr(err, errsz, "out of memory");
		free(b.s);
		return -1;
	}
	*out = b.s;
	return 0;
}
