/*
 * The generic masker here errs on the side of hiding: any long run of
 * token alphabet characters that mixes letter cases and digits is treated
 * as a secret. That catches opaque tokens no rule knows about; the cost is
 * an occasional masked identifier in argv, which is the right trade for
 * a security tool's own output.
 *
 * On top of it, redact_text() masks whatever the rule pack finds (the
 * same detector as `scan`, with look-alikes whose checksum fails
 * included), so a rule's secret is hidden even when it does not look
 * random enough for the heuristic, e.g. an AWS key id in upper case.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "detect/detect.h"
#include "detect/redact.h"
#include "detect/rules.h"
#include "lib/sha256.h"

#define RUN_MIN 20

void redact_short(const void *secret, size_t n, char *out, size_t outsz)
{
	size_t keep = n / 2 < REDACT_PREFIX_LEN ? n / 2 : REDACT_PREFIX_LEN;

	/* As snprintf("%.*s\u2026") would, without its cost: every finding of
	 * a finding-dense scan passes here (issue 13). */
	keep = strnlen(secret, keep);
	if (keep + 4 > outsz) {
		snprintf(out, outsz, "%.*s\u2026", (int)keep, (const char *)secret);
		return;
	}
	memcpy(out, secret, keep);
	memcpy(out + keep, "\u2026", 4); /* the ellipsis' 3 bytes and the NUL */
}

static bool is_token_char(unsigned char c)
{
	/* '/' separates: paths are common in argv, and base64url tokens
	 * (the usual alphabet for bearer tokens) never contain it. */
	return isalnum(c) || c == '_' || c == '-' || c == '+' ||
	       c == '=' || c == '.' || c == '~';
}

/* Mixed classes: paths and words rarely have upper, lower and digits. */
static bool looks_secret(const char *s, size_t n)
{
	bool up = false, lo = false, dig = false;

	if (n < RUN_MIN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		up |= isupper(c) != 0;
		lo |= islower(c) != 0;
		dig |= isdigit(c) != 0;
	}
	return up + lo + dig >= 3 || (n >= 32 && up + lo + dig >= 2);
}

/* ---- rule-based masking ---- */

static pthread_once_t rules_once = PTHREAD_ONCE_INIT;
static struct ruleset *redact_rules;
static pthread_key_t det_key;

static void det_destroy(void *d)
{
	detector_free(d);
}

static void rules_init(void)
{
	char err[256];

	if (rules_load_builtin(&redact_rules, err, sizeof(err)))
		redact_rules = NULL; /* the generic masker still runs */
	if (pthread_key_create(&det_key, det_destroy))
		redact_rules = NULL;
}

/* One detector per thread (detectors are not shared), made on first use. */
static struct detector *thread_detector(void)
{
	struct detector *d;
	char err[256];

	pthread_once(&rules_once, rules_init);
	if (!redact_rules)
		return NULL;
	d = pthread_getspecific(det_key);
	if (!d) {
		d = detector_new(redact_rules, err, sizeof(err));
		if (!d)
			return NULL;
		/* Mask look-alikes too: a failed checksum or a low entropy may
		 * still be a secret, and masking a placeholder costs nothing. */
		detector_set_flags(d, DETECT_KEEP_INVALID | DETECT_NO_FILTERS);
		pthread_setspecific(det_key, d);
	}
	return d;
}

struct spans {
	size_t (*v)[2];
	size_t n, cap;
	int oom;
};

static int add_span(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct spans *sp = ctx;
	(void)buf;
	(void)len;
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 8;
		void *nv = realloc(sp->v, cap * sizeof(*sp->v));
		if (!nv) {
			sp->oom = 1;
			return 1;
		}
		sp->v = nv;
		sp->cap = cap;
	}
	/* a secret found decoded: its encoded bytes are masked */
	sp->v[sp->n][0] = m->raw_start;
	sp->v[sp->n][1] = m->raw_start + m->raw_len;
	sp->n++;
	return 0;
}

