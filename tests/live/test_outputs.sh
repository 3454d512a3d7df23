#!/usr/bin/env bash
# The config's outputs with real receivers: a real rsyslog (Debian's
# package) started here with its own config, sockets and spool, taking
# RFC 5424 on a unix socket, on UDP and on TCP; and verdict webhooks on
# loopback, one that refuses the first posts (the retry is shown), one
# that refuses all with a queue of one (drops counted). Each verdict line
# must arrive intact (the same JSON as the event stream's) and redacted.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input
mkdir -p "$LEAKS" "$TW_TMP/spool"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; tw_stop; tw_leave_cgroup; tw_tmp_done' EXIT

command -v rsyslogd >/dev/null || { not_ok outputs_rsyslog_present "rsyslog is not installed (make deps)"; exit 1; }
tw_own_cgroup || { not_ok outputs_cgroup "no cgroup"; exit 1; }
free_port() { python3 -c 'import socket,sys; s=socket.socket(type=int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
UDP=$(free_port 2)
TCP=$(free_port 1)
SOCK=$TW_TMP/log.sock

cat >"$TW_TMP/rsyslog.conf" <<CONF
global(workDirectory="$TW_TMP/spool" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$SOCK" UseSpecialParser="off" CreatePath="on")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$UDP")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$TCP")
template(name="tw" type="list") {
  property(name="inputname") constant(value=" ") property(name="app-name")
  constant(value=" ") property(name="msgid") constant(value=" ") property(name="syslogseverity")
  constant(value=" ") property(name="msg") constant(value="\n")
}
*.* action(type="omfile" file="$TW_TMP/syslog.out" template="tw")
template(name="tw2" type="list") {
  property(name="inputname") constant(value=" ") property(name="syslogfacility-text")
  constant(value=" ") property(name="msg") constant(value="\n")
}
*.* action(type="omfile" file="$TW_TMP/syslog2.out" template="tw2")
CONF
rsyslogd -n -f "$TW_TMP/rsyslog.conf" -i "$TW_TMP/rsyslog.pid" >"$TW_TMP/rsyslog.log" 2>&1 &
PIDS+=($!)
_rsyslog_up() { [ -S "$SOCK" ] && python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$TCP" 2>/dev/null; }
tw_poll _rsyslog_up && ok outputs_rsyslog_started || { not_ok outputs_rsyslog_started "$(cat "$TW_TMP/rsyslog.log")"; exit 1; }

# webhooks: one fails its first two posts, one always fails
start_receiver() { # NAME FAIL_FIRST (not in $(...): the receiver would hold its pipe open)
  python3 "$TW_ROOT/tests/live/webhook_receiver.py" "$TW_TMP/hook.$1.port" "$TW_TMP/hook.$1.bodies" "$2" \
    </dev/null >"$TW_TMP/hook.$1.log" 2>&1 &
  PIDS+=($!)
  tw_poll test -s "$TW_TMP/hook.$1.port"
}
start_receiver flaky 2 && start_receiver down -1 || { not_ok outputs_receivers "did not start"; exit 1; }
FLAKY=$(cat "$TW_TMP/hook.flaky.port")
DOWN=$(cat "$TW_TMP/hook.down.port")

cat >"$TW_TMP/tokenward.yaml" <<YML
outputs:
  - type: syslog
    address: $SOCK
    facility: local3
  - type: syslog
    address: udp://127.0.0.1:$UDP
  - type: syslog
    address: tcp://127.0.0.1:$TCP
  - type: webhook
    url: http://127.0.0.1:$FLAKY/verdicts
    batch: 10
    backoff_base: 50ms
    backoff_max: 200ms
  - type: webhook
    url: http://127.0.0.1:$DOWN/verdicts
    batch: 1
    queue: 1
    backoff_base: 10s
    backoff_max: 10s
YML
tw_start --config "$TW_TMP/tokenward.yaml" --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" ||
  { not_ok outputs_start "monitor failed"; exit 1; }

TOKS=()
for i in 1 2 3; do
  t=$("$TW" mint --ledger "$LEDGER" --task "outputs$i" --aud http://127.0.0.1:9 2>/dev/null)
  tw_token_record "$t"; TOKS+=("$t")
done
printf 'a=%s\nb=%s\nc=%s\n' "${TOKS[@]}" >"$LEAKS/leak.txt"
_three_verdicts() { [ "$(grep -c '"event":"verdict"' "$TW_TMP/events.jsonl")" -ge 3 ]; }
tw_poll _three_verdicts && ok outputs_verdicts_seen || { not_ok outputs_verdicts_seen "$(grep -c verdict "$TW_TMP/events.jsonl")"; tw_diag; exit 1; }

# syslog: each verdict on every input, the same JSON as the event stream's
_syslog_all() { [ "$(grep -c ' tokenward verdict ' "$TW_TMP/syslog.out" 2>/dev/null)" -ge 9 ]; }
if tw_poll _syslog_all; then ok outputs_syslog_arrived; else not_ok outputs_syslog_arrived "$(head -c 600 "$TW_TMP/syslog.out" 2>/dev/null)"; fi
python3 - "$TW_TMP/events.jsonl" "$TW_TMP/syslog.out" >"$TW_TMP/syslog.check" 2>&1 <<'PY'
import json, sys
ev = sorted(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[1]) if '"event":"verdict"' in l)
got = {}
for l in open(sys.argv[2]):
    inp, app, msgid, sev, msg = l.rstrip("\n").split(" ", 4)
    assert app == "tokenward" and msgid == "verdict", l
    assert sev in ("4", "5"), "severity " + sev
    got.setdefault(inp, []).append(json.dumps(json.loads(msg), sort_keys=True))
for inp in ("imuxsock", "imudp", "imtcp"):
    assert sorted(got.get(inp, [])) == ev, "%s: %d lines, not the event stream's %d" % (inp, len(got.get(inp, [])), len(ev))
print("intact")
PY
grep -q intact "$TW_TMP/syslog.check" && ok outputs_syslog_intact || not_ok outputs_syslog_intact "$(tail -3 "$TW_TMP/syslog.check")"
tw_assert_no_leak outputs_syslog_redacted "${TOKS[0]}" "$TW_TMP/syslog.out" "$TW_TMP/spool"

# webhook: refused twice, then taken; the verdicts whole
_hook_taken() { [ -s "$TW_TMP/hook.flaky.bodies" ] && [ "$(python3 -c 'import json,sys; print(sum(len(json.loads(l)) for l in open(sys.argv[1])))' "$TW_TMP/hook.flaky.bodies")" -ge 3 ]; }
if tw_poll _hook_taken; then ok outputs_webhook_delivered; else not_ok outputs_webhook_delivered "$(cat "$TW_TMP/hook.flaky.bodies" 2>/dev/null | head -c 300)"; fi
[ "$(grep -c '' "$TW_TMP/hook.flaky.bodies.refused" 2>/dev/null)" -ge 2 ] && ok outputs_webhook_retried ||
  not_ok outputs_webhook_retried "refused posts: $(grep -c '' "$TW_TMP/hook.flaky.bodies.refused" 2>/dev/null)"
python3 - "$TW_TMP/events.jsonl" "$TW_TMP/hook.flaky.bodies" >"$TW_TMP/hook.check" 2>&1 <<'PY'
import json, sys
ev = sorted(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[1]) if '"event":"verdict"' in l)
got = sorted(json.dumps(v, sort_keys=True) for l in open(sys.argv[2]) for v in json.loads(l))
assert got == ev, "webhook has %d verdicts, the event stream %d" % (len(got), len(ev))
print("intact")
PY
grep -q intact "$TW_TMP/hook.check" && ok outputs_webhook_intact || not_ok outputs_webhook_intact "$(tail -2 "$TW_TMP/hook.check")"
tw_assert_no_leak outputs_webhook_redacted "${TOKS[1]}" "$TW_TMP"/hook.*
if tw_wait_status "s['outputs']['webhook0']['failed_posts'] >= 2 and s['outputs']['webhook0']['sent'] >= 3 and s['outputs']['webhook1']['dropped'] >= 1 and s['outputs']['failures']['webhook1'] >= 2 and s['outputs']['failures']['syslog0'] == 0" >/dev/null; then
  ok outputs_failures_counted
else
  not_ok outputs_failures_counted "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"])' "$TW_TMP/state/status.json")"
