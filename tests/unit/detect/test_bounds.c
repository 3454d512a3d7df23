/* Tests for the detector's bounds (user/detect/detect.c): every token the
 * ledger accepts is found whole (large JWTs, JWT headers of any size),
 * every bound that costs a finding is counted (PCRE2 limits, a match
 * longer than its rule's max_len, a rule that sat out the rest of a
 * buffer), a catastrophic custom rule costs a bounded amount of work,
 * and hostile keyword-dense text still gives up the real tokens planted
 * in it. Assertions are on findings and counters, never on wall time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "detect/coverage.h"
#include "detect/detect.h"
#include "detect/redact.h"
#include "detect/rules.h"
#include "detect/scan.h"
#include "tokmint.h"

/* The longest token `ledger register` reads from standard input
 * (user/cli/cmd_ledger.c STDIN_TOKEN_MAX is 64 KiB, trailing newline
 * included). */
#define REGISTER_MAX 65535

#define MAXF 65536

struct found {
	struct detect_match m[MAXF];
	size_t n;
};

static int collect(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct found *f = ctx;
	(void)buf;
	(void)len;
	if (f->n < MAXF)
		f->m[f->n++] = *m;
	return 0;
}

static struct ruleset *rs;

static int setup(void **state)
{
	char err[256];
	(void)state;
	return rules_load_builtin(&rs, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	rules_free(rs);
	return 0;
}

static struct detector *newdet(const struct ruleset *set)
{
	char err[256];
	struct detector *d = detector_new(set, err, sizeof(err));
	if (!d)
		fail_msg("detector_new: %s", err);
	return d;
}

static void sha(const void *p, size_t n, unsigned char out[32])
{
	unsigned l = 32;
	EVP_Digest(p, n, out, &l, EVP_sha256(), NULL);
}

static struct found *scan(struct detector *d, const void *text, size_t n)
{
	static struct found f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(detector_scan(d, text, n, collect, &f), 0);
	return &f;
}

static struct found *scan_cut(struct detector *d, const void *text, size_t n)
{
	static struct found f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(detector_scan_cut(d, text, n, collect, &f), 0);
	return &f;
}

struct known1 {
	unsigned char sha[32];
};

static int known_cb(void *ctx, const unsigned char s[32], long long *id)
{
	struct known1 *k = ctx;
	if (memcmp(k->sha, s, 32))
		return 0;
	*id = 42;
	return 1;
}

/* A JWT of exactly n bytes (n >= 120): header `hdr` (JSON), a payload
 * padded with random hex, a random signature. Malloc'd. */
static char *mint_jwt_hdr(size_t n, const char *hdr)
{
	char *out = malloc(n + 1), *json = malloc(n + 1);
	unsigned char sig[40], r[16];
	size_t hl, base, P = 0, m = 0, o;
	unsigned sb;

	assert_non_null(out);
	assert_non_null(json);
	hl = (strlen(hdr) * 4 + 2) / 3;
	tm_rand(r, sizeof(r));
	base = (size_t)snprintf(json, n, "{\"sub\":\"agent\",\"jti\":\"%02x%02x%02x%02x%02x%02x%02x%02x\","
				"\"exp\":1900000000,\"pad\":\"", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	/* a base64url length of 1 mod 4 does not exist: pick the signature
	 * size that leaves the payload one that does */
	for (sb = 32; sb < 36; sb++) {
		P = n - hl - 2 - (sb * 4 + 2) / 3;
		if (P % 4 != 1)
			break;
	}
	m = P * 3 / 4;
	assert_true(m > base + 2);
	for (size_t i = base; i < m - 2; i++)
		json[i] = "0123456789abcdef"[(r[i % 16] + i * 7) & 15];
	memcpy(json + m - 2, "\"}", 2);
	o = tm_b64url(hdr, strlen(hdr), out);
	out[o++] = '.';
	o += tm_b64url(json, m, out + o);
	out[o++] = '.';
	tm_rand(sig, sb);
	o += tm_b64url(sig, sb, out + o);
	assert_int_equal(o, n);
	free(json);
	return out;
}

static char *mint_jwt(size_t n)
{
	return mint_jwt_hdr(n, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
}

/* text = pre + tok + post, malloc'd */
static char *wrap(const char *pre, const char *tok, const char *post, size_t *len)
{
	size_t a = strlen(pre), b = strlen(tok), c = strlen(post);
	char *t = malloc(a + b + c + 1);
	assert_non_null(t);
	memcpy(t, pre, a);
	memcpy(t + a, tok, b);
	memcpy(t + a + b, post, c + 1);
	*len = a + b + c;
	return t;
}

/* Exactly one finding, of rule `rule`, the whole token, its hash, known. */
static void assert_one_whole(struct detector *d, const char *text, size_t len, const char *tok,
			     size_t at, const char *rule)
{
	struct known1 k;
	struct found *f;
	size_t n = strlen(tok);

	sha(tok, n, k.sha);
	detector_set_known(d, known_cb, &k, NULL, 0);
	f = scan(d, text, len);
	if (f->n != 1)
		fail_msg("%zu-byte token: %zu findings, want 1", n, f->n);
	assert_string_equal(f->m[0].rule_id, rule);
	assert_int_equal(f->m[0].start, at);
	assert_int_equal(f->m[0].len, n);
	assert_memory_equal(f->m[0].sha256, k.sha, 32);
	assert_int_equal(f->m[0].known, 1);
	assert_int_equal(f->m[0].token_id, 42);
}

/* Issue 13 defect 1: `ledger register` takes a JWT of up to 64 KiB; the
 * JWT rule saw at most 16 KiB, so a 16.5 KB token was reported cut short
 * (wrong hash, unmanaged) and a 27 KB one not at all. */
static void test_large_jwt_found_whole(void **state)
{
	struct detector *d = newdet(rs);
	size_t sizes[] = { 1000, 16500, 16448, 16449, 27000, 40000, REGISTER_MAX };
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *tok = mint_jwt(sizes[i]), *text;
		size_t len;

		text = wrap("id_token=", tok, "\nnext line\n", &len);
		assert_one_whole(d, text, len, tok, 9, "jwt");
		free(text);
		/* in a Bearer header the JWT rule wins over the generic one */
		text = wrap("GET / HTTP/1.1\r\nAuthorization: Bearer ", tok, "\r\n\r\n", &len);
		assert_one_whole(d, text, len, tok, 38, "jwt");
		free(text);
		/* at the very start and end of the buffer */
		assert_one_whole(d, tok, strlen(tok), tok, 0, "jwt");
		free(tok);
	}
	detector_free(d);
}

/* A JWT header may itself be large (an x5c certificate chain): the JWT
 * check must read all of it, as `ledger register` does. */
static void test_large_jwt_header(void **state)
{
	struct detector *d = newdet(rs);
	size_t hn = 6000;
	char *hdr = malloc(hn + 64), *tok, *text;
	size_t len, o;
	(void)state;
	o = (size_t)sprintf(hdr, "{\"typ\":\"JWT\",\"x5c\":[\"");
	for (; o < hn; o++)
		hdr[o] = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"[o % 44];
	strcpy(hdr + o, "\"],\"alg\":\"RS256\"}");
	tok = mint_jwt_hdr(12000, hdr);
	text = wrap("token: ", tok, " ok", &len);
	assert_one_whole(d, text, len, tok, 7, "jwt");
	free(text);
	free(tok);
	free(hdr);
	detector_free(d);
}

/* JSON with white space after the brace is a JWT header and payload all
 * the same (`ledger register` parses it), and so is an empty claims set. */
static void test_jwt_json_whitespace(void **state)
{
	struct detector *d = newdet(rs);
	const char *hdrs[] = { "{\n  \"alg\": \"RS256\",\n  \"typ\": \"JWT\"\n}", "{ \"alg\": \"ES256\" }",
			       "{\t\"alg\":\"none\"}", "{\r\n\"alg\":\"HS256\"}" };
	(void)state;
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		char *tok = mint_jwt_hdr(300 + i * 111, hdrs[i]), *text;
		size_t len;

		text = wrap("jwt=", tok, ";", &len);
		assert_one_whole(d, text, len, tok, 4, "jwt");
		free(text);
		free(tok);
	}
	/* header.{}.signature */
	char tok[256];
	size_t o = tm_b64url("{\"alg\":\"EdDSA\"}", 15, tok);
	tok[o++] = '.';
	o += tm_b64url("{}", 2, tok + o);
	tok[o++] = '.';
	unsigned char sig[64];
	tm_rand(sig, sizeof(sig));
	tm_b64url(sig, sizeof(sig), tok + o);
	size_t len;
	char *text = wrap("a ", tok, " b", &len);
	assert_one_whole(d, text, len, tok, 2, "jwt");
	free(text);
	detector_free(d);
}

/* An opaque token is found by its registered length: every length that
 * `ledger register` accepts, not only up to 4 KiB. */
static void test_long_opaque_token_found(void **state)
{
	struct detector *d = newdet(rs);
	size_t lens_try[] = { 4097, 20000, REGISTER_MAX };
	(void)state;
	for (size_t t = 0; t < 3; t++) {
		size_t n = lens_try[t], len;
		char *tok = malloc(n + 1), *text;
		unsigned char r[256];
		unsigned lens[] = { 43, (unsigned)n };
		struct known1 k;
		struct found *f;

		for (size_t i = 0; i < n; i += sizeof(r)) {
			tm_rand(r, sizeof(r));
			for (size_t j = 0; j < sizeof(r) && i + j < n; j++)
				tok[i + j] = tm_b64u[r[j] & 63];
		}
		tok[n] = 0;
		sha(tok, n, k.sha);
		detector_set_known(d, known_cb, &k, lens, 2);
		text = wrap("session=", tok, "; ok", &len);
		f = scan(d, text, len);
		assert_int_equal(f->n, 1);
		assert_string_equal(f->m[0].rule_id, DETECT_OPAQUE_RULE);
		assert_int_equal(f->m[0].start, 8);
		assert_int_equal(f->m[0].len, n);
		assert_int_equal(f->m[0].known, 1);
		free(text);
		free(tok);
	}
	detector_free(d);
}

/* A stream scanned in overlapping pieces (scan.c): the largest JWT is
 * found once, whole, wherever the piece boundaries fall. */
struct sfound {
	size_t n;
	uint64_t offset;
	size_t len;
	unsigned char sha[32];
	int known;
};

static int on_sfinding(void *ctx, const struct scan_finding *f)
{
	struct sfound *s = ctx;
	s->n++;
	s->offset = f->offset;
	s->len = f->m->len;
	memcpy(s->sha, f->m->sha256, 32);
	s->known = f->m->known;
	return 0;
}

static void test_large_jwt_across_pieces(void **state)
{
	char *tok = mint_jwt(REGISTER_MAX), path[] = "/tmp/tw-test-bounds-XXXXXX";
	size_t n = 5u << 20, at[] = { 1000, (4u << 20) - 30000, (1u << 20) - 7 };
	char *text = malloc(n);
	struct known1 k;
	(void)state;
	sha(tok, REGISTER_MAX, k.sha);
	for (size_t c = 0; c < 2; c++) {
		size_t chunks[] = { 1u << 20, 0 }; /* 1 MiB pieces, and the default */
		for (size_t a = 0; a < sizeof(at) / sizeof(at[0]); a++) {
			struct scan_opts o = { .threads = 2, .chunk = chunks[c] };
			struct sfound s = { 0 };
			char err[256];
			struct scanner *sc;
			int fd;

			for (size_t i = 0; i < n; i++)
				text[i] = "log line, nothing here\n"[i % 23];
			memcpy(text + at[a], tok, REGISTER_MAX);
			text[at[a] - 1] = '=';
			text[at[a] + REGISTER_MAX] = '\n';
			fd = mkstemp(path);
			assert_true(fd >= 0);
			assert_int_equal(write(fd, text, n), (ssize_t)n);
			assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
			sc = scanner_new(rs, &o, err, sizeof(err));
			assert_non_null(sc);
			scanner_set_known(sc, known_cb, &k, NULL, 0);
			assert_int_equal(scanner_scan_fd(sc, fd, "x", on_sfinding, NULL, &s), 0);
			assert_int_equal(s.n, 1);
			assert_int_equal(s.offset, at[a]);
			assert_int_equal(s.len, REGISTER_MAX);
			assert_memory_equal(s.sha, k.sha, 32);
			assert_int_equal(s.known, 1);
			scanner_free(sc);
			close(fd);
			unlink(path);
			strcpy(path, "/tmp/tw-test-bounds-XXXXXX");
		}
	}
	free(text);
	free(tok);
}

/* Findings crowded on one long line (hostile output can be one line of
 * tokens): each gets its line and column. The column of each came from
 * searching back to the start of its piece, which made such a line
 * quadratic; it is now one sweep. */
struct linecol {
	size_t n;
	uint64_t line[4096], col[4096], off[4096];
};

static int on_linecol(void *ctx, const struct scan_finding *f)
{
	struct linecol *lc = ctx;
	if (lc->n < 4096) {
		lc->line[lc->n] = f->line;
		lc->col[lc->n] = f->column;
		lc->off[lc->n] = f->offset;
		lc->n++;
	}
	return 0;
}

static void test_findings_on_one_long_line(void **state)
{
	static struct linecol lc;
	char path[] = "/tmp/tw-test-lines-XXXXXX", tok[48];
	size_t n = 3000, o = 0, cap = n * 45 + 64;
	char *text = malloc(cap);
	/* every finding listed: 3000 distinct tokens are past the flood bound */
	struct scan_opts so = { .threads = 2, .chunk = 16384, .flood_cap = SCAN_FLOOD_CAP_OFF };
	struct scanner *sc;
	char err[256];
	int fd;
	(void)state;
	memset(&lc, 0, sizeof(lc));
	o += (size_t)sprintf(text, "first line\n");
	for (size_t i = 0; i < n; i++) {
		if (i == 2000)
			text[o++] = '\n'; /* the last thousand on a third line */
		tm_github(tok, "ghp_");
		o += (size_t)sprintf(text + o, "%s ", tok);
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, o), (ssize_t)o);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	sc = scanner_new(rs, &so, err, sizeof(err));
	assert_non_null(sc);
	assert_int_equal(scanner_scan_fd(sc, fd, "x", on_linecol, NULL, &lc), 0);
	assert_int_equal(lc.n, n);
	for (size_t i = 0; i < n; i++) {
		uint64_t line_start = i < 2000 ? 11 : 11 + 2000 * 41 + 1;
		assert_int_equal(lc.line[i], i < 2000 ? 2 : 3);
		assert_int_equal(lc.col[i], lc.off[i] - line_start + 1);
		assert_int_equal(lc.col[i], (i < 2000 ? i : i - 2000) * 41 + 1);
	}
	scanner_free(sc);
	close(fd);
	unlink(path);
	free(text);
}

