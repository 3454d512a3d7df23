#!/usr/bin/env bash
# Revocation against a real OAuth 2.0 server (oidc-provider 9): an agent
# gets a token by client_credentials for its audience, tokenward revokes
# it by RFC 7009, introspection then says {"active":false}; a token in
# legitimate use stays active. Also: client_secret_post, idempotence,
# alert-only policy, and bad client credentials (401: loud, no loop).
. "$(dirname "$0")/../live/lib.sh"
. "$TW_ROOT/tests/issuer/lib.sh"

if ! oidc_start; then not_ok oidc_start "the test issuer did not start"; exit 1; fi
BAD_SECRET_F=$(secret_file wrong)
cat >"$TW_TMP/tw.yaml" <<YAML
state_dir: $TW_TMP/state
ledger: $TW_TMP/q.db
revocation:
  workers: 2
  backoff_base: 100ms
  backoff_max: 1s
issuers:
  oidc:
    type: rfc7009
    revocation_endpoint: $OIDC_URL/token/revocation
    client_id: tokenward
    client_secret_file: $TW_SECRET_F
    auth_method: client_secret_basic
    token_type_hint: access_token
    timeout: 30s
  oidc-post:
    type: rfc7009
    revocation_endpoint: $OIDC_URL/token/revocation
    client_id: tokenward-post
    client_secret_file: $TW_SECRET_F
    auth_method: client_secret_post
  oidc-badcreds:
    type: rfc7009
    revocation_endpoint: $OIDC_URL/token/revocation
    client_id: tokenward
    client_secret_file: $BAD_SECRET_F
YAML
if ! rq_start; then not_ok rq_start "revoke-queue serve did not start"; exit 1; fi

# 1. The agent obtains tokens for its audience.
LEAK=$(oidc_token); KEEP=$(oidc_token); POSTED=$(oidc_token); BAD=$(oidc_token)
if [ -n "$LEAK" ] && [ "$(oidc_active "$LEAK")" = true ] && [ "$(oidc_active "$KEEP")" = true ]; then
  ok agent_tokens_active
else
  not_ok agent_tokens_active "could not obtain active tokens"; exit 1
fi

# 2-4. The agent leaks one (a log write); tokenward revokes it.
rq_submit file_write "$LEAK" oidc tok-leak
S_LEAK=$(sha256 "$LEAK")
if rq_wait "any(j['token_sha256']=='$S_LEAK' and j['state']=='done' and j['last_status']==200 for j in jobs)"; then
  ok revoke_delivered
else
  not_ok revoke_delivered "job not done: $(cat "$TW_TMP/jobs.jsonl")"
fi
# 5. Introspection now says inactive, and the resource refuses it.
if [ "$(oidc_active "$LEAK")" = false ]; then ok leaked_token_inactive; else not_ok leaked_token_inactive "introspection still active"; fi
if [ "$(oidc_use "$LEAK")" = 401 ]; then ok leaked_token_refused_by_resource; else not_ok leaked_token_refused_by_resource "resource accepted it"; fi

# A legitimate use to the audience leaves the token active.
if [ "$(oidc_use "$KEEP")" = 200 ] && [ "$(oidc_active "$KEEP")" = true ]; then
  ok legit_token_stays_active
else
  not_ok legit_token_stays_active "the token in legitimate use was revoked"
fi

# History of the leaked token: queued, then revoked with HTTP 200.
if rq_wait "[h['event'] for h in hist if h.get('token_sha256')=='$S_LEAK']==['revoke_queued','revoked'] and [h for h in hist if h['event']=='revoked' and h['token_sha256']=='$S_LEAK'][0]['detail']['http_status']==200"; then
  ok history_queued_then_revoked
else
  not_ok history_queued_then_revoked "$(grep "$S_LEAK" "$TW_TMP/hist.jsonl")"
fi

