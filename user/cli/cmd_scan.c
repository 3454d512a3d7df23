/*
 * `tokenward scan [PATH...|-]`: the offline scanner for incident reviews.
 * Every finding is printed redacted (rule, <= 6 characters, SHA-256
 * fingerprint); with --ledger each is looked up by hash, so a managed
 * token shows its ledger id. Exit 0 nothing found, 1 found, 2 error (and
 * nothing found).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cli/cmd.h"
#include "lib/sha256.h"
#include "detect/coverage.h"
#include "detect/detect.h"
#include "detect/redact.h"
#include "detect/rules.h"
#include "detect/scan.h"
#include "lib/util.h"

/* The ledger module is built on another branch; the scan command wires
 * to it whenever it is present in the tree. */
#include "ledger/ledger.h"

#define MAX_RULE_DIRS 16

enum fmt { FMT_TEXT, FMT_JSON, FMT_SARIF };

/* The finding being written (see put_json_str). */
struct line {
	char *p;
	size_t n, cap;
};

struct scan_ctx {
	enum fmt fmt;
	int quiet;
	FILE *out;
	cJSON *sarif_results;
	uint64_t findings;
	struct ledger_cache *ledger;
	pthread_mutex_t ledger_mu;
	char *path_raw, *path_red;   /* the last finding's path, and as shown */
	struct line line;            /* the finding being written */
	struct line head;            /* its JSON up to the path (json_head) */
	const char *head_rule;       /* whose head that is, for */
	unsigned path_gen, head_gen; /* which path_shown() */
};

static const char scan_help[] =
	"usage: tokenward scan [OPTIONS] [PATH...|-]\n\n"
	"Scan files, directories (recursively), gzip files and standard input\n"
	"('-', or no PATH) for tokens. Findings are redacted: rule, at most 6\n"
	"characters, SHA-256 of the secret. Exit 0: none; 1: found; 2: error.\n"
	"Only regular files are read: a FIFO or device named here is an error, one\n"
	"met in a directory is skipped and counted; pipe such data in on '-'.\n\n"
	"A bound that may have cost findings (a PCRE2 limit, a candidate longer than\n"
	"its rule allows) is reported on stderr, and in JSON as a last line\n"
	"{\"coverage\":{...}} (SARIF: the run's invocation).\n\n"
	"  --format FMT     text (default), json (one object per line) or sarif\n"
	"  --rules DIR      also load DIR/*.yaml rules (add or override; repeatable)\n"
	"  --ledger PATH    look findings up in the ledger: managed tokens get their id,\n"
	"                   and registered opaque tokens are found by length and hash\n"
	"  --no-validate    also report tokens whose checksum fails\n"
	"  --no-decode      scan the raw bytes only: no percent, JSON-escape, base64 or\n"
	"                   HTML-entity views (a finding from one says \"decoded\")\n"
	"  --binary         scan files that look binary (NUL in the first 8 KiB)\n"
	"  --threads N      scanning threads (default: one per CPU)\n"
	"  --chunk SIZE     bytes per piece (default 4M)\n"
	"  --flood-cap N    list at most N distinct unmanaged secrets of one rule per\n"
	"                   piece, count the rest (default 1000; 0: list every one);\n"
	"                   managed tokens are always listed\n"
	"  --stats          print bytes, time and throughput to stderr\n"
	"  -q, --quiet      do not report skipped files on stderr\n"
	"  -h, --help       this text\n";

/* The ledger cache is single-threaded; scan workers call this concurrently. */
static int ledger_known(void *vctx, const unsigned char sha[32], long long *token_id)
{
	struct scan_ctx *c = vctx;
	const struct ledger_token *t;

	pthread_mutex_lock(&c->ledger_mu);
	t = ledger_cache_lookup(c->ledger, sha);
	if (t)
		*token_id = strtoll(t->id + 3, NULL, 16); /* "tk-" + 12 hex */
	pthread_mutex_unlock(&c->ledger_mu);
	return t != NULL;
}

