#!/usr/bin/env bash
# The first run of a TLS library new to the monitor (issue 14): a client
# run at once on a file no process has mapped before (a fresh copy of
# libssl behind curl and python3, a fresh copy of a Go client and of the
# node binary) sends one HTTPS request carrying a marker straight away.
# Every trial must end one of two ways, never a third: the plaintext is
# captured (an SSL_write / crypto/tls.Write capture of that process with
# the marker), or the miss is counted (drops.tls_unprobed grew). A control
# on the files already probed must be captured and count nothing.
. "$(dirname "$0")/lib.sh"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  tw_stop; tw_leave_cgroup; tw_tmp_done
}
trap cleanup EXIT
TRIALS=${TW_FIRST_RUN_TRIALS:-6}

# Only this test's processes: the counter below counts its clients only.
tw_own_cgroup || { not_ok tls_first_run_setup "no cgroup"; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TW_TMP/key.pem" -out "$TW_TMP/cert.pem" \
  -days 1 -subj /CN=api.tokenward.test 2>/dev/null || { not_ok tls_first_run_setup "openssl req"; exit 1; }
python3 -u - "$TW_TMP/cert.pem" "$TW_TMP/key.pem" >"$TW_TMP/port" 2>"$TW_TMP/srv.err" <<'PY' &
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1])
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True); t.settimeout(30); d = b""
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
PIDS+=($!)
tw_poll test -s "$TW_TMP/port" || { not_ok tls_first_run_setup "no TLS server: $(cat "$TW_TMP/srv.err")"; exit 1; }
PORT=$(head -1 "$TW_TMP/port")

GOBIN=$TW_TMP/go/tls_go_client
mkdir -p "$TW_TMP/go"
GOCACHE=$TW_TMP/go/cache GOPATH=$TW_TMP/go/path GOPROXY=off GOFLAGS= GO111MODULE=off \
  go build -o "$GOBIN" "$TW_ROOT/tests/progs/tls_go_client.go" 2>"$TW_TMP/go.err" ||
  not_ok tls_first_run_go_build "$(head -5 "$TW_TMP/go.err")"
LIB=$(ldd "$(command -v curl)" | awk '/libssl\.so/ {print $3}')

marker=$(tw_marker)
tw_start --no-sweep --trace-io --watch-literal "$marker" --cgroup "$TW_CG" --metrics 127.0.0.1:0 ||
  { not_ok tls_first_run_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }
tw_wait_status "any(p.endswith('/libssl.so.3') for p in s['sensors']['tls']['probed'])" >/dev/null ||
  { not_ok tls_first_run_start "system libssl not probed"; exit 1; }

unprobed() { # drops.tls_unprobed in a status written from now on
  tw_wait_status "True" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sensors"]["drops"]["tls_unprobed"])'
}

# run KIND DIR FRESH: one client on a fresh copy (FRESH=1) or on the file
# already probed; prints its pid once it has finished.
run() {
  local d=$2
  mkdir -p "$d"
  case $1 in
    curl|python3) if [ "$3" = 1 ]; then cp "$LIB" "$d/libssl.so.3"; else ln -sf "$LIB" "$d/libssl.so.3"; fi ;;
    go) cp "$GOBIN" "$d/tls_go_client" ;;
    node) cp "$(command -v node)" "$d/node" ;;
  esac
  case $1 in
    curl) printf 'X-Marker: %s\n' "$marker" | LD_LIBRARY_PATH=$d curl -sk --http1.1 -H @- \
            -o /dev/null "https://127.0.0.1:$PORT/" & ;;
    python3) printf 'X-Marker: %s\n' "$marker" | LD_LIBRARY_PATH=$d python3 \
            "$TW_ROOT/tests/progs/tls_py_client.py" "$PORT" >/dev/null & ;;
    go) printf 'X-Marker: %s\n' "$marker" | "$d/tls_go_client" "$PORT" >/dev/null & ;;
    node) printf 'X-Marker: %s\n' "$marker" | "$d/node" "$TW_ROOT/tests/progs/tls_node_client.js" "$PORT" >/dev/null & ;;
  esac
  local pid=$!
  wait "$pid" 2>/dev/null
  echo "$pid"
}

