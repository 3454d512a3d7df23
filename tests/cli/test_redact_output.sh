#!/usr/bin/env bash
# No raw secret in tokenward's own output (issue 13, defect 4): usage
# errors that quote argv (unknown command, getopt's complaints, id, task,
# path and dir arguments), values stored in the ledger (--task, --scope,
# --subject, --issuer, JWT claims) and shown by list, show and reports,
# scan's JSON "path" and SARIF "uri", and what `revoke-queue serve` logs.
# Tokens are minted now (tokgen.py); every artefact is searched for each
# one raw, percent-encoded and base64-encoded.
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"

ART=$TW_TMP/art IN=$TW_TMP/leak-input   # leak-input*: the redaction audit skips what a test writes on purpose
mkdir -p "$ART" "$IN" "$TW_TMP/state"
FORMS=$TW_TMP/leak-input-forms.txt   # every form of every token of this test, one a line
: >"$FORMS"
# secret TOKEN: remember it in every form a leak could take: raw,
# percent-encoded, base64 and base64url (with and without padding), and
# as the markdown and HTML reports would escape it.
secret() {
  RAW_TOKENS+=("$1")
  python3 - "$1" >>"$FORMS" <<'PY'
import base64, sys, urllib.parse
t = sys.argv[1]; b = t.encode()
out = {t, urllib.parse.quote(t, safe=""), "".join("\\" + c if c in "\\`*_[]<>|#" else c for c in t),
       "".join("&#%d;" % ord(c) if c in "<>&\"'" else c for c in t)}
for e in (base64.b64encode(b), base64.urlsafe_b64encode(b)):
    out |= {e.decode(), e.decode().rstrip("=")}
print("\n".join(sorted(out)))
PY
}
gen() { local t; t=$(python3 "$TW_ROOT/tests/cli/tokgen.py" "$1"); secret "$t"; echo "$t"; }

# forms_in FILE...: "FILE" for each file holding a form of a secret.
forms_in() { [ -s "$FORMS" ] && grep -laF -f "$FORMS" -- "$@" 2>/dev/null; }

# run NAME WANT CMD...: exit WANT, and neither stdout nor stderr holds a secret.
run() {
  local name=$1 want=$2 rc hits; shift 2
  "$@" >"$ART/$name.out" 2>"$ART/$name.err" </dev/null; rc=$?
  hits=$(forms_in "$ART/$name.out" "$ART/$name.err" | sed 's/$/ holds a secret/')
  if [ -n "$hits" ]; then not_ok "$name" "$hits: $(head -c 300 "$ART/$name.err")"
  elif [ "$rc" -ne "$want" ]; then not_ok "$name" "exit $rc, want $want: $(head -c 300 "$ART/$name.err")"
  else ok "$name"; fi
}

