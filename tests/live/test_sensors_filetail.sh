#!/usr/bin/env bash
# File tails: sequential writes to a regular file are read back from the
# page cache instead of copied by the kernel one by one (user/filetail.h).
# Real writers, real sensors: every byte written is accounted for exactly,
# markers are found wherever they fall, a file gone or cut before it was
# read back is counted and logged, and a managed token in a long log is
# still revoked without ever appearing raw in our output.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sensors_lib.sh"

marker=$(tw_marker)
mkdir -p "$TW_TMP/t"

# writer PATH LINES MARKER_LINE MODE: python with raw write(2)s of
# 100-byte lines; the marker sits at a random column of line MARKER_LINE.
# MODE: keep (fd kept open until the monitor has read every byte back,
# or judged the write: a verdict),
# exit (exit at once), unlink (unlink right after open, keep open the
# same way), trunc / delete (write one line, wait until the monitor has
# taken it, write the rest, then ftruncate to 0 / close and unlink; trunc
# keeps the fd open until the monitor has counted the short read), tiny
# (marker written 3 bytes per write() in the middle of the lines).
# The writer's waits poll the monitor's events and status (deadline
# TW_WAIT_S); none is a guessed interval.
# The marker comes on fd 3, a pipe (not captured), so it is in no argv,
# environment or file but the one written.
writer() {
  TW_EVENTS=$TW_TMP/events.jsonl TW_STATUS=$TW_TMP/state/status.json TW_WAIT_S=$TW_WAIT_S \
    python3 - "$@" 3< <(printf '%s' "$marker") <<'PY'
import json, os, random, sys, time
path, lines, mline, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
marker = os.fdopen(3).read()
deadline = time.monotonic() + float(os.environ["TW_WAIT_S"])
seen, pos, judged = 0, 0, False
def events_bytes():  # bytes of this pid's file_write events so far (read incrementally)
    global seen, pos, judged
    try:
        with open(os.environ["TW_EVENTS"], "rb") as f:
            f.seek(pos); data = f.read()
    except FileNotFoundError:
        return seen
    data = data[:data.rfind(b"\n") + 1]; pos += len(data)
    for l in data.splitlines():
        e = json.loads(l)
        if e.get("event") == "file_write" and e.get("pid") == os.getpid():
            seen += e["bytes"]
        elif e.get("event") == "verdict" and e.get("pid") == os.getpid():
            judged = True  # without --trace-io a verdict is all the monitor writes
    return seen
def short_read_counted():
    try:
        t = json.load(open(os.environ["TW_STATUS"]))["sensors"].get("file_tail") or {}
    except (OSError, ValueError):
        return False
    return t.get("short_reads", 0) >= 1
def hold(cond):  # until cond() or the deadline; the test's own checks then decide
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
if mode == "unlink":
    os.unlink(path)
col = random.randrange(1, 100 - len(marker) - 1)
total = 0
for i in range(lines):
    line = bytearray(b"%07d level=info " % i + b"x" * 100)[:99] + b"\n"
    if i == mline:
        line[col - 1:col + len(marker) + 1] = b" " + marker.encode() + b" "
        if mode == "tiny":
            for k in range(0, 100, 3):
                total += os.write(fd, bytes(line[k:k + 3]))
            continue
    total += os.write(fd, bytes(line))
    if i == 0 and mode in ("trunc", "delete"):
        hold(lambda: events_bytes() >= total)  # the monitor took the first run; the rest wait out --file-tail-ms
print(json.dumps({"pid": os.getpid(), "fd": fd, "path": path, "bytes": total, "offset": mline * 100 + col}), flush=True)
if mode == "trunc":
    os.ftruncate(fd, 0)
elif mode == "delete":
    os.close(fd); os.unlink(path); sys.exit(0)
if mode in ("keep", "unlink"):
    hold(lambda: events_bytes() >= total or judged)
elif mode == "trunc":
    hold(short_read_counted)
PY
}

events_of() { # PID: file_write events of that pid, as JSON lines
  grep "\"pid\":$1," "$TW_TMP/events.jsonl" | grep '"event":"file_write"'
}

