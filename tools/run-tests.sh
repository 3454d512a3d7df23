#!/usr/bin/env bash
# Run tokenward's tests and print one closing line: "N passed, M failed".
#   tools/run-tests.sh [--unit|--asan|--cli|--live|--fuzz] BUILD_DIR [NAME_FILTER]
# Unit tests are cmocka binaries (build/tests/test_*); each cmocka case
# counts. CLI tests (tests/cli/test_*.sh, no BPF) and live tests
# (tests/live/test_*.sh, real BPF as root) are scripts that print one
# "ok NAME" or "not ok NAME: reason" line per case; a script that dies
# without reporting counts as one failure. Logs go to BUILD/test-logs/
# (unit-NAME.log, NAME.log for a script, LABEL-NAME.log for a second run).
#
# Sanitizers: the unit tests and the tokenward binary built with clang
# under ASan + UBSan (BUILD/asan, the Makefile's sanitizer section) run
# again, the unit tests as unit-asan/NAME and the CLI tier against
# BUILD/asan/tokenward as cli-asan/NAME, when they exist (all and --asan).
# A sanitizer report aborts the process and is logged under
# BUILD/test-logs/sanitizer/; a test that leaves such a log fails, whatever
# its own checks said, and the report is appended to its log.
#
# The redaction audit runs last, as audit/redaction: every token the tests
# minted (the registry BUILD/test-tokens, mode 0600, never printed) is searched
# for, raw, percent-encoded, hex and base64-encoded, in every file the run
# wrote: the test logs and the scripts' files, kept under
# BUILD/test-artefacts/KIND/NAME (tests/live/lib.sh; paths named
# leak-input* hold tokens on purpose and are skipped). audit/redaction-
# selftest proves that the audit finds a planted token. Each run starts by
# clearing the last run's artefacts, registry and sanitizer logs.
#
# Order: unit, unit-asan, cli, cli-asan, fuzz and the live tests of lane
# "scoped" side by side (the first five load no BPF; the last watch only
# their own cgroup; output printed in that order once all are done); then
# the other live tests, alone; then the audit. The time line gives each
# tier's time and the wall time.
#
# Fuzzing: the libFuzzer targets (BUILD/fuzz/fuzz_*, the Makefile's
# fuzzing section) run FUZZ_SECONDS each (default 15) when that directory
# exists, one test each as fuzz/NAME; a crash, leak, sanitizer report or
# broken invariant fails it and leaves the input in BUILD/fuzz/crashes/.
# FUZZ_SEED (default 1) is libFuzzer's -seed; 0 draws a new one.
set -u
mode=all
case "${1:-}" in
  --unit) mode=unit; shift ;; --asan) mode=asan; shift ;; --live) mode=live; shift ;; --cli) mode=cli; shift ;;
  --fuzz) mode=fuzz; shift ;;
esac
build=${1:-build}
filter=${2:-${TEST:-}}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
logs=$build/test-logs
art=$build/test-artefacts
san=$logs/sanitizer
export TW_TOKENS=$build/test-tokens  # outside test-logs: tests grep TW_LOGS for their tokens
# The tests' python3 is Debian's (tools/deps.sh): they use its standard
# library only. A version manager's shim ahead of it in PATH (pyenv's is a
# bash script that looks the version up on every call) costs ~200 ms of CPU
# a start against ~20 ms, and the suite starts python some thousands of
# times: a third of the suite's CPU went there.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
  mkdir -p "$build/test-bin" && ln -sfn /usr/bin/python3 "$build/test-bin/python3" &&
    export PATH=$build/test-bin:$PATH
fi
rm -rf "$art" "$san"; rm -f "$TW_TOKENS"
mkdir -p "$logs" "$art" "$san"
chmod 755 "$art"; chmod 1777 "$san"   # a test may run tokenward as nobody
(umask 077; : >"$TW_TOKENS")
passed=0 failed=0
failures=()
times=()
wall0=$SECONDS

