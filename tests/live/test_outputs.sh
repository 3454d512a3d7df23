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

# a syslog server that went away: counted, the monitor goes on
# (covered above by failures == 0 while it is up); an address that does not resolve: exit 2
printf 'outputs:\n  - type: syslog\n    address: udp://no-such-host.invalid:514\n' >"$TW_TMP/bad.yaml"
"$TW" run --config "$TW_TMP/bad.yaml" --state-dir "$TW_TMP/state2" --events /dev/null --exit-after 1 2>"$TW_TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'does not resolve' "$TW_TMP/bad.err" && [ "$(grep -c error "$TW_TMP/bad.err")" -eq 1 ] &&
  ok outputs_syslog_unresolvable_exit_2 || not_ok outputs_syslog_unresolvable_exit_2 "rc $rc: $(cat "$TW_TMP/bad.err")"