/* A JWT-shaped run longer than the rule's max_len is not reported with a
 * hash that cannot be right: it is counted, and visible. */
static void test_too_long_match_counted(void **state)
{
	struct detector *d = newdet(rs);
	char *tok = mint_jwt(80000), *text;
	struct detect_stats st;
	struct found *f;
	size_t len;
	(void)state;
	text = wrap("id_token=", tok, "\n", &len);
	f = scan(d, text, len);
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->m[i].rule_id, "jwt"))
			fail_msg("a cut JWT was reported (%zu bytes)", f->m[i].len);
	detector_stats(d, &st);
	assert_true(st.too_long >= 1);
	assert_int_equal(st.limit_hits, 0);
	free(text);
	free(tok);
	detector_free(d);
}

/* A capture the window cut (a write longer than --capture-bytes): the
 * JWT at its end is cut too. Not reported with its wrong hash, counted;
 * a token wholly before the cut is found as ever. */
static void test_cut_buffer_counts_not_reports(void **state)
{
	struct detector *d = newdet(rs);
	char *tok = mint_jwt(30000), *text, ghp[48], line[512];
	struct detect_stats st;
	struct found *f;
	size_t len, cut;
	(void)state;
	tm_github(ghp, "ghp_");
	snprintf(line, sizeof(line), "%s id_token=", ghp);
	text = wrap(line, tok, "", &len);
	cut = len - 5; /* inside the signature */
	f = scan(d, text, cut);
	assert_int_equal(f->n, 2); /* at a stream's end it is what there is */
	detector_stats(d, &st);
	assert_int_equal(st.cut_short, 0);
	f = scan_cut(d, text, cut);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->m[0].rule_id, "github-classic");
	detector_stats(d, &st);
	assert_int_equal(st.cut_short, 1);
	assert_true(detect_coverage_losses(&st) >= 1);
	detect_coverage_text(&st, line, sizeof(line));
	assert_non_null(strstr(line, "1 candidate cut short where a capture was cut"));
	free(text);
	free(tok);
	detector_free(d);
}

