/*
 * Only the first two segments are read; the signature segment is not
 * decoded at all (see jwt.h for why verification is not our job).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include "ledger/jwt.h"

#define JWT_SEGMENT_MAX (64 * 1024)

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long jwt_b64url_decode(const char *s, size_t n, unsigned char *out)
{
	unsigned acc = 0;
	int bits = 0;
	long o = 0;

	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (acc >> bits) & 0xff;
		}
	}
	return o;
}

/* Decode one segment to a JSON object. It must start '{': JSON allows
 * whitespace first, but the detector's JWT rule looks for segments that
 * start e[wy3] (the base64url of '{' and what follows it), so a segment
 * with leading whitespace could be registered and never be found. */
static cJSON *segment_json(const char *s, size_t n)
{
	unsigned char *buf;
	cJSON *j;
	long len;

	if (n == 0 || n > JWT_SEGMENT_MAX)
		return NULL;
	buf = malloc(n * 3 / 4 + 4);
	if (!buf)
		return NULL;
	len = jwt_b64url_decode(s, n, buf);
	j = len > 0 && buf[0] == '{' ? cJSON_ParseWithLength((const char *)buf, len) : NULL;
	free(buf);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

static int split(const char *s, size_t n, size_t *d1, size_t *d2)
{
	const char *a = memchr(s, '.', n), *b;

	if (!a)
		return -1;
	b = memchr(a + 1, '.', s + n - a - 1);
	if (!b || memchr(b + 1, '.', s + n - b - 1))
		return -1;
	*d1 = a - s;
	*d2 = b - s;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '.' && b64val((unsigned char)s[i]) < 0)
			return -1;
	return 0;
}

bool jwt_looks_like(const char *s, size_t n)
{
	size_t d1, d2;
	cJSON *h;
	bool ok;

	if (n < 10 || split(s, n, &d1, &d2) || d1 == 0 || d2 == d1 + 1)
		return false;
	h = segment_json(s, d1);
	ok = h && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(h, "alg"));
	cJSON_Delete(h);
	return ok;
}

static char *str_claim(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

static int64_t num_claim(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	/* NumericDate is seconds; anything absurd reads as absent. */
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 253402300799.0)
		return 0;
	return (int64_t)v->valuedouble;
}

void jwt_claims_free(struct jwt_claims *c)
{
	free(c->alg);
	free(c->typ);
	free(c->iss);
	free(c->sub);
	free(c->jti);
	free(c->client_id);
	free(c->scope);
	free(c->actor);
	free(c->actor_chain);
	for (size_t i = 0; i < c->naud; i++)
		free(c->aud[i]);
	free(c->aud);
	memset(c, 0, sizeof(*c));
}

int jwt_parse(const char *s, size_t n, struct jwt_claims *c, char *err, size_t errsz)
{
	cJSON *h = NULL, *p = NULL;
	const cJSON *aud, *scp, *act, *it;
	size_t d1, d2;

	memset(c, 0, sizeof(*c));
	if (split(s, n, &d1, &d2)) {
		snprintf(err, errsz, "not a JWT: want three base64url segments");
		return -EINVAL;
	}
	if (!(h = segment_json(s, d1)) || !(p = segment_json(s + d1 + 1, d2 - d1 - 1))) {
		snprintf(err, errsz, "not a JWT: %s is not base64url JSON", h ? "payload" : "header");
		cJSON_Delete(h);
		return -EINVAL;
	}
	c->alg = str_claim(h, "alg");
	c->typ = str_claim(h, "typ");
	c->at_jwt = c->typ && (!strcasecmp(c->typ, "at+jwt") || !strcasecmp(c->typ, "application/at+jwt"));
	c->iss = str_claim(p, "iss");
	c->sub = str_claim(p, "sub");
	c->jti = str_claim(p, "jti");
	c->client_id = str_claim(p, "client_id");
	c->scope = str_claim(p, "scope");
	scp = cJSON_GetObjectItemCaseSensitive(p, "scp");
	if (!c->scope && cJSON_IsArray(scp)) {
		size_t len = 1;
		cJSON_ArrayForEach(it, scp)
			if (cJSON_IsString(it))
				len += strlen(it->valuestring) + 1;
		if ((c->scope = calloc(1, len)))
			cJSON_ArrayForEach(it, scp)
				if (cJSON_IsString(it)) {
					if (*c->scope)
						strcat(c->scope, " ");
					strcat(c->scope, it->valuestring);
				}
	}
	c->exp = num_claim(p, "exp");
	c->iat = num_claim(p, "iat");
	c->nbf = num_claim(p, "nbf");
	aud = cJSON_GetObjectItemCaseSensitive(p, "aud");
	if (cJSON_IsString(aud)) {
		c->aud = calloc(1, sizeof(char *));
		if (c->aud && (c->aud[0] = strdup(aud->valuestring)))
			c->naud = 1;
	} else if (cJSON_IsArray(aud)) {
		c->aud = calloc(cJSON_GetArraySize(aud) + 1, sizeof(char *));
		cJSON_ArrayForEach(it, aud)
			if (c->aud && cJSON_IsString(it))
				c->aud[c->naud++] = strdup(it->valuestring);
	}
	/* RFC 8693 4.1: act.sub is the current actor; nested act claims are
	 * the earlier actors in the delegation chain. */
	act = cJSON_GetObjectItemCaseSensitive(p, "act");
	if (cJSON_IsObject(act)) {
		char chain[1024] = "";
		size_t used = 0;
		int depth = 0;
		c->actor = str_claim(act, "sub");
		for (it = act; cJSON_IsObject(it) && depth < 16; depth++) {
			const cJSON *sub = cJSON_GetObjectItemCaseSensitive(it, "sub");
			if (cJSON_IsString(sub) && used < sizeof(chain))
				used += snprintf(chain + used, sizeof(chain) - used, "%s%s",
						 used ? "," : "", sub->valuestring);
			it = cJSON_GetObjectItemCaseSensitive(it, "act");
		}
		if (chain[0])
			c->actor_chain = strdup(chain);
	}
	cJSON_Delete(h);
	cJSON_Delete(p);
	return 0;
}
