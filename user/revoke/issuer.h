/*
 * Delivery of one revocation to one issuer, by type: RFC 7009 endpoint,
 * the built-in revocation list, a command hook, or a webhook. Each call
 * makes one attempt and classifies the result; retrying is the caller's
 * (revoke.c) business.
 */
#ifndef TW_ISSUER_H
#define TW_ISSUER_H

#include <stddef.h>
#include "lib/config.h"

enum delivery_class {
	DELIVERY_OK,        /* revoked (or already revoked/unknown: RFC 7009 §2.2) */
	DELIVERY_RETRY,     /* transient: 5xx, 408, 429, timeout, refused, reset */
	DELIVERY_PERMANENT, /* retrying cannot help: 400/401/403, bad config */
};

struct issuer_outcome {
	enum delivery_class cls;
	long http_status;       /* 0 when no HTTP answer */
	long retry_after_s;     /* -1 when absent */
	int transport_error;    /* CURLcode, 0 when the exchange completed */
	int exit_status;        /* command hook: exit code, -1 if none */
	double elapsed_ms;
	char detail[256];       /* human text; never holds a secret */
};

/* One revocation as the issuer sees it. */
struct issuer_job {
	const char *token_id;
	const char *token_sha256;   /* hex */
	const char *verdict_class;
	const char *verdict_json;   /* redacted verdict, a JSON object */
	const void *token;          /* raw token; NULL when not available */
	size_t token_len;
};

/* A per-thread delivery context. It keeps one libcurl easy handle so
 * that connections to the issuer stay open between revocations. */
struct issuer_client;

struct issuer_client *issuer_client_new(void);
void issuer_client_free(struct issuer_client *c);

/* One attempt. Always fills *out; returns its class. */
enum delivery_class issuer_deliver(struct issuer_client *c, const struct tw_issuer *is,
				   const struct issuer_job *job, struct issuer_outcome *out);

/* Class of an HTTP answer (pure; for tests and for the webhook). */
enum delivery_class issuer_classify_http(long status);

/* Class of a libcurl transport error. */
enum delivery_class issuer_classify_transport(int curl_code);

const char *delivery_class_name(enum delivery_class c);

/* Process-wide libcurl setup; safe to call many times. */
int issuer_global_init(void);

#endif
