#!/usr/bin/env bash
# Socket sensors: every send syscall on TCP, UDP and Unix sockets over IPv4
# and IPv6, markers deep in the buffer and across iovecs; local and peer
# addresses; connect() with its destination.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sensors_lib.sh"

marker=$(tw_marker)
export TW_MARKER=$marker
n=${#marker}

# Regression (issue 11): tw_io's own address printing, no monitor needed.
# An unbound unix socket has no name: getsockname() writes the family only
# (addrlen == sizeof(sa_family_t)), and tw_io must print exactly "unix:",
# never the sun_path bytes the kernel left alone (tw_io fills them with
# 'x' first, so reading them cannot pass by luck).
for mode in "sock unix-stream write 64 0" "connect unix-stream" "chat unix-stream 64 0 7 1 0"; do
  info=$("$TW_IO" $mode 2>&1)
  if python3 -c 'import json,sys; i=json.loads(sys.argv[1]); sys.exit(0 if i["local"]=="unix:" and i["peer"].startswith("unix:/tmp/tw-io.") else 1)' "$info" 2>/dev/null; then
    ok "tw_io_unbound_unix_local_${mode%% *}"
  else
    not_ok "tw_io_unbound_unix_local_${mode%% *}" "want local \"unix:\": $info"
  fi
done
tw_own_cgroup || { not_ok sock_cgroup "$TW_CG"; exit 1; }
tw_start --cgroup "$TW_CG" --trace-io --no-sweep --capture-bytes 256K --watch-literal "$marker" ||
  { not_ok sock_start "monitor failed to start"; exit 1; }

declare -A fam=([tcp4]=inet [tcp6]=inet6 [udp4]=inet [udp6]=inet6 [unix-stream]=unix [unix-dgram]=unix)
for kind in tcp4 tcp6 udp4 udp6 unix-stream unix-dgram; do
  case $kind in *udp*|unix-dgram) size=60000; type=dgram ;; *) size=200000; type=stream ;; esac
  for sc in write writev send sendto sendmsg sendmmsg; do
    off=$(rand_between 4096 $((size - n)))
    info=$("$TW_IO" sock $kind $sc $size "$off" 2>&1)
    # send() is sendto() on Linux
    want_sc=$sc; [ $sc = send ] && want_sc=sendto
    from_call=False
    [ $type = dgram ] && { [ $sc = sendto ] || [ $sc = sendmsg ]; } && from_call=True
    io_case "sock_${kind}_${sc}" sock_send "$info" "$off" \
      "e['syscall']=='$want_sc' and e['family']=='${fam[$kind]}' and e['sock_type']=='$type' and e['peer']==i['peer'] and e['local']==i['local'] and e['bytes']==$size and e['captured']==$size and e.get('peer_from_call', False) is $from_call"
  done
done

for kind in tcp4 tcp6 udp4 udp6 unix-stream unix-dgram; do
  info=$("$TW_IO" connect $kind 2>&1)
  pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$info" 2>/dev/null) ||
    { not_ok "connect_$kind" "test program failed: $info"; continue; }
  if ev=$(tw_wait_event "e['event']=='connect' and e['pid']==$pid") &&
     python3 - "$ev" "$info" "${fam[$kind]}" <<'PY'; then ok "connect_$kind"; else not_ok "connect_$kind" "${ev:-no connect event}"; fi
import json, sys
e, i, fam = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
assert e["fd"] == i["fd"] and e["peer"] == i["peer"] and e["family"] == fam, (e, i)
if fam != "unix":
    assert e["local"] == i["local"], (e["local"], i["local"])
PY
done

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok sock_clean_exit || not_ok sock_clean_exit "exit status $TW_RC"
tw_assert_no_leak sock_marker_never_printed "$marker" "$TW_TMP/events.jsonl" "$TW_TMP/stderr" "$TW_TMP/state"
