#!/usr/bin/env bash
# Startup sweep: a process started BEFORE the monitor, with a marker in its
# environment and another in its argv, is found from /proc at start.
. "$(dirname "$0")/lib.sh"

env_marker=$(tw_marker)
arg_marker=$(tw_marker)
# a shell that loops until killed (so it never execs away) holding both
# markers; waited for until it runs with them (its argv is in /proc)
# (read on a FIFO nobody writes: blocks, and read is a builtin)
mkfifo "$TW_TMP/hold"
TW_SWEEP_TEST_VALUE="x${env_marker}y" bash -c 'while :; do read -r _ <>"$0"; done' "$TW_TMP/hold" "$arg_marker" &
sleeper=$!
trap 'kill $sleeper 2>/dev/null; tw_stop; tw_tmp_done' EXIT
_sleeper_up() { tr '\0' ' ' <"/proc/$sleeper/cmdline" 2>/dev/null | grep -q -- "$arg_marker"; }
tw_poll _sleeper_up || { not_ok sweep_setup "the marked process did not start"; exit 1; }

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
# The barrier: an exec after the start, written after anything a sweep
# (which runs before the monitor is ready) would have written.
bar=$(tw_marker)
/bin/true "$bar"
tw_no_event_case sweep_disabled "e['event']=='proc_env'" "e['event']=='exec' and '$bar' in e['argv']"
tw_stop
tw_assert_no_leak sweep_env_marker_never_printed "$env_marker" "$TW_TMP/events.jsonl" "$TW_TMP/events-1.jsonl" "$TW_TMP/stderr" "$TW_TMP/state"
