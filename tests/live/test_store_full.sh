#!/usr/bin/env bash
# A full disk under the event store (docs/BAD-INPUT.md, "live"): the state
# directory is a small tmpfs, filled to the last block while the monitor
# runs. Detection and the event stream (on another file system) go on; a
# verdict the store could not keep is either kept after all (SQLite had
# the room in its WAL) or counted as dropped, with a warning that names
# the store; once space comes back the store resumes, and the report's
# coverage shows the loss. Never a crash, a stall or a silent gap.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input     # files this test leaks tokens into on purpose
STATE=$TW_TMP/state
mkdir -p "$LEAKS" "$STATE"
TOKENS=()
trap 'tw_stop; tw_leave_cgroup; umount -l "$STATE" 2>/dev/null; tw_tmp_done' EXIT

mint() { # TASK: prints "ID TOKEN"; every token is remembered for the leak check
  local tok id
  tok=$("$TW" mint --ledger "$LEDGER" --task "$1" --aud 127.0.0.1:9 2>"$TW_TMP/mint.err") || return 1
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
  TOKENS+=("$tok"); tw_token_record "$tok"
  echo "$id $tok"
}
verdict_for() { tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$1'"; }
alive() { if kill -0 "$TW_PID" 2>/dev/null; then ok "$1"; else not_ok "$1" "monitor died: $(tail -3 "$TW_TMP/stderr")"; fi; }
# report_has ID: the token has a sighting in the store's report
report_has() {
  "$TW" report --ledger "$LEDGER" --state-dir "$STATE" --token "$1" --since 1h --format json 2>>"$TW_TMP/report.err" |
    python3 -c 'import json, sys; r = json.load(sys.stdin); sys.exit(0 if r["tokens"] and r["tokens"][0]["sightings"] > 0 else 1)'
}
store_num() { # KEY of the events_store section of the last status.json
  python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["events_store"][sys.argv[2]]))' "$STATE/status.json" "$1"
}
_filled() { # write until the file system refuses; true once it has
  dd if=/dev/zero of="$STATE/filler.$RANDOM" bs=4k 2>/dev/null
  [ "$(stat -f -c '%a' "$STATE")" -eq 0 ]
}

read -r ID0 TOK0 <<<"$(mint before-full)" || { not_ok store_full_mint "mint failed: $(cat "$TW_TMP/mint.err")"; exit 1; }
# Mode 0700: the monitor refuses a state directory others can write.
mount -t tmpfs -o size=8m,mode=0700 tw-state "$STATE" || { not_ok store_full_tmpfs "cannot mount a small tmpfs"; exit 1; }
# Only this test's processes: other jobs' verdicts would fill the store too.
tw_own_cgroup || { not_ok store_full_cgroup "$TW_CG"; exit 1; }
tw_start --ledger "$LEDGER" --no-sweep --no-tls --cgroup "$TW_CG" ||
  { not_ok store_full_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

# --- The store works while there is room.
printf 'token=%s\n' "$TOK0" >"$LEAKS/before.log"
verdict_for "$ID0" >/dev/null && tw_poll report_has "$ID0" &&
  ok store_full_kept_with_room || not_ok store_full_kept_with_room "the first verdict never reached the store"
written0=$(store_num written)

# --- The disk fills: detection and the event stream go on.
tw_poll _filled || not_ok store_full_filled "the tmpfs never filled: $(stat -f -c '%a free of %b' "$STATE")"
read -r ID1 TOK1 <<<"$(mint while-full)"
printf 'token=%s\n' "$TOK1" >"$LEAKS/while-full.log"
if verdict_for "$ID1" >/dev/null; then ok store_full_stream_goes_on; else not_ok store_full_stream_goes_on "no verdict in the event stream while the store's disk was full"; fi
# Either SQLite still had room for it (its WAL is reused after each
# checkpoint) or the batch failed and said so.
_kept_or_warned() { report_has "$ID1" || grep -q 'event store: .* not written' "$TW_TMP/stderr"; }
if tw_poll _kept_or_warned; then ok store_full_kept_or_warned; else not_ok store_full_kept_or_warned "the verdict is neither in the store nor warned about: $(tail -3 "$TW_TMP/stderr")"; fi
alive store_full_monitor_alive

# --- Space comes back: the store resumes and the loss, if any, is counted
# --- and reaches the report's coverage.
rm -f "$STATE"/filler.*
# The space comes back once the monitor's file tail lets go of the filler
# it read back (an idle handle is closed within seconds: docs/SENSORS.md).
_has_room() { [ "$(stat -f -c '%a' "$STATE")" -ge 256 ]; }
tw_poll _has_room || not_ok store_full_space_back "the tmpfs never had room again: $(stat -f -c '%a free of %b' "$STATE")"
read -r ID2 TOK2 <<<"$(mint space-back)"
printf 'token=%s\n' "$TOK2" >"$LEAKS/space-back.log"
verdict_for "$ID2" >/dev/null
if tw_poll report_has "$ID2"; then ok store_full_resumes; else not_ok store_full_resumes "no store row for a verdict after the space came back: $(tail -3 "$TW_TMP/stderr")"; fi
if report_has "$ID1"; then
  ok store_full_loss_counted   # nothing was lost: nothing to count
  echo "# the verdict written while full was kept (SQLite had room)"
elif tw_wait_status "s['events_store']['dropped'] >= 1" >/dev/null; then
  ok store_full_loss_counted
  _coverage_shows() {
    "$TW" report --ledger "$LEDGER" --state-dir "$STATE" --since 1h --format json 2>>"$TW_TMP/report.err" |
      python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["coverage"]["lost"].get("store_dropped", 0) >= 1 else 1)'
  }
  if tw_poll _coverage_shows; then ok store_full_loss_in_report; else not_ok store_full_loss_in_report "the report's coverage has no store_dropped"; fi
else
  not_ok store_full_loss_counted "the verdict is not in the store and events_store.dropped is 0"
fi
[ "$(store_num written)" -gt "$written0" ] && ok store_full_written_grows || not_ok store_full_written_grows "events_store.written stayed at $written0"
alive store_full_monitor_alive_after

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok store_full_clean_exit || not_ok store_full_clean_exit "exit $TW_RC"
leaked=0
for t in $(tw_minted); do
  grep -rqF --exclude-dir=leak-input -- "$t" "$TW_TMP" 2>/dev/null && leaked=1
done
[ $leaked -eq 0 ] && ok store_full_no_token_in_output || not_ok store_full_no_token_in_output "a raw token in the monitor's output"
