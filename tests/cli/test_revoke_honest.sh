#!/usr/bin/env bash
# A revocation is reported as done only when the issuer confirmed it
# (issue 13, defect 3). `ledger complete` and `ledger revoke` say per
# token what happened (revoked, queued for retry, failed and why), exit 1
# when any revocation is not confirmed, and a failed job never leaves the
# queue silently: it shows in `revoke-queue status`, and a job that
# failed because its issuer was not configured is re-armed by the first
# tokenward process whose config names that issuer.
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"

HOOK=$TW_TMP/hook.sh
cat >"$HOOK" <<'SH'
#!/bin/sh
# Record stdin; exit with the code in hook.rc beside this script (default 0).
dir=$(dirname "$0")
cat >>"$dir/hook.stdin"; echo >>"$dir/hook.stdin"
exit "$(cat "$dir/hook.rc" 2>/dev/null || echo 0)"
SH
chmod 755 "$HOOK"
# No external issuer at all.
EMPTY=$TW_TMP/empty.yaml
printf 'revocation:\n  backoff_base: 100ms\n  backoff_max: 200ms\n' >"$EMPTY"
# corp-idp is a command hook; a first retry comes after the CLI's wait.
WITH=$TW_TMP/with.yaml
cat >"$WITH" <<YAML
revocation:
  backoff_base: 30s
  backoff_max: 60s
issuers:
  corp-idp:
    type: command
    command: [$HOOK]
    timeout: 30s
YAML
rq_status() { "$TW" revoke-queue --config "$1" --db "$LEDGER" status >"$TW_TMP/status.json" 2>>"$TW_TMP/rq.err"; }
register() { # TASK: an opaque token of corp-idp; prints its id
  local t; t=$(opaque_token); RAW_TOKENS+=("$t")
  printf '%s' "$t" | "$TW" ledger register --issuer corp-idp --task "$1" --aud https://api.example.test --ttl 1h 2>>"$TW_TMP/reg.err"
}
mint() { local t; t=$("$TW" mint --task "$1" --aud a.example:1 2>"$TW_TMP/mint.err"); RAW_TOKENS+=("$t"); sed -n 's/^tokenward mint: \(tk-[0-9a-f]*\) .*/\1/p' "$TW_TMP/mint.err"; }

# --- an unconfigured issuer: not "revoked", exit 1, a failed job ---
ext=$(register A); own=$(mint A)
expect_rc complete_unconfigured_exits_1 1 "$TW" ledger complete --task A --config "$EMPTY"
cp "$TW_TMP/out" "$TW_TMP/complete.out"; cp "$TW_TMP/err" "$TW_TMP/complete.err"
if grep -q "and revoked" "$TW_TMP/complete.out"; then
  not_ok complete_does_not_claim_revoked "$(cat "$TW_TMP/complete.out")"
else
  ok complete_does_not_claim_revoked
fi
if grep "$ext" "$TW_TMP/complete.out" | grep -q "NOT REVOKED.*corp-idp.*not configured" &&
   grep "$own" "$TW_TMP/complete.out" | grep -q "revoked by issuer 'tokenward'"; then
  ok complete_says_per_token_outcome
else
  not_ok complete_says_per_token_outcome "$(cat "$TW_TMP/complete.out")"
fi
grep -q "still valid" "$TW_TMP/complete.err" && ok complete_warns_token_still_valid || not_ok complete_warns_token_still_valid "$(cat "$TW_TMP/complete.err")"
rq_status "$EMPTY"
if [ "$(json_eval "$TW_TMP/status.json" "(j['failed'], [f['issuer'] for f in j['failed_jobs']], j['failed_jobs'][0]['error'])")" = \
     "(1, ['corp-idp'], 'issuer not configured')" ]; then
  ok unconfigured_job_failed_in_status
else
  not_ok unconfigured_job_failed_in_status "$(head -c 600 "$TW_TMP/status.json")"
