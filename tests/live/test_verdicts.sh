#!/usr/bin/env bash
# Every verdict class with the real sensors and real processes, and the
# false-positive side of each: a delegate using its token as intended is
# `use`, and a token-shaped string the ledger does not know is never managed.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input     # files this test leaks tokens into on purpose
mkdir -p "$LEAKS"
AGENT_BIN=$PROGS/tw_agent
TOKENS=()
trap '[ -n "${AGENT:-}" ] && kill $AGENT 2>/dev/null; tw_stop; tw_leave_cgroup; tw_tmp_done' EXIT


tw_sink aud && AUD_PORT=$TW_SINK_PORT || exit 1
tw_sink wrong && WRONG_PORT=$TW_SINK_PORT || exit 1
AUD="http://127.0.0.1:$AUD_PORT"

tw_own_cgroup || { not_ok verdicts_cgroup "$TW_CG"; exit 1; }
tw_start --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" || { not_ok verdicts_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

# The agent: commands on a pipe (pipes are not captured), replies on a file.
mkfifo "$TW_TMP/agent.ctl"
"$AGENT_BIN" <"$TW_TMP/agent.ctl" >"$TW_TMP/agent.out" 2>&1 &
AGENT=$!
exec 7>"$TW_TMP/agent.ctl"
agent() { # CMD...: run one command, wait for its reply
  local before; before=$(grep -c '' "$TW_TMP/agent.out")
  echo "$*" >&7
  tw_poll _agent_replied "$before"
  tail -1 "$TW_TMP/agent.out" | grep -q '^done'
}
_agent_replied() { [ "$(grep -c '' "$TW_TMP/agent.out")" -gt "$1" ]; }

# mint TASK [OPTS...]: prints "ID TOKEN"; every token is remembered for the leak check.
# The audience is $AUD unless MINT_AUD names another.
mint() { local task=$1; shift; tw_mint "$LEDGER" "${MINT_AUD:-$AUD}" "$task" "$@"; }

# verdict NAME ID CLASS ACTION: wait for the verdict on token ID.
verdict() {
  local name=$1 id=$2 cls=$3 action=$4 ev
  if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$id'"); then
    if python3 -c "import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e['class']=='$cls' and e['action']=='$action' else 1)" "$ev"; then
      ok "$name"
    else
      not_ok "$name" "want $cls/$action, got $(python3 -c "import json,sys; e=json.loads(sys.argv[1]); print(e['class'], e['action'], e.get('reason'))" "$ev")"
    fi
  else
    not_ok "$name" "no verdict for $id"
  fi
}

status_of() { tw_ledger_status "$LEDGER" "$1"; }

# Wait until the ledger shows STATUS for ID (the monitor marks it after queueing).
expect_status() { tw_expect_status "$1" "$LEDGER" "$2" "$3"; } # NAME ID STATUS

# ledger_has_event ID EVENT: the token's ledger history holds EVENT.
ledger_has_event() {
  "$TW" ledger show "$1" --json --ledger "$LEDGER" 2>/dev/null |
    python3 -c 'import json,sys; sys.exit(0 if any(x["event"]==sys.argv[1] for x in json.load(sys.stdin)["history"]) else 1)' "$2"
}

read -r ID TOK < <(mint use --delegate-pid "$AGENT")
agent token "$TOK"; agent send "$AUD_PORT"
verdict use_delegate_to_audience "$ID" use record
expect_status use_leaves_token_active "$ID" active

# A named audience is not loopback: even with the right Host header, a
# send to 127.0.0.1 is outside it (loopback counts only when named).
read -r ID TOK < <(MINT_AUD="api.tokenward.test:$AUD_PORT" mint host --delegate-pid "$AGENT")
agent token "$TOK"; agent send "$AUD_PORT" "api.tokenward.test:$AUD_PORT"
verdict loopback_outside_named_audience "$ID" net_dest revoke

read -r ID TOK < <(mint fork --delegate-pid "$AGENT")
agent token "$TOK"; agent fork-send "$AUD_PORT"
verdict use_by_descendant_is_not_exposure "$ID" use record

read -r ID TOK < <(mint wrongdest --delegate-pid "$AGENT")
agent token "$TOK"; agent send "$WRONG_PORT"
verdict net_dest_outside_audience "$ID" net_dest revoke
expect_status net_dest_revokes "$ID" revoked
SHA=$(printf %s "$TOK" | sha256sum | cut -d' ' -f1)
grep -q "$SHA" "$TW_TMP/revoked.list" && ok net_dest_on_revocation_list || not_ok net_dest_on_revocation_list "hash not in revoked.list"

