# Helpers for the revocation tests (tests/cli/test_revoke_*.sh). Source
# after tests/live/lib.sh. Secrets and tokens are minted at run time.
ISSUER_DIR=$TW_ROOT/tests/issuer
ISSUER_PIDS=()
RQ_PID=
trap 'rq_kill; issuer_kill_all; tw_stop; tw_tmp_done' EXIT

rand_hex() { od -An -N"${1:-16}" -tx1 /dev/urandom | tr -d ' \n'; }

# A secret file with mode 0600; prints its path. The secret is an input
# held on purpose (leak-input/), and is recorded: tokenward must never
# print an issuer's client secret either.
secret_file() { # NAME
  local f=$TW_TMP/leak-input/$1.secret
  mkdir -p "$TW_TMP/leak-input"
  (umask 077; rand_hex 24 >"$f")
  tw_token_record "$(cat "$f")"
  echo "$f"
}

issuer_kill_all() {
  local p
  for p in "${ISSUER_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ISSUER_PIDS=()
}

# Wait until FILE exists and is not empty (deadline TW_WAIT_S, tests/live/lib.sh).
wait_file() { tw_poll test -s "$1"; }

# fault_wait PYEXPR: wait until some line r of the fault server's log
# satisfies the expression (r is the parsed JSON line).
fault_wait() { tw_poll _fault_seen "$1"; }
_fault_seen() {
  python3 - "$FAULT_LOG" "$1" <<'EOF' 2>/dev/null
import json, sys
sys.exit(0 if any(eval(sys.argv[2], {}, {"r": json.loads(l)}) for l in open(sys.argv[1]) if l.strip()) else 1)
EOF
}

# Start the real OAuth server (oidc-provider). Sets OIDC_URL, OIDC_PID,
# AUD, and secret files AGENT_SECRET_F, TW_SECRET_F, RS_SECRET_F.
oidc_start() {
  [ -d "$ISSUER_DIR/node_modules/oidc-provider" ] || { echo "oidc-provider not installed (make test runs npm ci)"; return 1; }
  AGENT_SECRET_F=$(secret_file agent); TW_SECRET_F=$(secret_file tokenward); RS_SECRET_F=$(secret_file rs)
  AUD="https://api.$(rand_hex 4).test/"
  python3 - "$TW_TMP/leak-input/oidc.json" "$TW_TMP/oidc.port" "$AUD" "$AGENT_SECRET_F" "$TW_SECRET_F" "$RS_SECRET_F" <<'EOF'
import json, sys
out, ready, aud, a, t, r = sys.argv[1:]
rd = lambda p: open(p).read().strip()
json.dump({"port": 0, "ready_file": ready, "revokers": ["tokenward", "tokenward-post"], "resources": [aud],
           "clients": [{"client_id": "agent", "client_secret": rd(a)},
                       {"client_id": "tokenward", "client_secret": rd(t)},
                       {"client_id": "tokenward-post", "client_secret": rd(t), "auth": "client_secret_post"},
                       {"client_id": "rs", "client_secret": rd(r)}]}, open(out, "w"))
EOF
  rm -f "$TW_TMP/oidc.port"
  node "$ISSUER_DIR/server.js" "$TW_TMP/leak-input/oidc.json" >"$TW_TMP/oidc.log" 2>&1 &
  OIDC_PID=$!; ISSUER_PIDS+=("$OIDC_PID")
  wait_file "$TW_TMP/oidc.port" || { echo "oidc-provider did not start:"; cat "$TW_TMP/oidc.log"; return 1; }
  OIDC_URL=http://127.0.0.1:$(cat "$TW_TMP/oidc.port")
}