static void ledger_id(struct scan_ctx *c, const unsigned char sha[32], char *out, size_t outsz)
{
	const struct ledger_token *t;

	pthread_mutex_lock(&c->ledger_mu);
	t = ledger_cache_lookup(c->ledger, sha);
	snprintf(out, outsz, "%s", t ? t->id : "");
	pthread_mutex_unlock(&c->ledger_mu);
}

/* Whether the ledger knows the secret, in JSON lines and SARIF alike. */
static void add_managed(cJSON *o, int known, const char *id, const char *red)
{
	cJSON_AddBoolToObject(o, "managed", known);
	if (known)
		cJSON_AddStringToObject(o, "token_id", id);
	else
		cJSON_AddNullToObject(o, "token_id");
	cJSON_AddStringToObject(o, "redacted", red);
}

static const char *sarif_level(int sev)
{
	return sev >= SEV_HIGH ? "error" : sev == SEV_MEDIUM ? "warning" : "note";
}

/*
 * Text and JSON lines are built in one buffer and written with one call,
 * not as a cJSON object and printf: on finding-dense hostile input
 * (issue 13) a cJSON object per finding, with its allocations and its
 * printf/sscanf round trip per number, cost ten times the detection. The
 * bytes are the same as cJSON_PrintUnformatted's: keys in the same
 * order, strings escaped the same way.
 */
/* Room for need more bytes; 0, or -ENOMEM. */
static int line_room(struct line *l, size_t need)
{
	if (l->n + need <= l->cap)
		return 0;
	size_t cap = (l->n + need) * 2;
	char *np = realloc(l->p, cap);
	if (!np)
		return -ENOMEM;
	l->p = np;
	l->cap = cap;
	return 0;
}

/* Callers made room: line_room(l, line_bound(...)). */
static void put(struct line *l, const char *s, size_t n)
{
	memcpy(l->p + l->n, s, n);
	l->n += n;
}
#define PUT_LIT(l, s) put(l, s, sizeof(s) - 1)

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_u64(struct line *l, uint64_t v)
{
	static const char d2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				 "8081828384858687888990919293949596979899";
	char d[24];
	int n = (int)sizeof(d);

	/* two digits a step: four numbers a line, a million lines */
	for (; v >= 100; v /= 100) {
		n -= 2;
		memcpy(d + n, d2 + 2 * (v % 100), 2);
	}
	if (v >= 10) {
		n -= 2;
		memcpy(d + n, d2 + 2 * v, 2);
	} else {
		d[--n] = (char)('0' + v);
	}
	put(l, d + n, sizeof(d) - (size_t)n);
}

/* For each byte, what follows the backslash that escapes it in JSON
 * (cJSON's choices), 'u' for \u00XX, 0 for none. */
static const unsigned char json_esc[256] = {
	[0 ... 7] = 'u', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', [11] = 'u', ['\f'] = 'f', ['\r'] = 'r',
	[14 ... 31] = 'u', ['"'] = '"', ['\\'] = '\\',
};

/* A JSON string as cJSON prints it: ", \ and control bytes escaped, the
 * rest as is. At most 6 bytes per byte of s, plus 2. */
static void put_json_str(struct line *l, const char *s)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *esc = json_esc, *q = (const unsigned char *)s;
	char *o = l->p + l->n;

	*o++ = '"';
	for (; *q; q++) {
		unsigned char e = esc[*q];

		if (!e) {
			*o++ = (char)*q;
			continue;
		}
		*o++ = '\\';
		*o++ = (char)e;
		if (e == 'u') {
			*o++ = '0';
			*o++ = '0';
			*o++ = hx[*q >> 4];
			*o++ = hx[*q & 15];
		}
	}
	*o++ = '"';
	l->n = (size_t)(o - l->p);
}

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

/* An upper bound on a finding's line: every string escaped at its worst,
 * and the fixed part. */
