# Shared helpers for live tests. Source it; then call tw_start, run real
# processes, and assert on the events tokenward writes.
# Each case reports with ok/not_ok; the runner counts those lines.
set -u
TW_BUILD=${TW_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
TW_ROOT=${TW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# TW_BIN: another build of the binary (tools/run-tests.sh runs the CLI tier
# again against the sanitized one, BUILD/asan/tokenward).
TW=${TW_BIN:-$TW_BUILD/tokenward}
PROGS=$TW_BUILD/progs
# The test's files. Under tools/run-tests.sh, TW_ARTEFACTS is this test's
# own directory under BUILD/test-artefacts: the files stay there for the
# redaction audit (tools/redaction-audit.py) and the next run clears them.
# Files that hold tokens on purpose (inputs for tokenward to find, leaks the
# sensors must catch, the test's own token lists) go under a path whose
# name starts with "leak-input": the audit skips those, and searches
# everything else for every token the suite minted.
[ -z "${TW_ARTEFACTS:-}" ] || mkdir -p "$TW_ARTEFACTS"
TW_TMP=$(mktemp -d "${TW_ARTEFACTS:-/tmp}/tw-live.XXXXXX") || { echo "not ok tw_tmp: cannot create a directory"; exit 1; }
TW_PID=
TW_CG=
trap 'tw_stop; tw_leave_cgroup; tw_tmp_done' EXIT

# tw_tmp_done: the EXIT trap's last step: TW_TMP is removed, or kept for
# the audit when it lives under TW_ARTEFACTS.
tw_tmp_done() {
  local p
  for p in "${TW_SINK_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${TW_ARTEFACTS:-}" ] || rm -rf "$TW_TMP"
}

# tw_sink NAME: a TCP sink on 127.0.0.1 that reads each connection to its
# end (or 5 s of silence) and discards it; sets TW_SINK_PORT. Call it
# plainly, not in $(...): a subshell would lose the sink's pid, and the
# sink would outlive the test (tw_tmp_done kills every sink).
TW_SINK_PIDS=()
tw_sink() {
  python3 -u -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1])
while True:
    c, _ = s.accept(); c.settimeout(5)
    try:
        while c.recv(65536): pass
    except OSError: pass
    c.close()' >"$TW_TMP/sink.$1" &
  TW_SINK_PIDS+=($!)
  tw_poll test -s "$TW_TMP/sink.$1" || { echo "tw_sink: the sink $1 did not start" >&2; return 1; }
  TW_SINK_PORT=$(head -1 "$TW_TMP/sink.$1")
}

# tw_mint LEDGER AUD TASK [OPTS...]: mints a token; prints "ID TOKEN". The
# token is remembered (TOKENS, for a test's own leak check) and recorded
# for the suite's redaction audit.
tw_mint() {
  local ledger=$1 aud=$2 task=$3 tok id
  shift 3
  tok=$("$TW" mint --ledger "$ledger" --task "$task" --aud "$aud" "$@" 2>"$TW_TMP/mint.err") || return 1
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
  TOKENS+=("$tok"); tw_token_record "$tok"
  echo "$id $tok"
}

# tw_ledger_status LEDGER ID: the token's status in the ledger, printed.
tw_ledger_status() {
  "$TW" ledger show "$2" --json --ledger "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'
}
# tw_expect_status NAME LEDGER ID STATUS: waits until the ledger shows
# STATUS for ID (the monitor marks it after queueing the revocation).
_tw_status_is() { [ "$(tw_ledger_status "$1" "$2")" = "$3" ]; }
tw_expect_status() {
  tw_poll _tw_status_is "$2" "$3" "$4" && { ok "$1"; return; }
  not_ok "$1" "ledger status of $3 is $(tw_ledger_status "$2" "$3"), want $4"
}