/* A rule's `run` is a promise the detector acts on (it skips keyword hits
 * whose run cannot hold a match). Check it on every example of every
 * built-in rule that makes it: after the keyword, every byte of the match
 * is in the class, and the byte after it is not. */
static void test_run_promises_hold(void **state)
{
	struct detector *d = newdet(rs);
	int checked = 0;
	(void)state;
	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		for (size_t e = 0; r->run && e < r->nexamples; e++) {
			for (int round = 0; round < 40; round++) {
				char *text, err[256];
				struct found *f;

				assert_int_equal(rules_expand_example(r->examples[e], &text, err, sizeof(err)), 0);
				f = scan(d, text, strlen(text));
				for (size_t k = 0; k < f->n; k++) {
					const struct detect_match *m = &f->m[k];
					size_t kl = 0;
					if (strcmp(m->rule_id, r->id))
						continue;
					for (size_t w = 0; w < r->nkeywords; w++)
						if (!strncasecmp(text + m->start, r->keywords[w], strlen(r->keywords[w])))
							kl = strlen(r->keywords[w]);
					assert_true(kl > 0);
					for (size_t b = m->start + kl; b < m->start + m->len; b++)
						if (!rules_in_run(r, (unsigned char)text[b]))
							fail_msg("rule %s: byte %zu of a match is outside its run", r->id, b);
					if (m->start + m->len < strlen(text) &&
					    rules_in_run(r, (unsigned char)text[m->start + m->len]))
						fail_msg("rule %s: a match is followed by a byte of its run", r->id);
					checked++;
				}
				free(text);
			}
		}
	}
	assert_true(checked >= 12 * 40);
	detector_free(d);
}

