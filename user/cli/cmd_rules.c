/*
 * `tokenward rules list|test|corpus`: show the rule pack, prove each rule
 * on its own examples, and measure it against an external corpus.
 * Examples are templates expanded here at run time (rules.h), and every
 * string shown is passed through redaction first.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "detect/checksum.h"
#include "cli/cmd.h"
#include "detect/detect.h"
#include "detect/redact.h"
#include "detect/rules.h"
#include "lib/safefile.h"

#define MAX_RULE_DIRS 16

static const char rules_help[] =
	"usage: tokenward rules list [--rules DIR] [--json]\n"
	"       tokenward rules test [--rules DIR] [-v]\n"
	"       tokenward rules corpus FILE [--rules DIR] [--json]\n\n"
	"  list    show every rule (embedded, plus --rules DIR which adds or overrides)\n"
	"  test    run every rule on its examples and negative examples; exit 1 on any miss\n"
	"  corpus  per-family recall on Nosey Parker's examples.jsonl, with and without\n"
	"          checksum validation (markdown, or --json)\n\n"
	"  --rules DIR   also load DIR/*.yaml (repeatable)\n"
	"  --json        machine-readable output\n"
	"  -v            show each example (redacted)\n"
	"  -h, --help    this text\n";

struct hits {
	const char *rule;
	int found, valid;
};

static int count_rule(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct hits *h = ctx;
	(void)buf;
	(void)len;
	if (!strcmp(m->rule_id, h->rule)) {
		h->found++;
		h->valid += m->checksum_valid >= 0;
	}
	return 0;
}

/* The template, never its expansion: a template holds no secret. */
static void show(const char *what, const char *tmpl)
{
	char *r = redact_text(tmpl, strlen(tmpl));
	printf("    %s: %s\n", what, r ? r : "?");
	free(r);
}

static int rules_test(struct ruleset *rs, int verbose)
{
	char err[512];
	struct detector *d = detector_new(rs, err, sizeof(err));
	int failed = 0, nex = 0;

	if (!d) {
		cmd_error("rules", "%s", err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		int bad = 0;

		if (!r->nexamples) {
			printf("FAIL %s (%s:%u): no examples\n", r->id, r->file, r->line);
			failed++;
			continue;
		}
		for (int neg = 0; neg < 2; neg++) {
			char **v = neg ? r->negatives : r->examples;
			size_t n = neg ? r->nnegatives : r->nexamples;
			for (size_t j = 0; j < n; j++) {
				struct hits h = { .rule = r->id };
				char *ex;

				if (rules_expand_example(v[j], &ex, err, sizeof(err))) {
					printf("FAIL %s (%s:%u): %s %zu: %s\n", r->id, r->file, r->line,
					       neg ? "negative example" : "example", j + 1, err);
					bad++;
					continue;
				}
				nex++;
				detector_scan(d, ex, strlen(ex), count_rule, &h);
				if (!neg && !h.found) {
					printf("FAIL %s (%s:%u): example %zu not found\n", r->id, r->file, r->line, j + 1);
					show("example", v[j]);
					bad++;
				} else if (neg && h.found) {
					printf("FAIL %s (%s:%u): negative example %zu found\n", r->id, r->file, r->line, j + 1);
					show("negative", v[j]);
					bad++;
				} else if (verbose) {
					show(neg ? "negative ok" : "example ok", v[j]);
				}
				free(ex);
			}
		}
		if (!bad)
			printf("ok   %s: %zu examples, %zu negatives\n", r->id, r->nexamples, r->nnegatives);
		failed += bad != 0;
	}
	detector_free(d);
	printf("%zu rules, %d strings, %d rules failed\n", rules_count(rs), nex, failed);
	return failed ? 1 : 0;
}

static int rules_list(struct ruleset *rs, int json)
{
	cJSON *arr = json ? cJSON_CreateArray() : NULL;

	if (!json)
		printf("%-22s %-9s %-16s %s\n", "ID", "SEVERITY", "CHECKSUM", "NAME");
	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		if (json) {
			cJSON *o = cJSON_CreateObject(), *kw = cJSON_AddArrayToObject(o, "keywords");
			cJSON_AddStringToObject(o, "id", r->id);
			cJSON_AddStringToObject(o, "name", r->name);
			cJSON_AddStringToObject(o, "severity", rules_severity_name(r->severity));
			cJSON_AddStringToObject(o, "checksum", checksum_name(r->checksum));
			cJSON_AddNumberToObject(o, "min_entropy", r->min_entropy);
			cJSON_AddBoolToObject(o, "generic", r->generic);
			cJSON_AddStringToObject(o, "pattern", r->pattern);
			for (size_t k = 0; k < r->nkeywords; k++)
				cJSON_AddItemToArray(kw, cJSON_CreateString(r->keywords[k]));
			cJSON_AddStringToObject(o, "file", r->file);
			cJSON_AddNumberToObject(o, "line", r->line);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("%-22s %-9s %-16s %s\n", r->id, rules_severity_name(r->severity),
			       r->checksum ? checksum_name(r->checksum) : "-", r->name);
		}
	}
	if (json) {
		cmd_print_json(stdout, arr, 1);
		cJSON_Delete(arr);
	}
	return 0;
}

