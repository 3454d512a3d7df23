#!/usr/bin/env bash
# File-write sensor: every write syscall, markers deep in large buffers and
# across iovecs and write() seams, path resolution, truncation, and
# tokenward never capturing itself.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sensors_lib.sh"

marker=$(tw_marker)
export TW_MARKER=$marker
n=${#marker}
tw_own_cgroup || { not_ok file_cgroup "$TW_CG"; exit 1; }
tw_start --cgroup "$TW_CG" --trace-io --no-sweep --capture-bytes 256K --watch-literal "$marker" ||
  { not_ok file_start "monitor failed to start"; exit 1; }
mkdir -p "$TW_TMP/leak-input/sub dir"   # the files written hold the marker on purpose

# 200 KiB buffers, marker anywhere past the first 4 KiB; all captured.
for sc in write pwrite64 writev pwritev pwritev2; do
  off=$(rand_between 4096 $((200000 - n)))
  info=$("$TW_IO" file $sc "$TW_TMP/leak-input/sub dir/$sc.out" 200000 "$off")
  io_case "file_${sc}_200k" file_write "$info" "$off" \
    "e['path']==i['path'] and e['syscall']=='$sc' and e['bytes']==200000 and e['captured']==200000 and e['truncated'] is False"
done

# Small writes, marker near the start and at the very end.
off=$(rand_between 0 100)
info=$("$TW_IO" file write "$TW_TMP/leak-input/small.out" 300 "$off")
io_case file_write_small file_write "$info" "$off" "e['bytes']==300 and e['captured']==300"
info=$("$TW_IO" file writev "$TW_TMP/leak-input/end.out" 5000 $((5000 - n)))
io_case file_writev_marker_at_end file_write "$info" $((5000 - n)) "e['bytes']==5000"

# A marker split across two write() calls is found through the stream tail.
off=$(rand_between 100 900)
info=$("$TW_IO" file split "$TW_TMP/leak-input/split.out" 1000 "$off")
half=$((n / 2))
io_case file_split_across_writes file_write "$info" "-$half" \
  "any(l.get('seam') for l in e['literals']) and e['carry']>0"

# A closed file's fd (and usually its recycled struct file) reused for
# another file: the event names the new file, not a cached old one.
off=$(rand_between 0 400)
info=$("$TW_IO" file reopen "$TW_TMP/leak-input/second.out" 500 "$off")
io_case file_fd_reused_after_close file_write "$info" "$off" "e['path']==i['path']"

# Zero-length write: no event. A later write from another process is the
# sync point: once it is seen, the zero write would have been too.
zinfo=$(TW_MARKER= "$TW_IO" file zero "$TW_TMP/leak-input/zero.out" 0 0)
zpid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$zinfo") || zpid=missing
info=$("$TW_IO" file write "$TW_TMP/leak-input/sync.out" 100 10)
io_case file_sync_after_zero file_write "$info" 10
if [ "$zpid" = missing ]; then
  not_ok file_zero_length_no_event "test program failed: $zinfo"
elif grep -q "\"pid\":$zpid,.*\"file_write\"" "$TW_TMP/events.jsonl"; then
  not_ok file_zero_length_no_event "a zero-length write was reported"
else
  ok file_zero_length_no_event
fi

# A path longer than PATH_MAX (built with relative mkdir/cd): cut and flagged.
long=$TW_TMP/long
mkdir -p "$long"
comp=$(printf 'd%.0s' $(seq 1 200))
(cd "$long" && for _ in $(seq 1 24); do mkdir "$comp" && cd "$comp" || exit 1; done &&
  "$TW_IO" file write x.out 500 20) >"$TW_TMP/long.json" 2>&1
io_case file_path_longer_than_path_max file_write "$(cat "$TW_TMP/long.json")" 20 \
  "e.get('path_truncated') is True and len(e['path'])<=4096"
rm -rf "$long"

# Self-exclusion: the monitor writes events.jsonl all along; none of those
# writes may come back as an event.
if grep -q "\"pid\":$TW_PID,.*\"event\":\"file_write\"" "$TW_TMP/events.jsonl"; then
  not_ok file_self_excluded "tokenward captured its own writes"
else
  ok file_self_excluded
fi
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok file_clean_exit || not_ok file_clean_exit "exit status $TW_RC"

# A 64 KiB window (the default is 4 MiB: test_sensors_large.sh): a marker
# inside it is found, one beyond it is not, and the cut is flagged,
# counted, and shown by `tokenward status`.
mv "$TW_TMP/events.jsonl" "$TW_TMP/events-1.jsonl"
tw_start --cgroup "$TW_CG" --trace-io --no-sweep --capture-bytes 64K --watch-literal "$marker" ||
  { not_ok file_start_default "monitor failed to start"; exit 1; }
off=$(rand_between 4096 $((65536 - n)))
info=$("$TW_IO" file write "$TW_TMP/leak-input/in64.out" 200000 "$off")
io_case file_default_window_hit file_write "$info" "$off" \
  "e['captured']==65536 and e['bytes']==200000 and e['truncated'] is True"
info=$("$TW_IO" file write "$TW_TMP/leak-input/past64.out" 200000 150000)
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info")
if ev=$(tw_wait_event "e['event']=='file_write' and e['pid']==$pid") &&
   python3 -c 'import json,sys; e=json.loads(sys.argv[1]); assert e["truncated"] and e["captured"]==65536 and "literals" not in e' "$ev"; then
  ok file_default_window_cut_flagged
else
  not_ok file_default_window_cut_flagged "${ev:-no event}"
fi

# A 1 GiB write: bounded capture, exact byte count, no stall (a stall
# hangs until TW_WAIT_S; a slow machine only takes longer).
info=$(timeout "$TW_WAIT_S" "$TW_IO" big)
io_case sock_write_1gib sock_send "$info" 100 \
  "e['bytes']==1<<30 and e['captured']==65536 and e['truncated'] is True"
tw_stop
if "$TW" status --state-dir "$TW_TMP/state" --json >"$TW_TMP/status.json" &&
   python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); d=s["sensors"]["drops"]; assert d["capture_truncated"]>=3, d; assert s["running"] is False' "$TW_TMP/status.json"; then
  ok file_truncation_counted_in_status
else
  not_ok file_truncation_counted_in_status "$(head -c 600 "$TW_TMP/status.json")"
fi
tw_assert_no_leak file_marker_never_printed "$marker" "$TW_TMP/events.jsonl" "$TW_TMP/events-1.jsonl" "$TW_TMP/stderr" "$TW_TMP/state"