static size_t line_bound(const struct detect_match *m, const char *path, const char *id, const char *red)
{
	return 6 * (slen(m->rule_id) + slen(m->rule_name) + slen(path) + slen(id) + slen(red) + slen(m->decoded)) +
	       512;
}

/* A finding's line up to its path: the same for every finding of one
 * rule in one file, so built once for the pair and copied. */
static int json_head(struct scan_ctx *c, const struct detect_match *m, const char *path)
{
	struct line *h = &c->head;

	if (c->head_rule == m->rule_id && c->head_gen == c->path_gen)
		return 0;
	h->n = 0;
	if (line_room(h, line_bound(m, path, "", "")))
		return -ENOMEM;
	PUT_LIT(h, "{\"rule\":");
	put_json_str(h, m->rule_id);
	PUT_LIT(h, ",\"rule_name\":");
	put_json_str(h, m->rule_name);
	PUT_LIT(h, ",\"severity\":");
	put_json_str(h, rules_severity_name(m->severity));
	PUT_LIT(h, ",\"path\":");
	put_json_str(h, path);
	c->head_rule = m->rule_id;
	c->head_gen = c->path_gen;
	return 0;
}

static void finding_json(struct scan_ctx *c, const struct scan_finding *f, const char *fp, const char *id,
			 const char *red)
{
	const struct detect_match *m = f->m;
	struct line *l = &c->line;

	put(l, c->head.p, c->head.n);
	PUT_LIT(l, ",\"line\":");
	put_u64(l, f->line);
	PUT_LIT(l, ",\"column\":");
	put_u64(l, f->column);
	PUT_LIT(l, ",\"offset\":");
	put_u64(l, f->offset);
	PUT_LIT(l, ",\"length\":");
	put_u64(l, m->len);
	PUT_LIT(l, ",\"sha256\":\"");
	put(l, fp, 64);
	if (m->known) {
		PUT_LIT(l, "\",\"managed\":true,\"token_id\":");
		put_json_str(l, id);
	} else {
		PUT_LIT(l, "\",\"managed\":false,\"token_id\":null");
	}
	PUT_LIT(l, ",\"redacted\":");
	put_json_str(l, red);
	if (m->checksum_valid > 0)
		PUT_LIT(l, ",\"checksum\":\"valid\"");
	else if (m->checksum_valid < 0)
		PUT_LIT(l, ",\"checksum\":\"invalid\"");
	else
		PUT_LIT(l, ",\"checksum\":\"none\"");
	if (m->decoded) { /* offset/line/column are the encoded run's */
		PUT_LIT(l, ",\"decoded\":");
		put_json_str(l, m->decoded);
		PUT_LIT(l, ",\"encoded_length\":");
		put_u64(l, m->raw_len);
	}
	PUT_LIT(l, "}\n");
}

/* PATH:LINE:COL: RULE REDACTED sha256:HEX managed ID|unmanaged[ decoded:CHAIN] */
static void finding_text(struct line *l, const struct scan_finding *f, const char *path, const char *fp,
			 const char *id, const char *red)
{
	const struct detect_match *m = f->m;

	put_str(l, path);
	l->p[l->n++] = ':';
	put_u64(l, f->line);
	l->p[l->n++] = ':';
	put_u64(l, f->column);
	PUT_LIT(l, ": ");
	put_str(l, m->rule_id);
	l->p[l->n++] = ' ';
	put_str(l, red);
	PUT_LIT(l, " sha256:");
	put(l, fp, 64);
	if (m->known) {
		PUT_LIT(l, " managed ");
		put_str(l, id);
	} else {
		PUT_LIT(l, " unmanaged");
	}
	if (m->decoded) {
		PUT_LIT(l, " decoded:");
		put_str(l, m->decoded);
	}
	l->p[l->n++] = '\n';
}

/* A file name may hold a token too: every format shows it redacted. One
 * file's findings share its name, so it is redacted once per file. */
