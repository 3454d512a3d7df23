#!/usr/bin/env bash
# Issue 6 end to end with the real sensors, the real monitor and a real
# OAuth 2.0 server (oidc-provider 9): an agent process obtains opaque
# tokens by client_credentials with resource=its audience; each is
# registered in the ledger with the agent as delegate; then
#   (a) the agent writes one into a log file   -> file_write, revoke;
#   (b) the agent sends one to a wrong address -> net_dest, revoke;
#   (c) the agent uses one with its audience   -> use, record;
# and introspection at the provider says {"active":false} for (a) and (b),
# {"active":true} for (c). Every artefact is grepped for the raw tokens.
#
# The agent runs in its own cgroup and the monitor watches only that
# cgroup (--cgroup): the test's own introspection calls send the tokens
# to the provider too, and a monitor watching the whole host would rightly
# revoke them as foreign_process sightings.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$TW_ROOT/tests/issuer/lib.sh"

CG=
AGENT_PID=
LISTEN_PID=
e2e_cleanup() {
  if [ -n "$AGENT_PID" ]; then kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; fi
  if [ -n "$LISTEN_PID" ]; then kill "$LISTEN_PID" 2>/dev/null; wait "$LISTEN_PID" 2>/dev/null; fi
  [ -n "$CG" ] && rmdir "$CG" 2>/dev/null
  rq_kill; issuer_kill_all; tw_stop; tw_tmp_done
}
trap e2e_cleanup EXIT

CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG_ROOT" ] || { not_ok e2e_cgroup "no cgroup v2 mount"; exit 1; }
CG=$CG_ROOT/tw-e2e.$$.$(rand_hex 4)
mkdir "$CG" || { not_ok e2e_cgroup "cannot create $CG"; CG=; exit 1; }

if ! oidc_start; then not_ok e2e_oidc_start "the test issuer did not start"; exit 1; fi
OIDC_PORT=${OIDC_URL##*:}
LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input       # deliberately leaked into: excluded from the grep
mkdir -p "$LEAKS" "$TW_TMP/state"
cat >"$TW_TMP/tw.yaml" <<YAML
state_dir: $TW_TMP/state
ledger: $LEDGER
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
YAML

# The wrong destination: a loopback HTTP listener on another port.
python3 - "$TW_TMP/listen.port" >"$TW_TMP/listen.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d: break
        data += d
    c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    c.close()
PY
LISTEN_PID=$!
wait_file "$TW_TMP/listen.port" || { not_ok e2e_listener "listener did not start"; exit 1; }
WRONG_PORT=$(cat "$TW_TMP/listen.port")

tw_start --config "$TW_TMP/tw.yaml" --ledger "$LEDGER" --cgroup "$CG" ||
  { not_ok e2e_start "monitor failed to start"; exit 1; }

# The agent: moved into the cgroup before it execs, so all it does is seen.
coproc AGENT { echo "$BASHPID" >"$CG/cgroup.procs" &&
  exec python3 "$TW_ROOT/tests/live/e2e_agent.py" "$OIDC_URL" "$AUD" "$AGENT_SECRET_F" 2>"$TW_TMP/agent.err"; }
AGENT_PID=$AGENT_PID
exec 8<&"${AGENT[0]}" 9>&"${AGENT[1]}"
agent() { # CMD...: one command, one reply line in $REPLY_LINE
  echo "$*" >&9
  IFS= read -r -t "$TW_WAIT_S" REPLY_LINE <&8 || REPLY_LINE="err no reply"
}

# 1. The agent obtains a token for its audience; 2. it is registered with
# the agent as delegate and the resource server's address as audience.
TOKENS=() IDS=() SHAS=()
new_token() { # -> index in TOKENS
  local tok id
  agent token
  case $REPLY_LINE in "ok "*) ;; *) return 1 ;; esac
  tok=${REPLY_LINE#ok * }
  id=$(printf '%s' "$tok" | "$TW" ledger register --ledger "$LEDGER" --issuer oidc \
        --task "e2e-$$" --aud "http://127.0.0.1:$OIDC_PORT" --ttl 10m \
        --delegate-pid "$AGENT_PID" 2>>"$TW_TMP/register.err") || return 1
  TOKENS+=("$tok"); IDS+=("$id"); SHAS+=("$(sha256 "$tok")"); tw_token_record "$tok"
}
# The monitor has loaded N ledger tokens (its status file, rewritten every second).
wait_loaded() { # N
  tw_poll _loaded "$1"
}
_loaded() {
  local s
  s=$("$TW" status --state-dir "$TW_TMP/state" --json 2>/dev/null) &&
    python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["detection"]["ledger_tokens"] >= int(sys.argv[2]) else 1)' "$s" "$1" 2>/dev/null
}
# Introspection as the resource server, polled: "true"/"false" wanted.
wait_active() { # TOKEN WANT
  _active_is "$1" "$2" || tw_poll _active_is "$1" "$2" || { echo "introspection: ${_active:-error}"; return 1; }
}
_active_is() { _active=$(oidc_active "$1" 2>/dev/null); [ "$_active" = "$2" ]; }

