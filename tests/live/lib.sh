# Shared helpers for live tests. Source it; then call tw_start, run real
# processes, and assert on the events tokenward writes.
# Each case reports with ok/not_ok; the runner counts those lines.
set -u
TW_BUILD=${TW_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
TW_ROOT=${TW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TW=$TW_BUILD/tokenward
PROGS=$TW_BUILD/progs
TW_TMP=$(mktemp -d /tmp/tw-live.XXXXXX)
TW_PID=
trap 'tw_stop; rm -rf "$TW_TMP"' EXIT

ok()     { echo "ok $1"; }
not_ok() { echo "not ok $1: $2"; }

# Random marker, never a real secret.
tw_marker() { echo "twmark$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"; }

# Start the monitor; events go to $TW_TMP/events.jsonl. Extra args pass through.
tw_start() {
  rm -f "$TW_TMP/ready"
  "$TW" run --events "$TW_TMP/events.jsonl" --state-dir "$TW_TMP/state" \
      --ready-file "$TW_TMP/ready" "$@" >"$TW_TMP/stdout" 2>"$TW_TMP/stderr" &
  TW_PID=$!
  for _ in $(seq 1 200); do
    [ -e "$TW_TMP/ready" ] && return 0
    kill -0 "$TW_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "tokenward did not become ready:"; cat "$TW_TMP/stderr"
  return 1
}

tw_stop() {
  [ -n "${TW_PID:-}" ] || return 0
  kill -TERM "$TW_PID" 2>/dev/null
  wait "$TW_PID" 2>/dev/null
  TW_RC=$?
  TW_PID=
  return 0
}

# tw_wait_event PYTHON_EXPR [TIMEOUT_S]: wait until some event e satisfies
# the expression; prints that event. Returns 1 on timeout.
tw_wait_event() {
  python3 "$TW_ROOT/tests/live/wait_event.py" "$TW_TMP/events.jsonl" "$1" "${2:-5}"
}

# Fail if any raw secret given appears in any file under the given dirs.
tw_assert_no_leak() {
  local name=$1 secret=$2; shift 2
  if grep -rqF -- "$secret" "$@" 2>/dev/null; then
    not_ok "$name" "raw secret found in $(grep -rlF -- "$secret" "$@" | head -3 | tr '\n' ' ')"
    return 1
  fi
  ok "$name"
}