static struct ruleset *load_one(const char *yaml)
{
	struct ruleset *set = rules_new();
	char err[256];
	if (rules_load_buffer(set, "custom.yaml", yaml, strlen(yaml), err, sizeof(err)))
		fail_msg("%s", err);
	return set;
}

/* Issue 13 defect 9: `((?:a|aa)+)b$` took over a minute on 96 KB, every
 * keyword position costing a full PCRE2 match limit, and the abandoned
 * searches were counted nowhere. Now a rule that keeps hitting the
 * limits sits out the rest of the buffer: the work is a few limit hits
 * per buffer, and every keyword hit it skipped is counted. */
static void test_catastrophic_custom_rule_bounded(void **state)
{
	struct ruleset *set = load_one("rules:\n  - id: evil\n    pattern: '((?:a|aa)+)b$'\n"
				       "    keywords: [aa]\n    severity: low\n    max_len: 4096\n");
	struct detector *d = newdet(set);
	size_t n = 96 << 10;
	char *text = malloc(n);
	struct detect_stats st;
	struct found *f;
	(void)state;
	/* a 'b' in every window, so that PCRE2's "required character" check
	 * does not end the search early: every split of the a's is tried */
	for (size_t i = 0; i < n; i++)
		text[i] = i % 2000 == 1999 ? 'b' : 'a';
	f = scan(d, text, n);
	assert_int_equal(f->n, 0);
	detector_stats(d, &st);
	assert_true(st.limit_hits >= 1);
	assert_true(st.limit_hits <= DETECT_LIMIT_HITS_PER_RULE);
	/* every other keyword hit was skipped, and said so */
	assert_true(st.regex_calls <= DETECT_LIMIT_HITS_PER_RULE + 2);
	assert_true(st.skipped_hits > n - n / 1000 - 100);
	assert_int_equal(st.rules_suspended, 1);
	/* the next buffer is searched afresh */
	f = scan(d, "xx aab", 6);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->m[0].start, 3);
	detector_stats(d, &st);
	assert_int_equal(st.rules_suspended, 1);
	free(text);
	detector_free(d);
	rules_free(set);
}

/* Each search abandoned at a PCRE2 limit is counted; a few of them do
 * not yet suspend the rule. */
static void test_limits_counted(void **state)
{
	struct ruleset *set = load_one("rules:\n  - id: nest\n    pattern: '(?:k)((?:x+x+)+)y'\n"
				       "    keywords: [kx]\n    severity: low\n    max_len: 256\n");
	struct detector *d = newdet(set);
	char text[4096];
	struct detect_stats st;
	size_t o = 0;
	(void)state;
	/* three separate runs, each exponential for (x+x+)+ */
	for (int i = 0; i < 3; i++) {
		o += (size_t)sprintf(text + o, "k");
		memset(text + o, 'x', 40);
		o += 40;
		o += (size_t)sprintf(text + o, " y ");
	}
	scan(d, text, o);
	detector_stats(d, &st);
	assert_int_equal(st.limit_hits, 3);
	assert_int_equal(st.skipped_hits, 0);
	assert_int_equal(st.rules_suspended, 0);
	detector_free(d);
	rules_free(set);
}