static const char *path_shown(struct scan_ctx *c, const char *path)
{
	if (c->path_raw && !strcmp(c->path_raw, path))
		return c->path_red ? c->path_red : "?";
	free(c->path_raw);
	free(c->path_red);
	c->path_gen++;
	c->path_raw = strdup(path);
	c->path_red = redact_text(path, strlen(path));
	return c->path_red ? c->path_red : "?";
}

static int on_finding(void *vctx, const struct scan_finding *f)
{
	struct scan_ctx *c = vctx;
	const struct detect_match *m = f->m;
	char fp[65], red[64], id[64] = "";
	const char *p;

	c->findings++;
	sha256_to_hex(m->sha256, fp);
	redact_short(f->secret, m->len, red, sizeof(red));
	if (m->known && c->ledger)
		ledger_id(c, m->sha256, id, sizeof(id));
	if (m->known && !id[0])
		snprintf(id, sizeof(id), "%lld", m->token_id);
	p = path_shown(c, f->path);
	if (c->fmt != FMT_SARIF) {
		c->line.n = 0;
		if (line_room(&c->line, line_bound(m, p, id, red)))
			return -ENOMEM;
		if (c->fmt == FMT_JSON) {
			if (json_head(c, m, p))
				return -ENOMEM;
			finding_json(c, f, fp, id, red);
		} else
			finding_text(&c->line, f, p, fp, id, red);
		fwrite_unlocked(c->line.p, 1, c->line.n, c->out);
		return 0;
	}
	cJSON *o = cJSON_CreateObject();
	/* SARIF 2.1.0 result */
	char msg[256];
	snprintf(msg, sizeof(msg), "%s: %s (sha256:%s)%s%s", m->rule_name, red, fp,
		 m->known ? ", managed token " : "", m->known ? id : "");
	cJSON_AddStringToObject(o, "ruleId", m->rule_id);
	cJSON_AddStringToObject(o, "level", sarif_level(m->severity));
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "message"), "text", msg);
	cJSON *loc = cJSON_CreateObject(), *phys = cJSON_AddObjectToObject(loc, "physicalLocation");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(phys, "artifactLocation"), "uri", p);
	cJSON *region = cJSON_AddObjectToObject(phys, "region");
	cJSON_AddNumberToObject(region, "startLine", (double)f->line);
	cJSON_AddNumberToObject(region, "startColumn", (double)f->column);
	cJSON_AddNumberToObject(region, "byteOffset", (double)f->offset);
	cJSON_AddNumberToObject(region, "byteLength", (double)m->raw_len);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "locations"), loc);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "partialFingerprints"), "sha256", fp);
	cJSON *props = cJSON_AddObjectToObject(o, "properties");
	add_managed(props, m->known, id, red);
	if (m->decoded)
		cJSON_AddStringToObject(props, "decoded", m->decoded);
	cJSON_AddItemToArray(c->sarif_results, o);
	return 0;
}

static void on_notice(void *vctx, const char *path, int error, const char *msg)
{
	struct scan_ctx *c = vctx;
	char *p;

	if (c->quiet && !error)
		return;
	p = redact_text(path, strlen(path));
	fprintf(stderr, "tokenward scan: %s: %s%s\n", p ? p : "?", error ? "error: " : "", msg);
	free(p);
}

/* Bounds that may have cost findings: said on stderr in every format,
 * and in the output itself (a JSON line; SARIF's invocation). */
static void coverage_print(struct scan_ctx *c, const struct detect_stats *ds)
{
	char line[1024];
	cJSON *o;

	if (!detect_coverage_losses(ds))
		return;
	detect_coverage_text(ds, line, sizeof(line));
	/* collapsed repeats cost places, not secrets: say which it is */
	fprintf(stderr, "tokenward scan: coverage: %s; %s\n", line,
		detect_coverage_losses(ds) == ds->repeats_collapsed ? "every secret found was reported"
								      : "findings there may be missing");
	/* a flood that is summarised says so, and how to see all of it */
	if (ds->findings_capped)
		fprintf(stderr, "tokenward scan: warning: a flood of findings: %llu unmanaged secrets were counted, "
			"not listed; --flood-cap 0 lists every one\n", (unsigned long long)ds->findings_capped);
	if (c->fmt != FMT_JSON)
		return;
	o = cJSON_CreateObject();
	cJSON *cov = cJSON_AddObjectToObject(o, "coverage");
	cJSON_AddBoolToObject(cov, "complete", 0);
	detect_coverage_json(ds, cov);
	cmd_print_json(c->out, o, 0);
	cJSON_Delete(o);
}