# wait_bytes PID WANT: until the pid's file_write events add up to WANT
# bytes (or TW_WAIT_S); prints the sum
bytes_of() { events_of "$1" | python3 -c 'import json,sys; print(sum(json.loads(l)["bytes"] for l in sys.stdin))'; }
_bytes_reached() { _got=$(bytes_of "$1"); [ "$_got" -ge "$2" ]; }
wait_bytes() {
  _got=0
  tw_poll _bytes_reached "$1" "$2"
  echo "$_got"
}

# marker_case NAME INFO [PY_COND]: a file_write of INFO's pid holds the
# marker (and satisfies PY_COND over e, the event).
marker_case() {
  local pid
  pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$2")
  if tw_wait_event "e['event']=='file_write' and e['pid']==$pid and (${3:-True}) and any(l['index']==0 for l in e.get('literals',[]))" >/dev/null; then
    ok "$1"
  else
    not_ok "$1" "$(events_of "$pid" | head -3)"
  fi
}

# status_case NAME PYTHON_EXPR: ok once a status.json written after the
# call has a file_tail (t) that satisfies it.
status_case() {
  if tw_wait_status "(lambda t: $2)(s['sensors'].get('file_tail'))" >/dev/null; then ok "$1"
  else not_ok "$1" "$(grep -o '"file_tail":{[^}]*}' "$TW_TMP/state/status.json")"; fi
}

# Its own cgroup: the counters checked below (nothing lost) are this
# test's, not those of other jobs writing files on the same machine.
tw_own_cgroup || { not_ok tail_cgroup "$TW_CG"; exit 1; }
tw_start --trace-io --no-sweep --cgroup "$TW_CG" --watch-literal "$marker" ||
  { not_ok tail_start "monitor failed to start"; exit 1; }

# 3000 lines of a log: most are never copied by the kernel, all are seen.
mline=$(rand_between 10 2990)
info=$(writer "$TW_TMP/t/app.log" 3000 "$mline" keep)
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
marker_case tail_log_marker_found "$info"
got=$(wait_bytes "$pid" 300000)
[ "$got" -eq 300000 ] && ok tail_every_byte_accounted || not_ok tail_every_byte_accounted "events cover $got of 300000 bytes"
n=$(events_of "$pid" | grep -c '' || true)
nb=$(events_of "$pid" | grep -c '"read_back":true' || true)
[ "$n" -lt 300 ] && [ "$nb" -ge 1 ] && ok tail_writes_coalesced ||
  not_ok tail_writes_coalesced "$n events ($nb read back) for 3000 writes"
# The marker's offset within the file, from the read-back pieces in order.
if events_of "$pid" | python3 -c '
import json, sys
want, off, hits = int(sys.argv[1]), 0, []
for l in sys.stdin:
    e = json.loads(l)
    for h in e.get("literals", []):
        hits.append(off + h["offset"])  # offsets count from the new bytes, carry excluded
    off += e["bytes"]
sys.exit(0 if want in hits else 1)' "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["offset"])' "$info")"; then
  ok tail_marker_at_its_file_offset
else
  not_ok tail_marker_at_its_file_offset "$(events_of "$pid" | grep literals | head -2)"
fi
status_case tail_status_counts 't and t["runs"]>=1 and t["reads"]>=1 and t["bytes"]>=290000 and t["lost_bytes"]==0'

# A marker written three bytes per write() among whole lines.
marker_case tail_marker_in_tiny_writes "$(writer "$TW_TMP/t/tiny.log" 400 200 tiny)"

# Unlinked right after open: read back through the writer's own fd.
marker_case tail_unlinked_file_read_through_fd "$(writer "$TW_TMP/t/gone.log" 1000 700 unlink)" "e.get('read_back')"
# 300 files written by turns, each its own run: more runs than files kept
# open for reading (128). Every byte is still accounted for and the
# marker, in one of the last files, found.
info=$(python3 - "$TW_TMP/t/many" 3< <(printf '%s' "$marker") <<'PY'
import json, os, sys
d = sys.argv[1]; os.mkdir(d)
marker = os.fdopen(3).read()
fds = [os.open(f"{d}/f{i:03d}.log", os.O_WRONLY | os.O_CREAT, 0o600) for i in range(300)]
total = 0
for rnd in range(20):
    for i, fd in enumerate(fds):
        line = b"%03d round=%02d " % (i, rnd) + b"y" * 40 + b"\n"
        if i == 271 and rnd == 13:
            line = b"%03d round=%02d " % (i, rnd) + marker.encode() + b" \n"
        total += os.write(fd, line)
print(json.dumps({"pid": os.getpid(), "bytes": total}), flush=True)
PY
)
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
want=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$info")
got=$(wait_bytes "$pid" "$want")
[ "$got" -eq "$want" ] && events_of "$pid" | grep -q '"literals"' && ok tail_many_files_all_accounted ||
  not_ok tail_many_files_all_accounted "$got of $want bytes; marker $(events_of "$pid" | grep -c literals) times"