/* Hostile text (keywords every few bytes, JWT-shaped runs, near misses
 * of every rule) with real tokens planted in it: each is found, at its
 * place, and no built-in rule hits a PCRE2 limit. */
typedef size_t (*gen_fn)(char *out, size_t cap, unsigned seed);

static size_t rep(char *out, size_t cap, const char *unit)
{
	size_t u = strlen(unit), o = 0;
	while (o + u <= cap) {
		memcpy(out + o, unit, u);
		o += u;
	}
	return o;
}

static size_t gen_eyj(char *o, size_t c, unsigned s) { (void)s; return rep(o, c, "eyJ"); }
static size_t gen_eyj_sp(char *o, size_t c, unsigned s) { (void)s; return rep(o, c, "eyJ "); }
static size_t gen_jwt_dense(char *o, size_t c, unsigned s) { (void)s; return rep(o, c, "eyJhbGciOi.eyJzdWIiOi."); }
static size_t gen_slack(char *o, size_t c, unsigned s) { (void)s; return rep(o, c, "xoxb-"); }
static size_t gen_openai(char *o, size_t c, unsigned s) { (void)s; return rep(o, c, "sk-proj-"); }
static size_t gen_glpat(char *o, size_t c, unsigned s) { (void)s; return rep(o, c, "glpat-"); }
static size_t gen_bearer(char *o, size_t c, unsigned s) { (void)s; return rep(o, c, "Authorization: Bearer "); }
static size_t gen_kwmix(char *o, size_t c, unsigned s)
{
	static const char *const kw[] = { "eyJ", "ghp_", "xoxb-", "sk-", "sk-ant-api03-", "bearer ", "AKIA",
					  "twd_", "AIza", "glpat-", "npm_", "sk_live_", "github_pat_", "ghr_" };
	size_t n = 0;
	while (n + 16 < c) {
		const char *k;
		s = s * 1103515245 + 12345;
		k = kw[(s >> 16) % 14];
		memcpy(o + n, k, strlen(k));
		n += strlen(k);
	}
	return n;
}

static void test_adversarial_finds_planted(void **state)
{
	static const gen_fn gens[] = { gen_eyj, gen_eyj_sp, gen_jwt_dense, gen_slack, gen_openai,
				       gen_glpat, gen_bearer, gen_kwmix };
	struct detector *d = newdet(rs);
	size_t cap = 1 << 20;
	char *text = malloc(cap + 4096);
	(void)state;
	for (size_t g = 0; g < sizeof(gens) / sizeof(gens[0]); g++) {
		char ghp[48], twd[64], jwt[512];
		size_t n = gens[g](text, cap, (unsigned)g + 1), at[3];
		struct detect_stats st;
		struct found *f;

		tm_github(ghp, "ghp_");
		tm_twd(twd);
		tm_jwt(jwt, "JWT", 1);
		/* planted between separators, a third of the way in each */
		const char *toks[] = { ghp, twd, jwt };
		for (int i = 0; i < 3; i++) {
			size_t p = n / 4 * (size_t)(i + 1), l = strlen(toks[i]);
			text[p] = ' ';
			memcpy(text + p + 1, toks[i], l);
			text[p + 1 + l] = ' ';
			at[i] = p + 1;
		}
		detector_set_known(d, NULL, NULL, NULL, 0);
		f = scan(d, text, n);
		size_t hit = 0;
		for (size_t i = 0; i < f->n; i++)
			for (int t = 0; t < 3; t++)
				if (f->m[i].start == at[t] && f->m[i].len == strlen(toks[t]))
					hit |= 1u << t;
		if (hit != 7)
			fail_msg("generator %zu: planted tokens found: %zx of 7", g, hit);
		detector_stats(d, &st);
		assert_int_equal(st.limit_hits, 0);
		assert_int_equal(st.skipped_hits, 0);
	}
	free(text);
	detector_free(d);
}

/* Issue 13 defect 9: the same valid JWT packed densely made every copy
 * a finding (1.8 million in 64 MiB), each checked, hashed and printed.
 * With DETECT_COLLAPSE_REPEATS a secret is reported its first
 * DETECT_REPEATS_PER_BUFFER times in a buffer and the rest are counted;
 * a managed token among the copies, and distinct tokens after them, are
 * still reported, with their own hash. */