NOPE=$TW_TMP/nonexistent
for kind in ghp jwt aws slack twd; do
  T=$(gen "$kind")
  # --- usage errors that quote argv ---
  run "${kind}_unknown_command" 2 "$TW" "$T"
  run "${kind}_unknown_command_prefixed" 2 "$TW" "x-$T"
  run "${kind}_run_unknown_option" 2 "$TW" run "--no-such=$T"
  run "${kind}_run_ambiguous_option" 2 "$TW" run "--no=$T"
  run "${kind}_run_bad_value" 2 "$TW" run --ringbuf-size "$T"
  run "${kind}_run_extra" 2 "$TW" run "$T"
  run "${kind}_scan_unknown_option" 2 "$TW" scan "--no-such=$T"
  run "${kind}_scan_missing_path" 2 "$TW" scan "$NOPE/$T.log"
  run "${kind}_scan_rules_dir" 2 "$TW" scan --rules "$NOPE/$T" "$IN"
  run "${kind}_status_unknown_option" 2 "$TW" status "--no-such=$T"
  run "${kind}_status_state_dir" 2 "$TW" status --state-dir "$NOPE/$T"
  run "${kind}_rules_unknown_option" 2 "$TW" rules "--no-such=$T" list
  run "${kind}_rules_unknown_sub" 2 "$TW" rules "$T"
  run "${kind}_rules_dir" 2 "$TW" rules --rules "$NOPE/$T" list
  run "${kind}_report_unknown_option" 2 "$TW" report "--no-such=$T"
  run "${kind}_report_ledger" 2 "$TW" report --ledger "$NOPE/$T/ledger.db"
  run "${kind}_rq_unknown_option" 2 "$TW" revoke-queue "--no-such=$T" status
  run "${kind}_rq_unknown_command" 2 "$TW" revoke-queue "$T"
  run "${kind}_rq_retry_arg" 2 "$TW" revoke-queue --db "$TW_TMP/q.db" retry "$T"
  run "${kind}_rq_exit_after" 2 "$TW" revoke-queue --exit-after "$T" serve
  run "${kind}_rq_config" 2 "$TW" revoke-queue --config "$NOPE/$T.yaml" status
  run "${kind}_rq_db" 2 "$TW" revoke-queue --db "$NOPE/$T/q.db" status
  run "${kind}_ledger_unknown_sub" 2 "$TW" ledger "$T"
  run "${kind}_ledger_list_unknown_option" 2 "$TW" ledger list "--no-such=$T"
  # (a tokenward token anywhere in a ledger command's argv is refused first: exit 2)
  run "${kind}_ledger_show_ledger" "$([ "$kind" = twd ] && echo 2 || echo 1)" "$TW" ledger show tk-000000000000 --ledger "$NOPE/$T/ledger.db"
  run "${kind}_mint_unknown_option" 2 "$TW" mint "--no-such=$T"
  run "${kind}_mint_ambiguous_option" 2 "$TW" mint "--t=$T" --aud a.example:1
  run "${kind}_mint_ledger" 2 "$TW" mint --task t --aud a.example:1 --ledger "$NOPE/$T/ledger.db"
  run "${kind}_mint_delegate_exe" 2 "$TW" mint --task t --aud a.example:1 --delegate-exe "$NOPE/$T"
  run "${kind}_mint_delegate_cgroup" 2 "$TW" mint --task t --aud a.example:1 --delegate-cgroup "rel/$T"
  run "${kind}_mint_audience" 2 "$TW" mint --task t --aud "https://$T:0"
  # --- values that would be stored: refused, exit 2 ---
  run "${kind}_mint_task_refused" 2 "$TW" mint --task "job-$T" --aud a.example:1
  run "${kind}_mint_scope_refused" 2 "$TW" mint --task t --scope "repo $T" --aud a.example:1
  run "${kind}_mint_subject_refused" 2 "$TW" mint --task t --subject "$T" --aud a.example:1
  # (a fresh opaque token each: a registration that got through would
  # make the next one a duplicate)
  op=$(opaque_token); secret "$op"
  run "${kind}_register_issuer_refused" 2 sh -c "printf %s $op | '$TW' ledger register --issuer 'x$T' --aud a.example:1 --ttl 60"
  op=$(opaque_token); secret "$op"
  run "${kind}_register_task_refused" 2 sh -c "printf %s $op | '$TW' ledger register --issuer corp --task '$T' --aud a.example:1 --ttl 60"
  op=$(opaque_token); secret "$op"
  run "${kind}_register_scope_refused" 2 sh -c "printf %s $op | '$TW' ledger register --issuer corp --scope 'a $T' --aud a.example:1 --ttl 60"
  op=$(opaque_token); secret "$op"
  run "${kind}_register_subject_refused" 2 sh -c "printf %s $op | '$TW' ledger register --issuer corp --subject '$T' --aud a.example:1 --ttl 60"
done
# ids and tasks that reach the ledger's own messages (a GitHub token is
# not refused as "a token on argv": only tokenward tokens and JWTs are)
T=$(gen ghp)
"$TW" mint --task real --aud a.example:1 >/dev/null 2>&1
run ghp_ledger_show_id 1 "$TW" ledger show "$T"
run ghp_ledger_revoke_id 1 "$TW" ledger revoke "$T"
run ghp_ledger_complete_task 1 "$TW" ledger complete --task "$T"
run ghp_report_token 2 "$TW" report --token "$T"
run ghp_report_task 2 "$TW" report --task "$T"
# an opaque token the ledger knows is refused as a task too
op=$(opaque_token); secret "$op"
printf %s "$op" | "$TW" ledger register --issuer corp --task reg --aud a.example:1 --ttl 1h >/dev/null 2>&1
run opaque_known_task_refused 2 "$TW" mint --task "$op" --aud a.example:1
[ "$(sql "SELECT count(*) FROM tokens WHERE task <> 'real' AND task <> 'reg'")" = 0 ] && ok refused_values_not_stored || not_ok refused_values_not_stored "$(sql "SELECT group_concat(task) FROM tokens")"
# a task that merely looks random (a UUID) is not a token
run uuid_task_accepted 0 "$TW" mint --task "$(python3 -c 'import uuid; print(uuid.uuid4())')" --aud a.example:1

# --- JWT claims hold a token: stored redacted ---
G=$(gen ghp)
jwt=$(python3 - "$G" <<'PY'
import base64, json, os, sys, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
h = {"alg": "RS256", "typ": "JWT"}
p = {"sub": "agent " + sys.argv[1], "scope": "repo " + sys.argv[1], "client_id": sys.argv[1],
     "aud": "https://api.example.test", "exp": int(time.time()) + 3600, "jti": "j-" + os.urandom(4).hex(),
     "act": {"sub": sys.argv[1]}}
print(b(json.dumps(h).encode()) + "." + b(json.dumps(p).encode()) + "." + b(os.urandom(32)))
PY
)
secret "$jwt"
run jwt_claims_registered 0 sh -c "printf %s '$jwt' | '$TW' ledger register --issuer corp --task claims"
run list_text 0 "$TW" ledger list
run list_json 0 "$TW" ledger list --json
[ "$(json_eval "$ART/list_json.out" "[t['scope'] for t in j if t['task']=='claims'][0].startswith('repo ghp_')")" = True ] \
  && ok jwt_claim_scope_kept_redacted || not_ok jwt_claim_scope_kept_redacted "$(head -c 300 "$ART/list_json.out")"