static void sarif_invocation(cJSON *run, const struct detect_stats *ds)
{
	cJSON *inv = cJSON_CreateObject(), *props;
	char line[1024];

	cJSON_AddBoolToObject(inv, "executionSuccessful", 1);
	if (detect_coverage_losses(ds)) {
		cJSON *n = cJSON_CreateObject();
		detect_coverage_text(ds, line, sizeof(line));
		cJSON_AddStringToObject(n, "level", "warning");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(n, "message"), "text", line);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(inv, "toolExecutionNotifications"), n);
	}
	props = cJSON_AddObjectToObject(cJSON_AddObjectToObject(inv, "properties"), "coverage");
	cJSON_AddBoolToObject(props, "complete", !detect_coverage_losses(ds));
	detect_coverage_json(ds, props);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(run, "invocations"), inv);
}

static void sarif_print(struct scan_ctx *c, const struct ruleset *rs, const struct detect_stats *ds)
{
	cJSON *doc = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(doc, "runs");
	cJSON *run = cJSON_CreateObject(), *driver, *rules;

	cJSON_AddStringToObject(doc, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
	cJSON_AddStringToObject(doc, "version", "2.1.0");
	driver = cJSON_AddObjectToObject(cJSON_AddObjectToObject(run, "tool"), "driver");
	cJSON_AddStringToObject(driver, "name", "tokenward");
	cJSON_AddStringToObject(driver, "informationUri", "https://example.invalid/tokenward");
	rules = cJSON_AddArrayToObject(driver, "rules");
	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", r->id);
		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "shortDescription"), "text", r->name);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "defaultConfiguration"), "level",
					sarif_level(r->severity));
		cJSON_AddItemToArray(rules, o);
	}
	cJSON *op = cJSON_CreateObject();
	cJSON_AddStringToObject(op, "id", DETECT_OPAQUE_RULE);
	cJSON_AddStringToObject(op, "name", "Registered opaque token");
	cJSON_AddItemToArray(rules, op);
	cJSON_AddItemToObject(run, "results", c->sarif_results);
	c->sarif_results = NULL;
	sarif_invocation(run, ds);
	cJSON_AddItemToArray(runs, run);
	cmd_print_json(c->out, doc, 1);
	cJSON_Delete(doc);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* stdout's buffer: static, as it must outlive every write to stdout */
static char outbuf[256 << 10];

/* What the command line asked for, apart from the output's (scan_ctx). */
struct scan_args {
	struct scan_opts so;
	char *dirs[MAX_RULE_DIRS];
	size_t ndirs;
	const char *ledger_path;
	int stats;
	char **paths;
	int npaths;
};

/* A number option: 0, or -1 when optarg is not lo..hi. */
static int scan_number(const char *optarg, unsigned long long lo, unsigned long long hi, unsigned long long *v)
{
	char *end;

	if (!*optarg || *optarg == '-')
		return -1;
	*v = strtoull(optarg, &end, 10);
	return *end || *v < lo || *v > hi ? -1 : 0;
}