static void test_repeats_collapsed_counted(void **state)
{
	enum { COPIES = 1000 };
	struct detector *d = newdet(rs);
	char jwt[512], ghp[48], other[512];
	size_t jl, cap = COPIES * 600 + 4096, n = 0, at_ghp = 0, at_other = 0;
	char *text = malloc(cap);
	unsigned char jsha[32], osha[32];
	struct known1 k;
	struct detect_stats st;
	struct found *f;
	size_t njwt = 0, nghp = 0, nother = 0;
	(void)state;

	assert_non_null(text);
	tm_jwt(jwt, "JWT", 1);
	tm_jwt(other, "JWT", 1);
	tm_github(ghp, "ghp_");
	jl = strlen(jwt);
	sha(jwt, jl, jsha);
	sha(other, strlen(other), osha);
	sha(ghp, strlen(ghp), k.sha);
	for (int i = 0; i < COPIES; i++) {
		memcpy(text + n, jwt, jl);
		n += jl;
		text[n++] = ' ';
		if (i == COPIES / 2) { /* deep in the collapsed copies */
			at_ghp = n;
			n += (size_t)sprintf(text + n, "%s ", ghp);
		}
	}
	at_other = n;
	n += (size_t)sprintf(text + n, "%s\n", other);
	detector_set_flags(d, DETECT_COLLAPSE_REPEATS);
	detector_set_known(d, known_cb, &k, NULL, 0);
	f = scan(d, text, n);
	for (size_t i = 0; i < f->n; i++) {
		const struct detect_match *m = &f->m[i];
		if (m->len == jl && !memcmp(m->sha256, jsha, 32)) {
			/* the first copies, in order, each with its own place */
			assert_int_equal(m->start, njwt * (jl + 1));
			assert_int_equal(m->checksum_valid, 1);
			assert_int_equal(m->known, 0);
			njwt++;
		} else if (!memcmp(m->sha256, k.sha, 32)) {
			assert_int_equal(m->start, at_ghp);
			assert_int_equal(m->known, 1);
			assert_int_equal(m->token_id, 42);
			nghp++;
		} else if (!memcmp(m->sha256, osha, 32)) {
			assert_int_equal(m->start, at_other);
			nother++;
		} else {
			fail_msg("finding %zu: a hash that is none of the planted tokens'", i);
		}
	}
	assert_int_equal(njwt, DETECT_REPEATS_PER_BUFFER);
	assert_int_equal(nghp, 1);
	assert_int_equal(nother, 1);
	detector_stats(d, &st);
	assert_int_equal(st.repeats_collapsed, COPIES - DETECT_REPEATS_PER_BUFFER);
	assert_true(detect_coverage_losses(&st) >= st.repeats_collapsed);

	/* A second buffer starts over: its first copies are reported again. */
	f = scan(d, text, n);
	assert_int_equal(f->n, DETECT_REPEATS_PER_BUFFER + 2);

	/* A region (a piece's own bytes): the copies before it are passed on
	 * and do not count; the first 8 inside it are reported. */
	detector_set_region(d, 4 * (jl + 1), n);
	f = scan(d, text, n);
	assert_int_equal(f->n, 4 + DETECT_REPEATS_PER_BUFFER + 2);
	assert_int_equal(f->m[4 + DETECT_REPEATS_PER_BUFFER - 1].start, (4 + DETECT_REPEATS_PER_BUFFER - 1) * (jl + 1));
	/* for that scan only */
	f = scan(d, text, n);
	assert_int_equal(f->n, DETECT_REPEATS_PER_BUFFER + 2);

	/* Without the flag (redaction, rules test) every copy is reported,
	 * each with the right hash: the memo saves work, never a finding. */
	detector_set_flags(d, 0);
	f = scan(d, text, n);
	assert_int_equal(f->n, COPIES + 2);
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].start != at_ghp && f->m[i].start != at_other)
			assert_memory_equal(f->m[i].sha256, jsha, 32);
	detector_stats(d, &st);
	assert_int_equal(st.repeats_collapsed, 4 * (COPIES - DETECT_REPEATS_PER_BUFFER) - 4);
	free(text);
	detector_free(d);
}

/* More distinct secrets than the memo has slots, each twice, and a
 * look-alike with a bad checksum repeated: every real one reported
 * twice with its own hash, the look-alike never (its rejection is
 * remembered, not turned into an acceptance). */
static void test_memo_full_loses_nothing(void **state)
{
	enum { NTOK = 6000 };
	struct detector *d = newdet(rs);
	static char toks[NTOK][48];
	char bad[48];
	size_t cap = NTOK * 2 * 48 + 64 * 48, n = 0;
	char *text = malloc(cap);
	struct detect_stats st0, st;
	struct found *f;
	(void)state;

	assert_non_null(text);
	tm_github(bad, "ghp_");
	bad[39] = bad[39] == 'A' ? 'B' : 'A'; /* the CRC no longer matches */
	for (int i = 0; i < NTOK; i++)
		tm_github(toks[i], "ghp_");
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < NTOK; i++) {
			n += (size_t)sprintf(text + n, "%s ", toks[i]);
			if (i % 200 == 0)
				n += (size_t)sprintf(text + n, "%s ", bad);
		}
	detector_set_flags(d, DETECT_COLLAPSE_REPEATS);
	detector_set_flood_cap(d, 0); /* the memo's bound alone, not the flood's */
	detector_stats(d, &st0);
	f = scan(d, text, n);
	assert_int_equal(f->n, 2 * NTOK);
	for (size_t i = 0; i < f->n; i++) {
		unsigned char want[32];
		size_t t = i % NTOK;
		assert_int_equal(f->m[i].len, 40);
		assert_memory_equal(text + f->m[i].start, toks[t], 40);
		sha(toks[t], 40, want);
		assert_memory_equal(f->m[i].sha256, want, 32);
		assert_int_equal(f->m[i].checksum_valid, 1);
	}
	detector_stats(d, &st);
	assert_int_equal(st.repeats_collapsed, st0.repeats_collapsed);
	assert_int_equal(st.rejected - st0.rejected, 2 * (NTOK / 200));
	free(text);
	detector_free(d);
}