fi
tw_stop

# Stopping with verdicts queued: the first POST is held open by the
# receiver until the monitor has been told to stop, with two more verdicts
# queued behind it; all three must arrive. (The webhook thread may take the
# two before close sets its stop flag or after, when the close-time drain
# sends them: either way none may be lost; this case does not tell which.)
start_receiver_hold() {
  python3 "$TW_ROOT/tests/live/webhook_receiver.py" "$TW_TMP/hook.hold.port" "$TW_TMP/hook.hold.bodies" 0 "$TW_TMP/release" \
    </dev/null >"$TW_TMP/hook.hold.log" 2>&1 &
  PIDS+=($!)
  tw_poll test -s "$TW_TMP/hook.hold.port"
}
start_receiver_hold || { not_ok outputs_webhook_drain_at_close "receiver did not start"; exit 1; }
printf 'outputs:\n  - type: webhook\n    url: http://127.0.0.1:%s/v\n    batch: 1\n' "$(cat "$TW_TMP/hook.hold.port")" >"$TW_TMP/hold.yaml"
: >"$TW_TMP/events.jsonl"
tw_start --config "$TW_TMP/hold.yaml" --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" ||
  { not_ok outputs_hold_start "monitor failed"; exit 1; }
HT=()
for i in 1 2 3; do t=$("$TW" mint --ledger "$LEDGER" --task "hold$i" --aud http://127.0.0.1:9 2>/dev/null); tw_token_record "$t"; HT+=("$t"); done
printf 'a=%s\n' "${HT[0]}" >"$LEAKS/hold1.txt"
tw_poll test -e "$TW_TMP/release.held" || { not_ok outputs_webhook_drain_at_close "the first POST never came"; exit 1; }
printf 'b=%s\nc=%s\n' "${HT[1]}" "${HT[2]}" >"$LEAKS/hold2.txt"
_three_verdicts() { [ "$(grep -c '"event":"verdict"' "$TW_TMP/events.jsonl")" -ge 3 ]; }
tw_poll _three_verdicts || { not_ok outputs_webhook_drain_at_close "no verdicts for the queued tokens"; exit 1; }
kill -TERM "$TW_PID"
: >"$TW_TMP/release"
tw_stop
n=$(python3 -c 'import json,sys; print(sum(len(json.loads(l)) for l in open(sys.argv[1])))' "$TW_TMP/hook.hold.bodies" 2>/dev/null)
[ "${n:-0}" -eq 3 ] && ok outputs_webhook_drain_at_close || not_ok outputs_webhook_drain_at_close "the receiver got ${n:-0} of 3 verdicts"

# --- SIGHUP rebuilds the outputs. Before: syslog on the unix socket
# (local3) and a webhook whose first POST the receiver holds, so a second
# verdict waits in that webhook's queue. The reload moves syslog to UDP
# (local5) and TCP, and the webhook to another URL: the verdicts after it
# go to the new outputs only, and the one queued in the old webhook is
# still delivered there (the replaced output sends on, then closes).
mint_id() { # TASK: TOK and TID
  TOK=$("$TW" mint --ledger "$LEDGER" --task "$1" --aud http://127.0.0.1:9 2>"$TW_TMP/mint.err")
  tw_token_record "$TOK"
  TID=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
}
on_input() { grep -q "^$1 $2 .*\"token_id\":\"$3\"" "$TW_TMP/syslog2.out" 2>/dev/null; }   # INPUT FACILITY TID
in_hook() { grep -q "\"token_id\":\"$2\"" "$TW_TMP/hook.$1.bodies" 2>/dev/null; }              # NAME TID
verdict_for() { tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$1'" >/dev/null; }
reloads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["reloads"])' "$TW_TMP/state/status.json"; }
config_reloads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["config_reloads"])' "$TW_TMP/state/status.json"; }
hup() { # wait until the monitor has handled one more SIGHUP
  local n; n=$(tw_wait_status 'True' >/dev/null && reloads)
  kill -HUP "$TW_PID"
  tw_wait_status "s['sensors']['reloads'] > $n" >/dev/null
}
python3 "$TW_ROOT/tests/live/webhook_receiver.py" "$TW_TMP/hook.old.port" "$TW_TMP/hook.old.bodies" 0 "$TW_TMP/release.old" \
  </dev/null >"$TW_TMP/hook.old.log" 2>&1 &
PIDS+=($!)
start_receiver new 0 && tw_poll test -s "$TW_TMP/hook.old.port" || { not_ok outputs_reload_receivers "did not start"; exit 1; }
OLDHOOK=$(cat "$TW_TMP/hook.old.port")
NEWHOOK=$(cat "$TW_TMP/hook.new.port")
cat >"$TW_TMP/reload.yaml" <<YML
outputs:
  - type: syslog
    address: $SOCK
    facility: local3
  - type: webhook
    url: http://127.0.0.1:$OLDHOOK/v
    batch: 1
YML
: >"$TW_TMP/events.jsonl"
tw_start --config "$TW_TMP/reload.yaml" --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" ||
  { not_ok outputs_reload_start "monitor failed"; exit 1; }
mint_id reload1; T1=$TOK; R1=$TID
mint_id reload2; T2=$TOK; R2=$TID
mint_id reload3; T3=$TOK; R3=$TID
mint_id reload4; T4=$TOK; R4=$TID
printf 'a=%s\n' "$T1" >"$LEAKS/reload1.txt"
verdict_for "$R1" && tw_poll test -e "$TW_TMP/release.old.held" && tw_poll on_input imuxsock local3 "$R1" ||
  { not_ok outputs_reload_before "the first verdict did not reach the first outputs"; tw_diag; exit 1; }
printf 'b=%s\n' "$T2" >"$LEAKS/reload2.txt"
verdict_for "$R2" || { not_ok outputs_reload_before "no verdict for the second token"; exit 1; }
tw_wait_status "s['outputs']['webhook0']['queued_now'] >= 1" >/dev/null ||
  { not_ok outputs_reload_before "the second verdict is not queued behind the held POST"; exit 1; }
cat >"$TW_TMP/reload.yaml" <<YML
outputs:
  - type: syslog
    address: udp://127.0.0.1:$UDP
    facility: local5
  - type: syslog
    address: tcp://127.0.0.1:$TCP
  - type: webhook
    url: http://127.0.0.1:$NEWHOOK/v
    batch: 1
YML
hup
grep -q 'SIGHUP: outputs rebuilt' "$TW_TMP/stderr" && ok outputs_reload_logged ||
  not_ok outputs_reload_logged "$(grep SIGHUP "$TW_TMP/stderr" | tail -3)"
: >"$TW_TMP/release.old"
printf 'c=%s\n' "$T3" >"$LEAKS/reload3.txt"
verdict_for "$R3" || { not_ok outputs_reload_after "no verdict for the third token"; exit 1; }
if tw_poll on_input imudp local5 "$R3" && tw_poll on_input imtcp daemon "$R3"; then
  ok outputs_reload_syslog_new_address_and_facility
else
  not_ok outputs_reload_syslog_new_address_and_facility "$(grep -c '' "$TW_TMP/syslog2.out") lines; $(grep "$R3" "$TW_TMP/syslog2.out" | cut -c1-40)"
fi
tw_poll in_hook new "$R3" && ok outputs_reload_webhook_new_url || not_ok outputs_reload_webhook_new_url "$(head -c 300 "$TW_TMP/hook.new.bodies" 2>/dev/null)"
# the one queued in the replaced webhook still arrives there, and the old
# outputs get nothing made after the reload (checked once the retired
# webhook is closed, so nothing more can come)
tw_poll in_hook old "$R2" && ok outputs_reload_old_queue_delivered ||
  not_ok outputs_reload_old_queue_delivered "old receiver: $(grep -o 'tk-[0-9a-f]*' "$TW_TMP/hook.old.bodies" 2>/dev/null | tr '\n' ' ')"
tw_wait_status "s['outputs']['retiring_now'] == 0 and s['outputs']['failures']['replaced'] == 0 and s['outputs']['rebuilds'] == 1" >/dev/null &&
  ! in_hook old "$R3" && ! on_input imuxsock local3 "$R3" && ! in_hook new "$R2" && ! on_input imudp local5 "$R2" &&
  ok outputs_reload_nothing_misrouted ||
  not_ok outputs_reload_nothing_misrouted "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"])' "$TW_TMP/state/status.json")"

