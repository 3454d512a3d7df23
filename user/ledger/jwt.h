/*
 * Claims of a JWT access token, for filling a ledger entry at
 * registration. The signature is NOT verified: tokenward is not the
 * token's audience and holds no issuer key; it only records what the
 * issuer promised. A forged JWT can therefore only describe itself, and
 * the ledger keys the entry by the hash of exactly the bytes registered.
 */
#ifndef TW_JWT_H
#define TW_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jwt_claims {
	char *alg, *typ;       /* header */
	bool at_jwt;           /* typ is at+jwt (RFC 9068) */
	char *iss, *sub, *jti, *client_id;
	char *scope;           /* "scope", or "scp" joined by spaces */
	char *actor;           /* RFC 8693 act.sub: who acts for sub */
	char *actor_chain;     /* act.sub of each nested act, outermost first, comma-separated */
	char **aud;
	size_t naud;
	int64_t exp, iat, nbf; /* 0 when absent */
};

/* Three base64url segments (the last may be empty) whose first decodes
 * to a JSON object with "alg". Cheap enough for every candidate. */
bool jwt_looks_like(const char *s, size_t n);

/* Decode header and payload. Returns 0 or -EINVAL with err (which never
 * quotes the token). */
int jwt_parse(const char *s, size_t n, struct jwt_claims *out, char *err, size_t errsz);
void jwt_claims_free(struct jwt_claims *c);

/* base64url (no padding needed) into out (n*3/4+3 bytes). Returns the
 * decoded length or -1. */
long jwt_b64url_decode(const char *s, size_t n, unsigned char *out);

#endif
