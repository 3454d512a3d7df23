#!/usr/bin/env bash
# `tokenward status` without BPF: missing, malformed and present status files.
. "$(dirname "$0")/../live/lib.sh"

expect_exit() { # name want cmd...
  local name=$1 want=$2; shift 2
  "$@" >"$TW_TMP/out" 2>"$TW_TMP/err"; local rc=$?
  if [ $rc -eq "$want" ]; then ok "$name"; else not_ok "$name" "exit $rc, want $want: $(head -c 300 "$TW_TMP/err")"; fi
}

expect_exit status_help 0 "$TW" status --help
grep -q -- '--state-dir' "$TW_TMP/out" && ok status_help_lists_flags || not_ok status_help_lists_flags "no --state-dir in help"
expect_exit status_bad_flag 2 "$TW" status --bogus
expect_exit status_extra_arg 2 "$TW" status extra

mkdir -p "$TW_TMP/none"
expect_exit status_missing 2 "$TW" status --state-dir "$TW_TMP/none"
[ "$(wc -l <"$TW_TMP/err")" -eq 1 ] && grep -q "no monitor status in $TW_TMP/none" "$TW_TMP/err" &&
  ok status_missing_one_line || not_ok status_missing_one_line "$(cat "$TW_TMP/err")"

mkdir -p "$TW_TMP/bad"
echo '{"version":1, "sensors": {' >"$TW_TMP/bad/status.json"
expect_exit status_malformed 2 "$TW" status --state-dir "$TW_TMP/bad"
grep -q "$TW_TMP/bad/status.json" "$TW_TMP/err" && ok status_malformed_names_file || not_ok status_malformed_names_file "$(cat "$TW_TMP/err")"

# A status left by a monitor that is gone (pid 0 never matches a process
# we could signal as 'running' here: use a pid that cannot exist).
mkdir -p "$TW_TMP/st"
cat >"$TW_TMP/st/status.json" <<'JSON'
{"version":1,"pid":4194999,"running":true,"updated":"2026-01-01T00:00:00.000000Z",
 "sensors":{"ringbuf_bytes":4096,"drops":{"ringbuf_full":7,"chunk_lost":0}},
 "ledger":{"tokens":3}}
JSON
expect_exit status_present 0 "$TW" status --state-dir "$TW_TMP/st"
if grep -q 'not running' "$TW_TMP/out" && grep -Eq 'drops\.ringbuf_full +7' "$TW_TMP/out" &&
   grep -q '^ledger:' "$TW_TMP/out"; then ok status_prints_sections; else not_ok status_prints_sections "$(cat "$TW_TMP/out")"; fi
expect_exit status_json 0 "$TW" status --state-dir "$TW_TMP/st" --json
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["running"] is False and s["sensors"]["drops"]["ringbuf_full"]==7' "$TW_TMP/out" &&
  ok status_json_valid || not_ok status_json_valid "$(head -c 300 "$TW_TMP/out")"
