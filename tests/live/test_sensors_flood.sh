#!/usr/bin/env bash
# Overload: a ring buffer far too small for a flood of sends. Every send
# must be either delivered or counted as dropped, exactly; the monitor
# warns, keeps running, and `tokenward status` shows the drops.
# The monitor watches only a cgroup of its own, so other processes on the
# host (other tests) cannot add to or take from the count.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sensors_lib.sh"

cgroot=
for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
  [ "$(stat -fc %T "$d" 2>/dev/null)" = cgroup2fs ] && { cgroot=$d; break; }
done
[ -n "$cgroot" ] || { not_ok flood_cgroup "no cgroup v2 hierarchy mounted"; exit 1; }
cg=$cgroot/tw-flood-$$-$RANDOM
mkdir "$cg" || { not_ok flood_cgroup "cannot create $cg"; exit 1; }
trap 'tw_stop; rmdir "$cg" 2>/dev/null; tw_tmp_done' EXIT

N=20000
tw_start --trace-io --no-sweep --cgroup "$cg" --ringbuf-size 4096 --poll-ms 5 ||
  { not_ok flood_start "monitor failed to start"; exit 1; }
# Join the cgroup, then exec the flooder: its exec and its sends are the
# only records this monitor can see.
info=$(sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" flood "$3"' sh "$cg" "$TW_IO" $N)
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info" 2>/dev/null) ||
  { not_ok flood_ran "flood failed: $info"; exit 1; }
# Survived: it still rewrites its status after the flood, and runs.
tw_wait_status 's["running"]' >/dev/null && kill -0 "$TW_PID" 2>/dev/null && ok flood_monitor_survives ||
  not_ok flood_monitor_survives "monitor died under overload"
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok flood_clean_exit || not_ok flood_clean_exit "exit status $TW_RC"

"$TW" status --state-dir "$TW_TMP/state" --json >"$TW_TMP/status.json"
if python3 - "$TW_TMP/events.jsonl" "$TW_TMP/status.json" "$pid" $N <<'PY'; then ok flood_drops_counted_exactly; else not_ok flood_drops_counted_exactly "see log"; fi
import json, sys
events, status, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sends = execs = 0
for line in open(events):
    e = json.loads(line)
    if e["pid"] != pid:
        continue
    if e["event"] == "sock_send":
        sends += 1
    elif e["event"] == "exec":
        execs += 1
s = json.load(open(status))["sensors"]
full = s["drops"]["ringbuf_full"]
print(f"sends delivered {sends}, execs {execs}, ringbuf_full {full}, issued {n} sends + 1 exec")
assert full > 0, "the flood did not overfill the ring buffer"
assert sends > 0, "nothing was delivered"
assert sends + execs + full == n + 1, (sends, execs, full, n)
assert s["lost_total"] >= full
assert sum(s["drops_per_cpu"]["ringbuf_full"]) == full
PY
if grep -q "warning: sensors: events dropped or cut: ringbuf_full +" "$TW_TMP/stderr"; then
  ok flood_drops_logged_as_warning
else
  not_ok flood_drops_logged_as_warning "no warning line: $(tail -3 "$TW_TMP/stderr")"
fi
if "$TW" status --state-dir "$TW_TMP/state" | grep -Eq 'drops\.ringbuf_full +[1-9]'; then
  ok flood_status_shows_drops
else
  not_ok flood_status_shows_drops "$("$TW" status --state-dir "$TW_TMP/state" | head -20)"
fi