read -r ID TOK < <(mint foreign --delegate-pid "$AGENT")
# Another process, not the delegate nor its descendant, uses it.
"$AGENT_BIN" >/dev/null <<<"token $TOK
send $AUD_PORT"
verdict foreign_process_sends "$ID" foreign_process revoke

read -r ID TOK < <(mint file --delegate-pid "$AGENT")
agent token "$TOK"; agent write "$LEAKS/app.log"
verdict file_write_by_delegate "$ID" file_write revoke
expect_status file_write_revokes "$ID" revoked
# The history tells the story: the sighting (redacted verdict) and the
# revocation at the issuer (its line lands once the revoker has the answer).
tw_poll ledger_has_event "$ID" revoked
if "$TW" ledger show "$ID" --json --ledger "$LEDGER" | python3 -c '
import json,sys; h=json.load(sys.stdin)["history"]; ev=[x["event"] for x in h]
s=[x for x in h if x["event"]=="sighting"]
assert s and s[0]["detail"]["class"]=="file_write" and s[0]["detail"]["path"].endswith("/leak-input/app.log"), h
assert "revoked" in ev, ev' 2>"$TW_TMP/hist.err"; then ok file_write_history_has_sighting_and_revocation
else not_ok file_write_history_has_sighting_and_revocation "$(tail -1 "$TW_TMP/hist.err")"; fi

read -r ID TOK < <(mint env --delegate-pid "$AGENT")
agent token "$TOK"; agent exec-env
verdict exec_env_without_inherit "$ID" exec_env revoke

read -r ID TOK < <(mint envok --delegate-pid "$AGENT" --inherit)
agent token "$TOK"; agent exec-env
verdict exec_env_inherit_allowed_is_use "$ID" use record

read -r ID TOK < <(mint argv --delegate-pid "$AGENT" --inherit)
agent token "$TOK"; agent exec-argv
verdict exec_argv_always_exposure "$ID" exec_argv revoke

read -r ID TOK < <(mint done --delegate-pid "$AGENT")
"$TW" ledger complete --task done --no-revoke --ledger "$LEDGER" >/dev/null
agent token "$TOK"; agent send "$AUD_PORT"
verdict after_task_use "$ID" after_task revoke