# A new output that cannot open (a name that does not resolve): the whole
# config is refused with the reason, and the running outputs go on.
before=$(config_reloads)
cat >"$TW_TMP/reload.yaml" <<YML
outputs:
  - type: syslog
    address: udp://no-such-host.invalid:514
YML
hup
grep -q "SIGHUP: the new outputs could not be opened, the old config stays: output (line 2): syslog address 'udp://no-such-host.invalid:514': no-such-host.invalid does not resolve" "$TW_TMP/stderr" &&
  ok outputs_reload_bad_output_refused_with_reason ||
  not_ok outputs_reload_bad_output_refused_with_reason "$(grep SIGHUP "$TW_TMP/stderr" | tail -2)"
printf 'd=%s\n' "$T4" >"$LEAKS/reload4.txt"
verdict_for "$R4" && tw_poll on_input imudp local5 "$R4" && tw_poll on_input imtcp daemon "$R4" && tw_poll in_hook new "$R4" &&
  [ "$(config_reloads)" -eq "$before" ] && ok outputs_reload_bad_output_old_kept ||
  not_ok outputs_reload_bad_output_old_kept "config_reloads $before -> $(config_reloads)"
tw_assert_no_leak outputs_reload_redacted "$T3" "$TW_TMP/syslog2.out" "$TW_TMP"/hook.*
tw_stop

