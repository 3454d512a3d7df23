# Helpers for the sensor live tests (sourced after lib.sh).
TW_IO=$PROGS/tw_io

# rand_between LO HI: a random integer in [LO, HI).
rand_between() { python3 -c "import random,sys; print(random.randrange(int(sys.argv[1]), int(sys.argv[2])))" "$1" "$2"; }

# io_case NAME EVENT INFO_JSON OFFSET [PYTHON_ASSERTS]
# Waits for EVENT from INFO's pid whose captured bytes hold literal 0, then
# checks pid, fd, the marker's offset, and the extra assertions (Python
# over e = the event, i = INFO).
io_case() {
  local name=$1 kind=$2 info=$3 off=$4 extra=${5:-True} pid ev
  pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info" 2>/dev/null) ||
    { not_ok "$name" "test program failed: $info"; return; }
  if ! ev=$(tw_wait_event "e['event']=='$kind' and e['pid']==$pid and any(l['index']==0 for l in e.get('literals',[]))"); then
    not_ok "$name" "no $kind event from pid $pid holding the marker; saw: $(grep "\"pid\":$pid," "$TW_TMP/events.jsonl" | grep -v '"exec"' | head -3)"
    return
  fi
  if python3 - "$ev" "$info" "$off" "$extra" <<'PY'; then ok "$name"; else not_ok "$name" "$ev"; fi
import json, sys
e, i, off, extra = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
assert e["pid"] == i["pid"], ("pid", e["pid"], i["pid"])
assert e["fd"] == i["fd"], ("fd", e["fd"], i["fd"])
offs = [l["offset"] for l in e["literals"] if l["index"] == 0]
assert off in offs, ("offset", off, offs)
assert eval(extra), ("assertion failed", extra)
PY
}

# restart N NAME ARGS...: stop the monitor (its clean exit is NAME), keep
# its events as events-N.jsonl, start it again with ARGS.
restart() {
  local n=$1 name=$2; shift 2
  tw_stop
  [ "${TW_RC:-1}" -eq 0 ] && ok "$name" || not_ok "$name" "exit status $TW_RC"
  mv "$TW_TMP/events.jsonl" "$TW_TMP/events-$n.jsonl"
  tw_start "$@" || { not_ok "${name}_restart" "monitor failed to start"; exit 1; }
}