/* One option: -1 to go on, else the exit code. */
static int scan_opt(int opt, char **argv, struct scan_args *a, struct scan_ctx *c)
{
	unsigned long long n;
	uint64_t v;

	switch (opt) {
	case 'f':
		if (!strcmp(optarg, "text"))
			c->fmt = FMT_TEXT;
		else if (!strcmp(optarg, "json"))
			c->fmt = FMT_JSON;
		else if (!strcmp(optarg, "sarif"))
			c->fmt = FMT_SARIF;
		else
			return cmd_usage_error("scan", "--format must be text, json or sarif");
		return -1;
	case 'r':
		if (a->ndirs == MAX_RULE_DIRS)
			return cmd_usage_error("scan", "too many --rules");
		a->dirs[a->ndirs++] = optarg;
		return -1;
	case 'L': a->ledger_path = optarg; return -1;
	case 'N': a->so.flags |= DETECT_KEEP_INVALID; return -1;
	case 'D': a->so.flags |= DETECT_NO_VIEWS; return -1;
	case 'b': a->so.binary = 1; return -1;
	case 't':
		if (scan_number(optarg, 1, 64, &n))
			return cmd_usage_error("scan", "--threads must be 1 to 64");
		a->so.threads = (unsigned)n;
		return -1;
	case 'c':
		if (util_parse_size(optarg, &v) || v < 1024 || v > (1u << 30))
			return cmd_usage_error("scan", "--chunk must be a size from 1K to 1G");
		a->so.chunk = v;
		return -1;
	case 'F':
		if (scan_number(optarg, 0, 100000000ULL, &n))
			return cmd_usage_error("scan", "--flood-cap must be 0 to 100000000");
		a->so.flood_cap = n ? (size_t)n : SCAN_FLOOD_CAP_OFF;
		return -1;
	case 'S': a->stats = 1; return -1;
	case 'q': c->quiet = 1; return -1;
	case 'h': fputs(scan_help, stdout); return 0;
	default: return cmd_opt_error("scan", argv, opt);
	}
}

/* The options, the paths (standard input without any) and the rule
 * directories (the config's rules_dirs without --rules, as the
 * monitor's): -1 to go on, else the exit code. */
static int scan_parse_args(int argc, char **argv, struct scan_args *a, struct scan_ctx *c)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "rules", required_argument, NULL, 'r' },
		{ "ledger", required_argument, NULL, 'L' },
		{ "no-validate", no_argument, NULL, 'N' },
		{ "no-decode", no_argument, NULL, 'D' },
		{ "binary", no_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "flood-cap", required_argument, NULL, 'F' },
		{ "stats", no_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static char *stdin_only[] = { "-" };
	int opt, r;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "qh", opts, NULL)) != -1)
		if ((r = scan_opt(opt, argv, a, c)) >= 0)
			return r;
	a->paths = optind < argc ? argv + optind : stdin_only;
	a->npaths = optind < argc ? argc - optind : 1;
	if (a->ndirs == 0) {
		char *const *cd = cmd_default_rules_dirs("scan");

		if (!cd)
			return EXIT_USAGE;
		for (; *cd && a->ndirs < MAX_RULE_DIRS; cd++)
			a->dirs[a->ndirs++] = *cd;
	}
	return -1;
}

/* The rules, the scanner and (--ledger) the ledger it looks findings up
 * in, every registered length included. 0, or the exit code. */
static int scan_open(struct scan_args *a, struct scan_ctx *c, struct ruleset **rs, struct scanner **sc)
{
	char err[1024];
	size_t nlen;
	const uint32_t *lens;

	if (rules_load_with_dirs(rs, a->dirs, a->ndirs, err, sizeof(err)))
		goto fail;
	if (!(*sc = scanner_new(*rs, &a->so, err, sizeof(err))))
		goto fail;
	if (!a->ledger_path)
		return 0;
	if (ledger_cache_open(a->ledger_path, LEDGER_OPEN_RDONLY, &c->ledger, err, sizeof(err)))
		goto fail;
	pthread_mutex_init(&c->ledger_mu, NULL);
	lens = ledger_cache_lengths(c->ledger, &nlen);
	scanner_set_known(*sc, ledger_known, c, lens, nlen);
	return 0;
fail:
	cmd_error("scan", "%s", err);
	return EXIT_USAGE;
}