# Sanitized runs: leaks count too (this is where they can be seen); the
# first report aborts (so it cannot be mistaken for an ordinary exit
# status) and goes to a log file named after the test.
asan_opts=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
ubsan_opts=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}

# sanitizer_env LABEL-NAME: sets env, the environment of one sanitized test.
sanitizer_env() { env=("ASAN_OPTIONS=$asan_opts:log_path=$san/$1" "UBSAN_OPTIONS=$ubsan_opts:log_path=$san/$1"); }

# sanitizer_check LABEL-NAME LOG: 1 (and the reports appended to LOG) if
# the test left a sanitizer log.
sanitizer_check() {
  local f found=0
  for f in "$san/$1".*; do
    [ -f "$f" ] || continue
    found=1
    { echo "not ok sanitizer_report: $(basename "$f")"; sed 's/^/    /' "$f"; } >>"$2"
  done
  return $found
}

# child_cpu: CPU seconds (user + system, rounded) of this
# shell's finished children so far; a script's cost is the difference.
# Wall time says what waited; CPU time says what to make cheaper.
# `times` runs in this shell (into a file): in a subshell it would count
# the subshell's children only. Sets cpu.
child_cpu() {
  local f=$logs/.times.$BASHPID   # this shell's pid, not the $(...)'s
  times >"$f"
  cpu=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%.0f", s }' "$f")
  rm -f "$f"
}

run_unit() { # DIR LABEL
  local dir=$1 label=$2 bin name log p f env=()
  local t0=$SECONDS
  for bin in "$dir"/test_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    log=$logs/$label-$name.log      # unit-NAME: a CLI script may share NAME
    env=(); [ "$label" = unit-asan ] && sanitizer_env "$label-$name"
    env "${env[@]}" TW_TEST="$label/$name" "$bin" >"$log" 2>&1
    rc=$?
    p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    sanitizer_check "$label-$name" "$log" || f=$((f + 1))
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
      failures+=("$label/$name (log: $log)")
      echo "FAIL $label/$name: $p passed, $f failed"; sed 's/^/    /' "$log" | grep -E 'FAIL|ERROR|error|Failure|Sanitizer|runtime error|not ok' | head -20
    else
      echo "ok   $label/$name: $p passed"
    fi
  done
  times+=("$label $((SECONDS - t0)) s")
}

# A live test's lane: "scoped" when its header says "# lane: scoped",
# a promise that every monitor it starts watches only its own cgroup
# (tw_start holds it to that), so it sees nothing of tests that load no
# BPF and can run beside them; "host" otherwise.
lane_of() { if grep -q '^# lane: scoped$' "$1"; then echo scoped; else echo host; fi; }

# run_scripts KIND LABEL [TW_BIN [LANE [CLAIMS]]]: LANE runs only that
# lane's live tests; with CLAIMS (a directory) several workers share the
# list, each test run by the worker whose mkdir CLAIMS/NAME won.
run_scripts() {
  local kind=$1 label=$2 bin=${3:-} lane=${4:-} claims=${5:-} script name log ok notok t c cpu env=()
  local t0=$SECONDS
  if [ "$kind" = live ] && [ "$(id -u)" -ne 0 ]; then
    echo "FAIL live: live tests load BPF programs and must run as root"
    failed=$((failed + 1)); failures+=("live (not root)"); return
  fi
  for script in "$root"/tests/"$kind"/test_*.sh; do
    [ -f "$script" ] || continue
    name=$(basename "$script" .sh)
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    [ -n "$lane" ] && [ "$(lane_of "$script")" != "$lane" ] && continue
    [ -n "$claims" ] && { mkdir "$claims/$name" 2>/dev/null || continue; }
    log=$logs/$name.log
    [ "$label" = "$kind" ] || log=$logs/$label-$name.log
    env=(); [ -n "$bin" ] && { sanitizer_env "$label-$name"; env+=("TW_BIN=$bin"); }
    [ "$kind" = live ] && env+=("TW_LANE=$(lane_of "$script")")
    t=$SECONDS; child_cpu; c=$cpu
    env "${env[@]}" TW_BUILD="$build" TW_ROOT="$root" TW_LOGS="$logs" TW_TEST="$label/$name" \
      TW_ARTEFACTS="$art/$label/$name" timeout 600 bash "$script" >"$log" 2>&1
    rc=$? t=$((SECONDS - t)); child_cpu; t="$t s, $((cpu - c)) s CPU"
    ok=$(grep -c '^ok ' "$log")
    notok=$(grep -c '^not ok ' "$log")
    if [ "$ok" -eq 0 ] && [ "$notok" -eq 0 ]; then notok=1; echo "not ok $name: exited $rc without reporting" >>"$log"; fi
    if [ $rc -ne 0 ] && [ "$notok" -eq 0 ]; then notok=1; echo "not ok $name: exited $rc" >>"$log"; fi
    sanitizer_check "$label-$name" "$log" || notok=$((notok + 1))
    passed=$((passed + ok)); failed=$((failed + notok))
    if [ "$notok" -gt 0 ]; then
      failures+=("$label/$name (log: $log)")
      echo "FAIL $label/$name: $ok passed, $notok failed ($t)"; grep '^not ok' "$log" | sed 's/^/    /'
    else
      echo "ok   $label/$name: $ok passed ($t)"
    fi
  done
  times+=("$label${lane:+ $lane} $((SECONDS - t0)) s")
}