fi
"$TW" ledger show "$ext" --json >"$TW_TMP/show.json"
ev=$(json_eval "$TW_TMP/show.json" "[h['event'] for h in j['history']]")
if [[ $ev == *revoke_failed* ]] && [[ $ev != *issuer_revoked* ]]; then ok history_does_not_say_issuer_revoked; else not_ok history_does_not_say_issuer_revoked "$ev"; fi
[ "$(json_eval "$TW_TMP/show.json" "j['revocation']['state']")" = failed ] && ok show_reports_revocation_state || not_ok show_reports_revocation_state "$(head -c 800 "$TW_TMP/show.json")"
"$TW" ledger list >"$TW_TMP/list.txt"
grep "$ext" "$TW_TMP/list.txt" | grep -q "revoke-failed" && grep "$own" "$TW_TMP/list.txt" | grep -q " revoked " \
  && ok list_says_revoked_only_when_confirmed || not_ok list_says_revoked_only_when_confirmed "$(cat "$TW_TMP/list.txt")"
"$TW" report --token "$ext" --format json >"$TW_TMP/report.json"
"$TW" report --token "$ext" --format md >"$TW_TMP/report.md"
[ "$(json_eval "$TW_TMP/report.json" "j['tokens'][0]['revocation']['state']")" = failed ] && grep -q "revocation at the issuer: failed" "$TW_TMP/report.md" \
  && ok report_shows_revocation_state || not_ok report_shows_revocation_state "$(grep -i revocation "$TW_TMP/report.md")"

# Asking again is no "no-op, exit 0": the issuer still has not revoked it.
expect_rc revoke_again_still_not_revoked 1 "$TW" ledger revoke "$ext" --config "$EMPTY"
grep -q "NOT REVOKED" "$TW_TMP/out" && ok revoke_again_says_not_revoked || not_ok revoke_again_says_not_revoked "$(cat "$TW_TMP/out")"

# Once a config names the issuer, the job is re-armed and delivered
# without a manual retry: here by `ledger revoke` with that config.
expect_rc revoke_with_issuer_configured 0 "$TW" ledger revoke "$ext" --config "$WITH"
grep "$ext" "$TW_TMP/out" | grep -q "revoked by issuer 'corp-idp'" && ok rearmed_when_configured || not_ok rearmed_when_configured "$(cat "$TW_TMP/out" "$TW_TMP/err")"
grep -q "$(sql "SELECT sha256 FROM tokens WHERE id = '$ext'")" "$TW_TMP/hook.stdin" && ok rearmed_job_reached_issuer || not_ok rearmed_job_reached_issuer "hook not called"

# A long-running process with the issuer configured (as the monitor
# would be) re-arms a job another process failed, on its own.
"$TW" revoke-queue --config "$WITH" --db "$LEDGER" --ready-file "$TW_TMP/rq.ready" serve </dev/null >>"$TW_TMP/rq.out" 2>>"$TW_TMP/rq.err" &
RQ=$!
tw_poll test -e "$TW_TMP/rq.ready" || not_ok serve_started "no ready file"
ext2=$(register B)
expect_rc complete_while_server_has_issuer 1 "$TW" ledger complete --task B --config "$EMPTY"
_job_done() { rq_status "$WITH" && [ "$(json_eval "$TW_TMP/status.json" "(j['failed'], j['pending'])")" = "(0, 0)" ]; }
if tw_poll _job_done && grep -q "$(sql "SELECT sha256 FROM tokens WHERE id = '$ext2'")" "$TW_TMP/hook.stdin"; then
  ok running_process_rearms_and_delivers
else
  not_ok running_process_rearms_and_delivers "$(head -c 600 "$TW_TMP/status.json")"
fi
kill "$RQ"; wait "$RQ" 2>/dev/null

