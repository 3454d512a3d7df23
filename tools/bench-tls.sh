#!/usr/bin/env bash
# Cost of the TLS plaintext sensor per write call: a client makes N writes
# of 200 B over one TLS connection on loopback through its library's own
# function (OpenSSL SSL_write, GnuTLS gnutls_record_send, Go
# crypto/tls.(*Conn).Write) and reports the CPU time (user + system) the
# loop took, with no monitor, with the floor (empty programs on tokenward's
# syscall hooks and empty entry uprobes on the same TLS functions), and with
# tokenward. CPU time, not wall time: on a shared 2-CPU machine the wall
# time is mostly waiting. Alternating rounds, medians.
#   tools/bench-tls.sh BUILD   (env: ROUNDS=5 N=20000 CLIENTS="openssl gnutls go")
set -euo pipefail
build=${1:-build}
TW=$build/tokenward
rounds=${ROUNDS:-5}
n=${N:-20000}
clients=(${CLIENTS:-openssl gnutls go})
tmp=$(mktemp -d /tmp/tw-bench-tls.XXXXXX)
srv=
mon=
cleanup() { [ -n "$mon" ] && kill "$mon" 2>/dev/null; [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
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

gobin=$tmp/tlsbench-go
GOCACHE=$tmp/gocache GOPATH=$tmp/gopath GOPROXY=off GOFLAGS= GO111MODULE=off \
  go build -o "$gobin" tools/bench/tlsbench.go
libssl=$(ldd "$build/bench/tlsbench" | awk '/libssl\.so/ {print $3}')
libgnutls=$(ldd "$build/bench/tlsbench" | awk '/libgnutls\.so/ {print $3}')

client() { # KIND COUNT: prints CPU seconds for COUNT writes
  case $1 in
    openssl|gnutls) "$build/bench/tlsbench" "$1" "$port" "$2" ;;
    go) "$gobin" "$port" "$2" ;;
  esac
}

wait_ready() { # FILE PID
  for _ in $(seq 400); do [ -e "$1" ] && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.05; done
  echo "monitor did not start: $(cat "$tmp/mon.err")" >&2; exit 1
}
start_mon() { # MODE
  rm -f "$tmp/ready"
  case $1 in
    floor) "$build/bench/floor" "$tmp/ready" "$libssl:SSL_write" "$libssl:SSL_write_ex" \
             "$libgnutls:gnutls_record_send" "$gobin:crypto/tls.(*Conn).Write" 2>"$tmp/mon.err" & ;;
    tokenward) "$TW" run --events /dev/null --state-dir "$tmp/state" --ledger "$tmp/state/l.db" \
                 --no-sweep --ready-file "$tmp/ready" >/dev/null 2>"$tmp/mon.err" & ;;
  esac
  mon=$!
  wait_ready "$tmp/ready" "$mon"
  if [ "$1" = tokenward ]; then
    # the Go binary is new to it: run it once and wait until it is probed
    client go 1 >/dev/null
    for _ in $(seq 200); do
      grep -q "tlsbench-go" "$tmp/state/status.json" 2>/dev/null && break; sleep 0.05
    done
  fi
}
stop_mon() { kill "$mon"; wait "$mon" 2>/dev/null || true; mon=; }

declare -A res
modes=(none floor tokenward)
for r in $(seq 1 "$rounds"); do
  for k in 0 1 2; do # the order rotates each round
    m=${modes[$(( (k + r) % 3 ))]}
    [ "$m" != none ] && start_mon "$m"
    client openssl 2000 >/dev/null # settle: the last mode's programs are detached
    for c in "${clients[@]}"; do
      res[$c.$m]="${res[$c.$m]:-} $(client "$c" "$n")"
    done
    [ "$m" != none ] && stop_mon
  done
  echo "round $r/$rounds done" >&2
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
echo "| client | none, CPU ns/call | floor | tokenward | floor cost | tokenward cost | tokenward / floor |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in "${clients[@]}"; do
  a=$(echo "${res[$c.none]}" | median)
  f=$(echo "${res[$c.floor]}" | median)
  t=$(echo "${res[$c.tokenward]}" | median)
  awk -v c="$c" -v a="$a" -v f="$f" -v t="$t" -v n="$n" 'BEGIN{
    an=a*1e9/n; fn=f*1e9/n; tn=t*1e9/n; fc=fn-an; tc=tn-an;
    printf "| %s | %.0f | %.0f | %.0f | %+.0f | %+.0f | %s |\n", c, an, fn, tn, fc, tc, (fc>0)?sprintf("%.2fx", tc/fc):"n/a" }'
done
echo
for c in "${clients[@]}"; do
  for m in "${modes[@]}"; do echo "raw $c $m:${res[$c.$m]}" >&2; done
done
echo "Medians of $rounds rounds of $n writes of 200 B each, order rotated each round."
echo "Command: flock /work/bench.lock make bench-tls   (ROUNDS=$rounds N=$n)"