for id in $(json_eval "$ART/list_json.out" "' '.join(t['id'] for t in j)"); do
  run "show_$id" 0 "$TW" ledger show "$id"
  run "show_json_$id" 0 "$TW" ledger show "$id" --json
done
for f in md html json; do run "report_$f" 0 "$TW" report --all --format "$f" -o "$ART/report.$f"; done

# --- a ledger written before this check: shown redacted ---
OLD=$TW_TMP/leak-input-old/ledger.db; mkdir -p "$TW_TMP/leak-input-old"
"$TW" mint --ledger "$OLD" --task legacy --scope s --aud a.example:1 >/dev/null 2>&1
L=$(gen ghp)
python3 -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute("UPDATE tokens SET task=?, scope=?", ("job-"+sys.argv[2], "repo "+sys.argv[2])); db.commit()' "$OLD" "$L"
oid=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT id FROM tokens").fetchone()[0])' "$OLD")
run legacy_list 0 "$TW" ledger list --ledger "$OLD"
run legacy_list_json 0 "$TW" ledger list --json --ledger "$OLD"
run legacy_show 0 "$TW" ledger show "$oid" --ledger "$OLD"
run legacy_show_json 0 "$TW" ledger show "$oid" --json --ledger "$OLD"
for f in md html json; do run "legacy_report_$f" 0 "$TW" report --all --format "$f" --ledger "$OLD"; done

# --- scan: a file whose name holds a token ---
N=$(gen ghp); C=$(gen twd)
echo "key=$C" >"$IN/app-$N.log"
for f in text json sarif; do run "scan_name_$f" 1 "$TW" scan --format "$f" "$IN"; done
[ "$(json_eval "$ART/scan_name_sarif.out" "j['runs'][0]['results'][0]['locations'][0]['physicalLocation']['artifactLocation']['uri'].startswith('$IN/app-ghp_')")" = True ] \
  && ok scan_sarif_uri_redacted_not_dropped || not_ok scan_sarif_uri_redacted_not_dropped "$(head -c 400 "$ART/scan_name_sarif.out")"

# --- revoke-queue serve: issuer, token_id and verdict from the request ---
I=$(gen ghp) V=$(gen aws) K=$(opaque_token); secret "$K"
printf 'revocation:\n  backoff_base: 100ms\n' >"$TW_TMP/rq.yaml"
printf '{"verdict_class":"file_write","token":"%s","issuer":"idp-%s","token_id":"%s","verdict":{"path":"/tmp/%s"}}\n' "$K" "$I" "$I" "$V" |
  "$TW" revoke-queue --config "$TW_TMP/rq.yaml" --db "$TW_TMP/q.db" serve --exit-after 1 >"$ART/serve.out" 2>"$ART/serve.err"
hits=$(forms_in "$ART/serve.out" "$ART/serve.err" "$TW_TMP"/q.db*)
[ -z "$hits" ] && grep -q '"result":"failed"' "$ART/serve.out" && ok serve_issuer_not_logged_raw || not_ok serve_issuer_not_logged_raw "$hits $(cat "$ART/serve.out")"
run rq_status 0 "$TW" revoke-queue --config "$TW_TMP/rq.yaml" --db "$TW_TMP/q.db" status
run rq_list 0 "$TW" revoke-queue --config "$TW_TMP/rq.yaml" --db "$TW_TMP/q.db" list
run rq_history 0 "$TW" revoke-queue --config "$TW_TMP/rq.yaml" --db "$TW_TMP/q.db" history

# --- status: what the monitor wrote to status.json is shown redacted ---
S=$(gen ghp); mkdir -p "$IN/st"
printf '{"version":1,"pid":4194999,"running":false,"updated":"2026-01-01T00:00:00Z","revocation":{"since_start":{"last_failure":"job 3 issuer idp-%s: refused"}},"sensors":{"path":"/var/log/%s.log"}}\n' "$S" "$S" >"$IN/st/status.json"
run status_text 0 "$TW" status --state-dir "$IN/st"
run status_json 0 "$TW" status --state-dir "$IN/st" --json

# --- every artefact: outputs, reports, the databases with -wal and -shm
# (not $IN, the scan's input, nor $TW_TMP/leak-input-old, which the test wrote itself) ---
hits=$(forms_in "$ART"/* "$TW_TMP"/state/* "$TW_TMP"/q.db* "$TW_TMP"/*.err)
[ -z "$hits" ] && ok no_secret_in_any_artefact || not_ok no_secret_in_any_artefact "$hits"
