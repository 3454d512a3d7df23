#!/usr/bin/env bash
# How often the first run of a TLS program new to the monitor is missed
# (docs/SENSORS.md "The first run of a program new to the monitor"): each
# trial runs a client on a file no process has mapped before (a fresh copy
# of libssl for curl and python3, of the node binary for node), which
# sends one HTTPS request with a marker header straight away. A trial is a
# hit when the monitor reports the marker in a TLS plaintext capture of
# that process. Prints hits per client.
# FRESH=0 runs the control: the same clients on the files already probed
# (the system libssl, /usr/bin/node), which must be captured every time.
#   tools/bench/tls-first-run.sh BUILD   (env: TRIALS=10 CLIENTS="curl python3 node" FRESH=1)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
trials=${TRIALS:-10}
clients=(${CLIENTS:-curl python3 node})
tmp=$(mktemp -d /tmp/tw-first-run.XXXXXX)
srv= mon=
cleanup() { [ -n "$mon" ] && kill "$mon" 2>/dev/null; [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

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
  --no-sweep --trace-io --watch-literal "$marker" --ready-file "$tmp/ready" >/dev/null 2>"$tmp/mon.err" &
mon=$!
for _ in $(seq 600); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
[ -e "$tmp/ready" ] || { echo "monitor did not start: $(tail -3 "$tmp/mon.err")" >&2; exit 1; }
lib=$(ldd "$(command -v curl)" | awk '/libssl\.so/ {print $3}')

hit() { # PID: the marker in a TLS capture of PID, within 5 s of the client's end
  local end=$((SECONDS + 5))
  while [ $SECONDS -lt $end ]; do
    grep -q "\"pid\":$1,.*\"syscall\":\"SSL_write.*\"index\":0" "$tmp/events.jsonl" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
for c in "${clients[@]}"; do
  hits=0
  for i in $(seq "$trials"); do
    d=$tmp/$c.$i; mkdir -p "$d"
    if [ "${FRESH:-1}" = 0 ]; then ln -s "$lib" "$d/libssl.so.3"; ln -s /usr/bin/node "$d/node.real"; fi
    case $c in
      curl) [ -e "$d/libssl.so.3" ] || cp "$lib" "$d/libssl.so.3"
            printf 'X-Marker: %s\n' "$marker" | LD_LIBRARY_PATH=$d curl -sk --http1.1 -H @- \
              -o /dev/null "https://127.0.0.1:$port/" & ;;
      python3) [ -e "$d/libssl.so.3" ] || cp "$lib" "$d/libssl.so.3"
            printf 'X-Marker: %s\n' "$marker" | LD_LIBRARY_PATH=$d python3 \
              "$root/tests/progs/tls_py_client.py" "$port" >/dev/null & ;;
      node) if [ -e "$d/node.real" ]; then ln -s /usr/bin/node "$d/node"; else cp /usr/bin/node "$d/node"; fi
            printf 'X-Marker: %s\n' "$marker" | "$d/node" "$root/tests/progs/tls_node_client.js" "$port" >/dev/null & ;;
    esac
    pid=$!
    wait $pid || true
    hit $pid && hits=$((hits + 1))
    rm -rf "$d"
  done
  echo "$c: first run captured in $hits of $trials trials"
done