# client_secret_post (a send to a wrong destination).
rq_submit net_dest "$POSTED" oidc-post tok-posted
S_POSTED=$(sha256 "$POSTED")
if rq_wait "any(j['token_sha256']=='$S_POSTED' and j['state']=='done' for j in jobs)" &&
   [ "$(oidc_active "$POSTED")" = false ]; then
  ok client_secret_post_revokes
else
  not_ok client_secret_post_revokes "$(grep "$S_POSTED" "$TW_TMP/jobs.jsonl")"
fi

# Idempotent: the same leak again makes no second job.
rq_submit exec_env "$LEAK" oidc tok-leak
if rq_wait "len([j for j in jobs if j['token_sha256']=='$S_LEAK'])==1" &&
   grep -q '"result":"duplicate"' "$TW_TMP/rq.out"; then
  ok resubmit_is_idempotent
else
  not_ok resubmit_is_idempotent "$(cat "$TW_TMP/rq.out")"
fi

# unmanaged only alerts: no job, token stays active, history says alert.
S_KEEP=$(sha256 "$KEEP")
rq_submit unmanaged "$KEEP" oidc tok-keep
if rq_wait "any(h['event']=='alert' and h['token_sha256']=='$S_KEEP' for h in hist) and not any(j['token_sha256']=='$S_KEEP' for j in jobs)" &&
   [ "$(oidc_active "$KEEP")" = true ]; then
  ok unmanaged_only_alerts
else
  not_ok unmanaged_only_alerts "job made or token revoked"
fi

# Bad client credentials: 401, loud error, one attempt, no retry loop.
rq_submit file_write "$BAD" oidc-badcreds tok-bad
S_BAD=$(sha256 "$BAD")
if rq_wait "any(j['token_sha256']=='$S_BAD' and j['state']=='failed' and j['last_status']==401 for j in jobs)"; then
  # NO_RETRY_WINDOW_S: ample wall clock for a retry loop to show itself
  # (backoff base 100 ms, max 1 s): the interval is what is under test.
  NO_RETRY_WINDOW_S=1.5
  tw_interval "$NO_RETRY_WINDOW_S"
  rq_wait "[j['attempts'] for j in jobs if j['token_sha256']=='$S_BAD']==[1] and status['failed']==1 and status['failed_jobs'][0]['token_sha256']=='$S_BAD'" &&
  grep -q "REVOCATION FAILED, TOKEN STILL VALID: sha256:${S_BAD:0:12}" "$TW_TMP/rq.err" &&
  [ "$(oidc_active "$BAD")" = true ] &&
    ok bad_credentials_fail_loud_no_loop ||
    not_ok bad_credentials_fail_loud_no_loop "attempts/status/log wrong: $(grep "$S_BAD" "$TW_TMP/jobs.jsonl")"
else
  not_ok bad_credentials_fail_loud_no_loop "job not failed with 401: $(cat "$TW_TMP/jobs.jsonl")"
fi

# Fix the credentials, restart, re-arm: the sealed token is revoked.
cp "$TW_SECRET_F" "$BAD_SECRET_F"
rq_kill TERM
rq_start
if [ "$(rq retry all)" = "1 job re-armed" ] &&
   rq_wait "any(j['token_sha256']=='$S_BAD' and j['state']=='done' for j in jobs)" &&
   [ "$(oidc_active "$BAD")" = false ]; then
  ok retry_after_fix_revokes
else
  not_ok retry_after_fix_revokes "$(grep "$S_BAD" "$TW_TMP/jobs.jsonl")"
fi
# Once done, the sealed copy is dropped from the job.
if rq_wait "all(not j['token_sealed'] for j in jobs if j['state']=='done')"; then ok sealed_token_dropped_when_done; else not_ok sealed_token_dropped_when_done "sealed token kept"; fi

rq_kill TERM
rq_assert_no_leak no_raw_token_in_artefacts "$LEAK" "$KEEP" "$POSTED" "$BAD"
