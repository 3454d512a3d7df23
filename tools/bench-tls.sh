#!/usr/bin/env bash
# Cost of the TLS plaintext sensor: a client makes N small SSL_write calls
# (200 B each) over one TLS connection on loopback, timed with no monitor,
# with tokenward --no-tls, and with tokenward (uprobes on SSL_write and
# SSL_write_ex). Alternating rounds, medians.
#   tools/bench-tls.sh BUILD   (env: ROUNDS=5 N=20000)
set -euo pipefail
build=${1:-build}
TW=$build/tokenward
rounds=${ROUNDS:-5}
n=${N:-20000}
tmp=$(mktemp -d /tmp/tw-bench-tls.XXXXXX)
srv=
twp=
cleanup() { [ -n "$twp" ] && kill "$twp" 2>/dev/null; [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 -subj "/CN=bench" 2>/dev/null
python3 -u - "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/port" <<'PY' &
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8); print(s.getsockname()[1])
def drain(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
        while t.recv(65536): pass
    except Exception: pass
while True:
    c, _ = s.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()
PY
srv=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(head -1 "$tmp/port")

client() { # prints seconds for N SSL_write calls
  python3 - "$port" "$n" <<'PY'
import socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
line = b"x" * 199 + b"\n"
t0 = time.perf_counter()
for _ in range(n): t.sendall(line)
print(f"{time.perf_counter() - t0:.4f}")
t.close()
PY
}

start_tw() { # extra args
  rm -f "$tmp/ready"
  "$TW" run --events /dev/null --state-dir "$tmp/state" --ledger "$tmp/state/l.db" --no-sweep \
      --ready-file "$tmp/ready" "$@" >/dev/null 2>"$tmp/tw.err" &
  twp=$!
  for _ in $(seq 200); do [ -e "$tmp/ready" ] && return 0; sleep 0.05; done
  echo "tokenward did not start: $(cat "$tmp/tw.err")" >&2; exit 1
}
stop_tw() { kill "$twp"; wait "$twp" 2>/dev/null || true; twp=; }

declare -A res
modes=(none no-tls tls)
for r in $(seq 1 "$rounds"); do
  # rotate the order each round
  for k in 0 1 2; do
    m=${modes[$(( (k + r) % 3 ))]}
    case $m in
      none) t=$(client) ;;
      no-tls) start_tw --no-tls; t=$(client); stop_tw ;;
      tls) start_tw; t=$(client); stop_tw ;;
    esac
    res[$m]="${res[$m]:-} $t"
  done
  echo "round $r/$rounds done" >&2
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
none=$(echo "${res[none]}" | median)
echo "| mode | median s for $n SSL_write of 200 B | ns per call | vs no monitor |"
echo "|---|---:|---:|---:|"
for m in none no-tls tls; do
  med=$(echo "${res[$m]}" | median)
  awk -v m="$m" -v s="$med" -v n="$n" -v b="$none" 'BEGIN{printf "| %s | %.3f | %.0f | %+.1f%% |\n", m, s, s*1e9/n, (s/b-1)*100}'
done
echo
echo "Medians of $rounds rounds, order rotated each round. Command: ROUNDS=$rounds N=$n make bench-tls"
