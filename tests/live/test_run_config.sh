#!/usr/bin/env bash
# The config file in a running monitor: run starts from it, SIGHUP loads it
# again (a bad one is refused with its reason and the old one kept) while
# events keep flowing, none lost; and one monitor per state directory.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input
CONF=$TW_TMP/tokenward.yaml
mkdir -p "$LEAKS"
tw_own_cgroup || { not_ok config_cgroup "$TW_CG"; exit 1; }

cat >"$CONF" <<Y
ledger: $LEDGER
poll_ms: 5
ringbuf_size: 8M
capture_size: 32K
policy:
  file_write: revoke
Y
tw_start --config "$CONF" --no-sweep --no-tls --cgroup "$TW_CG" ||
  { not_ok config_start "monitor failed: $(tail -3 "$TW_TMP/stderr")"; exit 1; }
ok config_start
# ringbuf_size and capture_size used to be parsed and then ignored
if tw_wait_status "s['sensors']['ringbuf_bytes'] == 8 << 20 and s['sensors']['capture_bytes'] == 32 << 10" >/dev/null; then
  ok run_uses_configs_ringbuf_and_capture_size
else
  not_ok run_uses_configs_ringbuf_and_capture_size "status: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sensors"]; print(s.get("ringbuf_bytes"), s.get("capture_bytes"))' "$TW_TMP/state/status.json")"
fi

# --- one monitor per state directory: the second names the first's pid.
"$TW" run --config "$CONF" --state-dir "$TW_TMP/state" --no-sweep --exit-after 30 \
  >"$TW_TMP/second.out" 2>"$TW_TMP/second.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "another tokenward run (pid $TW_PID) already uses the state directory" "$TW_TMP/second.err"; then
  ok second_instance_refused_naming_pid
else
  not_ok second_instance_refused_naming_pid "rc $rc: $(head -2 "$TW_TMP/second.err")"
fi
kill -0 "$TW_PID" 2>/dev/null && ok second_instance_leaves_first_running ||
  not_ok second_instance_leaves_first_running "the first monitor is gone"
st=$(stat -c %a "$TW_TMP/state/status.json" 2>/dev/null)
[ "$st" = 640 ] || [ "$st" = 600 ] && ok status_json_not_world_readable || not_ok status_json_not_world_readable "mode $st"

config_reloads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["config_reloads"])' "$TW_TMP/state/status.json"; }
reloads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["reloads"])' "$TW_TMP/state/status.json"; }
hup() { # wait until the monitor has handled one more SIGHUP
  local n; n=$(tw_wait_status 'True' >/dev/null && reloads)
  kill -HUP "$TW_PID"
  tw_wait_status "s['sensors']['reloads'] > $n" >/dev/null
}

# --- events flow during the reloads: a stream of numbered marker execs.
RUN=$(tw_marker)
N=300
( for i in $(seq 1 $N); do /bin/sh -c ": $RUN-$i-end"; done ) &
FLOW=$!

# A good new config: file_write leaks are now only alerted.
cat >"$CONF" <<Y
ledger: $LEDGER
poll_ms: 5
ringbuf_size: 8M
capture_size: 32K
policy:
  file_write: alert
Y
before=$(tw_wait_status 'True' >/dev/null && config_reloads)
hup
if [ "$(config_reloads)" -gt "$before" ] && grep -q "SIGHUP: config reloaded from $CONF" "$TW_TMP/stderr"; then
  ok hup_reloads_good_config
else
  not_ok hup_reloads_good_config "config_reloads $(config_reloads), log: $(grep SIGHUP "$TW_TMP/stderr" | tail -2)"
fi

# A bad one (a typo and a wrong type): refused with the reason, the old one stays.
cat >"$CONF" <<Y
ledger: $LEDGER
pol_ms: 5
policy:
  file_write: revoke
  exec_env: sometimes
Y
before=$(config_reloads)
hup
if grep -q "SIGHUP: the new config was not loaded, the old one stays: $CONF:2: unknown key 'pol_ms'; did you mean 'poll_ms'?" "$TW_TMP/stderr"; then
  ok hup_bad_config_rejected_with_reason
else
  not_ok hup_bad_config_rejected_with_reason "$(grep SIGHUP "$TW_TMP/stderr" | tail -2)"
fi
[ "$(config_reloads)" -eq "$before" ] && kill -0 "$TW_PID" 2>/dev/null && ok hup_bad_config_monitor_untouched ||
  not_ok hup_bad_config_monitor_untouched "config_reloads moved or the monitor is gone"

# A key that needs a restart: said so, not silently ignored.
cat >"$CONF" <<Y
ledger: $LEDGER
poll_ms: 5
ringbuf_size: 32M
capture_size: 32K
policy:
  file_write: alert
Y
hup
if grep -q "SIGHUP: 'ringbuf_size' changed in the config; it takes effect at the next start" "$TW_TMP/stderr"; then
  ok hup_restart_only_key_named
else
  not_ok hup_restart_only_key_named "$(grep SIGHUP "$TW_TMP/stderr" | tail -2)"
fi

wait "$FLOW"
# none lost: every marker of the stream is in the events
_all_markers() { [ "$(grep -o "$RUN-[0-9]*-end" "$TW_TMP/events.jsonl" | sort -u | wc -l)" -ge "$N" ]; }
if tw_poll _all_markers; then
  ok hup_no_event_lost_while_reloading
else
  not_ok hup_no_event_lost_while_reloading "$(grep -o "$RUN-[0-9]*-end" "$TW_TMP/events.jsonl" | sort -u | wc -l) of $N marker execs seen"
fi

# The policy in use is the good config's (alert), not the refused one's (revoke).
tok=$("$TW" --config "$CONF" mint --task cfg --aud http://127.0.0.1:9 2>"$TW_TMP/mint.err") ||
  not_ok config_mint "$(cat "$TW_TMP/mint.err")"
tw_token_record "$tok"
id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
# mint used the config's ledger, the monitor's: the verdict knows the token
printf 'k=%s\n' "$tok" >"$LEAKS/app.log"
if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$id'"); then
  python3 -c "import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e['class']=='file_write' and e['action']=='alert' else 1)" "$ev" &&
    ok hup_new_policy_in_use || not_ok hup_new_policy_in_use "$ev"
  ok mint_uses_the_configs_ledger
else
  not_ok mint_uses_the_configs_ledger "no managed verdict for a token minted with --config"
fi

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok config_clean_exit || not_ok config_clean_exit "exit $TW_RC"
# the lock went with the process: a new run may start (the check only: --help-free start is not needed)
if flock -n "$TW_TMP/state/run.lock" true; then ok lock_released_at_exit; else not_ok lock_released_at_exit "run.lock still held"; fi
