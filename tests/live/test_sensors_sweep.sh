#!/usr/bin/env bash
# Startup sweep: a process started BEFORE the monitor, with a marker in its
# environment and another in its argv, is found from /proc at start.
. "$(dirname "$0")/lib.sh"

env_marker=$(tw_marker)
arg_marker=$(tw_marker)
# a shell that loops (so it never execs away) holding both markers
TW_SWEEP_TEST_VALUE="x${env_marker}y" bash -c 'for _ in $(seq 600); do sleep 0.1; done' tw "$arg_marker" &
sleeper=$!
trap 'kill $sleeper 2>/dev/null; tw_stop; rm -rf "$TW_TMP"' EXIT
sleep 0.1

tw_start --trace-io --watch-literal "$env_marker" --watch-literal "$arg_marker" ||
  { not_ok sweep_start "monitor failed to start"; exit 1; }

if ev=$(tw_wait_event "e['event']=='proc_env' and e['pid']==$sleeper") &&
   python3 - "$ev" "$sleeper" <<'PY'; then ok sweep_finds_marker_in_env; else not_ok sweep_finds_marker_in_env "${ev:-no proc_env event for pid $sleeper}"; fi
import json, sys
e, pid = json.loads(sys.argv[1]), int(sys.argv[2])
env = open(f"/proc/{pid}/environ", "rb").read()
hits = [l for l in e.get("literals", []) if l["index"] == 0]
assert hits, e
# the offset is where the marker really sits in the environment block
assert env.find(b"TW_SWEEP_TEST_VALUE=x") + len("TW_SWEEP_TEST_VALUE=x") == hits[0]["offset"], (hits, env.find(b"TW_SWEEP_TEST_VALUE=x"))
assert e["exe"].endswith("/bash"), e["exe"]
assert e["comm"] == "bash"
PY

if ev=$(tw_wait_event "e['event']=='proc_argv' and e['pid']==$sleeper and any(l['index']==1 for l in e.get('literals',[]))"); then
  ok sweep_finds_marker_in_argv
else
  not_ok sweep_finds_marker_in_argv "no proc_argv event with the marker"
fi

# The monitor never sweeps itself.
if grep -q "\"pid\":$TW_PID,.*\"event\":\"proc_" "$TW_TMP/events.jsonl"; then
  not_ok sweep_skips_self "tokenward swept its own process"
else
  ok sweep_skips_self
fi

# --no-sweep really turns it off.
tw_stop
mv "$TW_TMP/events.jsonl" "$TW_TMP/events-1.jsonl"
tw_start --trace-io --no-sweep --watch-literal "$env_marker" || { not_ok sweep_off_start "monitor failed to start"; exit 1; }
sleep 0.3
if grep -q '"event":"proc_env"' "$TW_TMP/events.jsonl" 2>/dev/null; then
  not_ok sweep_disabled "proc_env events with --no-sweep"
else
  ok sweep_disabled
fi
tw_stop
tw_assert_no_leak sweep_env_marker_never_printed "$env_marker" "$TW_TMP/events.jsonl" "$TW_TMP/events-1.jsonl" "$TW_TMP/stderr" "$TW_TMP/state"
