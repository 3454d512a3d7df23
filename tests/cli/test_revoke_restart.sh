#!/usr/bin/env bash
# tokenward killed (-9) with revocations pending: the jobs were committed
# before any attempt, so the next start delivers them, with the raw token
# recovered from its sealed copy. Two cases: the issuer down (job waiting
# for a retry), and the request in flight at the moment of the kill.
. "$(dirname "$0")/../live/lib.sh"
. "$TW_ROOT/tests/issuer/lib.sh"

PORT=$(free_port)
FAULT_SECRET_F=$(secret_file fault)
cat >"$TW_TMP/tw.yaml" <<YAML
revocation:
  backoff_base: 100ms
  backoff_max: 300ms
issuers:
  idp:
    type: rfc7009
    revocation_endpoint: http://127.0.0.1:$PORT/revoke
    client_id: tokenward
    client_secret_file: $FAULT_SECRET_F
    timeout: 60s
YAML
# Case 2's issuer holds the request INFLIGHT_HOLD_MS before it answers:
# the interval in which the kill must land. The kill follows the arrival
# at once, so only a very long stall could miss it; the issuer timeout
# above is longer still, so the request never times out first.
INFLIGHT_HOLD_MS=30000
T1="twrv$(rand_hex 20)"; S1=$(sha256 "$T1")
T2="twrv$(rand_hex 20)"; S2=$(sha256 "$T2")

# Case 1: issuer down; the job is retrying when tokenward is killed.
rq_start || { not_ok rq_start "serve did not start"; exit 1; }
rq_submit file_write "$T1" idp tok-1
if rq_wait "any(h['token_sha256']=='$S1' and h['event']=='revoke_retry' for h in hist)"; then
  rq_kill KILL
  if rq_wait "[j['state'] for j in jobs if j['token_sha256']=='$S1']==['pending'] and all(j['token_sealed'] for j in jobs)"; then
    ok pending_job_survives_kill9
  else
    not_ok pending_job_survives_kill9 "$(cat "$TW_TMP/jobs.jsonl")"
  fi
else
  not_ok pending_job_survives_kill9 "no retry seen: $(cat "$TW_TMP/hist.jsonl")"
fi
fault_start "$PORT" || { not_ok fault_start "no fault server"; exit 1; }
rq_start
if rq_wait "any(j['token_sha256']=='$S1' and j['state']=='done' for j in jobs)" &&
   grep -q "\"token_sha256\": \"$S1\".*\"status\": 200" "$FAULT_LOG"; then
  ok delivered_after_restart
else
  not_ok delivered_after_restart "$(cat "$TW_TMP/jobs.jsonl")"
fi

# Case 2: killed while the request is in flight (the issuer holds it).
fault_script '{"steps":[{"delay_ms":'$INFLIGHT_HOLD_MS'}],"then":{"status":200}}'
rq_submit exec_env "$T2" idp tok-2
# the issuer has the request (it logs the arrival), tokenward waits for the answer
fault_wait "r.get('token_sha256')=='$S2' and r.get('phase')=='received'" ||
  not_ok inflight_request_arrived "the issuer never got the request"
rq_kill KILL
if rq_wait "[j['state'] for j in jobs if j['token_sha256']=='$S2']==['pending']"; then
  ok inflight_job_pending_after_kill9
else
  not_ok inflight_job_pending_after_kill9 "$(cat "$TW_TMP/jobs.jsonl")"
fi
rq_start
if rq_wait "any(j['token_sha256']=='$S2' and j['state']=='done' and j['last_status']==200 for j in jobs)"; then
  ok inflight_job_redelivered_after_restart
else
  not_ok inflight_job_redelivered_after_restart "$(cat "$TW_TMP/jobs.jsonl")"
fi
# History shows the whole story; status counts both as done.
if rq_wait "status['done']==2 and status['pending']==0 and [h['event'] for h in hist if h['token_sha256']=='$S2'][-1]=='revoked' and [h['event'] for h in hist if h['token_sha256']=='$S1'][0]=='revoke_queued'"; then
  ok history_and_status_after_restart
else
  not_ok history_and_status_after_restart "$(cat "$TW_TMP/status.json")"
fi

# A sealing key with a wider mode is refused.
chmod 644 "$TW_TMP/seal.key"
if ! rq status >/dev/null 2>"$TW_TMP/key.err" && grep -q "refusing seal key .*seal.key.*it is 0644" "$TW_TMP/key.err"; then
  ok wide_key_file_refused
else
  not_ok wide_key_file_refused "$(cat "$TW_TMP/key.err")"
fi
chmod 600 "$TW_TMP/seal.key"

rq_kill TERM
rq_assert_no_leak no_raw_token_in_artefacts "$T1" "$T2"
