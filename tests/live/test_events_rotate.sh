#!/usr/bin/env bash
# Size-based rotation of the event stream's files (events_max_size,
# events_keep): a stream of execs through a 64 KiB limit with three files
# kept. Every file stays under the limit and holds whole lines, at most
# PATH.1..PATH.3 are kept, the kept files hold an unbroken run of the
# stream up to its last exec (none lost at a rotation), the rotations are
# counted, and a symbolic link planted at PATH.2 is replaced, never
# followed.
# lane: scoped
. "$(dirname "$0")/lib.sh"

CONF=$TW_TMP/tokenward.yaml
EV=$TW_TMP/events.jsonl
tw_own_cgroup || { not_ok rotate_cgroup "$TW_CG"; exit 1; }
cat >"$CONF" <<Y
ledger: $TW_TMP/ledger.db
events_max_size: 64K
events_keep: 3
Y
echo victim >"$TW_TMP/victim"
ln -s "$TW_TMP/victim" "$EV.2"
tw_start --config "$CONF" --no-sweep --no-tls --cgroup "$TW_CG" ||
  { not_ok rotate_start "monitor failed: $(tail -3 "$TW_TMP/stderr")"; exit 1; }

RUN=$(tw_marker)
N=1500
for i in $(seq 1 $N); do /bin/sh -c ": $RUN-$i-end"; done
_last_seen() { grep -q "$RUN-$N-end" "$EV"; }
tw_poll _last_seen || { not_ok rotate_stream "the last exec never arrived"; tw_diag; exit 1; }

python3 - "$EV" "$RUN" "$N" >"$TW_TMP/check.out" 2>&1 <<'PY'
import json, os, re, sys
ev, run, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = [ev] + ["%s.%d" % (ev, i) for i in (1, 2, 3)]
for f in files:
    assert os.path.isfile(f) and not os.path.islink(f), f + " missing or a link"
    st = os.stat(f)
    assert st.st_size <= 64 << 10, "%s is %d bytes" % (f, st.st_size)
    assert st.st_mode & 0o077 == 0, "%s mode %o" % (f, st.st_mode)
assert not os.path.exists(ev + ".4"), "a fourth rotated file"
seen = set()
for f in files:
    for line in open(f):
        json.loads(line)                       # whole lines only
        for m in re.findall(run + r"-(\d+)-end", line):
            seen.add(int(m))
lo = min(seen)
missing = [i for i in range(lo, n + 1) if i not in seen]
assert not missing, "lost across a rotation: %d of %d-%d, first %d" % (len(missing), lo, n, missing[0])
assert lo > 1, "nothing rotated out (the limit was not applied)"
print("ok", lo, n)
PY
grep -q '^ok' "$TW_TMP/check.out" && ok rotate_files_bounded_whole_and_unbroken ||
  not_ok rotate_files_bounded_whole_and_unbroken "$(tail -2 "$TW_TMP/check.out")"
[ "$(cat "$TW_TMP/victim")" = victim ] && ok rotate_never_follows_link || not_ok rotate_never_follows_link "the link's target was written"
tw_wait_status "s['sensors']['events_rotations'] >= 4 and s['sensors']['events_rotate_failures'] == 0" >/dev/null &&
  ok rotate_counted || not_ok rotate_counted "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sensors"]; print(s.get("events_rotations"), s.get("events_rotate_failures"))' "$TW_TMP/state/status.json")"

# SIGHUP takes a new limit: off (0), and the file grows past 64K again.
printf 'ledger: %s\nevents_max_size: 0\nevents_keep: 3\n' "$TW_TMP/ledger.db" >"$CONF"
n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["reloads"])' "$TW_TMP/state/status.json")
kill -HUP "$TW_PID"
tw_wait_status "s['sensors']['reloads'] > $n" >/dev/null
rot=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["events_rotations"])' "$TW_TMP/state/status.json")
RUN2=$(tw_marker)
for i in $(seq 1 400); do /bin/sh -c ": $RUN2-$i-end"; done
_big() { grep -q "$RUN2-400-end" "$EV" && [ "$(stat -c %s "$EV")" -gt $((64 << 10)) ]; }
tw_poll _big && tw_wait_status "s['sensors']['events_rotations'] == $rot" >/dev/null && ok rotate_limit_reloaded ||
  not_ok rotate_limit_reloaded "size $(stat -c %s "$EV"), rotations $rot -> $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["events_rotations"])' "$TW_TMP/state/status.json")"
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok rotate_clean_exit || not_ok rotate_clean_exit "exit $TW_RC"