# --- Delivery never holds the loop: a TCP syslog receiver that accepts
# and stops reading, and one that is absent (nothing listens). 5000
# verdicts (unmanaged tokens, so alerts) must all be made promptly: the
# old output waited up to 200 ms a message once the socket's buffer was
# full (minutes for these); now each output queues at most `queue`
# messages and counts the rest as dropped, in status.json and on /metrics.
python3 "$TW_ROOT/tests/live/stall_receiver.py" "$TW_TMP/stall.port" </dev/null >"$TW_TMP/stall.log" 2>&1 &
PIDS+=($!)
tw_poll test -s "$TW_TMP/stall.port" || { not_ok outputs_stall_receiver "did not start"; exit 1; }
ABSENT=$(free_port 1)
cat >"$TW_TMP/stall.yaml" <<YML
outputs:
  - type: syslog
    address: tcp://127.0.0.1:$(cat "$TW_TMP/stall.port")
    queue: 50
  - type: syslog
    address: tcp://127.0.0.1:$ABSENT
    queue: 50
YML
# the tokens are written before the monitor starts: only the copies below make verdicts
# (5000 in 50 files of 100)
NV=5000
mkdir -p "$LEAKS/stall"
python3 "$TW_ROOT/tests/cli/tokgen.py" ghp $NV >"$LEAKS/stall.tokens"
split -l 100 "$LEAKS/stall.tokens" "$LEAKS/stall/part."
: >"$TW_TMP/events.jsonl"
tw_start --config "$TW_TMP/stall.yaml" --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" --metrics 127.0.0.1:0 ||
  { not_ok outputs_stall_start "monitor failed"; exit 1; }