static void scan_print_stats(const struct scan_stats *st, double dt)
{
	const struct detect_stats *d = &st->det;

	fprintf(stderr, "tokenward scan: %llu files, %llu bytes, %llu findings, %llu skipped, %llu errors, "
		"%.3f s, %.1f MiB/s; %llu regex limit hits, %llu too long, %llu rule suspensions, "
		"%llu keyword hits skipped\n", (unsigned long long)st->files, (unsigned long long)st->bytes,
		(unsigned long long)st->findings, (unsigned long long)st->skipped,
		(unsigned long long)st->errors, dt, dt > 0 ? st->bytes / dt / (1 << 20) : 0,
		(unsigned long long)d->limit_hits, (unsigned long long)d->too_long,
		(unsigned long long)d->rules_suspended, (unsigned long long)d->skipped_hits);
	fprintf(stderr, "tokenward scan: decoded views: %llu views, %llu bytes, %llu findings, "
		"%llu duplicates dropped, %llu runs cut, %llu budget hits, %llu depth hits, "
		"%llu skipped (nothing to find)\n",
		(unsigned long long)d->views, (unsigned long long)d->view_bytes,
		(unsigned long long)d->view_findings, (unsigned long long)d->view_dups,
		(unsigned long long)d->view_cut, (unsigned long long)d->view_budget,
		(unsigned long long)d->view_depth, (unsigned long long)d->views_skipped);
}

/* Every path scanned and the findings written; the closing coverage (and
 * SARIF's whole document) after them. Errors are counted in st. */
static void scan_run(struct scan_ctx *c, const struct scan_args *a, struct scanner *sc, const struct ruleset *rs,
		     struct scan_stats *st)
{
	double t0 = now_s();
	int rc = 0;

	if (c->fmt == FMT_SARIF)
		c->sarif_results = cJSON_CreateArray();
	/* A finding-dense input writes several times its size: one write per
	 * 256 KiB, not per 4 KiB page (stdio's default for a file). A
	 * terminal keeps its line buffering. */
	if (!isatty(fileno(c->out)))
		setvbuf(c->out, outbuf, _IOFBF, sizeof(outbuf)); /* glibc ignores a size without a buffer */
	for (int i = 0; i < a->npaths && !rc; i++)
		rc = scanner_scan_path(sc, a->paths[i], on_finding, on_notice, c);
	scanner_stats(sc, st);
	if (rc < 0) { /* on_finding out of memory: the rest was not scanned */
		fprintf(stderr, "tokenward scan: error: %s; scan stopped\n", strerror(-rc));
		st->errors++;
	}
	if (c->fmt == FMT_SARIF)
		sarif_print(c, rs, &st->det);
	coverage_print(c, &st->det);
	if (fflush(c->out) || ferror(c->out)) {
		fprintf(stderr, "tokenward scan: writing output: %s\n", strerror(errno));
		st->errors++;
	}
	if (a->stats)
		scan_print_stats(st, now_s() - t0);
}

static void scan_ctx_release(struct scan_ctx *c)
{
	cJSON_Delete(c->sarif_results);
	free(c->path_raw);
	free(c->path_red);
	free(c->line.p);
	free(c->head.p);
	if (c->ledger) {
		ledger_cache_close(c->ledger);
		pthread_mutex_destroy(&c->ledger_mu);
	}
}

int cmd_scan(int argc, char **argv)
{
	struct scan_ctx c = { .fmt = FMT_TEXT, .out = stdout };
	struct scan_args a = { 0 };
	struct scan_stats st = { 0 };
	struct ruleset *rs = NULL;
	struct scanner *sc = NULL;
	int rc;

	if ((rc = scan_parse_args(argc, argv, &a, &c)) >= 0)
		return rc;
	if (!(rc = scan_open(&a, &c, &rs, &sc))) {
		scan_run(&c, &a, sc, rs, &st);
		rc = c.findings ? 1 : st.errors ? EXIT_USAGE : 0;
	}
	scanner_free(sc);
	rules_free(rs);
	scan_ctx_release(&c);
	return rc;
}