/*
 * The families, and which of Nosey Parker's rules hold examples
 * of each. Recall counts an example as found when any rule of the family
 * reports something in it.
 */
static const struct family {
	const char *name;
	const char *np;     /* space-separated Nosey Parker ids */
	const char *rules;  /* space-separated tokenward rule ids */
} families[] = {
	{ "jwt", "np.jwt.1", "jwt" },
	{ "github", "np.github.1 np.github.2 np.github.3 np.github.4 np.github.7",
	  "github-classic github-refresh github-fine-grained" },
	{ "gitlab", "np.gitlab.2", "gitlab-pat" },
	{ "npm", "np.npm.1", "npm" },
	{ "aws", "np.aws.1", "aws-access-key-id" },
	{ "slack", "np.slack.2 np.slack.4 np.slack.6", "slack" },
	{ "stripe", "np.stripe.1", "stripe" },
	{ "openai", "np.openai.1", "openai openai-legacy" },
	{ "anthropic", "np.anthropic.1", "anthropic" },
	{ "google", "np.google.5", "google-api-key" },
	{ "bearer", "np.http.2", "bearer" },
};
#define NFAM (sizeof(families) / sizeof(families[0]))

static int in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

struct famhit {
	const struct family *f;
	int hit;
	int any;
};

static int fam_cb(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct famhit *h = ctx;
	(void)buf;
	(void)len;
	h->any = 1;
	if (h->f && in_list(h->f->rules, m->rule_id))
		h->hit = 1;
	return 0;
}

struct famstat {
	int n, strict, loose, neg, negflag;
};

/* Is s an example (positive) of some Nosey Parker rule of family fam? */
static int family_positive(cJSON *const *objs, size_t nobj, const struct family *fam, const char *s)
{
	for (size_t i = 0; i < nobj; i++) {
		cJSON *id = cJSON_GetObjectItem(objs[i], "id"), *e;
		if (!cJSON_IsString(id) || !in_list(fam->np, id->valuestring))
			continue;
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(objs[i], "examples"))
			if (cJSON_IsString(e) && !strcmp(e->valuestring, s))
				return 1;
	}
	return 0;
}

/* The corpus's tally: per family, and the other rules' examples. */
struct corpus_tally {
	struct famstat st[NFAM];
	int other_n, other_flag;
};