MADDR=$(sed -n 's|.*metrics on http://\([0-9.:]*\)/metrics.*|\1|p' "$TW_TMP/stderr" | head -1)
_all_alerts() { [ "$(grep -c '"class":"unmanaged"' "$TW_TMP/events.jsonl")" -ge $NV ]; }
t0=$(date +%s.%N)
# (written with write(2): cat and cp would copy_file_range, which no sensor sees)
python3 -c 'import glob, sys
for f in sorted(glob.glob(sys.argv[1] + "/part.*")):
    with open(f + ".log", "w") as out: out.write(open(f).read())' "$LEAKS/stall"
if tw_poll _all_alerts; then
  ok outputs_stall_all_verdicts_made
  echo "# $NV verdicts in $(python3 -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t0") s with both syslog receivers stalled (load $(cut -d' ' -f1 /proc/loadavg))"
else
  not_ok outputs_stall_all_verdicts_made "$(grep -c '"class":"unmanaged"' "$TW_TMP/events.jsonl") of $NV verdicts"
fi
# one more leak afterwards: its verdict is as prompt as on an idle monitor
mint_id stall; TS=$TOK; RS=$TID
t0=$(date +%s.%N)
printf 'k=%s\n' "$TS" >"$LEAKS/stall-last.txt"
verdict_for "$RS"
lat=$(python3 -c "import sys,time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$t0")
echo "# leak to verdict line after the flood: $lat s"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 5 else 1)" "$lat" && ok outputs_stall_verdict_prompt ||
  not_ok outputs_stall_verdict_prompt "$lat s from the write to the verdict line"
