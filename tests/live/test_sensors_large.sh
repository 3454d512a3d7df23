#!/usr/bin/env bash
# Whole buffers (issue 12): with the default capture window (4 MiB per
# call) a marker or a real token deep inside one large write or send is
# captured: 150 KB into a 200 KB write() to a file, 700 KB into a 1 MB
# send() over loopback TCP, a late iovec of a 512-iovec writev(), a 4 MB
# file write. Beyond the window the tail is cut, and the cut is counted
# (the event says truncated, status counts capture_truncated): the token
# there is not found, and that is not silent.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sensors_lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input     # files this test writes tokens into on purpose
mkdir -p "$LEAKS"
TOKENS=()
trap 'tw_stop; tw_leave_cgroup; tw_tmp_done' EXIT
# Only this test's processes: a shared machine's bulk writers would take
# the ring room these cases measure.
tw_own_cgroup || { not_ok large_setup "no cgroup"; exit 1; }

marker=$(tw_marker)
export TW_MARKER=$marker
n=${#marker}
BOUND=$((4 << 20))  # TW_CAP_DEFAULT

tw_start --ledger "$LEDGER" --trace-io --no-sweep --watch-literal "$marker" --cgroup "$TW_CG" ||
  { not_ok large_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

drops() { # KEY: sensors.drops.KEY in the latest status
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sensors']['drops'][sys.argv[2]])" \
    "$TW_TMP/state/status.json" "$1"
}

# --- the marker, with its offset checked in the trace-io event
off=$(rand_between 150000 $((200000 - n)))
info=$("$TW_IO" file write "$LEAKS/w200k.out" 200000 "$off")
io_case large_file_write_200k_marker_past_150k file_write "$info" "$off" \
  "e['bytes']==200000 and e['captured']==200000 and e['truncated'] is False"

off=$(rand_between 700000 $((1000000 - n)))
info=$("$TW_IO" sock tcp4 send 1000000 "$off" 2>&1)
io_case large_tcp_send_1m_marker_past_700k sock_send "$info" "$off" \
  "e['syscall']=='sendto' and e['peer']==i['peer'] and e['bytes']==1000000 and e['captured']==1000000"

# 512 iovecs of ~390 bytes: the marker lies in one of the last 100 (it may
# straddle two), so the copy walks 400+ iovecs before it gets there.
off=$(rand_between 160000 $((200000 - n)))
info=$(TW_IO_IOVS=512 "$TW_IO" file writev "$LEAKS/wv512.out" 200000 "$off")
io_case large_file_writev_512_iovecs_late_iovec file_write "$info" "$off" \
  "e['syscall']=='writev' and e['bytes']==200000 and e['captured']==200000"
off=$(rand_between 900000 $((1000000 - n)))
info=$(TW_IO_IOVS=1000 "$TW_IO" sock tcp4 sendmsg 1000000 "$off" 2>&1)
io_case large_tcp_sendmsg_1000_iovecs_late_iovec sock_send "$info" "$off" \
  "e['syscall']=='sendmsg' and e['bytes']==1000000 and e['captured']==1000000"

off=$(rand_between 3900000 $((4000000 - n)))
info=$("$TW_IO" file write "$LEAKS/w4m.out" 4000000 "$off")
io_case large_file_write_4m file_write "$info" "$off" \
  "e['bytes']==4000000 and e['captured']==4000000"

# --- beyond the window: 6 MB, the marker at 5 MB. The event is there,
# cut at the window and marked so; the marker is not in it; counted.
cut_before=$(drops capture_truncated)
off=$(rand_between 5000000 5100000)
info=$("$TW_IO" file write "$LEAKS/w6m.out" 6000000 "$off")
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info" 2>/dev/null) || pid=missing
if ev=$(tw_wait_event "e['event']=='file_write' and e['pid']==$pid") &&
   python3 - "$ev" "$BOUND" <<'PY'; then ok large_beyond_bound_cut_and_flagged; else not_ok large_beyond_bound_cut_and_flagged "${ev:-no event from $pid}"; fi
import json, sys
e, bound = json.loads(sys.argv[1]), int(sys.argv[2])
assert e["bytes"] == 6000000 and e["captured"] == bound and e["truncated"] is True, e
assert not any(l["index"] == 0 for l in e.get("literals", [])), e["literals"]
PY
if tw_wait_status "s['sensors']['drops']['capture_truncated'] > $cut_before" >/dev/null; then
  ok large_beyond_bound_counted_in_status
else
  not_ok large_beyond_bound_counted_in_status "capture_truncated stayed $cut_before"
fi

# --- real tokens, minted now, judged: a file write is file_write, a
# send to a port outside the audience is net_dest; both revoked.
mint() { # TASK: prints "ID TOKEN"
  local tok id
  tok=$("$TW" mint --ledger "$LEDGER" --task "$1" --aud "http://127.0.0.1:9" 2>"$TW_TMP/mint.err") || return 1
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
  TOKENS+=("$tok"); tw_token_record "$tok"
  echo "$id $tok"
}
verdict() { # NAME ID KIND CLASS ACTION
  local ev
  if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$2' and e.get('kind')=='$3'"); then
    if python3 -c "import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e['class']=='$4' and e['action']=='$5' else 1)" "$ev"; then
      ok "$1"
    else
      not_ok "$1" "want $4/$5, got $(python3 -c "import json,sys; e=json.loads(sys.argv[1]); print(e['class'], e['action'], e.get('reason'))" "$ev")"
    fi
  else
    not_ok "$1" "no $3 verdict for $2"
  fi
}
# The token reaches tw_io on a pipe (not captured): written to a file
# first, that write would be a sighting of its own.
# Spaces around it: the filler is binary, a letter against the token
# would fail its word boundary.
with_tok() { # TOKEN CMD...
  printf ' %s \n' "$1" | TW_MARKER_FILE=/dev/stdin "${@:2}"
}

read -r ID TOK <<<"$(mint large-file)"
tl=$((${#TOK} + 2))
off=$(rand_between 150000 $((200000 - tl)))
with_tok "$TOK" "$TW_IO" file write "$LEAKS/tok200k.out" 200000 "$off" >/dev/null
verdict large_token_150k_into_200k_write_file_write "$ID" file_write file_write revoke

read -r ID TOK <<<"$(mint large-send)"
off=$(rand_between 700000 $((1000000 - tl)))
with_tok "$TOK" "$TW_IO" sock tcp4 send 1000000 "$off" >/dev/null 2>&1
verdict large_token_700k_into_1m_send_net_dest "$ID" net_send net_dest revoke

read -r ID TOK <<<"$(mint large-writev)"
off=$(rand_between 180000 $((200000 - tl)))
TW_IO_IOVS=512 with_tok "$TOK" "$TW_IO" file writev "$LEAKS/tokwv.out" 200000 "$off" >/dev/null
verdict large_token_late_iovec_writev_file_write "$ID" file_write file_write revoke

# Beyond the window: no verdict, and the cut is counted (above). The
# barrier is a later exec: once it is seen, the write was handled.
read -r ID TOK <<<"$(mint large-beyond)"
off=$(rand_between 5000000 5100000)
cut_before=$(drops capture_truncated)
with_tok "$TOK" "$TW_IO" file write "$LEAKS/tok6m.out" 6000000 "$off" >/dev/null
tw_wait_status "s['sensors']['drops']['capture_truncated'] > $cut_before" >/dev/null
/bin/sh -c ': large-barrier'
tw_no_event_case large_token_beyond_bound_not_judged \
  "e.get('event')=='verdict' and e.get('token_id')=='$ID'" \
  "e.get('event')=='exec' and 'large-barrier' in ' '.join(e.get('argv', []))"

# --- ring room: with a 4 MiB ring, a 4 MB write may take only half of
# the ring's free room. It is cut there, flagged and counted
# (capture_cut_ring_room), the part it got is whole, and the next small
# write of another process is captured: not starved.
restart 1 large_clean_exit_before_small_ring --ledger "$LEDGER" --trace-io --no-sweep \
  --watch-literal "$marker" --cgroup "$TW_CG" --ringbuf-size 4M
off=$(rand_between 1000 100000)
info=$("$TW_IO" file write "$LEAKS/ring4m.out" 4000000 "$off")
io_case large_small_ring_cut_flagged_marker_kept file_write "$info" "$off" \
  "e['bytes']==4000000 and e['captured']<=2*1024*1024 and e['captured']>=1024*1024 and e['truncated'] is True"
if tw_wait_status "s['sensors']['drops']['capture_cut_ring_room'] >= 1" >/dev/null; then
  ok large_small_ring_cut_counted
else
  not_ok large_small_ring_cut_counted "capture_cut_ring_room not counted"
fi
off=$(rand_between 0 300)
info=$("$TW_IO" file write "$LEAKS/after.out" 400 "$off")
io_case large_small_ring_next_write_not_starved file_write "$info" "$off" "e['captured']==400"

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok large_clean_exit || not_ok large_clean_exit "exit status $TW_RC"
tw_assert_no_leak large_marker_never_printed "$marker" "$TW_TMP"/events*.jsonl "$TW_TMP/stderr" "$TW_TMP/state"
leaked=0
for t in $(tw_minted); do grep -rqF -- "$t" "$TW_TMP"/events*.jsonl "$TW_TMP/stderr" "$TW_TMP/state" && leaked=1; done
[ $leaked -eq 0 ] && ok large_no_token_in_output || not_ok large_no_token_in_output "a raw token in the monitor's output"
