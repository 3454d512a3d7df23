/* Tests for user/ledger/jwt.c: claims extraction; hostile input never crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ledger/jwt.h"

static void b64url(const char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n) v |= (unsigned char)in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < n) out[o++] = a[v >> 6 & 63];
		if (i + 2 < n) out[o++] = a[v & 63];
	}
	out[o] = 0;
}

/* header.payload.signature, built at run time */
static char *make_jwt(const char *header, const char *payload)
{
	char *out = malloc(strlen(header) * 2 + strlen(payload) * 2 + 64);
	size_t o;
	b64url(header, strlen(header), out);
	o = strlen(out);
	out[o++] = '.';
	b64url(payload, strlen(payload), out + o);
	strcat(out, ".c2lnbmF0dXJl");
	return out;
}

static void test_claims(void **state)
{
	struct jwt_claims c;
	char err[128];
	char *j = make_jwt("{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}",
			   "{\"iss\":\"https://idp.example\",\"sub\":\"alice\",\"aud\":[\"https://api.example\",\"urn:x\"],"
			   "\"exp\":1900000000,\"iat\":1800000000,\"jti\":\"j-1\",\"client_id\":\"c-1\","
			   "\"scope\":\"a b\",\"act\":{\"sub\":\"agent\",\"act\":{\"sub\":\"orch\"}}}");
	(void)state;
	assert_true(jwt_looks_like(j, strlen(j)));
	assert_int_equal(jwt_parse(j, strlen(j), &c, err, sizeof(err)), 0);
	assert_true(c.at_jwt);
	assert_string_equal(c.alg, "RS256");
	assert_string_equal(c.iss, "https://idp.example");
	assert_string_equal(c.sub, "alice");
	assert_int_equal(c.naud, 2);
	assert_string_equal(c.aud[0], "https://api.example");
	assert_string_equal(c.aud[1], "urn:x");
	assert_int_equal(c.exp, 1900000000);
	assert_int_equal(c.iat, 1800000000);
	assert_string_equal(c.jti, "j-1");
	assert_string_equal(c.client_id, "c-1");
	assert_string_equal(c.scope, "a b");
	assert_string_equal(c.actor, "agent");
	assert_string_equal(c.actor_chain, "agent,orch");
	jwt_claims_free(&c);
	free(j);
}

static void test_variants(void **state)
{
	struct jwt_claims c;
	char err[128];
	(void)state;
	/* aud as a string, scp as an array, application/at+jwt, no act */
	char *j = make_jwt("{\"alg\":\"ES256\",\"typ\":\"application/at+jwt\"}",
			   "{\"aud\":\"https://api.example\",\"scp\":[\"x\",\"y\"],\"exp\":\"soon\"}");
	assert_int_equal(jwt_parse(j, strlen(j), &c, err, sizeof(err)), 0);
	assert_true(c.at_jwt);
	assert_int_equal(c.naud, 1);
	assert_string_equal(c.scope, "x y");
	assert_int_equal(c.exp, 0); /* not a NumericDate: absent */
	assert_null(c.actor);
	jwt_claims_free(&c);
	free(j);
	/* plain JWT, alg none with empty signature */
	j = make_jwt("{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"sub\":\"s\"}");
	strrchr(j, '.')[1] = 0;
	assert_true(jwt_looks_like(j, strlen(j)));
	assert_int_equal(jwt_parse(j, strlen(j), &c, err, sizeof(err)), 0);
	assert_false(c.at_jwt);
	jwt_claims_free(&c);
	free(j);
}

static void test_rejects(void **state)
{
	struct jwt_claims c;
	char err[128];
	static const char *const bad[] = {
		"", "a", "a.b", "a.b.c.d", "..", "abc.def.ghi", "e30.e30.x y", "e30.W10.sig", "W10.e30.sig",
		"e30.!!!.sig", "e30..sig",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(jwt_parse(bad[i], strlen(bad[i]), &c, err, sizeof(err)), -EINVAL);
		assert_false(jwt_looks_like(bad[i], strlen(bad[i])));
	}
	/* a header without alg is not taken for a JWT */
	char *j = make_jwt("{\"typ\":\"JWT\"}", "{}");
	assert_false(jwt_looks_like(j, strlen(j)));
	free(j);
	/* JSON allows whitespace before the object, but the detector looks
	 * for a segment that starts '{' (e[wy3]...): such a JWT could be
	 * registered and never found, so it is not a JWT to tokenward */
	static const char *const ws[] = { " ", "\n", "\t", "\r\n" };
	for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++) {
		char h[64], p[64];
		snprintf(h, sizeof(h), "%s{\"alg\":\"HS256\"}", ws[i]);
		snprintf(p, sizeof(p), "%s{\"sub\":\"s\"}", ws[i]);
		j = make_jwt(h, "{\"sub\":\"s\"}");
		assert_int_equal(jwt_parse(j, strlen(j), &c, err, sizeof(err)), -EINVAL);
		assert_false(jwt_looks_like(j, strlen(j)));
		free(j);
		j = make_jwt("{\"alg\":\"HS256\"}", p);
		assert_int_equal(jwt_parse(j, strlen(j), &c, err, sizeof(err)), -EINVAL);
		free(j);
	}
	/* the error never quotes the input */
	assert_int_equal(jwt_parse("secretpart.e30.x", 16, &c, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "secretpart"));
}

static void test_fuzz(void **state)
{
	struct jwt_claims c;
	char err[128], buf[256];
	unsigned seed = 7;
	char *j = make_jwt("{\"alg\":\"RS256\"}", "{\"aud\":[\"a\",1,null,{}],\"act\":{\"act\":{\"act\":1}},\"exp\":1e300}");
	size_t n = strlen(j);
	(void)state;
	assert_int_equal(jwt_parse(j, n, &c, err, sizeof(err)), 0);
	assert_int_equal(c.naud, 1);
	assert_int_equal(c.exp, 0);
	jwt_claims_free(&c);
	for (int it = 0; it < 100000; it++) {
		memcpy(buf, j, n);
		for (int f = 0; f < 3; f++)
			buf[rand_r(&seed) % n] = "AZaz09-_.{}\"x"[rand_r(&seed) % 13];
		size_t len = rand_r(&seed) % (n + 1);
		if (jwt_parse(buf, len, &c, err, sizeof(err)) == 0)
			jwt_claims_free(&c);
		jwt_looks_like(buf, len);
	}
	free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
