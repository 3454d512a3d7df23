#!/usr/bin/env bash
# Send batches: small sends on stream sockets are appended by the kernel to
# a shared slot and taken by userspace every few milliseconds
# (user/sockbatch.h). Real senders, real sensors: every byte sent is
# accounted for exactly, markers are found wherever they fall (across
# takes, across a send that went through the ring), each send keeps its
# own socket's peer even when sockets are recycled in the same kernel
# memory, and a managed token sent a few bytes at a time is still revoked.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sensors_lib.sh"

marker=$(tw_marker)
export TW_MARKER=$marker
n=${#marker}

# sends_of PID [FD]: sock_send events of that pid (and fd), as JSON lines
sends_of() {
  grep "\"pid\":$1," "$TW_TMP/events.jsonl" | grep '"event":"sock_send"' |
    { if [ -n "${2:-}" ]; then grep "\"fd\":$2,"; else cat; fi; }
}

# wait_bytes PID FD WANT: until those events add up to WANT bytes (or
# TW_WAIT_S); prints the sum
_bytes_reached() {
  _got=$(sends_of "$1" "$2" | python3 -c 'import json,sys; print(sum(json.loads(l)["bytes"] for l in sys.stdin))')
  [ "$_got" -ge "$3" ]
}
wait_bytes() {
  _got=0
  tw_poll _bytes_reached "$1" "$2" "$3"
  echo "$_got"
}

field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(" ".join(map(str,v)) if isinstance(v,list) else v)' "$1" "$2"; }

# marked PID FD [PY_COND]: wait for a sock_send of PID on FD holding the marker
marked() {
  tw_wait_event "e['event']=='sock_send' and e['pid']==$1 and e['fd']==$2 and (${3:-True}) and any(l['index']==0 for l in e.get('literals',[]))"
}

status_batch() { # PYTHON_EXPR over b = sensors.sock_batch, s = sensors, in a status.json written after the call
  tw_wait_status "(lambda s: (lambda b: $1)(s.get('sock_batch')))(s['sensors'])" >/dev/null
}

# Its own cgroup: the counters checked below (nothing orphaned, lost or
# dropped) are this test's, not those of other jobs on the same machine.
tw_own_cgroup || { not_ok batch_cgroup "$TW_CG"; exit 1; }
tw_start --trace-io --no-sweep --cgroup "$TW_CG" --watch-literal "$marker" ||
  { not_ok batch_start "monitor failed to start"; exit 1; }

# 6000 bytes in 7-byte sends on one socket: batched, the marker found with
# the socket's own addresses, and every byte seen exactly once. (Sends
# after a full batch go through the ring until the reader has taken it,
# so the marker itself may arrive either way.)
for kind in tcp4 tcp6 unix-stream; do
  off=$(rand_between 100 $((6000 - n)))
  info=$("$TW_IO" chat $kind 6000 "$off" 7 1 0 2>&1)
  pid=$(field "$info" pid) || { not_ok "batch_${kind}_marker" "test program failed: $info"; continue; }
  fd=$(field "$info" fds)
  if ev=$(marked "$pid" "$fd") && sends_of "$pid" "$fd" | grep -q '"batched":true' &&
     python3 - "$ev" "$info" "$kind" <<'PY'; then ok "batch_${kind}_marker"; else not_ok "batch_${kind}_marker" "${ev:-no batched event with the marker}"; fi
import json, sys
e, i, kind = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
assert e["sock_type"] == "stream" and e["peer"] == i["peer"], (e, i)
assert kind == "unix-stream" or e["local"] == i["local"], (e["local"], i["local"])
assert e["syscall"] in ("write", "sendto"), e["syscall"]
PY
  got=$(wait_bytes "$pid" "$fd" 6000)
  [ "$got" -eq 6000 ] && ok "batch_${kind}_bytes_exact" || not_ok "batch_${kind}_bytes_exact" "$got of 6000 bytes"
done

# Vectored: each piece in two iovecs, writev() and sendmsg() by turns.
off=$(rand_between 100 $((6000 - n)))
info=$(TW_IO_VEC=1 "$TW_IO" chat tcp4 6000 "$off" 9 1 0 2>&1)
pid=$(field "$info" pid); fd=$(field "$info" fds)
got=$(wait_bytes "$pid" "$fd" 6000)
if marked "$pid" "$fd" >/dev/null && [ "$got" -eq 6000 ] &&
   sends_of "$pid" "$fd" | grep -q '"batched":true'; then
  ok batch_vectored_sends
else
  not_ok batch_vectored_sends "$got of 6000 bytes; $(sends_of "$pid" "$fd" | head -2)"
fi

# Three small sends then a 3000-byte one, which goes through the ring and
# seals the batch: the marker straddles the last small send and the large
# one, and is found only if the batch's bytes come first.
info=$("$TW_IO" chat tcp4 8000 $((3240 - n / 2)) 40,40,40,3000 1 0 2>&1)
pid=$(field "$info" pid); fd=$(field "$info" fds)
if ev=$(marked "$pid" "$fd" "e.get('carry',0)>0"); then ok batch_marker_across_seal
else not_ok batch_marker_across_seal "$(sends_of "$pid" | head -5)"; fi
got=$(wait_bytes "$pid" "$fd" 8000)
[ "$got" -eq 8000 ] && ok batch_seal_bytes_exact || not_ok batch_seal_bytes_exact "$got of 8000 bytes"

# 5-byte sends 3 ms apart: the marker spans several takes (2 ms apart).
info=$("$TW_IO" chat tcp4 400 "$(rand_between 100 300)" 5 1 3000 2>&1)
pid=$(field "$info" pid); fd=$(field "$info" fds)
if marked "$pid" "$fd" "e.get('batched') and e.get('carry',0)>0" >/dev/null; then ok batch_marker_across_takes
else not_ok batch_marker_across_takes "$(sends_of "$pid" | head -5)"; fi

# 40 connections round-robin, as an event loop serves them: more sockets
# than some slots can take without colliding. Every one is found and exact.
info=$("$TW_IO" chat tcp4 3000 "$(rand_between 100 2900)" 7 40 0 2>&1)
pid=$(field "$info" pid)
bad=
for fd in $(field "$info" fds); do
  marked "$pid" "$fd" >/dev/null || bad="$bad fd$fd:nomarker"
  got=$(wait_bytes "$pid" "$fd" 3000); [ "$got" -eq 3000 ] || bad="$bad fd$fd:${got}B"
done
[ -z "$bad" ] && ok batch_40_connections_exact || not_ok batch_40_connections_exact "$bad"

# Connect, one small write, close, to A then B then A...: sockets recycled
# in the same kernel memory. Each send keeps its own peer: the marker
# (sent only to B) is never attributed to A.
for kind in tcp4 unix-stream; do
  info=$("$TW_IO" alternate $kind 200 3000 2>&1)
  pid=$(field "$info" pid)
  _all_sent() { [ "$(sends_of "$pid" | grep -c '')" -ge 200 ]; }   # then exactly 200, below
  tw_poll _all_sent
  if sends_of "$pid" | python3 -c '
import json, sys
i = json.loads(sys.argv[1])
ev = [json.loads(l) for l in sys.stdin]
marked = [e for e in ev if e.get("literals")]
assert len(ev) == 200 and len(marked) == 100, (len(ev), len(marked))
assert all(e["peer"] == i["peer_b"] for e in marked), [e["peer"] for e in marked if e["peer"] != i["peer_b"]][:3]
assert all(e["peer"] == i["peer_a"] for e in ev if not e.get("literals"))
' "$info"; then ok "batch_recycled_sockets_keep_peer_$kind"
  else not_ok "batch_recycled_sockets_keep_peer_$kind" "$info"; fi
done

# Idle batches retire; the counts come from a status.json written since.
if status_batch 'b and b["batches"]>=4 and b["takes"]>=4 and b["sealed"]>=1 and b["retired"]>=1 and b["orphaned"]==0 and b["lost_bytes"]==0 and b["malformed"]==0 and s["drops"]["ringbuf_full"]==0'; then
  ok batch_status_counts
else
  not_ok batch_status_counts "$(grep -o '"sock_batch":{[^}]*}' "$TW_TMP/state/status.json")"
fi

# --no-sock-batch: every send through the ring, found all the same.
restart 1 batch_clean_exit --trace-io --no-sweep --cgroup "$TW_CG" --no-sock-batch --watch-literal "$marker"
info=$("$TW_IO" chat tcp4 2000 "$(rand_between 100 1900)" 7 1 0 2>&1)
pid=$(field "$info" pid); fd=$(field "$info" fds)
got=$(wait_bytes "$pid" "$fd" 2000)
if marked "$pid" "$fd" >/dev/null && [ "$got" -eq 2000 ] && ! sends_of "$pid" | grep -q batched &&
   [ "$(sends_of "$pid" | grep -c '')" -ge 280 ]; then
  ok batch_off_sends_each
else
  not_ok batch_off_sends_each "$got bytes, $(sends_of "$pid" | grep -c '') events"
fi
status_batch 'b is None' && ok batch_off_no_status || not_ok batch_off_no_status "sock_batch in status"

# A managed token in an HTTP request sent 5 bytes at a time to a port
# outside its audience: taken from batches, found, revoked, never raw.
LEDGER=$TW_TMP/ledger.db
tok=$("$TW" mint --ledger "$LEDGER" --task batch --aud http://127.0.0.1:9 2>"$TW_TMP/mint.err") ||
  { not_ok batch_mint "$(cat "$TW_TMP/mint.err")"; exit 1; }
id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
restart 2 batch_off_clean_exit --no-sweep --cgroup "$TW_CG" --ledger "$LEDGER"
# the token comes on fd 3, a pipe (not captured): in no argv or environment
python3 - 3< <(printf '%s' "$tok") <<'PY'
import os, socket, threading
tok = os.fdopen(3).read()
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def drain():
    c, _ = srv.accept()
    while c.recv(65536): pass
t = threading.Thread(target=drain); t.start()
s = socket.create_connection(srv.getsockname())
req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n\r\n" % (srv.getsockname()[1], tok)).encode()
for k in range(0, len(req), 5):
    s.send(req[k:k + 5])
s.close(); t.join()
PY
if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$id'") &&
   python3 -c 'import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e["class"]=="net_dest" and e["action"]=="revoke" else 1)' "$ev"; then
  ok batch_token_in_small_sends_revoked
else
  not_ok batch_token_in_small_sends_revoked "no net_dest/revoke verdict for $id: ${ev:-none}"
fi
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok batch_token_clean_exit || not_ok batch_token_clean_exit "exit status $TW_RC"
tw_assert_no_leak batch_marker_never_printed "$marker" "$TW_TMP/events-1.jsonl" "$TW_TMP/events-2.jsonl" "$TW_TMP/stderr" "$TW_TMP/state"
tw_assert_no_leak batch_token_never_raw "$tok" "$TW_TMP"