# the longest the loop spent handing one verdict to the outputs (the
# old output waited out its 200 ms send timeout here)
if tw_wait_status "s['outputs']['delivery_max_ms'] < 150" >/dev/null; then
  ok outputs_stall_loop_never_held
else
  not_ok outputs_stall_loop_never_held "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"].get("delivery_max_ms"))' "$TW_TMP/state/status.json")"
fi
echo "# longest delivery of one verdict: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"].get("delivery_max_ms"))' "$TW_TMP/state/status.json") ms"
if tw_wait_status "s['outputs']['syslog0']['dropped'] > 0 and s['outputs']['syslog0']['queued_now'] <= 50 and s['outputs']['syslog0']['connected'] and s['outputs']['syslog1']['dropped'] > 0 and not s['outputs']['syslog1']['connected'] and s['outputs']['failures']['syslog1'] == s['outputs']['syslog1']['dropped'] + s['outputs']['syslog1']['failed']" >/dev/null; then
  ok outputs_stall_drops_counted
else
  not_ok outputs_stall_drops_counted "$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["outputs"]; print(o.get("syslog0"), o.get("syslog1"))' "$TW_TMP/state/status.json")"
fi
_metric_drops() { curl -sf "http://$MADDR/metrics" | grep -Eq '^tokenward_outputs_syslog0_dropped_total [1-9]' &&
  curl -sf "http://$MADDR/metrics" | grep -Eq '^tokenward_output_failures_total\{output="syslog1"\} [1-9]'; }
tw_poll _metric_drops && ok outputs_stall_drops_on_metrics ||
  not_ok outputs_stall_drops_on_metrics "$(curl -sf "http://$MADDR/metrics" | grep -E 'syslog' | head -5)"
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok outputs_stall_clean_exit || not_ok outputs_stall_clean_exit "exit $TW_RC"

# a syslog server that went away: counted, the monitor goes on
# (covered above by failures == 0 while it is up); an address that does not resolve: exit 2
printf 'outputs:\n  - type: syslog\n    address: udp://no-such-host.invalid:514\n' >"$TW_TMP/bad.yaml"
"$TW" run --config "$TW_TMP/bad.yaml" --state-dir "$TW_TMP/state2" --events /dev/null --exit-after 1 2>"$TW_TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'does not resolve' "$TW_TMP/bad.err" && [ "$(grep -c error "$TW_TMP/bad.err")" -eq 1 ] &&
  ok outputs_syslog_unresolvable_exit_2 || not_ok outputs_syslog_unresolvable_exit_2 "rc $rc: $(cat "$TW_TMP/bad.err")"