status_case tail_open_files_bounded 't["open_files"]<=128 and t["lost_bytes"]==0'

# Slow read-backs: the writer is gone first. TAIL_SLOW_MS is the interval
# under test: a run's second read-back waits that long, and each writer
# below exits, truncates or deletes its file well within it (a few ms of
# work, so even a loaded machine stays far inside).
TAIL_SLOW_MS=2000
restart 1 tail_clean_exit --trace-io --no-sweep --cgroup "$TW_CG" --file-tail-ms $TAIL_SLOW_MS --watch-literal "$marker"

# The process exited: the file is opened by the path the kernel sent.
info=$(writer "$TW_TMP/t/exited.log" 2000 1500 exit)
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
got=$(wait_bytes "$pid" 200000)
if [ "$got" -eq 200000 ] && events_of "$pid" | grep -q '"literals"'; then
  ok tail_writer_exited_read_by_path
else
  not_ok tail_writer_exited_read_by_path "$got of 200000 bytes; $(events_of "$pid" | head -2)"
fi

# Truncated before the read-back: the lost bytes are counted and logged.
info=$(writer "$TW_TMP/t/trunc.log" 50 1 trunc)
tw_wait_status "(lambda t: t['short_reads']>=1 and t['lost_bytes']>=4800)(s['sensors'].get('file_tail'))" >/dev/null &&
  tw_poll grep -q 'could not be read back' "$TW_TMP/stderr" &&
  ok tail_truncation_counted_and_logged ||
  not_ok tail_truncation_counted_and_logged "$(grep -o '"file_tail":{[^}]*}' "$TW_TMP/state/status.json"); $(grep 'read back' "$TW_TMP/stderr")"

# Closed and deleted before the read-back: counted as a lost range.
info=$(writer "$TW_TMP/t/deleted.log" 50 1 delete)
status_case tail_deleted_file_counted 't["lost_ranges"]>=1'

# --no-file-tail: every write copied by the kernel, nothing read back.
restart 2 tail_slow_clean_exit --trace-io --no-sweep --cgroup "$TW_CG" --no-file-tail --watch-literal "$marker"
info=$(writer "$TW_TMP/t/off.log" 500 250 keep)
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
got=$(wait_bytes "$pid" 50000)
n=$(events_of "$pid" | grep -c '' || true)
if [ "$got" -eq 50000 ] && [ "$n" -eq 500 ] && ! events_of "$pid" | grep -q read_back &&
   events_of "$pid" | grep -q '"literals"'; then
  ok tail_off_copies_every_write
else
  not_ok tail_off_copies_every_write "$n events, $got bytes"
fi
status_case tail_off_no_status 't is None'

# A managed token in the middle of a long log: read back, found, revoked,
# and never written raw anywhere.
LEDGER=$TW_TMP/ledger.db
tok=$("$TW" mint --ledger "$LEDGER" --task tail --aud http://127.0.0.1:9 2>"$TW_TMP/mint.err") ||
  { not_ok tail_mint "$(cat "$TW_TMP/mint.err")"; exit 1; }
id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
restart 3 tail_off_clean_exit --no-sweep --cgroup "$TW_CG" --ledger "$LEDGER"
marker=$tok writer "$TW_TMP/t/token.log" 2000 1200 keep >/dev/null
if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$id' and e.get('class')=='file_write'") &&
   python3 -c 'import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e["class"]=="file_write" and e["action"]=="revoke" else 1)' "$ev"; then
  ok tail_token_in_log_revoked
else
  not_ok tail_token_in_log_revoked "no file_write/revoke verdict for $id: ${ev:-none}"
fi
tw_stop
rm -f "$TW_TMP/t/token.log"
tw_assert_no_leak tail_token_never_raw "$tok" "$TW_TMP"