# Client credentials grant as client agent, for the test audience; prints
# the access token, recorded for the redaction audit. The secret goes
# through curl's stdin config, not argv.
oidc_token() {
  local t
  t=$(printf 'user = "agent:%s"\n' "$(cat "$AGENT_SECRET_F")" |
    curl -sf -K - -d grant_type=client_credentials --data-urlencode "resource=$AUD" \
      -d scope=api:read "$OIDC_URL/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || return 1
  tw_token_record "$t"; printf '%s\n' "$t"
}

# Introspect TOKEN as the resource server; prints "true" or "false".
oidc_active() {
  printf 'user = "rs:%s"\n' "$(cat "$RS_SECRET_F")" >"$TW_TMP/leak-input/rs.curlrc"
  printf 'token=%s' "$1" |
    curl -sf -K "$TW_TMP/leak-input/rs.curlrc" --data-binary @- "$OIDC_URL/token/introspection" |
    python3 -c 'import json,sys; print(str(json.load(sys.stdin)["active"]).lower())'
}

# The agent's legitimate use: call the resource with the token. HTTP code.
oidc_use() {
  printf 'header = "Authorization: Bearer %s"\n' "$1" |
    curl -s -o /dev/null -w '%{http_code}' -K - "$OIDC_URL/resource"
}

# Start the fault server. Sets FAULT_URL, FAULT_PID, FAULT_LOG, FAULT_SECRET_F.
# Optional PORT: listen on that port (to bring an issuer "back").
fault_start() { # [PORT]
  FAULT_SECRET_F=${FAULT_SECRET_F:-$(secret_file fault)}
  FAULT_LOG=$TW_TMP/fault.jsonl
  rm -f "$TW_TMP/fault.port"
  python3 "$ISSUER_DIR/fault_server.py" --port "${1:-0}" --port-file "$TW_TMP/fault.port" \
    --log "$FAULT_LOG" --client-id tokenward --secret-file "$FAULT_SECRET_F" \
    >"$TW_TMP/fault.out" 2>&1 &
  FAULT_PID=$!; ISSUER_PIDS+=("$FAULT_PID")
  wait_file "$TW_TMP/fault.port" || { echo "fault server did not start:"; cat "$TW_TMP/fault.out"; return 1; }
  FAULT_URL=http://127.0.0.1:$(cat "$TW_TMP/fault.port")
}

fault_stop() { kill "$FAULT_PID" 2>/dev/null; wait "$FAULT_PID" 2>/dev/null; }

fault_script() { # JSON
  curl -sf -o /dev/null -d "$1" "$FAULT_URL/_script"
}

# A port nobody listens on (bound then released).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Start `tokenward revoke-queue serve` on $TW_TMP/tw.yaml and $TW_TMP/q.db.
# Requests are written to fd 7 (a FIFO held open by the test).
rq_start() {
  [ -p "$TW_TMP/rq.in" ] || mkfifo "$TW_TMP/rq.in"
  exec 7<>"$TW_TMP/rq.in"
  rm -f "$TW_TMP/rq.ready"
  "$TW" revoke-queue --config "$TW_TMP/tw.yaml" --db "$TW_TMP/q.db" --ready-file "$TW_TMP/rq.ready" \
    serve <"$TW_TMP/rq.in" >>"$TW_TMP/rq.out" 2>>"$TW_TMP/rq.err" &
  RQ_PID=$!
  wait_file "$TW_TMP/rq.ready" || { echo "revoke-queue serve did not start:"; cat "$TW_TMP/rq.err"; return 1; }
}

rq_kill() { # [SIGNAL]
  [ -n "${RQ_PID:-}" ] || return 0
  kill "-${1:-TERM}" "$RQ_PID" 2>/dev/null; wait "$RQ_PID" 2>/dev/null
  RQ_PID=
}

# Submit: rq_submit CLASS TOKEN [ISSUER] [TOKEN_ID]. The token travels on
# the FIFO via printf (a builtin: never in any argv), and is recorded for
# the redaction audit.
rq_submit() {
  tw_token_record "$2"
  printf '{"verdict_class":"%s","token":"%s","issuer":"%s","token_id":"%s","verdict":{"class":"%s","path":"/tmp/agent.log"}}\n' \
    "$1" "$2" "${3:-}" "${4:-tok-$(rand_hex 4)}" "$1" >&7
}

sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

rq() { "$TW" revoke-queue --config "$TW_TMP/tw.yaml" --db "$TW_TMP/q.db" "$@"; }

# rq_wait PYEXPR: wait until PYEXPR holds (deadline TW_WAIT_S); in it,
# `jobs` is the list of jobs, `hist` the history and `status` the status
# object. On a timeout the last of each, and the queue's stderr, go to
# stderr.
rq_wait() {
  [ $# -eq 1 ] || { echo "rq_wait takes one expression (the deadline is TW_WAIT_S)" >&2; return 2; }
  tw_poll _rq_holds "$1" && return 0
  {
    echo "rq_wait: timed out after ${TW_WAIT_S} s waiting for: $1"
    echo "--- jobs"; tail -n 5 "$TW_TMP/jobs.jsonl"
    echo "--- history (last lines)"; tail -n 8 "$TW_TMP/hist.jsonl"
    echo "--- status"; head -c 1500 "$TW_TMP/status.json"; echo
    echo "--- revoke-queue stderr (last lines)"; tail -n 10 "$TW_TMP/rq.err" 2>/dev/null
  } | sed 's/^/    /' >&2
  return 1
}
_rq_holds() {
  rq list >"$TW_TMP/jobs.jsonl" 2>/dev/null; rq history >"$TW_TMP/hist.jsonl" 2>/dev/null
  rq status >"$TW_TMP/status.json" 2>/dev/null
  python3 - "$TW_TMP" "$1" <<'EOF' 2>/dev/null
import json, sys
d, expr = sys.argv[1], sys.argv[2]
ld = lambda p: [json.loads(l) for l in open(p) if l.strip()]
jobs, hist = ld(d + "/jobs.jsonl"), ld(d + "/hist.jsonl")
status = json.load(open(d + "/status.json"))
sys.exit(0 if eval(expr) else 1)
EOF
}

# Fail the case if any raw secret appears in the DB, logs or outputs.
rq_assert_no_leak() { # NAME SECRET...
  local name=$1 s f; shift
  tw_token_record "$@"
  for s in "$@"; do
    for f in "$TW_TMP"/q.db* "$TW_TMP"/rq.out "$TW_TMP"/rq.err "$TW_TMP"/*.jsonl "$TW_TMP"/status.json \
             "$TW_TMP"/oidc.log "$TW_TMP"/fault.out "${TW_LOGS:-/nonexistent}/$(basename "$0" .sh).log"; do
      [ -f "$f" ] || continue
      if grep -qaF -- "$s" "$f"; then not_ok "$name" "raw token found in $f"; return 1; fi
    done
  done
  ok "$name"
}