/* Every line of path as a JSON object with an id. 0, or -1 (reported). */
static int corpus_read(const char *path, cJSON ***objs, size_t *nobj)
{
	char err[512], *line = NULL;
	size_t linecap = 0, capobj = 0;
	int lineno = 0, rc = -1;
	ssize_t got;
	FILE *f;

	if (!(f = safefile_fopen_read(path, 0, err, sizeof(err)))) {
		fprintf(stderr, "tokenward rules: %s\n", err);
		return -1;
	}
	while ((got = getline(&line, &linecap, f)) > 0) {
		cJSON *o = cJSON_ParseWithLength(line, (size_t)got);
		lineno++;
		if (!o || !cJSON_IsString(cJSON_GetObjectItem(o, "id"))) {
			cmd_error("rules", "%s:%d: not a JSON object with an id", path, lineno);
			cJSON_Delete(o);
			goto out;
		}
		if (*nobj == capobj) {
			cJSON **no = realloc(*objs, (capobj = capobj ? capobj * 2 : 256) * sizeof(*no));
			if (!no) {
				cJSON_Delete(o);
				goto out;
			}
			*objs = no;
		}
		(*objs)[(*nobj)++] = o;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

/* One Nosey Parker rule's examples, scanned with (dv) and without (dn)
 * checksum validation, counted for its family or as another rule's. */
static void corpus_tally_one(struct corpus_tally *t, cJSON *const *objs, size_t nobj, size_t i,
			     struct detector *dv, struct detector *dn)
{
	const char *id = cJSON_GetObjectItem(objs[i], "id")->valuestring;
	const struct family *fam = NULL;
	size_t fi;
	cJSON *e;

	for (fi = 0; fi < NFAM; fi++)
		if (in_list(families[fi].np, id)) {
			fam = &families[fi];
			break;
		}
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(objs[i], "examples")) {
		if (!cJSON_IsString(e))
			continue;
		struct famhit hv = { .f = fam }, hn = { .f = fam };
		detector_scan(dv, e->valuestring, strlen(e->valuestring), fam_cb, &hv);
		detector_scan(dn, e->valuestring, strlen(e->valuestring), fam_cb, &hn);
		if (fam) {
			t->st[fi].n++;
			t->st[fi].strict += hv.hit;
			t->st[fi].loose += hn.hit;
		} else {
			t->other_n++;
			t->other_flag += hv.any;
		}
	}
	if (!fam)
		return;
	/* A negative of one Nosey Parker rule may be a positive of a
	 * sibling (xoxb is not xoxp); only true negatives of the family count. */
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(objs[i], "negative_examples")) {
		if (!cJSON_IsString(e) || family_positive(objs, nobj, fam, e->valuestring))
			continue;
		struct famhit hv = { .f = fam };
		detector_scan(dv, e->valuestring, strlen(e->valuestring), fam_cb, &hv);
		t->st[fi].neg++;
		t->st[fi].negflag += hv.hit;
	}
}

static void corpus_print_json(const struct corpus_tally *t)
{
	cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "families");

	for (size_t i = 0; i < NFAM; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "family", families[i].name);
		cJSON_AddNumberToObject(o, "examples", t->st[i].n);
		cJSON_AddNumberToObject(o, "found_validated", t->st[i].strict);
		cJSON_AddNumberToObject(o, "found_unvalidated", t->st[i].loose);
		cJSON_AddNumberToObject(o, "negatives", t->st[i].neg);
		cJSON_AddNumberToObject(o, "negatives_flagged", t->st[i].negflag);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(out, "other_examples", t->other_n);
	cJSON_AddNumberToObject(out, "other_examples_flagged", t->other_flag);
	cmd_print_json(stdout, out, 0);
	cJSON_Delete(out);
}

static void corpus_print_table(const struct corpus_tally *t)
{
	const struct famstat *st = t->st;
	int tn = 0, ts = 0, tl = 0;

	printf("| family | Nosey Parker rules | examples | recall, checksum validated | recall, no checksum validation | negatives flagged |\n");
	printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
	for (size_t i = 0; i < NFAM; i++) {
		printf("| %s | %s | %d | %d/%d (%.0f%%) | %d/%d (%.0f%%) | %d/%d |\n", families[i].name,
		       families[i].np, st[i].n, st[i].strict, st[i].n,
		       st[i].n ? 100.0 * st[i].strict / st[i].n : 0, st[i].loose, st[i].n,
		       st[i].n ? 100.0 * st[i].loose / st[i].n : 0, st[i].negflag, st[i].neg);
		tn += st[i].n;
		ts += st[i].strict;
		tl += st[i].loose;
	}
	printf("| **all** | | %d | %d/%d (%.0f%%) | %d/%d (%.0f%%) | |\n", tn, ts, tn,
	       tn ? 100.0 * ts / tn : 0, tl, tn, tn ? 100.0 * tl / tn : 0);
	printf("\nExamples of the corpus's other rules (kinds of secret tokenward does not target): "
	       "%d of %d strings gave some finding.\n", t->other_flag, t->other_n);
}