# The audit: the self-test first (a planted token must be found), then
# everything this run wrote. Its output names files, offsets and
# fingerprints only; it is kept in memory until the search is done.
run_audit() {
  local name out rc t0=$SECONDS
  for name in redaction-selftest redaction; do
    if [ $name = redaction-selftest ]; then
      out=$(python3 "$root/tools/redaction-audit.py" --self-test 2>&1); rc=$?
    else
      out=$(python3 "$root/tools/redaction-audit.py" --tokens "$TW_TOKENS" "$logs" "$art" 2>&1); rc=$?
    fi
    printf '%s\n' "$out" >"$logs/audit-$name.log"
    if [ $rc -eq 0 ]; then
      passed=$((passed + 1)); echo "ok   audit/$name: $(tail -1 <<<"$out")"
    else
      failed=$((failed + 1)); failures+=("audit/$name (log: $logs/audit-$name.log)")
      echo "FAIL audit/$name:"; sed 's/^/    /' <<<"$out" | head -25
    fi
  done
  times+=("audit $((SECONDS - t0)) s")
}

run_fuzz() { # DIR: BUILD/fuzz
  local dir=$1 secs=${FUZZ_SECONDS:-15} bin name log rc execs d args t0=$SECONDS
  for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz_}
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    log=$logs/fuzz-$name.log
    mkdir -p "$dir/corpus/$name" "$dir/crashes"
    # The first directory collects what the run finds (never committed);
    # the seeds are read only.
    args=("$dir/corpus/$name")
    for d in "$root/tests/fuzz/seeds/$name" "$dir/seeds/$name"; do [ -d "$d" ] && args+=("$d"); done
    [ -f "$root/tests/fuzz/dict/$name.dict" ] && args=(-dict="$root/tests/fuzz/dict/$name.dict" "${args[@]}")
    # libFuzzer prints a failing input (hex, escaped, base64) when it is
    # small; inputs grown from the minted seeds may hold tokens, and test
    # logs never do: the input is in BUILD/fuzz/crashes/, the log says where.
    # make test fuzzes from a fixed seed (FUZZ_SEED, default 1), so that
    # the gate repeats itself and a red run is a code change, not luck;
    # `make fuzz` explores (FUZZ_SEED=0: libFuzzer draws one).
    "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$dir/crashes/$name-" "${args[@]}" 2>&1 |
      awk '/^MS: /{print; skip=1; next} /^artifact_prefix=/{skip=0} /^Base64: /{next} !skip' >"$log"
    rc=${PIPESTATUS[0]}
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ] && [ -n "$execs" ]; then
      passed=$((passed + 1))
      echo "ok   fuzz/$name: ${execs} executions in ${secs} s"
    else
      failed=$((failed + 1)); failures+=("fuzz/$name (log: $log)")
      echo "FAIL fuzz/$name: exit $rc after ${execs:-?} executions"
      grep -E 'ERROR|SUMMARY|invariant|Test unit written|runtime error' "$log" | head -8 | sed 's/^/    /'
    fi
  done
  times+=("fuzz $((SECONDS - t0)) s")
}

