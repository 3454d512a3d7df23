#!/usr/bin/env bash
# Revocation under issuer faults, against a fault-injecting RFC 7009
# endpoint: down (connection refused) then back; slow (timeouts); 500;
# 503 with Retry-After; 400. Nothing is lost, and every outcome shows in
# the token's history and in the queue status.
. "$(dirname "$0")/../live/lib.sh"
. "$TW_ROOT/tests/issuer/lib.sh"

PORT=$(free_port)
FAULT_SECRET_F=$(secret_file fault)
cat >"$TW_TMP/tw.yaml" <<YAML
revocation:
  workers: 2
  backoff_base: 100ms
  backoff_max: 400ms
issuers:
  idp:
    type: rfc7009
    revocation_endpoint: http://127.0.0.1:$PORT/revoke
    client_id: tokenward
    client_secret_file: $FAULT_SECRET_F
    timeout: 2s
YAML
# The slow issuer answers after SLOW_MS, far past the 2 s timeout; a
# prompt answer comes well within it, even on a loaded machine.
SLOW_MS=10000
# After a permanent failure, NO_RETRY_WINDOW_S of wall clock (twice
# backoff_max) in which a retry loop would have shown itself.
NO_RETRY_WINDOW_S=0.8
if ! rq_start; then not_ok rq_start "revoke-queue serve did not start"; exit 1; fi
TOKENS=()
mint() { local t; t="twrv$(rand_hex 20)"; TOKENS+=("$t"); echo "$t"; }
hist_for() { python3 -c "import json,sys; [print(json.dumps(h)) for h in map(json.loads, open('$TW_TMP/hist.jsonl')) if h.get('token_sha256')=='$1']"; }

# Down, then back: retries on "connection refused" until it listens.
T=$(mint); S=$(sha256 "$T")
rq_submit file_write "$T" idp
if rq_wait "sum(1 for h in hist if h['token_sha256']=='$S' and h['event']=='revoke_retry' and 'onnect' in h['detail']['detail'])>=2 and status['pending']==1"; then
  ok down_retries_connection_refused
else
  not_ok down_retries_connection_refused "$(hist_for "$S")"
fi
fault_start "$PORT" || { not_ok fault_start "no fault server"; exit 1; }
if rq_wait "any(j['token_sha256']=='$S' and j['state']=='done' for j in jobs) and status['pending']==0" &&
   grep -q "\"token_sha256\": \"$S\".*\"status\": 200" "$FAULT_LOG"; then
  ok down_then_back_delivered
else
  not_ok down_then_back_delivered "$(hist_for "$S")"
fi

# Slow: two answers slower than the timeout, then a prompt one.
fault_script '{"steps":[{"delay_ms":'$SLOW_MS'},{"delay_ms":'$SLOW_MS'}],"then":{"status":200}}'
T=$(mint); S=$(sha256 "$T")
rq_submit exec_env "$T" idp
if rq_wait "any(j['token_sha256']=='$S' and j['state']=='done' and j['attempts']==3 for j in jobs)" &&
   rq_wait "sum(1 for h in hist if h['token_sha256']=='$S' and h['event']=='revoke_retry' and 'timed out' in h['detail']['detail'])==2"; then
  ok slow_issuer_timeouts_retried
else
  not_ok slow_issuer_timeouts_retried "$(hist_for "$S")"
fi

# 500 twice, then 200.
fault_script '{"steps":[{"status":500},{"status":500}],"then":{"status":200}}'
T=$(mint); S=$(sha256 "$T")
rq_submit exec_argv "$T" idp
if rq_wait "any(j['token_sha256']=='$S' and j['state']=='done' and j['attempts']==3 for j in jobs) and [h['detail'].get('http_status') for h in hist if h['token_sha256']=='$S' and h['event']!='revoke_queued']==[500,500,200]"; then
  ok http_500_retried
else
  not_ok http_500_retried "$(hist_for "$S")"
fi

# 503 with Retry-After: 2 -> the next attempt waits at least 2 s, although
# the backoff alone would retry within 400 ms.
fault_script '{"steps":[{"status":503,"retry_after":2}],"then":{"status":200}}'
T=$(mint); S=$(sha256 "$T")
rq_submit after_task "$T" idp
if rq_wait "any(j['token_sha256']=='$S' and j['state']=='done' for j in jobs)" &&
   rq_wait "any(h['token_sha256']=='$S' and h['event']=='revoke_retry' and h['detail'].get('retry_after_s')==2 and h['detail']['next_attempt_in_ms']>=2000 for h in hist)" &&
   python3 - "$FAULT_LOG" "$S" <<'PY'
import json, sys
ts = [e["t_ns"] for e in map(json.loads, open(sys.argv[1])) if e.get("token_sha256") == sys.argv[2]]
gap = (ts[1] - ts[0]) / 1e9
sys.exit(0 if len(ts) == 2 and 2.0 <= gap < 4.0 else print("attempts", len(ts), "gap", gap) or 1)
PY
then
  ok http_503_retry_after_honoured
else
  not_ok http_503_retry_after_honoured "$(hist_for "$S")"
fi

# 400: permanent, one attempt, failed job listed in the status.
fault_script '{"steps":[{"status":400}],"then":{"status":200}}'
T=$(mint); S=$(sha256 "$T")
rq_submit expired_use "$T" idp
if rq_wait "any(j['token_sha256']=='$S' and j['state']=='failed' and j['last_status']==400 for j in jobs)"; then
  tw_interval "$NO_RETRY_WINDOW_S"
  if rq_wait "[j['attempts'] for j in jobs if j['token_sha256']=='$S']==[1] and status['failed']==1 and status['failed_jobs'][0]['token_sha256']=='$S'" &&
     grep -q "REVOCATION FAILED.*${S:0:12}" "$TW_TMP/rq.err"; then
    ok http_400_permanent_no_retry
  else
    not_ok http_400_permanent_no_retry "$(hist_for "$S")"
  fi
else
  not_ok http_400_permanent_no_retry "$(hist_for "$S")"
fi

# Nothing lost: every other token reached the issuer with a 200.
lost=0
for t in "${TOKENS[@]:0:4}"; do
  grep -q "\"token_sha256\": \"$(sha256 "$t")\".*\"status\": 200" "$FAULT_LOG" || lost=$((lost + 1))
done
if [ $lost -eq 0 ] && rq_wait "status['done']==4 and status['pending']==0"; then ok nothing_lost; else not_ok nothing_lost "$lost tokens never revoked"; fi

rq_kill TERM
rq_assert_no_leak no_raw_token_in_artefacts "${TOKENS[@]}"
