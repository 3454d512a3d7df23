#!/usr/bin/env bash
# How often the first run of a TLS program new to the monitor is missed
# (docs/SENSORS.md "The first run of a program new to the monitor"): each
# trial runs a client on a file no process has mapped before (a fresh copy
# of libssl for curl and python3, of the node binary for node), which
# sends one HTTPS request with a marker header straight away. Each trial
# is caught (the monitor reports the marker in a TLS plaintext capture of
# that process), counted (not caught, but sensors.drops.tls_unprobed grew:
# the miss is known) or silent (neither). Prints the three per client.
# The monitor watches a cgroup of the script's own, so the counter counts
# only its clients.
# FRESH=0 runs the control: the same clients on the files already probed
# (the system libssl, /usr/bin/node), which must be captured every time.
#   tools/bench/tls-first-run.sh BUILD   (env: TRIALS=10 CLIENTS="curl python3 node go" FRESH=1)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
trials=${TRIALS:-10}
clients=(${CLIENTS:-curl python3 node go})
tmp=$(mktemp -d /tmp/tw-first-run.XXXXXX)
srv= mon= cg= cghome=
cleanup() {
  [ -n "$mon" ] && kill "$mon" 2>/dev/null; [ -n "$srv" ] && kill "$srv" 2>/dev/null
  if [ -n "$cg" ]; then echo $$ >"$cghome/cgroup.procs"; rmdir "$cg" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# a cgroup of our own: the monitor counts only our clients' misses
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
cghome=$cgroot$(sed -n 's/^0:://p' /proc/self/cgroup)
cg=$cgroot/tw-first-run.$$
mkdir "$cg" && echo $$ >"$cg/cgroup.procs"
if [[ " ${clients[*]} " == *" go "* ]]; then
  GOCACHE=$tmp/gocache GOPATH=$tmp/gopath GOPROXY=off GOFLAGS= GO111MODULE=off \
    go build -o "$tmp/tls_go_client" "$root/tests/progs/tls_go_client.go"
fi

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
  -subj /CN=api.tokenward.test 2>/dev/null
python3 -u - "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/port" <<'PY' &
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1])
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True); t.settimeout(10); d = b""
        while b"\r\n\r\n" not in d:
            x = t.recv(65536)
            if not x: break
            d += x
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"); t.unwrap()
    except Exception: pass
    finally: c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
srv=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(head -1 "$tmp/port")
marker="twmark$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')"
"$build/tokenward" run --events "$tmp/events.jsonl" --state-dir "$tmp/state" --ledger "$tmp/l.db" \
  --no-sweep --trace-io --watch-literal "$marker" --cgroup "$cg" --ready-file "$tmp/ready" \
  >/dev/null 2>"$tmp/mon.err" &
mon=$!
for _ in $(seq 600); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
[ -e "$tmp/ready" ] || { echo "monitor did not start: $(tail -3 "$tmp/mon.err")" >&2; exit 1; }
lib=$(ldd "$(command -v curl)" | awk '/libssl\.so/ {print $3}')
if [ "${FRESH:-1}" = 0 ]; then # the control's files are probed before its trials
  for c in "${clients[@]}"; do
    case $c in
      node) name=/node; echo 'X-Warm: 1' | node "$root/tests/progs/tls_node_client.js" "$port" >/dev/null || true ;;
      go) name=/tls_go_client; echo 'X-Warm: 1' | "$tmp/tls_go_client" "$port" >/dev/null || true ;;
      *) continue ;;
    esac
    python3 "$root/tests/live/wait_status.py" "$tmp/state/status.json" \
      "any(p.endswith('$name') for p in s['sensors']['tls']['probed'])" 30 >/dev/null ||
      echo "warning: $name is not probed before the control's trials" >&2
  done
fi

hit() { # PID: the marker in a TLS capture of PID, within 5 s of the client's end
  local end=$((SECONDS + 5))
  while [ $SECONDS -lt $end ]; do
    grep -q "\"pid\":$1,.*\"syscall\":\"\(SSL_write\|crypto/tls\).*\"index\":0" "$tmp/events.jsonl" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
unprobed() { # drops.tls_unprobed in a status written from now on
  python3 "$root/tests/live/wait_status.py" "$tmp/state/status.json" True 10 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["sensors"]["drops"].get("tls_unprobed", 0))'
}
for c in "${clients[@]}"; do
  caught=0 counted=0 silent=0
  for i in $(seq "$trials"); do
    d=$tmp/$c.$i; mkdir -p "$d"
    if [ "${FRESH:-1}" = 0 ]; then
      ln -s "$lib" "$d/libssl.so.3"; ln -s /usr/bin/node "$d/node.real"; ln -s "$tmp/tls_go_client" "$d/go.real"
    fi
    before=$(unprobed)
    case $c in
      curl) [ -e "$d/libssl.so.3" ] || cp "$lib" "$d/libssl.so.3"
            printf 'X-Marker: %s\n' "$marker" | LD_LIBRARY_PATH=$d curl -sk --http1.1 -H @- \
              -o /dev/null "https://127.0.0.1:$port/" & ;;
      python3) [ -e "$d/libssl.so.3" ] || cp "$lib" "$d/libssl.so.3"
            printf 'X-Marker: %s\n' "$marker" | LD_LIBRARY_PATH=$d python3 \
              "$root/tests/progs/tls_py_client.py" "$port" >/dev/null & ;;
      node) if [ -e "$d/node.real" ]; then ln -s /usr/bin/node "$d/node"; else cp /usr/bin/node "$d/node"; fi
            printf 'X-Marker: %s\n' "$marker" | "$d/node" "$root/tests/progs/tls_node_client.js" "$port" >/dev/null & ;;
      go) if [ -e "$d/go.real" ]; then ln -s "$tmp/tls_go_client" "$d/tls_go_client"; else cp "$tmp/tls_go_client" "$d/tls_go_client"; fi
            printf 'X-Marker: %s\n' "$marker" | "$d/tls_go_client" "$port" >/dev/null & ;;
    esac
    pid=$!
    wait $pid || true
    if hit $pid; then
      caught=$((caught + 1))
    elif [ "$(unprobed)" -gt "$before" ]; then
      counted=$((counted + 1))
    else
      silent=$((silent + 1))
    fi
    rm -rf "$d"
  done
  echo "$c: first run caught $caught, counted $counted, silent $silent of $trials trials"
done