read -r ID TOK < <(mint short --delegate-pid "$AGENT" --ttl 1)
# The interval under test is the TTL: used only once the ledger's expiry
# has passed, by a margin (EXPIRY_MARGIN_S) for the monitor's clock read.
EXPIRY_MARGIN_S=0.3
_expired() {
  "$TW" ledger show "$1" --json --ledger "$LEDGER" | python3 -c '
import datetime, json, sys, time
x = datetime.datetime.strptime(json.load(sys.stdin)["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
sys.exit(0 if time.time() > x.replace(tzinfo=datetime.timezone.utc).timestamp() + float(sys.argv[1]) else 1)' "$EXPIRY_MARGIN_S"
}
tw_poll _expired "$ID" || not_ok expired_use_setup "token $ID never expired"
agent token "$TOK"; agent send "$AUD_PORT"
verdict expired_use "$ID" expired_use revoke

# A well-formed token from another ledger: found by the rule, never managed.
OTHER=$("$TW" mint --ledger "$TW_TMP/other.db" --task x --aud "$AUD" 2>/dev/null)
TOKENS+=("$OTHER"); tw_token_record "$OTHER"
OSHA=$(printf %s "$OTHER" | sha256sum | cut -d' ' -f1)
agent token "$OTHER"; agent send "$AUD_PORT"
if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('sha256')=='$OSHA'"); then
  python3 -c "import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e['class']=='unmanaged' and e['action']=='alert' and e['token_id'] is None else 1)" "$ev" \
    && ok unmanaged_token_never_managed || not_ok unmanaged_token_never_managed "$ev"
else
  not_ok unmanaged_token_never_managed "no verdict for the unknown token"
fi

# The same unknown secret again from the same program: one alert a minute.
agent send "$AUD_PORT"; agent send "$AUD_PORT"
# The barrier: another unknown secret sent after them; its alert comes
# after any alert the repeats would have caused.
OTHER2=$("$TW" mint --ledger "$TW_TMP/other.db" --task y --aud "$AUD" 2>/dev/null)
TOKENS+=("$OTHER2"); tw_token_record "$OTHER2"
OSHA2=$(printf %s "$OTHER2" | sha256sum | cut -d' ' -f1)
agent token "$OTHER2"; agent send "$AUD_PORT"
if tw_wait_event "e.get('event')=='verdict' and e.get('sha256')=='$OSHA2'" >/dev/null; then
  n=$(grep -c "\"sha256\":\"$OSHA\"" "$TW_TMP/events.jsonl")
  [ "$n" -eq 1 ] && ok unmanaged_repeats_suppressed || not_ok unmanaged_repeats_suppressed "$n alerts for one secret"
else
  not_ok unmanaged_repeats_suppressed "no alert for the barrier secret: the count would prove nothing"
fi

# Minted and leaked at once: the monitor must not call it unmanaged.
read -r ID TOK < <(mint fresh --delegate-pid "$AGENT")
agent token "$TOK"; agent write "$LEAKS/fresh.log"
verdict fresh_mint_seen_immediately "$ID" file_write revoke

# status shows the pipeline and the revocation queue (polled: the counts
# reach these once the status file has been rewritten since).
_status_shows() {
  "$TW" status --state-dir "$TW_TMP/state" --json | python3 -c '
import json,sys; s=json.load(sys.stdin)
d=s["detection"]; r=s["revocation"]
assert d["exposures"] >= 8 and d["managed"] >= 11 and d["unmanaged"] >= 3, d
assert d["unmanaged_repeats_suppressed"] >= 2, d
assert r["done"] >= 1, r' 2>"$TW_TMP/status.err"
}
if tw_poll _status_shows; then ok status_shows_detection_and_revocation
else not_ok status_shows_detection_and_revocation "$(cat "$TW_TMP/status.err")"; fi

# A path chosen by an attacker must not become markup in the report.
read -r EVIL_ID TOK < <(mint evil --delegate-pid "$AGENT")
agent token "$TOK"; agent write "$LEAKS/<i>evil.log"
verdict file_write_hostile_name "$EVIL_ID" file_write revoke
# The report below reads the ledger: wait for the revocation to land in it.
tw_poll ledger_has_event "$EVIL_ID" revoked

# quit has no reply line: waiting for one would sit out the whole deadline.
echo quit >&7; exec 7>&-
wait "$AGENT" 2>/dev/null; AGENT=
tw_stop

# The exposure report, from the ledger and the run's event store.
"$TW" report --ledger "$LEDGER" --state-dir "$TW_TMP/state" --format json -o "$TW_TMP/report.json" &&
"$TW" report --ledger "$LEDGER" --state-dir "$TW_TMP/state" --format html -o "$TW_TMP/report.html" &&
"$TW" report --ledger "$LEDGER" --state-dir "$TW_TMP/state" --format md >"$TW_TMP/report.md" || not_ok report_runs "report failed"
if python3 - "$TW_TMP/report.json" "$EVIL_ID" <<'PY' 2>"$TW_TMP/report.err"; then ok report_json_timeline; else not_ok report_json_timeline "$(tail -1 "$TW_TMP/report.err")"; fi
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
assert s["tokens_exposed"] >= 9 and s["revoked_at_issuer"] >= 9, s
assert s["sightings_by_class"].get("file_write", 0) >= 3, s
t = [x for x in r["tokens"] if x["id"] == sys.argv[2]][0]
ev = [e["event"] for e in t["timeline"]]
assert ev[0] == "issued" and "sighting" in ev and "revoked" in ev, ev
assert ev.index("sighting") < max(i for i, e in enumerate(ev) if e == "revoked"), ev
assert t["exposed_for_ms"] is not None and 0 <= t["exposed_for_ms"] < 5000, t["exposed_for_ms"]
PY
if grep -q '&#60;i&#62;evil.log' "$TW_TMP/report.html" && ! grep -q '<i>evil' "$TW_TMP/report.html"; then
  ok report_html_escapes_paths
else
  not_ok report_html_escapes_paths "hostile path not escaped"
fi
grep -q "$EVIL_ID" "$TW_TMP/report.md" && ok report_markdown || not_ok report_markdown "token missing from markdown"
[ "${TW_RC:-1}" -eq 0 ] && ok verdicts_clean_exit || not_ok verdicts_clean_exit "exit $TW_RC"

# No raw token anywhere but the files leaked into on purpose.
leaked=""
for t in $(tw_minted); do
  f=$(grep -rlF --exclude-dir=leak-input -- "$t" "$TW_TMP" 2>/dev/null | head -3)
  [ -n "$f" ] && leaked="$leaked $f"
done
[ -z "$leaked" ] && ok verdicts_no_raw_token_in_artefacts || not_ok verdicts_no_raw_token_in_artefacts "found in:$leaked"