# tw_token_record TOKEN...: every secret a test mints or receives (from
# `tokenward mint`, an issuer, its own generator) is recorded in the
# suite's registry TW_TOKENS (mode 0600, never printed) for the redaction
# audit, as "TEST<TAB>HEX": the token's bytes reversed, in hex. Written
# plain, the registry would itself be a token written to a file, which a
# running monitor rightly catches and revokes. Builtins only: the token is
# in no argv. tests/cli/tokgen.py and tests/unit/tokmint.h record what they
# mint themselves, the same way.
# _tw_append_line FILE LINE: LINE and a newline appended in one write(),
# never through a symlink. Every tier appends to the registry at once, and
# the shell's printf writes a long line in pieces (4 KiB, the rest, the
# tail), between which another writer's line could land.
_tw_append_line() {
  if [ ${#2} -lt 3000 ]; then
    (umask 077; printf '%s\n' "$2" >>"$1")
  else
    python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
line = sys.stdin.buffer.read().rstrip(b"\n") + b"\n"
assert os.write(fd, line) == len(line)' "$1" <<<"$2"
  fi
}
tw_token_record() {
  local t i c hex LC_ALL=C
  for t in "$@"; do
    [ -n "$t" ] || continue
    hex=
    if [ ${#t} -le 512 ]; then
      for ((i = ${#t} - 1; i >= 0; i--)); do printf -v c '%02x' "'${t:i:1}"; hex+=$c; done
    else # the shell's loop is quadratic: a 64 KiB token took 40 s
      hex=$(printf '%s' "$t" | python3 -c 'import sys; print(sys.stdin.buffer.read()[::-1].hex())')
    fi
    [ -z "${TW_TOKENS:-}" ] ||
      _tw_append_line "$TW_TOKENS" "${TW_TEST:-$(basename "$0" .sh)}"$'\t'"$hex"
    (umask 077; printf '%s\n' "$hex" >>"$TW_TMP/tokens.rev")
  done
  return 0
}
# tw_minted: every token this test recorded, one a line. A test's own
# leak check loops over these: a TOKENS array filled inside $(mint ...)
# is filled in a subshell, and its parent's copy stays empty.
tw_minted() {
  [ -f "$TW_TMP/tokens.rev" ] || return 0
  python3 -c 'import sys; [print(bytes.fromhex(l.strip())[::-1].decode()) for l in open(sys.argv[1]) if l.strip()]' "$TW_TMP/tokens.rev"
}

ok()     { echo "ok $1"; }
not_ok() { echo "not ok $1: $2"; }

# Random marker, never a real secret.
tw_marker() { echo "twmark$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"; }

# Waiting. A test never sleeps to wait for something: it polls for the
# condition it needs (a file, an event, a counter in status.json, a process
# state) and goes on as soon as it holds. The deadline is generous, for a
# machine many times slower than a quiet one (other jobs on the CPUs); only
# a failure ever waits that long. TW_WAIT_S overrides it.
export TW_WAIT_S=${TW_WAIT_S:-60}
TW_POLL_S=0.05     # how often a condition is tried again: not a wait for anything

# tw_poll CMD...: run CMD until it succeeds; 1 if it still fails after
# TW_WAIT_S seconds. CMD runs in this shell (a function may set variables).
tw_poll() {
  local end=$((SECONDS + TW_WAIT_S))
  until "$@"; do
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep "$TW_POLL_S"
  done
}

# tw_interval SECONDS: let a wall-clock interval pass that is itself under
# test (a TTL that must run out, a window in which a retry must not
# fire). Never a wait for something to happen: that is tw_poll's job.
# Each caller names the interval and says why it is long enough.
tw_interval() { sleep "$1"; }

# tw_diag: what the monitor said and last wrote, to stderr (the test log),
# so that a timeout is explainable.
tw_diag() {
  {
    echo "--- monitor (pid ${TW_PID:-none}, $( [ -n "${TW_PID:-}" ] && kill -0 "$TW_PID" 2>/dev/null && echo running || echo not running)): last stderr lines"
    tail -n 15 "$TW_TMP/stderr" 2>/dev/null | sed 's/^/    /'
    echo "--- last status.json"
    head -c 2000 "$TW_TMP/state/status.json" 2>/dev/null | sed 's/^/    /'; echo
  } >&2
}

# tw_own_cgroup: move this test shell, and so every process it starts
# from now on, into a new cgroup v2 directory $TW_CG. A monitor run with
# --cgroup "$TW_CG" then counts only this test's own processes: a check
# that a status counter is zero (nothing lost, nothing orphaned) must not
# see the other jobs of a shared machine. (The monitor never watches its
# own process, so it may start inside too.) The EXIT trap moves the shell
# back and removes the directory.
tw_own_cgroup() {
  local root
  root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
  [ -n "$root" ] || { echo "no cgroup v2 hierarchy mounted"; return 1; }
  TW_CG_HOME=$root$(sed -n 's/^0:://p' /proc/self/cgroup)
  TW_CG=$root/tw-test.$$.$RANDOM
  mkdir "$TW_CG" || { echo "cannot create $TW_CG"; TW_CG=; return 1; }
  echo $$ >"$TW_CG/cgroup.procs"
}
tw_leave_cgroup() {
  [ -n "${TW_CG:-}" ] || return 0
  echo $$ >"$TW_CG_HOME/cgroup.procs" 2>/dev/null ||
    echo $$ >"$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)/cgroup.procs"
  rmdir "$TW_CG" 2>/dev/null
  TW_CG=
}

# Start the monitor; events go to $TW_TMP/events.jsonl. Extra args pass through.
tw_start() {
  # A test of lane "scoped" runs beside other tiers' tests
  # (tools/run-tests.sh): a monitor of the whole host would see theirs.
  if [ "${TW_LANE:-}" = scoped ] && [[ " $* " != *" --cgroup "* ]]; then
    echo "tw_start: this test is in lane scoped (its header), so its monitors take --cgroup"
    return 1
  fi
  rm -f "$TW_TMP/ready"
  "$TW" run --events "$TW_TMP/events.jsonl" --state-dir "$TW_TMP/state" \
      --ready-file "$TW_TMP/ready" "$@" >"$TW_TMP/stdout" 2>"$TW_TMP/stderr" &
  TW_PID=$!
  tw_poll _tw_ready_or_gone
  [ -e "$TW_TMP/ready" ] && return 0
  if kill -0 "$TW_PID" 2>/dev/null; then
    echo "tokenward did not become ready within ${TW_WAIT_S} s (still starting); its stderr:"
  else
    echo "tokenward exited before it was ready; its stderr:"
  fi
  tail -n 30 "$TW_TMP/stderr"
  return 1
}
_tw_ready_or_gone() { [ -e "$TW_TMP/ready" ] || ! kill -0 "$TW_PID" 2>/dev/null; }

tw_stop() {
  [ -n "${TW_PID:-}" ] || return 0
  kill -TERM "$TW_PID" 2>/dev/null
  wait "$TW_PID" 2>/dev/null
  TW_RC=$?
  TW_PID=
  return 0
}

# tw_wait_event PYTHON_EXPR: wait until some event e satisfies the
# expression; prints that event. Returns 1 on timeout (TW_WAIT_S), with
# the last events and the monitor's state on stderr.
tw_wait_event() {
  [ $# -eq 1 ] || { echo "tw_wait_event takes one expression (the deadline is TW_WAIT_S)" >&2; return 2; }
  python3 "$TW_ROOT/tests/live/wait_event.py" "$TW_TMP/events.jsonl" "$1" "$TW_WAIT_S" || { local rc=$?; tw_diag; return $rc; }
}

# tw_no_event ABSENT_EXPR BARRIER_EXPR: the negative check. After the
# action, the test causes a barrier: a later event of the same kind that
# the monitor handles after anything the action could have caused (a
# marker exec, a marker write, a second send). Waits for the barrier,
# then succeeds if no event so far satisfies ABSENT_EXPR. Returns 3 (and
# prints the offending event) if one does, 1 if the barrier never came.
tw_no_event() {
  python3 "$TW_ROOT/tests/live/wait_event.py" "$TW_TMP/events.jsonl" "$2" "$TW_WAIT_S" "$1" || {
    local rc=$?; [ $rc -eq 1 ] && tw_diag; return $rc; }
}

# tw_no_event_case NAME ABSENT_EXPR BARRIER_EXPR: tw_no_event, reported.
tw_no_event_case() {
  local out rc
  out=$(tw_no_event "$2" "$3"); rc=$?
  case $rc in
    0) ok "$1" ;;
    3) not_ok "$1" "an event that must not happen: $out" ;;
    *) not_ok "$1" "the barrier event never came (rc $rc): the absence would prove nothing" ;;
  esac
}

# tw_wait_status PYTHON_EXPR: wait for a status.json the monitor wrote
# after this call (so it reflects what the test did before) in which the
# expression over s (the status) holds. Prints that status.
tw_wait_status() {
  python3 "$TW_ROOT/tests/live/wait_status.py" "$TW_TMP/state/status.json" "$1" "$TW_WAIT_S" || { tw_diag; return 1; }
}

# tw_corpora: the directory of the shared test corpora, printed; 1 if none
# is found. The corpora live beside the checkout, in ../shared/corpora of
# the main tree; a clone or worktree elsewhere finds them through
# TW_CORPORA, then beside its own root, then beside the repository it was
# cloned from (a local origin) or the main worktree.
tw_corpora() {
  local d c
  for d in "${TW_CORPORA:-}" "$TW_ROOT/../shared/corpora"; do
    [ -n "$d" ] && [ -d "$d" ] && { (cd "$d" && pwd); return 0; }
  done
  for c in "$(git -C "$TW_ROOT" config --get remote.origin.url 2>/dev/null)" \
           "$(git -C "$TW_ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)/.."; do
    c=${c#file://}
    [ -n "$c" ] && [ -d "$c/../shared/corpora" ] && { (cd "$c/../shared/corpora" && pwd); return 0; }
  done
  return 1
}

# Fail if any raw secret given appears in any file under the given dirs.
tw_assert_no_leak() {
  local name=$1 secret=$2; shift 2
  tw_token_record "$secret"
  if grep -rqF -- "$secret" "$@" 2>/dev/null; then
    not_ok "$name" "raw secret found in $(grep -rlF -- "$secret" "$@" | head -3 | tr '\n' ' ')"
    return 1
  fi
  ok "$name"
}