static int span_cmp(const void *a, const void *b)
{
	const size_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

struct obuf {
	char *s;
	size_t n, cap;
};

static int ob_put(struct obuf *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		size_t cap = (o->n + n + 1) * 2;
		char *ns = realloc(o->s, cap);
		if (!ns)
			return -1;
		o->s = ns;
		o->cap = cap;
	}
	memcpy(o->s + o->n, s, n);
	o->n += n;
	o->s[o->n] = 0;
	return 0;
}

static int ob_mask(struct obuf *o, const char *s, size_t n)
{
	char shortf[32], fp[65], tmp[64];
	int k;

	redact_short(s, n, shortf, sizeof(shortf));
	sha256_hex(s, n, fp);
	k = snprintf(tmp, sizeof(tmp), "%s[sha256:%.12s]", shortf, fp);
	return ob_put(o, tmp, (size_t)k);
}

/* The generic pass over text that no rule matched. */
static int ob_generic(struct obuf *o, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && is_token_char((unsigned char)s[j]))
			j++;
		if (j > i && looks_secret(s + i, j - i)) {
			if (ob_mask(o, s + i, j - i))
				return -1;
			i = j;
			continue;
		}
		if (j == i) {
			/* Non-printable bytes become '?', keeping the output text. */
			unsigned char c = s[i];
			char ch = (c >= 0x20 && c < 0x7f) || c >= 0x80 ? (char)c : '?';
			if (ob_put(o, &ch, 1))
				return -1;
			i++;
		} else {
			if (ob_put(o, s + i, j - i))
				return -1;
			i = j;
		}
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at p (at most left bytes), or 0:
 * overlong forms, UTF-16 surrogates and code points past U+10FFFF are
 * invalid too (RFC 3629). */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Paths, socket names and process names are bytes, not text: JSON needs
 * UTF-8, so a byte that is not part of a valid sequence becomes the four
 * characters \xNN. Takes @s (NUL-terminated, from an obuf) and returns it
 * or its escaped copy; NULL when out of memory. */
static char *utf8_escape(char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	struct obuf o = { 0 };
	char hex[5];

	while (i < n && (k = utf8_len(p + i, n - i)))
		i += k;
	if (i == n)
		return s;
	if (ob_put(&o, s, i))
		goto oom;
	while (i < n) {
		if ((k = utf8_len(p + i, n - i))) {
			if (ob_put(&o, s + i, k))
				goto oom;
			i += k;
			continue;
		}
		snprintf(hex, sizeof(hex), "\\x%02x", p[i++]);
		if (ob_put(&o, hex, 4))
			goto oom;
	}
	free(s);
	return o.s;
oom:
	free(s);
	free(o.s);
	return NULL;
}

char *redact_text(const char *s, size_t n)
{
	struct obuf o = { 0 };
	struct spans sp = { 0 };
	struct detector *d = thread_detector();
	size_t i = 0;

	if (ob_put(&o, "", 0))
		return NULL;
	/* Whatever a rule finds is masked whole, even where the generic
	 * heuristic would let it pass (an AWS key id is all upper case). */
	if (d)
		detector_scan(d, s, n, add_span, &sp);
	/* findings from decoded views come after the raw ones */
	if (sp.n > 1)
		qsort(sp.v, sp.n, sizeof(*sp.v), span_cmp);
	if (sp.oom) {
		/* Cannot tell where the secrets are: hide everything printable. */
		free(sp.v);
		free(o.s);
		return strdup("[redacted]");
	}
	for (size_t k = 0; k < sp.n; k++) {
		size_t a = sp.v[k][0], b = sp.v[k][1];
		if (b <= i)
			continue; /* inside a span already masked */
		if (a < i)
			a = i;
		if (ob_generic(&o, s + i, a - i))
			goto oom;
		/* Overlapping spans are masked as one. */
		while (k + 1 < sp.n && sp.v[k + 1][0] < b) {
			if (sp.v[k + 1][1] > b)
				b = sp.v[k + 1][1];
			k++;
		}
		if (ob_mask(&o, s + a, b - a))
			goto oom;
		i = b;
	}
	if (ob_generic(&o, s + i, n - i))
		goto oom;
	free(sp.v);
	return utf8_escape(o.s);
oom:
	free(sp.v);
	free(o.s);
	return NULL;
}
