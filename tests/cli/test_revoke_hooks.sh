#!/usr/bin/env bash
# The other issuer types: builtin (hash appended once to a revocation
# list), command hook (details on stdin, never the token in argv), and
# webhook (the redacted verdict as JSON). Also the CLI's usage errors.
. "$(dirname "$0")/../live/lib.sh"
. "$TW_ROOT/tests/issuer/lib.sh"

fault_start || { not_ok fault_start "no fault server"; exit 1; }
HOOK=$TW_TMP/hook.sh
cat >"$HOOK" <<'SH'
#!/bin/sh
# Record argv and stdin; exit with the code in $TW_TMP_DIR/hook.rc (default 0).
dir=$(dirname "$0")
printf '%s\n' "$@" >>"$dir/hook.argv"
cat >>"$dir/hook.stdin"; echo >>"$dir/hook.stdin"
rc=$(cat "$dir/hook.rc" 2>/dev/null || echo 0)
echo "hook says rc=$rc"
exit "$rc"
SH
chmod 755 "$HOOK"
cat >"$TW_TMP/tw.yaml" <<YAML
revocation:
  backoff_base: 100ms
  backoff_max: 200ms
issuers:
  local:
    type: builtin
    revocation_list: $TW_TMP/revoked.sha256
  hook:
    type: command
    command: [$HOOK, --site, test]
    timeout: 30s
  hook-with-token:
    type: command
    command: [$HOOK]
    pass_token: true
  chat:
    type: webhook
    url: $FAULT_URL/webhook
YAML
rq_start || { not_ok rq_start "serve did not start"; exit 1; }
T1="twrv$(rand_hex 20)"; S1=$(sha256 "$T1")
T2="twrv$(rand_hex 20)"; S2=$(sha256 "$T2")
T3="twrv$(rand_hex 20)"; S3=$(sha256 "$T3")
T4="twrv$(rand_hex 20)"; S4=$(sha256 "$T4")

# builtin: appended once, even when the token leaks twice.
rq_submit file_write "$T1" local
rq_submit exec_env "$T1" local
if rq_wait "any(j['token_sha256']=='$S1' and j['issuer']=='local' and j['state']=='done' for j in jobs)" &&
   [ "$(grep -c "^$S1\$" "$TW_TMP/revoked.sha256")" = 1 ] &&
   rq_wait "not any(j['token_sealed'] for j in jobs if j['issuer']=='local')"; then
  ok builtin_appends_hash_once
else
  not_ok builtin_appends_hash_once "$(cat "$TW_TMP/revoked.sha256" 2>&1)"
fi

# command: details on stdin, nothing secret in argv.
rq_submit file_write "$T2" hook tok-2
if rq_wait "any(j['token_sha256']=='$S2' and j['state']=='done' for j in jobs)" &&
   grep -q "\"token_sha256\":\"$S2\"" "$TW_TMP/hook.stdin" && grep -q '"token_id":"tok-2"' "$TW_TMP/hook.stdin" &&
   [ "$(cat "$TW_TMP/hook.argv")" = "$(printf -- '--site\ntest')" ] && ! grep -qF "$T2" "$TW_TMP/hook.stdin"; then
  ok command_hook_gets_details_on_stdin
else
  not_ok command_hook_gets_details_on_stdin "$(cat "$TW_TMP/hook.argv" "$TW_TMP/hook.stdin" 2>&1)"
fi

# command with pass_token: the raw token on stdin only; exit 75 retries,
# exit 3 is permanent.
echo 75 >"$TW_TMP/hook.rc"
rq_submit net_dest "$T3" hook-with-token
if rq_wait "any(h['token_sha256']=='$S3' and h['event']=='revoke_retry' and h['detail'].get('exit_status')==75 for h in hist)"; then
  rm -f "$TW_TMP/hook.rc"
  if rq_wait "any(j['token_sha256']=='$S3' and j['state']=='done' for j in jobs)" &&
     grep -qF "\"token\":\"$T3\"" "$TW_TMP/hook.stdin" && ! grep -qF "$T3" "$TW_TMP/hook.argv"; then
    ok command_hook_pass_token_on_stdin_and_tempfail_retry
  else
    not_ok command_hook_pass_token_on_stdin_and_tempfail_retry "not done"
  fi
else
  not_ok command_hook_pass_token_on_stdin_and_tempfail_retry "no retry on exit 75"
fi
rm -f "$TW_TMP/hook.stdin"   # it holds T3 by design; the leak check covers the rest

# webhook: the redacted verdict, not the token.
rq_submit foreign_process "$T4" chat tok-4
if rq_wait "any(j['token_sha256']=='$S4' and j['state']=='done' for j in jobs)" &&
   python3 - "$FAULT_LOG" "$S4" <<'PY'
import json, sys
b = [e["body"] for e in map(json.loads, open(sys.argv[1])) if e["path"] == "/webhook"][-1]
ok = b["token_sha256"] == sys.argv[2] and b["verdict_class"] == "foreign_process" and b["verdict"]["path"] == "/tmp/agent.log" and "token" not in b
sys.exit(0 if ok else 1)
PY
then
  ok webhook_posts_redacted_verdict
else
  not_ok webhook_posts_redacted_verdict "$(tail -1 "$FAULT_LOG")"
fi

# Bad requests get an answer line, not a crash.
printf 'not json\n{"verdict_class":"file_write"}\n{"verdict_class":"nope","token":"x"}\n' >&7
_answered() { [ "$(grep -c '"result":"error"' "$TW_TMP/rq.out")" -ge 3 ]; }
if tw_poll _answered && [ "$(grep -c '"result":"error"' "$TW_TMP/rq.out")" = 3 ] && kill -0 "$RQ_PID"; then
  ok bad_requests_answered
else
  not_ok bad_requests_answered "$(tail -3 "$TW_TMP/rq.out")"
fi

rq_kill TERM
# CLI usage.
expect_rc() { local name=$1 want=$2; shift 2; "$@" >/dev/null 2>&1; local rc=$?; [ $rc -eq "$want" ] && ok "$name" || not_ok "$name" "exit $rc, want $want"; }
expect_rc usage_revoke_queue_help 0 "$TW" revoke-queue --help
expect_rc usage_revoke_queue_no_command 2 "$TW" revoke-queue
expect_rc usage_revoke_queue_unknown 2 "$TW" revoke-queue frob
expect_rc usage_revoke_queue_retry_needs_arg 2 rq retry
expect_rc usage_revoke_queue_bad_job 2 rq retry x1
expect_rc usage_revoke_queue_missing_config 2 "$TW" revoke-queue --config "$TW_TMP/none.yaml" status
printf 'issuers:\n  a:\n    type: rfc7009\n    bogus: 1\n' >"$TW_TMP/bad.yaml"
"$TW" revoke-queue --config "$TW_TMP/bad.yaml" status 2>"$TW_TMP/bad.err"
grep -q "bad.yaml:4: issuer 'a': unknown key 'bogus'" "$TW_TMP/bad.err" && ok malformed_config_names_file_and_line || not_ok malformed_config_names_file_and_line "$(cat "$TW_TMP/bad.err")"

rq_assert_no_leak no_raw_token_in_artefacts "$T1" "$T2" "$T3" "$T4"