# --- the issuer answers "try later": queued for retry, exit 1 ---
echo 75 >"$TW_TMP/hook.rc"
ext3=$(register C)
expect_rc complete_tempfail_exits_1 1 "$TW" ledger complete --task C --config "$WITH"
grep "$ext3" "$TW_TMP/out" | grep -q "NOT YET REVOKED.*queued for retry" && ok complete_says_queued_for_retry || not_ok complete_says_queued_for_retry "$(cat "$TW_TMP/out")"
rq_status "$WITH"
[ "$(json_eval "$TW_TMP/status.json" "(j['pending'], [x['issuer'] for x in j['retrying_jobs']])")" = "(1, ['corp-idp'])" ] \
  && ok retrying_job_in_status || not_ok retrying_job_in_status "$(head -c 600 "$TW_TMP/status.json")"

# --- a permanent refusal: failed, exit 1, in status ---
echo 3 >"$TW_TMP/hook.rc"
ext4=$(register D)
expect_rc complete_permanent_exits_1 1 "$TW" ledger complete --task D --config "$WITH"
grep "$ext4" "$TW_TMP/out" | grep -q "NOT REVOKED.*corp-idp" && ok complete_says_failed || not_ok complete_says_failed "$(cat "$TW_TMP/out")"
rq_status "$WITH"
[ "$(json_eval "$TW_TMP/status.json" "j['failed']")" = 1 ] && ok permanent_failure_in_status || not_ok permanent_failure_in_status "$(head -c 600 "$TW_TMP/status.json")"
rm -f "$TW_TMP/hook.rc"

# --- every issuer confirms: exit 0, and it says so ---
ext5=$(register E); own5=$(mint E)
expect_rc complete_all_confirmed_exits_0 0 "$TW" ledger complete --task E --config "$WITH"
[ "$(grep -c "revoked by issuer" "$TW_TMP/out")" = 2 ] && ok complete_all_confirmed_lists_each || not_ok complete_all_confirmed_lists_each "$(cat "$TW_TMP/out")"
own6=$(mint F)
expect_rc revoke_builtin_exits_0 0 "$TW" ledger revoke "$own6" --config "$WITH"
grep "$own6" "$TW_TMP/out" | grep -q "revoked by issuer 'tokenward'" && ok revoke_says_confirmed || not_ok revoke_says_confirmed "$(cat "$TW_TMP/out")"
expect_rc complete_no_revoke_exits_0 0 sh -c "'$TW' mint --task G --aud a.example:1 >/dev/null 2>&1 && '$TW' ledger complete --task G --no-revoke --config '$EMPTY'"
grep -q "not revoked: --no-revoke" "$TW_TMP/out" && ok complete_no_revoke_says_so || not_ok complete_no_revoke_says_so "$(cat "$TW_TMP/out")"

# --- revoke-queue serve: an unconfigured issuer is "failed", not "queued" ---
T=$(opaque_token); RAW_TOKENS+=("$T")
printf '{"verdict_class":"file_write","token":"%s","issuer":"nobody-here"}\n' "$T" |
  "$TW" revoke-queue --config "$EMPTY" --db "$TW_TMP/q.db" serve --exit-after 1 >"$TW_TMP/serve.out" 2>"$TW_TMP/serve.err"
grep -q '"result":"failed"' "$TW_TMP/serve.out" && grep -q 'not configured' "$TW_TMP/serve.out" && ok serve_answers_failed || not_ok serve_answers_failed "$(cat "$TW_TMP/serve.out")"
"$TW" revoke-queue --config "$EMPTY" --db "$TW_TMP/q.db" status >"$TW_TMP/status.json"
[ "$(json_eval "$TW_TMP/status.json" "(j['failed'], j['failed_jobs'][0]['issuer'])")" = "(1, 'nobody-here')" ] \
  && ok serve_failed_job_in_status || not_ok serve_failed_job_in_status "$(head -c 600 "$TW_TMP/status.json")"


assert_no_raw_tokens "$TW_LOGS"