static int rules_corpus(struct ruleset *rs, const char *path, int json)
{
	char err[512];
	struct detector *dv = detector_new(rs, err, sizeof(err)), *dn = detector_new(rs, err, sizeof(err));
	struct corpus_tally t = { 0 };
	cJSON **objs = NULL;
	size_t nobj = 0;
	int rc = EXIT_USAGE;

	if (!dv || !dn) {
		cmd_error("rules", "%s", err);
		goto out;
	}
	detector_set_flags(dn, DETECT_KEEP_INVALID);
	if (corpus_read(path, &objs, &nobj))
		goto out;
	for (size_t i = 0; i < nobj; i++)
		corpus_tally_one(&t, objs, nobj, i, dv, dn);
	if (json)
		corpus_print_json(&t);
	else
		corpus_print_table(&t);
	rc = 0;
out:
	for (size_t i = 0; i < nobj; i++)
		cJSON_Delete(objs[i]);
	free(objs);
	detector_free(dv);
	detector_free(dn);
	return rc;
}

/* One option, before or after the subcommand. Returns -1 to go on, or
 * the exit status. */
static int rules_opt(int c, char **argv, char **dirs, size_t *ndirs, int *json, int *verbose)
{
	switch (c) {
	case 'r':
		if (*ndirs == MAX_RULE_DIRS)
			return cmd_usage_error("rules", "too many --rules");
		dirs[(*ndirs)++] = optarg;
		return -1;
	case 'j': *json = 1; return -1;
	case 'v': *verbose = 1; return -1;
	case 'h': fputs(rules_help, stdout); return 0;
	default: return cmd_opt_error("rules", argv, c);
	}
}

int cmd_rules(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *dirs[MAX_RULE_DIRS], err[1024];
	size_t ndirs = 0;
	int json = 0, verbose = 0, c, rc;
	struct ruleset *rs;
	const char *sub;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+r:jvh", opts, NULL)) != -1)
		if ((rc = rules_opt(c, argv, dirs, &ndirs, &json, &verbose)) >= 0)
			return rc;
	if (optind >= argc)
		return cmd_usage_error("rules", "missing subcommand (list, test, corpus)");
	sub = argv[optind];
	/* Options may also follow the subcommand. */
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	const char *file = NULL;
	optind = 0; /* 0, not 1: glibc then resets its permutation state too */
	while ((c = getopt_long(sub_argc, sub_argv, "r:jvh", opts, NULL)) != -1)
		if ((rc = rules_opt(c, sub_argv, dirs, &ndirs, &json, &verbose)) >= 0)
			return rc;
	if (!strcmp(sub, "corpus")) {
		if (optind + 1 != sub_argc)
			return cmd_usage_error("rules", "corpus takes one FILE");
		file = sub_argv[optind];
	} else if (strcmp(sub, "list") && strcmp(sub, "test")) {
		return cmd_usage_error("rules", "unknown subcommand '%s'", sub);
	} else if (optind != sub_argc) {
		return cmd_extra_arg("rules", sub_argv[optind]);
	}
	if (rules_load_with_dirs(&rs, dirs, ndirs, err, sizeof(err))) {
		cmd_error("rules", "%s", err);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "list"))
		rc = rules_list(rs, json);
	else if (!strcmp(sub, "test"))
		rc = rules_test(rs, verbose);
	else
		rc = rules_corpus(rs, file, json);
	rules_free(rs);
	return rc;
}
