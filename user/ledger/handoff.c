/*
 * Ledger <-> revoker hand-off (see handoff.h). The history sink runs on the
 * revoker's worker threads, so it has a ledger connection of its own,
 * serialised by a mutex; the drain runs on the caller's thread with the
 * caller's connection.
 */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "lib/config.h"
#include "lib/db.h"
#include "ledger/handoff.h"
#include "ledger/evstore.h"
#include "lib/log.h"
#include "ledger/seal.h"
#include "lib/sha256.h"

struct handoff {
	struct revoker *rev;
	struct ledger *hist;
	pthread_mutex_t hist_mu;
	struct seal_key key;   /* the ledger's, for tokens sealed at registration */
	int have_key;
	struct evstore *store;  /* revocation outcomes are kept there too */
};

void handoff_set_store(struct handoff *h, struct evstore *s)
{
	h->store = s;
}

static int history_sink(void *ctx, const char *token_id, const char *sha, const char *event,
			const char *detail)
{
	struct handoff *p = ctx;
	char idbuf[LEDGER_ID_LEN + 1];
	int r = 0;

	pthread_mutex_lock(&p->hist_mu);
	if (!token_id && sha) {
		unsigned char bin[32];
		struct ledger_token *t = NULL;

		if (sha256_from_hex(sha, bin) == 0 && ledger_get_sha(p->hist, bin, &t) == 0) {
			snprintf(idbuf, sizeof(idbuf), "%s", t->id);
			token_id = idbuf;
		}
		ledger_token_free(t);
	}
	if (token_id)
		r = ledger_history_add(p->hist, token_id, event, detail);
	pthread_mutex_unlock(&p->hist_mu);
	evstore_add_revocation(p->store, token_id, event, detail);
	return r;
}

/* `tokenward ledger revoke|complete` queue rows in revoke_requests; the
 * monitor, which holds the revoker, delivers them. */
int handoff_drain(struct handoff *p, struct ledger *l)
{
	return handoff_drain_each(p, l, NULL, NULL);
}

/* The request's outcome as the ledger records it. A request handed to the
 * revoker is not a revocation: the job's own history says when the issuer
 * confirmed. */
static const char *drain_detail(int r)
{
	switch (r) {
	case REVOKE_QUEUED: return "{\"handed_to\":\"revoker\"}";
	case REVOKE_DUPLICATE: return "{\"handed_to\":\"revoker\",\"job\":\"existing\"}";
	case REVOKE_ALERT_ONLY: return "{\"handed_to\":\"revoker\",\"policy\":\"alert\"}";
	case REVOKE_FAILED: return "{\"handed_to\":\"revoker\",\"job\":\"failed\",\"error\":\""
				   REVOKE_ERR_UNCONFIGURED "\"}";
	default: return "{\"error\":\"revoker refused\"}";
	}
}

int handoff_drain_each(struct handoff *p, struct ledger *l, handoff_drained_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct { int64_t seq; char id[LEDGER_ID_LEN + 1]; char reason[32]; } req[32];
	int n = 0;

	if (!p || !p->rev || !(st = ledger_stmt_kept(l, LEDGER_KEPT_PENDING_REQUESTS,
						       "SELECT seq, token_id, reason FROM revoke_requests "
						       "WHERE state = 'pending' ORDER BY seq LIMIT 32")))
		return 0;
	while (n < 32 && sqlite3_step(st) == SQLITE_ROW) {
		req[n].seq = sqlite3_column_int64(st, 0);
		db_col_copy(st, 1, req[n].id, sizeof(req[n].id)); /* NOT NULL */
		db_col_copy(st, 2, req[n].reason, sizeof(req[n].reason));
		n++;
	}
	sqlite3_reset(st);

	for (int i = 0; i < n; i++) {
		struct ledger_token *t = NULL;
		unsigned char *blob = NULL;
		size_t bloblen = 0;
		int r;

		if (ledger_get(l, req[i].id, &t)) {
			ledger_revoke_request_done(l, req[i].seq, "failed", "{\"error\":\"unknown token\"}");
			if (fn)
				fn(ctx, req[i].id, NULL, NULL, -ENOENT);
			continue;
		}
		/* RFC 7009 needs the token itself: unseal the copy kept at
		 * registration; the revoker seals it again into its job. */
		ledger_sealed_get(l, t->id, &blob, &bloblen);
		struct revoke_request rq = {
			.token_id = t->id,
			.token_sha256 = t->sha256,
			.issuer = t->issuer,
			.verdict_class = verdict_class_parse(req[i].reason) >= 0 ? req[i].reason : "task_done",
		};
		unsigned char *raw = blob && p->have_key ? malloc(bloblen) : NULL;
		size_t rawlen = 0;
		if (raw && seal_decrypt(&p->key, t->sha256, 64, blob, bloblen, raw, &rawlen) == 0) {
			rq.token = raw;
			rq.token_len = rawlen;
		}
		r = revoker_submit(p->rev, &rq);
		if (raw) {
			explicit_bzero(raw, bloblen);
			free(raw);
		}
		free(blob);
		ledger_revoke_request_done(l, req[i].seq, r >= 0 ? "done" : "failed", drain_detail(r));
		if (fn)
			fn(ctx, t->id, t->sha256, t->issuer, r);
		ledger_token_free(t);
	}
	return n;
}

int handoff_open(const char *ledger_path, struct revoker *rev, struct handoff **out,
		 char *err, size_t errsz)
{
	struct handoff *h = calloc(1, sizeof(*h));
	char kp[4096], kerr[256];
	int r;

	if (!h)
		return -ENOMEM;
	h->rev = rev;
	pthread_mutex_init(&h->hist_mu, NULL);
	if ((r = ledger_open(ledger_path, 0, &h->hist, err, errsz))) {
		handoff_close(h);
		return r;
	}
	seal_key_default_path(ledger_path, kp, sizeof(kp));
	h->have_key = seal_key_load(kp, 1, &h->key, kerr, sizeof(kerr)) == 0;
	if (!h->have_key)
		log_warn("%s: sealed tokens cannot be revoked at RFC 7009 issuers", kerr);
	revoker_set_history_sink(rev, history_sink, h);
	*out = h;
	return 0;
}

int handoff_synchronous(struct handoff *h, int full)
{
	return db_synchronous(ledger_sqlite(h->hist), full) == SQLITE_OK ? 0 : -EIO;
}

void handoff_close(struct handoff *h)
{
	if (!h)
		return;
	ledger_close(h->hist);
	pthread_mutex_destroy(&h->hist_mu);
	seal_key_wipe(&h->key);
	free(h);
}

void handoff_revocation_list(const char *ledger_path, char *out, size_t outsz)
{
	char *copy = strdup(ledger_path);

	snprintf(out, outsz, "%s/revoked.list", copy ? dirname(copy) : ".");
	free(copy);
}