# caught PID: its plaintext capture with the marker. Either it is in the
# events by the time a status written after the client's end says so
# (captures are in the stream before the next status), or it never came.
# Sets UNPROBED to that status's drops.tls_unprobed (counted in the
# kernel at the send, so already in it): the count after this trial and
# before the next, without waiting for another status.
caught() {
  local st
  st=$(tw_wait_status "True") || return 1
  UNPROBED=$(printf '%s' "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sensors"]["drops"]["tls_unprobed"])')
  python3 - "$TW_TMP/events.jsonl" "$1" <<'PY'
import json, sys
pid = int(sys.argv[2])
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("pid") == pid and e.get("event") == "sock_send" and e.get("literals") and \
       str(e.get("syscall", "")).startswith(("SSL_write", "crypto/tls", "gnutls")):
        sys.exit(0)
sys.exit(1)
PY
}

# trials KIND FRESH N: every trial caught or counted; prints the tally.
trials() {
  local kind=$1 fresh=$2 n=$3 i pid before got=0 counted=0 silent=0
  UNPROBED=$(unprobed)
  for i in $(seq "$n"); do
    before=$UNPROBED
    pid=$(run "$kind" "$TW_TMP/$kind.$fresh.$i" "$fresh")
    if caught "$pid"; then
      got=$((got + 1))
    elif [ "$UNPROBED" -gt "$before" ]; then
      counted=$((counted + 1))
    else
      silent=$((silent + 1))
    fi
    rm -rf "$TW_TMP/$kind.$fresh.$i"
  done
  echo "$got $counted $silent"
}

COUNTED=0
for kind in curl python3 go node; do
  [ "$kind" = go ] && [ ! -x "$GOBIN" ] && continue
  n=$TRIALS; [ "$kind" = node ] && n=$(( (TRIALS + 1) / 2 ))
  read -r got counted silent < <(trials "$kind" 1 "$n")
  COUNTED=$((COUNTED + counted))
  echo "# first run of a fresh $kind file: caught $got, counted $counted, silent $silent of $n"
  [ "$silent" -eq 0 ] && ok "tls_first_run_${kind}_caught_or_counted" ||
    not_ok "tls_first_run_${kind}_caught_or_counted" "$silent of $n trials missed silently (caught $got, counted $counted)"
done

# The count reaches the metrics endpoint too, as a loss cause.
ADDR=$(sed -n 's|.*metrics on http://\([0-9.:]*\)/metrics.*|\1|p' "$TW_TMP/stderr" | head -1)
_metric_has() {
  local v
  v=$(curl -sf "http://$ADDR/metrics" | sed -n 's/^tokenward_sensors_drops_total{cause="tls_unprobed"} //p')
  [ -n "$v" ] && [ "${v%.*}" -ge "$COUNTED" ]
}
if [ -n "$ADDR" ] && tw_poll _metric_has; then
  ok tls_first_run_counted_in_metrics
else
  not_ok tls_first_run_counted_in_metrics "want >= $COUNTED: $(curl -sf "http://$ADDR/metrics" | grep tls_unprobed)"
fi

# The control: the same clients on files already probed are captured, and
# nothing is counted as unprobed.
c0=$(unprobed)
bad=""
for kind in curl python3; do
  read -r got counted silent < <(trials "$kind" 0 2)
  [ "$got" -eq 2 ] || bad="$bad $kind:caught=$got"
done
c1=$(unprobed)
[ -z "$bad" ] && [ "$c1" -eq "$c0" ] && ok tls_first_run_probed_files_captured_not_counted ||
  not_ok tls_first_run_probed_files_captured_not_counted "$bad; tls_unprobed $c0 -> $c1"

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok tls_first_run_clean_exit || not_ok tls_first_run_clean_exit "exit $TW_RC"
