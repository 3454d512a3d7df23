#!/usr/bin/env bash
# Hostile and odd input to the sensors: a socket of another family, a
# write from memory the kernel cannot read, and binary bytes around a
# marker. Each is handled (captured, counted or skipped), and the monitor
# stays up.
. "$(dirname "$0")/lib.sh"

marker=$(tw_marker)
tw_start --trace-io --no-sweep --no-tls --watch-literal "$marker" ||
  { not_ok badinput_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

# A netlink socket: neither inet nor unix. The send is captured, family "other".
pid=$(TW_MARKER=$marker python3 -c '
import os, socket
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
m = os.environ["TW_MARKER"].encode()
hdr = (16 + len(m)).to_bytes(4, "little") + (0).to_bytes(2, "little") + (0).to_bytes(2, "little") + bytes(8)
s.sendto(hdr + m, (0, 0))
print(os.getpid())')
if tw_wait_event "e['event']=='sock_send' and e['pid']==$pid and e['family']=='other' and e.get('literals')" >/dev/null; then
  ok netlink_send_captured_as_other_family
else
  not_ok netlink_send_captured_as_other_family "no sock_send from pid $pid with family other"
fi

# write() from an unmapped buffer fails with EFAULT: no event, no crash.
pid=$(python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/dev/null", os.O_WRONLY)
f = os.open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "tw-efault-%d" % os.getpid()), os.O_WRONLY | os.O_CREAT, 0o600)
r = libc.write(f, ctypes.c_void_p(8), 4096)   # address 8 is never mapped
print(os.getpid() if r < 0 else -1)' )
# The barrier: a good write to a regular file by a process started after.
bpid=$(B=$TW_TMP/barrier.log python3 -c '
import os
with open(os.environ["B"], "w") as f: f.write("barrier\n")
print(os.getpid())')
if [ "$pid" -gt 0 ]; then
  tw_no_event_case efault_write_not_reported "e['event']=='file_write' and e['pid']==$pid" \
    "e['event']=='file_write' and e['pid']==$bpid"
else
  not_ok efault_write_not_reported "pid=$pid"
fi
rm -f /tmp/tw-efault-*

# A write that succeeded (short) from a buffer another thread unmapped
# before the exit tracepoint could read it: reported, flagged read_failed,
# counted in the kernel, and the monitor stays up.
info=$("$PROGS/tw_io" vanish "$TW_TMP/vanish.out")
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info" 2>/dev/null) || pid=0
if [ "$pid" -gt 0 ] &&
   tw_wait_event "e['event']=='file_write' and e['pid']==$pid and e.get('read_failed') is True and e['bytes']==$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ret"])' "$info")" >/dev/null; then
  ok unmapped_after_write_flagged
else
  not_ok unmapped_after_write_flagged "info=$info; events: $(grep "\"pid\":$pid," "$TW_TMP/events.jsonl" | grep file_write | head -2)"
fi
if tw_wait_status 's["sensors"]["drops"]["read_failed"]>=1' >/dev/null; then
  ok unmapped_after_write_counted
else
  not_ok unmapped_after_write_counted "$(grep -o '"drops":{[^}]*}' "$TW_TMP/state/status.json")"
fi
rm -f "$TW_TMP/vanish.out"

# Binary bytes, NULs and 0xff around the marker, in a file: found at its offset.
pid=$(TW_MARKER=$marker OUT="$TW_TMP/bin.dat" python3 -c '
import os
m = os.environ["TW_MARKER"].encode()
data = bytes(range(256)) * 20 + m + b"\x00\xff" * 300
fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, data); os.close(fd); print(os.getpid())')
if tw_wait_event "e['event']=='file_write' and e['pid']==$pid and any(h['offset']==5120 for h in e.get('literals', []))" >/dev/null; then
  ok binary_buffer_marker_at_offset
else
  not_ok binary_buffer_marker_at_offset "marker not found at 5120 in pid $pid's write"
fi

# Regression: paths and unix socket names are bytes, not UTF-8. A socket
# bound to a name holding 0xff 0xfe and a file named with 0xff must come
# out as valid JSON lines (the bytes shown as \xNN), never raw.
pid=$(python3 - "$TW_TMP" <<'PY'
import os, socket, sys
d = sys.argv[1].encode()
p = d + b"/s\xff\xfe.sock"
s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(p)
a, _ = s.accept()
c.send(b"hello over a badly named socket")
with open(d + b"/f\xff.log", "wb") as f:
    f.write(b"x" * 10)
os.unlink(p)
print(os.getpid())
PY
)
if tw_wait_event "e['event']=='sock_send' and e['pid']==$pid and e['peer'].endswith('s\\\\xff\\\\xfe.sock')" >/dev/null &&
   tw_wait_event "e['event']=='file_write' and e['pid']==$pid and e['path'].endswith('f\\\\xff.log')" >/dev/null; then
  ok non_utf8_names_escaped
else
  not_ok non_utf8_names_escaped "$(grep "\"pid\":$pid," "$TW_TMP/events.jsonl" | head -3)"
fi
if python3 -c '
import json, sys
for n, l in enumerate(open(sys.argv[1], "rb"), 1):
    json.loads(l.decode("utf-8"))
' "$TW_TMP/events.jsonl"; then ok events_all_valid_utf8_json; else not_ok events_all_valid_utf8_json "invalid line"; fi

# Still alive and well.
if kill -0 "$TW_PID" 2>/dev/null; then ok monitor_survives_bad_input; else not_ok monitor_survives_bad_input "monitor died"; fi
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok badinput_clean_exit || not_ok badinput_clean_exit "exit $TW_RC"
