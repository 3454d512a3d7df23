#!/usr/bin/env bash
# tokenward as tools/tokenward.service runs it: with only the unit's
# CapabilityBoundingSet (setpriv drops every other capability, and sets
# no_new_privs as NoNewPrivileges= does), it attaches, catches a leak and
# revokes it; and with $NOTIFY_SOCKET set, as systemd sets it for
# Type=notify, READY=1 arrives once the sensors are attached (the ready
# file exists by then) and STOPPING=1 when it stops.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input
mkdir -p "$LEAKS"
NPID=
trap '[ -n "$NPID" ] && kill $NPID 2>/dev/null; tw_stop; tw_leave_cgroup; tw_tmp_done' EXIT
tw_own_cgroup || { not_ok service_cgroup "no cgroup"; exit 1; }

UNIT=$TW_ROOT/tools/tokenward.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
[ -n "$caps" ] && ok service_unit_caps_read || { not_ok service_unit_caps_read "no CapabilityBoundingSet in $UNIT"; exit 1; }

# systemd's side of the notify protocol: a datagram socket; each message one line.
SOCK=$TW_TMP/notify.sock
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
open(sys.argv[1] + ".bound", "w").close()
while True:
    m = s.recv(4096).decode()
    with open(sys.argv[2], "a") as f: f.write(m.replace("\n", " ") + "\n")' "$SOCK" "$TW_TMP/notify.log" </dev/null >/dev/null 2>&1 &
NPID=$!
tw_poll test -e "$SOCK.bound" || { not_ok service_notify_socket "listener did not start"; exit 1; }

NOTIFY_SOCKET=$SOCK setpriv --bounding-set "-all,$caps" --inh-caps -all --no-new-privs \
  "$TW" run --events "$TW_TMP/events.jsonl" --state-dir "$TW_TMP/state" --ready-file "$TW_TMP/ready" \
  --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" >"$TW_TMP/stdout" 2>"$TW_TMP/stderr" &
TW_PID=$!
tw_poll _tw_ready_or_gone
if [ -e "$TW_TMP/ready" ]; then ok service_starts_with_unit_caps
else not_ok service_starts_with_unit_caps "$(tail -5 "$TW_TMP/stderr")"; exit 1; fi
want=$(setpriv --bounding-set "-all,$caps" sed -n 's/^CapBnd:\t//p' /proc/self/status)
[ "$(sed -n 's/^CapBnd:\t//p' "/proc/$TW_PID/status")" = "$want" ] && [ "$(sed -n 's/^CapEff:\t//p' "/proc/$TW_PID/status")" = "$want" ] &&
  ok service_caps_dropped || not_ok service_caps_dropped "want $want: $(grep Cap "/proc/$TW_PID/status" | tr '\n' ' ')"

_ready_sent() { grep -q 'READY=1' "$TW_TMP/notify.log" 2>/dev/null; }
tw_poll _ready_sent && ok service_notify_ready || not_ok service_notify_ready "no READY=1: $(cat "$TW_TMP/notify.log" 2>/dev/null)"
grep 'READY=1' "$TW_TMP/notify.log" | grep -q 'STATUS=' && ok service_notify_status || not_ok service_notify_status "no STATUS="
[ "$(grep -c 'READY=1' "$TW_TMP/notify.log")" -eq 1 ] && ok service_notify_ready_once || not_ok service_notify_ready_once "$(cat "$TW_TMP/notify.log")"

tok=$("$TW" mint --ledger "$LEDGER" --task service --aud http://127.0.0.1:9 2>/dev/null)
tw_token_record "$tok"
printf 'token=%s\n' "$tok" >"$LEAKS/leak.txt"
tw_wait_event "e.get('event')=='verdict' and e.get('class')=='file_write' and e.get('action')=='revoke'" >/dev/null &&
  ok service_caps_catch_leak || not_ok service_caps_catch_leak "no verdict under the unit's capabilities"
tw_wait_status "s['revocation']['since_start']['revoked'] >= 1" >/dev/null &&
  ok service_caps_revoke || not_ok service_caps_revoke "not revoked"

tw_stop
grep -q 'STOPPING=1' "$TW_TMP/notify.log" && ok service_notify_stopping || not_ok service_notify_stopping "$(cat "$TW_TMP/notify.log")"
[ "${TW_RC:-1}" -eq 0 ] && ok service_clean_exit || not_ok service_clean_exit "exit ${TW_RC:-?}"
