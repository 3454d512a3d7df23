/*
 * Free text beside a token (freetext.h): one detector per thread, made on
 * first use from the built-in rules, as redact.c does for its own pass.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "detect/detect.h"
#include "detect/redact.h"
#include "detect/rules.h"
#include "lib/sha256.h"
#include "ledger/freetext.h"

static pthread_once_t rules_once = PTHREAD_ONCE_INIT;
static struct ruleset *ft_rules;
static pthread_key_t det_key;

static void det_destroy(void *d)
{
	detector_free(d);
}

static void rules_init(void)
{
	char err[256];

	if (rules_load_builtin(&ft_rules, err, sizeof(err)))
		ft_rules = NULL;
	if (pthread_key_create(&det_key, det_destroy))
		ft_rules = NULL;
}

static struct detector *thread_detector(void)
{
	struct detector *d;
	char err[256];

	pthread_once(&rules_once, rules_init);
	if (!ft_rules)
		return NULL;
	d = pthread_getspecific(det_key);
	if (!d) {
		d = detector_new(ft_rules, err, sizeof(err));
		if (!d)
			return NULL;
		/* A look-alike (bad checksum, low entropy) is still refused:
		 * a typo in a token is still most of a token. */
		detector_set_flags(d, DETECT_KEEP_INVALID | DETECT_NO_FILTERS);
		pthread_setspecific(det_key, d);
	}
	return d;
}

static int first_match(void *ctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	(void)buf, (void)len;
	*(const char **)ctx = m->rule_id;
	return 1;
}

/* One scan: 1 hit (*hit set), 0 none, -1 could not scan. */
static int scan_one(struct detector *d, const char *s, size_t n, const char **hit)
{
	*hit = NULL;
	if (detector_scan(d, s, n, first_match, hit) < 0)
		return -1;
	return *hit != NULL;
}

/*
 * The rules want a boundary before a token ("job-eyJ…" is one base64url
 * run, so the JWT rule does not start inside it; "xghp_…" neither). A
 * value typed by hand glues a token to a prefix easily, and it is still a
 * secret: scan again with a space before each rule keyword that is glued
 * to what precedes it. Bounded: a value with more candidates than that is
 * treated as holding a secret.
 */
#define GLUE_MAX_LEN 4096
#define GLUE_MAX_TRIES 64

static int scan_unglued(struct detector *d, const char *s, size_t n, const char **hit)
{
	char *buf;
	int tries = 0, r = 0;

	if (n > GLUE_MAX_LEN || !(buf = malloc(n + 2)))
		return -1;
	for (size_t k = 0; k < rules_count(ft_rules) && !r; k++) {
		const struct rule *ru = rules_get(ft_rules, k);

		for (size_t w = 0; w < ru->nkeywords && !r; w++) {
			size_t kl = strlen(ru->keywords[w]);

			for (size_t i = 1; i + kl <= n && !r; i++) {
				if (s[i - 1] == ' ' || strncasecmp(s + i, ru->keywords[w], kl))
					continue;
				if (++tries > GLUE_MAX_TRIES) {
					r = -1;
					break;
				}
				memcpy(buf, s, i);
				buf[i] = ' ';
				memcpy(buf + i + 1, s + i, n - i);
				r = scan_one(d, buf, n + 1, hit);
			}
		}
	}
	free(buf);
	return r;
}

int freetext_holds_secret(const char *s, size_t n, const char **rule_id)
{
	struct detector *d = thread_detector();
	const char *hit = NULL;
	int r;

	if (rule_id)
		*rule_id = "unchecked";
	if (!d)
		return 1;
	r = scan_one(d, s, n, &hit);
	if (r == 0)
		r = scan_unglued(d, s, n, &hit);
	if (r < 0)
		return 1;
	if (hit && rule_id)
		*rule_id = hit;
	return r;
}

/* s, which holds a secret, as it may be shown: redact_text()'s form, or,
 * where that masks nothing (a token glued to a prefix the rules do not
 * see and too regular for the generic pass), the whole value masked. */
static char *mask(const char *s, size_t n)
{
	char *r = redact_text(s, n), shortf[32], fp[65];

	if (!r || strcmp(r, s))
		return r;
	free(r);
	redact_short(s, n, shortf, sizeof(shortf));
	sha256_hex(s, n, fp);
	return asprintf(&r, "%s[sha256:%.12s]", shortf, fp) < 0 ? NULL : r;
}

char *freetext_safe(const char *s)
{
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	return freetext_holds_secret(s, n, NULL) ? mask(s, n) : strdup(s);
}

void freetext_redact_json(cJSON *o)
{
	cJSON *it;

	cJSON_ArrayForEach(it, o) {
		if (cJSON_IsString(it) && it->valuestring &&
		    freetext_holds_secret(it->valuestring, strlen(it->valuestring), NULL)) {
			char *r = mask(it->valuestring, strlen(it->valuestring));

			cJSON_SetValuestring(it, r ? r : "[redacted]");
			free(r);
		} else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
			freetext_redact_json(it);
		}
	}
}
