# Helpers for the ledger and mint CLI tests. Source after ../live/lib.sh.
# Tokens are made at run time; nothing token-shaped is committed.
export TOKENWARD_LEDGER=$TW_TMP/state/ledger.db
LEDGER=$TOKENWARD_LEDGER
RAW_TOKENS=()

# expect_rc NAME WANT CMD...: run, keep stdout/stderr in $TW_TMP/out, err.
expect_rc() {
  local name=$1 want=$2; shift 2
  "$@" >"$TW_TMP/out" 2>"$TW_TMP/err"; local rc=$?
  if [ $rc -eq "$want" ]; then ok "$name"; return 0; fi
  not_ok "$name" "exit $rc, want $want: $(head -c 300 "$TW_TMP/err")"; return 1
}

# A snapshot of everything in the ledger, to prove a command changed nothing.
ledger_snapshot() {
  python3 - "$LEDGER" <<'PY'
import sqlite3, sys, os
p = sys.argv[1]
if not os.path.exists(p):
    print("absent"); sys.exit(0)
db = sqlite3.connect("file:%s?mode=ro" % p, uri=True)
for t in ("tokens", "history", "revoke_requests"):
    try:
        for row in db.execute("SELECT * FROM %s ORDER BY 1" % t):
            print(t, repr(row))
    except sqlite3.OperationalError as e:
        print(t, "error", e)
PY
}

# expect_unchanged NAME WANT CMD...: exit WANT and the ledger as before.
expect_unchanged() {
  local name=$1 want=$2 before after; shift 2
  before=$(ledger_snapshot)
  "$@" >"$TW_TMP/out" 2>"$TW_TMP/err" </dev/null; local rc=$?
  after=$(ledger_snapshot)
  if [ $rc -ne "$want" ]; then not_ok "$name" "exit $rc, want $want: $(head -c 300 "$TW_TMP/err")"; return 1; fi
  if [ "$before" != "$after" ]; then not_ok "$name" "ledger changed"; return 1; fi
  if [ ! -s "$TW_TMP/err" ]; then not_ok "$name" "no error message"; return 1; fi
  ok "$name"
}

# ledger_lock_hold: a process holds the ledger's write lock (an open
# IMMEDIATE transaction) until ledger_lock_release kills it; returns once
# the lock is held. LOCK_HOLD_S bounds it should the test die first.
LOCK_HOLD_S=300
ledger_lock_hold() {
  rm -f "$TW_TMP/locked"
  python3 - "$LEDGER" "$TW_TMP/locked" "$LOCK_HOLD_S" <<'PY' &
import sqlite3, sys, threading
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
threading.Event().wait(float(sys.argv[3]))  # held until killed
PY
  LOCK_PID=$!
  tw_poll test -e "$TW_TMP/locked"
}
ledger_lock_release() { kill "$LOCK_PID" 2>/dev/null; wait "$LOCK_PID" 2>/dev/null; LOCK_PID=; }

sql() { python3 -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); r=db.execute(sys.argv[2]).fetchone(); print(r[0] if r else "")' "$LEDGER" "$1"; }

sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# json_get FILE PY_EXPR: evaluate with j = the parsed JSON.
json_eval() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# An opaque token: 43 chars of base64url from the kernel CSPRNG (recorded).
opaque_token() {
  local t; t=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  tw_token_record "$t"; printf '%s\n' "$t"
}

# A JWT made now: jwt_token EXP_UNIX (claims below; signature is random bytes; recorded).
jwt_token() {
  local t
  t=$(python3 - "$1" <<'PY'
import base64, json, os, sys
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
h = {"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
p = {"iss": "https://idp.example.test", "sub": "alice", "aud": ["https://api.example.test", "urn:not-a-destination"],
     "exp": int(sys.argv[1]), "iat": int(sys.argv[1]) - 600, "jti": "jti-" + os.urandom(6).hex(),
     "client_id": "agent-client", "scope": "repo:read issues:write",
     "act": {"sub": "agent-7", "act": {"sub": "orchestrator"}}}
print(b(json.dumps(h).encode()) + "." + b(json.dumps(p).encode()) + "." + b(os.urandom(64)))
PY
)
  tw_token_record "$t"; printf '%s\n' "$t"
}

# Fail if any raw token used by this test is in any file under TW_TMP.
# The tokens in RAW_TOKENS (those `tokenward mint` printed among them) go
# to the suite's registry here too.
assert_no_raw_tokens() {
  local t leaked=
  tw_token_record "${RAW_TOKENS[@]}"
  for t in "${RAW_TOKENS[@]}"; do
    if grep -rqF -- "$t" "$TW_TMP" "$@" 2>/dev/null; then leaked="$leaked $(grep -rlF -- "$t" "$TW_TMP" "$@" | head -3 | tr '\n' ' ')"; fi
  done
  if [ -n "$leaked" ]; then not_ok no_raw_token_in_artefacts "raw token in:$leaked"; else ok no_raw_token_in_artefacts; fi
}