for i in 0 1 2; do
  new_token || { not_ok e2e_agent_token_$i "could not obtain or register a token: $REPLY_LINE $(tail -2 "$TW_TMP/register.err")"; exit 1; }
done
if [ "$(oidc_active "${TOKENS[0]}")" = true ] && [ "$(oidc_active "${TOKENS[1]}")" = true ] &&
   [ "$(oidc_active "${TOKENS[2]}")" = true ]; then
  ok e2e_agent_tokens_active
else
  not_ok e2e_agent_tokens_active "fresh tokens are not active at the provider"; exit 1
fi
if wait_loaded 3; then ok e2e_monitor_sees_registered_tokens; else
  not_ok e2e_monitor_sees_registered_tokens "status: $("$TW" status --state-dir "$TW_TMP/state" --json 2>&1 | head -c 400)"; fi

# (a) The agent writes token 0 into its log.
agent leak_file 0 "$LEAKS/agent.log"
if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('sha256')=='${SHAS[0]}'") &&
   python3 - "$ev" "${IDS[0]}" "$AGENT_PID" "$LEAKS/agent.log" <<'PY'; then ok e2e_file_write_verdict_revoke; else not_ok e2e_file_write_verdict_revoke "${ev:-no verdict}"; fi
import json, sys
e = json.loads(sys.argv[1])
assert e["class"] == "file_write" and e["action"] == "revoke" and e["exposure"] is True, e
assert e["token_id"] == sys.argv[2] and e["pid"] == int(sys.argv[3]) and e["path"] == sys.argv[4], e
assert e["issuer"] == "oidc" and e["rule"] == "opaque", e
PY
if msg=$(wait_active "${TOKENS[0]}" false); then ok e2e_file_write_revoked_at_provider; else
  not_ok e2e_file_write_revoked_at_provider "$msg"; fi
agent use 0
if [ "$REPLY_LINE" = "ok 401" ]; then ok e2e_file_write_token_refused_by_resource; else
  not_ok e2e_file_write_token_refused_by_resource "resource answered: $REPLY_LINE"; fi

# (b) The agent sends token 1 to a wrong destination (plain HTTP, Bearer).
agent send 1 127.0.0.1 "$WRONG_PORT"
if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('sha256')=='${SHAS[1]}'") &&
   python3 - "$ev" "${IDS[1]}" "$AGENT_PID" "$WRONG_PORT" <<'PY'; then ok e2e_net_dest_verdict_revoke; else not_ok e2e_net_dest_verdict_revoke "${ev:-no verdict}"; fi
import json, sys
e = json.loads(sys.argv[1])
assert e["class"] == "net_dest" and e["action"] == "revoke", e
assert e["classes"] == ["net_dest"], e          # the delegate itself: not foreign
assert e["token_id"] == sys.argv[2] and e["pid"] == int(sys.argv[3]), e
assert e["dest"] == "127.0.0.1:" + sys.argv[4] and e["host"] == "127.0.0.1:" + sys.argv[4], e
PY
if msg=$(wait_active "${TOKENS[1]}" false); then ok e2e_net_dest_revoked_at_provider; else
  not_ok e2e_net_dest_revoked_at_provider "$msg"; fi

# (c) The delegate's legitimate use of token 2 with its audience.
agent use 2
use_reply=$REPLY_LINE
if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('sha256')=='${SHAS[2]}'") &&
   python3 - "$ev" "${IDS[2]}" "$AGENT_PID" "$OIDC_PORT" <<'PY'; then ok e2e_use_verdict_record; else not_ok e2e_use_verdict_record "${ev:-no verdict}"; fi
import json, sys
e = json.loads(sys.argv[1])
assert e["class"] == "use" and e["action"] == "record" and e["exposure"] is False, e
assert e["token_id"] == sys.argv[2] and e["pid"] == int(sys.argv[3]), e
assert e["dest"] == "127.0.0.1:" + sys.argv[4] and e["audience_check"] == "in_audience", e
PY
[ "$use_reply" = "ok 200" ] && ok e2e_use_accepted_by_resource || not_ok e2e_use_accepted_by_resource "resource answered: $use_reply"
# The barrier: a status written after the use verdict, with the revoker
# idle and every revocation queued so far answered. A revocation wrongly
# queued for token 2 would have reached the provider by then.
if ! tw_wait_status '(lambda r: r["pending"]==0 and r["in_flight"]==0 and r["done"]+r["failed"]>=r["since_start"]["queued"])(s["revocation"])' >/dev/null; then
  not_ok e2e_use_token_stays_active "the revoker never went idle: the check would prove nothing"
elif [ "$(oidc_active "${TOKENS[2]}")" = true ]; then ok e2e_use_token_stays_active; else
  not_ok e2e_use_token_stays_active "the token in legitimate use was revoked"; fi
