#!/usr/bin/env bash
# Run tokenward's tests and print one closing line: "N passed, M failed".
#   tools/run-tests.sh [--unit|--asan|--cli|--live|--fuzz] BUILD_DIR [NAME_FILTER]
# Unit tests are cmocka binaries (build/tests/test_*); each cmocka case
# counts. The same tests built with clang under ASan + UBSan
# (BUILD/asan/tests/test_*, the Makefile's sanitizer section) count
# again as unit-asan/NAME when that directory exists; a sanitizer report
# aborts the binary, which counts as a failure. CLI tests (tests/cli/test_*.sh, no BPF) and live tests
# (tests/live/test_*.sh, real BPF as root) are scripts that print one
# "ok NAME" or "not ok NAME: reason" line per case; a script that dies
# without reporting counts as one failure. The libFuzzer targets
# (BUILD/fuzz/fuzz_*, the Makefile's fuzzing section) run FUZZ_SECONDS
# each (default 15) when that directory exists, one test each as
# fuzz/NAME; a crash, leak, sanitizer report or broken invariant fails it
# and leaves the input in BUILD/fuzz/crashes/. Logs go to BUILD/test-logs/.
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
mkdir -p "$logs"
passed=0 failed=0
failures=()

run_unit() { # DIR LABEL
  local dir=$1 label=$2 bin name log p f
  for bin in "$dir"/test_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    log=$logs/$name.log
    [ "$label" = unit ] || log=$logs/$label-$name.log
    "$bin" >"$log" 2>&1
    rc=$?
    p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
      failures+=("$label/$name (log: $log)")
      echo "FAIL $label/$name: $p passed, $f failed"; sed 's/^/    /' "$log" | grep -E 'FAIL|ERROR|error|Failure|Sanitizer|runtime error' | head -20
    else
      echo "ok   $label/$name: $p passed"
    fi
  done
}

run_scripts() { # DIR
  local kind=$1 script name log ok notok
  if [ "$kind" = live ] && [ "$(id -u)" -ne 0 ]; then
    echo "FAIL live: live tests load BPF programs and must run as root"
    failed=$((failed + 1)); failures+=("live (not root)"); return
  fi
  for script in "$root"/tests/"$kind"/test_*.sh; do
    [ -f "$script" ] || continue
    name=$(basename "$script" .sh)
    [ -n "$filter" ] && [[ $name != *$filter* ]] && continue
    log=$logs/$name.log
    TW_BUILD=$build TW_ROOT=$root TW_LOGS=$logs timeout 600 bash "$script" >"$log" 2>&1
    rc=$?
    ok=$(grep -c '^ok ' "$log")
    notok=$(grep -c '^not ok ' "$log")
    if [ "$ok" -eq 0 ] && [ "$notok" -eq 0 ]; then notok=1; echo "not ok $name: exited $rc without reporting" >>"$log"; fi
    if [ $rc -ne 0 ] && [ "$notok" -eq 0 ]; then notok=1; echo "not ok $name: exited $rc" >>"$log"; fi
    passed=$((passed + ok)); failed=$((failed + notok))
    if [ "$notok" -gt 0 ]; then
      failures+=("$kind/$name (log: $log)")
      echo "FAIL $kind/$name: $ok passed, $notok failed"; grep '^not ok' "$log" | sed 's/^/    /'
    else
      echo "ok   $kind/$name: $ok passed"
    fi
  done
}

run_fuzz() { # DIR: BUILD/fuzz
  local dir=$1 secs=${FUZZ_SECONDS:-15} bin name log rc execs d args
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
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
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
}

# Sanitized runs: leaks count too (this is where they can be seen), and
# the stack of the first report is what a developer needs from the log.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
{ [ "$mode" = all ] || [ "$mode" = unit ]; } && run_unit "$build/tests" unit
{ [ "$mode" = all ] || [ "$mode" = asan ]; } && [ -d "$build/asan/tests" ] &&
  run_unit "$build/asan/tests" unit-asan
{ [ "$mode" = all ] || [ "$mode" = cli ]; } && run_scripts cli
{ [ "$mode" = all ] || [ "$mode" = live ]; } && run_scripts live
{ [ "$mode" = all ] || [ "$mode" = fuzz ]; } && [ -d "$build/fuzz" ] && run_fuzz "$build/fuzz"

if [ ${#failures[@]} -gt 0 ]; then
  echo; echo "failed:"; printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
