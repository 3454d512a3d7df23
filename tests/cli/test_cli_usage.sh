#!/usr/bin/env bash
# Usage errors and help for every command (no BPF needed).
. "$(dirname "$0")/../live/lib.sh"

expect_exit() { # name want cmd...
  local name=$1 want=$2; shift 2
  "$@" >"$TW_TMP/out" 2>"$TW_TMP/err"; local rc=$?
  if [ $rc -eq "$want" ]; then ok "$name"; else not_ok "$name" "exit $rc, want $want: $(head -c 300 "$TW_TMP/err")"; fi
}

expect_exit usage_no_command 2 "$TW"
expect_exit usage_unknown_command 2 "$TW" frobnicate
expect_exit usage_unknown_flag 2 "$TW" run --no-such-flag
expect_exit usage_missing_argument 2 "$TW" run --events
expect_exit usage_bad_ringbuf 2 "$TW" run --ringbuf-size 12345
expect_exit usage_extra_argument 2 "$TW" run extra
expect_exit usage_bad_file_tail_ms 2 "$TW" run --file-tail-ms 0
expect_exit usage_bad_sock_batch_ms 2 "$TW" run --sock-batch-ms 0
expect_exit usage_bad_sock_batch_ms_word 2 "$TW" run --sock-batch-ms soon
expect_exit help_top 0 "$TW" --help
expect_exit version 0 "$TW" --version
expect_exit help_run 0 "$TW" run --help
if grep -q -- '--ready-file' "$TW_TMP/out" && grep -q -- '--events' "$TW_TMP/out"; then ok help_run_lists_flags; else not_ok help_run_lists_flags "run --help misses flags"; fi
