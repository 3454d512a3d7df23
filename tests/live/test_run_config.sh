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

# --- logrotate (the real one) over the config's file outputs: no --events,
# so the event stream goes where the config's `outputs:` say. logrotate
# moves both files and sends SIGHUP from postrotate while execs keep
# coming; every one is in the old file or the new one, and those after
# the reload are in the new one.
tw_logrotate_start() {
  rm -f "$TW_TMP/ready"
  "$TW" run --config "$CONF" --state-dir "$TW_TMP/state" --ready-file "$TW_TMP/ready" \
    --no-sweep --no-tls --cgroup "$TW_CG" >"$TW_TMP/stdout" 2>"$TW_TMP/stderr" &
  TW_PID=$!
  tw_poll _tw_ready_or_gone && [ -e "$TW_TMP/ready" ]
}
command -v logrotate >/dev/null || { not_ok logrotate_present "logrotate is not installed (make deps)"; exit 1; }
EV=$TW_TMP/events.jsonl
OUT2=$TW_TMP/second.jsonl
rm -f "$EV" "$OUT2"
cat >"$CONF" <<Y
ledger: $LEDGER
outputs:
  - type: file
    path: $EV
  - type: file
    path: $OUT2
Y
tw_logrotate_start || { not_ok logrotate_monitor_start "$(tail -3 "$TW_TMP/stderr")"; exit 1; }
cat >"$TW_TMP/logrotate.conf" <<L
$EV $OUT2 {
    rotate 2
    nocompress
    missingok
    sharedscripts
    postrotate
        kill -HUP $TW_PID
    endscript
}
L
RUN=$(tw_marker)
N=300
( for i in $(seq 1 $N); do /bin/sh -c ": $RUN-$i-end"; done ) &
FLOW=$!
_some_markers() { grep -q "$RUN-" "$EV"; }
tw_poll _some_markers || { not_ok logrotate_flow "no marker exec seen"; exit 1; }
n=$(tw_wait_status 'True' >/dev/null && reloads)
if logrotate -f -s "$TW_TMP/logrotate.state" "$TW_TMP/logrotate.conf" >"$TW_TMP/logrotate.out" 2>&1 &&
   tw_wait_status "s['sensors']['reloads'] > $n" >/dev/null; then
  ok logrotate_rotated_and_hupped
else
  not_ok logrotate_rotated_and_hupped "$(cat "$TW_TMP/logrotate.out")"
fi
wait "$FLOW"
# after the reload: a second run of execs, all in the new files
RUN2=$(tw_marker)
( for i in $(seq 1 50); do /bin/sh -c ": $RUN2-$i-end"; done )
count() { cat "$@" 2>/dev/null | grep -o "$MK-[0-9]*-end" | sort -u | wc -l; }
_after_in_new() { MK=$RUN2; [ "$(count "$EV")" -ge 50 ] && [ "$(count "$OUT2")" -ge 50 ]; }
if tw_poll _after_in_new; then ok logrotate_new_files_written; else MK=$RUN2; not_ok logrotate_new_files_written "$(count "$EV") and $(count "$OUT2") of 50 in the new files"; fi
MK=$RUN
if [ -s "$EV.1" ] && [ -s "$OUT2.1" ] && [ "$(count "$EV" "$EV.1")" -ge $N ] && [ "$(count "$OUT2" "$OUT2.1")" -ge $N ]; then
  ok logrotate_no_event_lost
else
  not_ok logrotate_no_event_lost "$(count "$EV" "$EV.1") and $(count "$OUT2" "$OUT2.1") of $N across the rotation"
fi
st=$(stat -c %a "$EV" 2>/dev/null)
[ "$st" = 600 ] && ok logrotate_new_file_private || not_ok logrotate_new_file_private "mode $st"

# --- a reload that changes the file outputs: second.jsonl dropped,
# third.jsonl added; a path that cannot be opened refuses the config.
OUT3=$TW_TMP/third.jsonl
cat >"$CONF" <<Y
ledger: $LEDGER
outputs:
  - type: file
    path: $EV
  - type: file
    path: $OUT3
Y
hup
grep -q 'SIGHUP: event outputs changed' "$TW_TMP/stderr" && ok hup_file_outputs_changed_logged ||
  not_ok hup_file_outputs_changed_logged "$(grep SIGHUP "$TW_TMP/stderr" | tail -3)"
RUN3=$(tw_marker)
/bin/sh -c ": $RUN3-1-end"
_in_third() { grep -q "$RUN3-1-end" "$OUT3" 2>/dev/null && grep -q "$RUN3-1-end" "$EV"; }
if tw_poll _in_third && ! grep -q "$RUN3" "$OUT2"; then
  ok hup_file_outputs_follow_config
else
  not_ok hup_file_outputs_follow_config "third: $(grep -c "$RUN3" "$OUT3" 2>/dev/null), second: $(grep -c "$RUN3" "$OUT2")"
fi
cat >"$CONF" <<Y
ledger: $LEDGER
outputs:
  - type: file
    path: $TW_TMP/no-such-dir/x.jsonl
Y
before=$(config_reloads)
hup
grep -q "SIGHUP: the new outputs could not be opened, the old config stays: cannot open events output: .*no-such-dir/x.jsonl" "$TW_TMP/stderr" &&
  [ "$(config_reloads)" -eq "$before" ] && ok hup_bad_file_output_refused ||
  not_ok hup_bad_file_output_refused "$(grep SIGHUP "$TW_TMP/stderr" | tail -2)"
RUN4=$(tw_marker)
/bin/sh -c ": $RUN4-1-end"
_in_both() { grep -q "$RUN4-1-end" "$OUT3" 2>/dev/null && grep -q "$RUN4-1-end" "$EV"; }
tw_poll _in_both && ok hup_bad_file_output_old_kept || not_ok hup_bad_file_output_old_kept "the running outputs stopped"
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok logrotate_clean_exit || not_ok logrotate_clean_exit "exit $TW_RC"