if grep -F "\"sha256\":\"${SHAS[2]}\"" "$TW_TMP/events.jsonl" | grep -qv '"action":"record"'; then
  not_ok e2e_use_no_other_verdict "$(grep -F "${SHAS[2]}" "$TW_TMP/events.jsonl" | head -3)"
else
  ok e2e_use_no_other_verdict
fi

# The ledger: both leaked tokens revoked, with the issuer's outcome in
# their history; the used one still active with no revocation in it.
ledger_case() { # NAME ID PYEXPR-over-t
  local out
  if out=$("$TW" ledger show --json --ledger "$LEDGER" "$2" 2>&1) &&
     python3 -c 'import json,sys; t=json.loads(sys.argv[1]); h=[x["event"] for x in t["history"]]; sys.exit(0 if eval(sys.argv[2]) else 1)' "$out" "$3"; then
    ok "$1"
  else
    not_ok "$1" "$(echo "$out" | tr '\n' ' ' | head -c 600)"
  fi
}
_histories_landed() {   # the history line lands once the worker has its answer
  "$TW" ledger show --json --ledger "$LEDGER" "${IDS[1]}" 2>/dev/null | grep -q '"revoked"' &&
    "$TW" ledger show --json --ledger "$LEDGER" "${IDS[0]}" 2>/dev/null | grep -q '"http_status":\s*200'
}
tw_poll _histories_landed
REVOKED='t["status"]=="revoked" and "revoke_queued" in h and any(x["event"]=="revoked" and x["detail"].get("http_status")==200 for x in t["history"])'
ledger_case e2e_ledger_file_write_history "${IDS[0]}" "$REVOKED"
ledger_case e2e_ledger_net_dest_history "${IDS[1]}" "$REVOKED"
ledger_case e2e_ledger_use_still_active "${IDS[2]}" 't["status"]=="active" and not any(e.startswith("revoke") for e in h)'
if "$TW" ledger show --ledger "$LEDGER" "${IDS[0]}" >"$TW_TMP/show.txt" 2>&1 && grep -q 'revoked' "$TW_TMP/show.txt"; then
  ok e2e_ledger_show_text
else
  not_ok e2e_ledger_show_text "$(head -c 400 "$TW_TMP/show.txt")"
fi

# `tokenward status` shows the revocation section of the running monitor.
if "$TW" status --state-dir "$TW_TMP/state" --json >"$TW_TMP/status.json" 2>&1 &&
   python3 - "$TW_TMP/status.json" <<'PY'; then ok e2e_status_revocation_section; else not_ok e2e_status_revocation_section "$(head -c 600 "$TW_TMP/status.json")"; fi
import json, sys, time
s = json.load(open(sys.argv[1]))
r, d = s["revocation"], s["detection"]
assert r["done"] >= 2 and r["failed"] == 0 and r["pending"] == 0, r
assert r["since_start"]["duplicates"] == 0, r   # one submission per leak
assert d["exposures"] >= 2 and d["revocations_queued"] >= 2 and d["managed"] >= 3, d
PY
if "$TW" status --state-dir "$TW_TMP/state" >"$TW_TMP/status.txt" 2>&1 && sed -n '/^revocation:/,/^[a-z]/p' "$TW_TMP/status.txt" | grep -Eq '^ +done +[1-9]'; then
  ok e2e_status_text_revocation
else
  not_ok e2e_status_text_revocation "$(head -c 400 "$TW_TMP/status.txt")"
fi

agent quit
exec 9>&- 8<&-
wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok e2e_clean_exit || not_ok e2e_clean_exit "exit status $TW_RC"

# No raw token anywhere but the file it was deliberately leaked into.
leak_found=
for t in $(tw_minted); do
  for f in "$TW_TMP"/events.jsonl "$TW_TMP"/stdout "$TW_TMP"/stderr "$LEDGER" "$LEDGER"-wal "$LEDGER"-shm \
           "$TW_TMP"/state/* "$TW_TMP"/status.json "$TW_TMP"/status.txt "$TW_TMP"/show.txt \
           "$TW_TMP"/register.err "$TW_TMP"/agent.err "$TW_TMP"/oidc.log "$TW_TMP"/listen.log \
           "${TW_LOGS:-/nonexistent}/$(basename "$0" .sh).log"; do
    [ -f "$f" ] || continue
    grep -qaF -- "$t" "$f" && leak_found="$leak_found $f"
  done
done
[ -z "$leak_found" ] && ok e2e_no_raw_token_in_artefacts || not_ok e2e_no_raw_token_in_artefacts "raw token in:$leak_found"
# ... and the leak itself did happen where intended (the grep can fail).
grep -qF -- "${TOKENS[0]}" "$LEAKS/agent.log" && ok e2e_leak_file_holds_token || not_ok e2e_leak_file_holds_token "the leak did not happen"
