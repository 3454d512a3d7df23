/*
 * The hand-off between the ledger and the revoker, used by both the
 * monitor and the `ledger revoke|complete` commands:
 *  - revocation history lines go onto the token's ledger history;
 *  - revocations the ledger queued (revoke_requests, state 'pending')
 *    are handed to the revoker, with the raw token unsealed from the
 *    ledger's sealed copy where an RFC 7009 issuer needs it.
 * Whoever drains first delivers; the revoker's jobs are unique per token
 * and issuer, so a second drain of the same request is a no-op.
 */
#ifndef TW_HANDOFF_H
#define TW_HANDOFF_H

#include <stddef.h>
#include "ledger/ledger.h"
#include "revoke/revoke.h"

struct handoff;

/* Open a history connection to the ledger at path, load its seal key, and
 * point rev's history at the ledger (call before revoker_start). */
int handoff_open(const char *ledger_path, struct revoker *rev, struct handoff **out,
		 char *err, size_t errsz);

/* Hand pending revoke_requests of l to the revoker. Returns how many. */
int handoff_drain(struct handoff *h, struct ledger *l);

/* The same, calling fn for each request with the token's id, hash and
 * issuer (NULL when the token is unknown) and revoker_submit()'s result
 * (a negative errno when it was not handed over). */
typedef void (*handoff_drained_fn)(void *ctx, const char *token_id, const char *sha256,
				   const char *issuer, int submit_result);
int handoff_drain_each(struct handoff *h, struct ledger *l, handoff_drained_fn fn, void *ctx);

/* History lines as durable as the revocation queue: FULL or NORMAL. */
int handoff_synchronous(struct handoff *h, int full);

void handoff_close(struct handoff *h);

/* Revocation outcomes also go to the event store (NULL: they do not). */
struct evstore;
void handoff_set_store(struct handoff *h, struct evstore *s);

/* The built-in issuer's revocation list: revoked.list beside the ledger,
 * so the monitor and the CLI append to the same file. */
void handoff_revocation_list(const char *ledger_path, char *out, size_t outsz);

#endif