/* Redaction hides every copy, however many: it never collapses. */
static void test_redaction_hides_every_repeat(void **state)
{
	char jwt[512], *text, *out;
	size_t jl, n = 0;
	(void)state;

	tm_jwt(jwt, "JWT", 1);
	jl = strlen(jwt);
	text = malloc(50 * (jl + 1) + 1);
	assert_non_null(text);
	for (int i = 0; i < 50; i++)
		n += (size_t)sprintf(text + n, "%s ", jwt);
	out = redact_text(text, n);
	assert_non_null(out);
	assert_null(strstr(out, jwt));
	assert_null(strstr(out, strchr(jwt, '.') + 1)); /* nor its payload and signature */
	free(out);
	free(text);
}

/* Line numbers come from a word-at-a-time newline count: it must agree
 * with counting byte by byte at every density, length and alignment. */
static void test_newline_count_exact(void **state)
{
	unsigned char buf[1031];
	(void)state;
	for (int density = 0; density <= 256; density += 32) {
		tm_rand(buf, sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			if (buf[i] < density)
				buf[i] = '\n';
			else if (buf[i] == '\n')
				buf[i] = 'x';
		for (size_t off = 0; off < 9; off++)
			for (size_t n = 0; off + n <= sizeof(buf); n += 1 + n / 3) {
				size_t want = 0;
				for (size_t i = 0; i < n; i++)
					want += buf[off + i] == '\n';
				assert_int_equal(scan_count_newlines(buf + off, n), want);
			}
	}
	/* all newlines, longer than the 255 sixteen- (SSE2) or 32-byte
	 * (AVX2) steps a byte lane can count before it is summed: no lane
	 * may wrap */
	static unsigned char nl[3 * 255 * 32 + 40];
	memset(nl, '\n', sizeof(nl));
	for (size_t off = 0; off < 17; off++)
		for (size_t n = 255 * 16 - 20; off + n <= sizeof(nl); n += 997)
			assert_int_equal(scan_count_newlines(nl + off, n), n);
}

/* Issue 13 defect 9: a flood of distinct tokens (a finding every 21
 * bytes) made the scan write 15 times its input. Past the flood bound a
 * rule's unmanaged findings in a buffer are counted, not reported: the
 * bound triggers at N, counts exactly the rest (a later copy of a capped
 * secret too), never drops a managed token, and leaves other rules alone. */
static void test_flood_capped_counted(void **state)
{
	enum { DISTINCT = 200, CAP = 50, MANAGED_AT = 150, REPEAT_OF = 120 };
	struct detector *d = newdet(rs);
	char toks[DISTINCT][48], jwt[512];
	size_t cap = DISTINCT * 48 + 1024, n = 0, at_managed = 0;
	char *text = malloc(cap);
	struct known1 k;
	struct detect_stats st;
	struct found *f;
	(void)state;

	assert_non_null(text);
	for (int i = 0; i < DISTINCT; i++) {
		tm_github(toks[i], "ghp_");
		if (i == MANAGED_AT)
			at_managed = n;
		n += (size_t)sprintf(text + n, "%s ", toks[i]);
	}
	n += (size_t)sprintf(text + n, "%s ", toks[REPEAT_OF]); /* a copy of a capped one */
	tm_jwt(jwt, "JWT", 1);
	n += (size_t)sprintf(text + n, "%s\n", jwt);  /* another rule: not capped */
	sha(toks[MANAGED_AT], strlen(toks[MANAGED_AT]), k.sha);
	detector_set_flags(d, DETECT_COLLAPSE_REPEATS);
	detector_set_flood_cap(d, CAP);
	for (int lookup = 1; lookup >= 0; lookup--) {
		uint64_t before;

		/* with a lookup every finding is hashed; without, capped ones are not */
		detector_set_known(d, lookup ? known_cb : NULL, &k, NULL, 0);
		detector_stats(d, &st);
		before = st.findings_capped;
		f = scan(d, text, n);
		detector_stats(d, &st);
		/* the first CAP tokens, the managed one (with a lookup), the JWT */
		assert_int_equal(f->n, CAP + lookup + 1);
		for (int i = 0; i < CAP; i++) {
			unsigned char h[32];
			sha(toks[i], strlen(toks[i]), h);
			assert_memory_equal(f->m[i].sha256, h, 32);
			assert_int_equal(f->m[i].known, 0);
		}
		if (lookup) {
			assert_int_equal(f->m[CAP].start, at_managed);
			assert_int_equal(f->m[CAP].known, 1);
			assert_int_equal(f->m[CAP].token_id, 42);
		}
		assert_int_equal(f->m[f->n - 1].len, strlen(jwt));
		/* the rest: DISTINCT - CAP tokens (less the managed one) and the copy */
		assert_int_equal(st.findings_capped - before, DISTINCT - CAP - lookup + 1);
		assert_true(detect_coverage_losses(&st) >= st.findings_capped);
	}
	{
		char line[1024];
		detect_coverage_text(&st, line, sizeof(line));
		assert_non_null(strstr(line, "of a flood not listed"));
	}

	/* A second buffer starts its count over. */
	f = scan(d, text, n);
	assert_int_equal(f->n, CAP + 1);

	/* The bound off, or redaction's flags: every finding reported. */
	detector_set_flood_cap(d, 0);
	f = scan(d, text, n);
	assert_int_equal(f->n, DISTINCT + 2);
	detector_set_flood_cap(d, CAP);
	detector_set_flags(d, DETECT_KEEP_INVALID | DETECT_NO_FILTERS);
	detector_stats(d, &st);
	{
		uint64_t before = st.findings_capped;
		f = scan(d, text, n);
		detector_stats(d, &st);
		assert_int_equal(f->n, DISTINCT + 2);
		assert_int_equal(st.findings_capped, before);
	}

	/* A region (a piece's own bytes): what lies before it neither counts
	 * towards the bound nor is counted as capped. */
	detector_set_flags(d, DETECT_COLLAPSE_REPEATS);
	detector_stats(d, &st);
	{
		uint64_t before = st.findings_capped;
		size_t lo = 0;
		for (int i = 0; i < 10; i++)
			lo += strlen(toks[i]) + 1;
		detector_set_region(d, lo, n);
		f = scan(d, text, n);
		detector_stats(d, &st);
		assert_int_equal(f->n, 10 + CAP + 1);
		assert_int_equal(st.findings_capped - before, DISTINCT - 10 - CAP + 1);
	}
	detector_free(d);
	free(text);
}

/*
 * Without a lookup the flood bound is decided where a match is found
 * (detect.c flood_early): past it a new secret is counted, not checked.
 * What is reported must stay what the report loop's bound reports: the
 * first CAP distinct secrets that pass their checks (a decoy before the
 * bound is rejected and does not count towards it), and copies of a
 * reported one after the bound (repeats, not a flood). A decoy past the
 * bound is counted capped, not rejected: its check was not made.
 */
static void test_flood_bound_at_the_match(void **state)
{
	enum { DISTINCT = 120, CAP = 40, DECOY_AT = 10, COPIES = 3 };
	struct detector *d = newdet(rs);
	char toks[DISTINCT][48], decoy[48], decoy2[48];
	size_t cap = (DISTINCT + COPIES + 5) * 48, n = 0;
	char *text = malloc(cap);
	struct detect_stats st0, st;
	struct found *f;
	(void)state;

	assert_non_null(text);
	tm_github(decoy, "ghp_");
	decoy[strlen(decoy) - 1] = decoy[strlen(decoy) - 1] == 'A' ? 'B' : 'A'; /* its CRC fails */
	tm_github(decoy2, "ghp_");
	decoy2[strlen(decoy2) - 1] = decoy2[strlen(decoy2) - 1] == 'A' ? 'B' : 'A';
	for (int i = 0; i < DISTINCT; i++) {
		tm_github(toks[i], "ghp_");
		if (i == DECOY_AT)
			n += (size_t)sprintf(text + n, "%s ", decoy);
		n += (size_t)sprintf(text + n, "%s ", toks[i]);
	}
	for (int c = 0; c < COPIES; c++) /* copies of a reported secret, past the bound */
		n += (size_t)sprintf(text + n, "%s ", toks[3]);
	n += (size_t)sprintf(text + n, "%s ", decoy);  /* the decoy again, past it */
	n += (size_t)sprintf(text + n, "%s\n", decoy2); /* a new decoy past it */
	detector_set_flags(d, DETECT_COLLAPSE_REPEATS);
	detector_set_flood_cap(d, CAP);
	detector_set_known(d, NULL, NULL, NULL, 0);
	detector_stats(d, &st0);
	f = scan(d, text, n);
	detector_stats(d, &st);
	assert_int_equal(f->n, CAP + COPIES);
	for (int i = 0; i < CAP; i++) {
		unsigned char h[32];
		sha(toks[i], strlen(toks[i]), h);
		assert_memory_equal(f->m[i].sha256, h, 32);
	}
	for (int c = 0; c < COPIES; c++) {
		unsigned char h[32];
		sha(toks[3], strlen(toks[3]), h);
		assert_memory_equal(f->m[CAP + c].sha256, h, 32);
	}
	/* the decoy before the bound was checked (rejected), and its copy
	 * past it is rejected again, from the memo; the new decoy past the
	 * bound was not checked: counted with the capped */
	assert_int_equal(st.rejected - st0.rejected, 2);
	assert_int_equal(st.findings_capped - st0.findings_capped, DISTINCT - CAP + 1);
	detector_free(d);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_jwt_found_whole),
		cmocka_unit_test(test_large_jwt_header),
		cmocka_unit_test(test_jwt_json_whitespace),
		cmocka_unit_test(test_large_jwt_across_pieces),
		cmocka_unit_test(test_long_opaque_token_found),
		cmocka_unit_test(test_findings_on_one_long_line),
		cmocka_unit_test(test_run_promises_hold),
		cmocka_unit_test(test_too_long_match_counted),
		cmocka_unit_test(test_cut_buffer_counts_not_reports),
		cmocka_unit_test(test_catastrophic_custom_rule_bounded),
		cmocka_unit_test(test_limits_counted),
		cmocka_unit_test(test_adversarial_finds_planted),
		cmocka_unit_test(test_repeats_collapsed_counted),
		cmocka_unit_test(test_memo_full_loses_nothing),
		cmocka_unit_test(test_flood_capped_counted),
		cmocka_unit_test(test_flood_bound_at_the_match),
		cmocka_unit_test(test_redaction_hides_every_repeat),
		cmocka_unit_test(test_newline_count_exact),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