[ "$mode" = unit ] && run_unit "$build/tests" unit
[ "$mode" = asan ] && [ -d "$build/asan/tests" ] && run_unit "$build/asan/tests" unit-asan
# The offline tiers need no BPF and share nothing but the token registry
# (appended to, one line per write): in a full run, the unit tests, the
# CLI tier, their sanitized runs and the fuzzers run side by side, each
# in a subshell that leaves its output and counts in
# BUILD/test-logs/tier-LABEL.*, printed in order once all are done. The
# live tests whose monitors watch only their own cgroup (lane "scoped")
# run beside them, one at a time: they see nothing of the offline tiers
# but their CPU load, which the suite must bear anyway; two workers share
# them. The other live tests (lane "host") run alone after them: their
# monitors watch the whole host, and other tests' files would be theirs.
# `--live` runs both lanes, one test at a time.
tier_run() { # LABEL FUNCTION ARGS...: in a subshell, its counts to files
  local label=$1; shift
  (
    passed=0 failed=0 failures=() times=()
    "$@" >"$logs/tier-$label.out" 2>&1
    { echo "$passed $failed"; printf '%s\n' "${times[@]}"; } >"$logs/tier-$label.counts"
    printf '%s\n' "${failures[@]}" >"$logs/tier-$label.failures"
  )
}
tier_collect() { # LABEL
  local label=$1 p f line
  cat "$logs/tier-$label.out"
  { read -r p f; while IFS= read -r line; do [ -n "$line" ] && times+=("$line"); done; } <"$logs/tier-$label.counts"
  passed=$((passed + p)); failed=$((failed + f))
  while IFS= read -r line; do [ -n "$line" ] && failures+=("$line"); done <"$logs/tier-$label.failures"
  rm -f "$logs/tier-$label".*
}
offline=()
[ "$mode" = all ] && offline+=(unit)
[ "$mode" = all ] && [ -d "$build/asan/tests" ] && offline+=(unit-asan)
{ [ "$mode" = all ] || [ "$mode" = cli ]; } && offline+=(cli)
{ [ "$mode" = all ] || [ "$mode" = asan ]; } && [ -x "$build/asan/tokenward" ] && offline+=(cli-asan)
{ [ "$mode" = all ] || [ "$mode" = fuzz ]; } && [ -d "$build/fuzz" ] && offline+=(fuzz)
# Two workers share the scoped live tests (they cannot see each other
# either); the claims directory is made afresh for each run.
claims=$logs/live-claims
rm -rf "$claims"; mkdir -p "$claims"
[ "$mode" = all ] && offline+=(live-scoped-1 live-scoped-2)
for t in "${offline[@]}"; do
  case $t in
    live-scoped-*) tier_run "$t" run_scripts live live "" scoped "$claims" & ;;
    unit) tier_run unit run_unit "$build/tests" unit & ;;
    unit-asan) tier_run unit-asan run_unit "$build/asan/tests" unit-asan & ;;
    cli) tier_run cli run_scripts cli cli & ;;
    cli-asan) tier_run cli-asan run_scripts cli cli-asan "$build/asan/tokenward" & ;;
    fuzz) tier_run fuzz run_fuzz "$build/fuzz" & ;;
  esac
done
wait
for t in "${offline[@]}"; do tier_collect "$t"; done
[ "$mode" = all ] && run_scripts live live "" host
[ "$mode" = live ] && run_scripts live live
run_audit

if [ ${#failures[@]} -gt 0 ]; then
  echo; echo "failed:"; printf '  %s\n' "${failures[@]}"
fi
echo
echo "time: $(IFS=,; echo "${times[*]}" | sed 's/,/, /g'); wall $((SECONDS - wall0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
