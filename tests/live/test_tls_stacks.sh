#!/usr/bin/env bash
# TLS plaintext from every stack agents use (issue 14), with real clients:
# python3 and curl (system libssl), node (its own OpenSSL, linked in), a Go
# net/http client built here (crypto/tls), gnutls-cli (GnuTLS), and python3
# on a copy of libssl inside another mount namespace. For each, a Bearer
# token sent to a wrong destination is net_dest with the right peer and
# SNI, and revoked; the same kind of token to its audience is use and
# nothing else. Then the bad input: a "libssl" without the functions, a
# probed binary deleted and replaced, thousands of short-lived processes.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
TOKENS=()
PIDS=()
SNI=api.tokenward.test
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  tw_stop; tw_leave_cgroup; tw_tmp_done
}
trap cleanup EXIT

# Only this test's processes: the attach counters below count its execs.
tw_own_cgroup || { not_ok tls_stacks_setup "no cgroup"; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TW_TMP/key.pem" -out "$TW_TMP/cert.pem" \
  -days 1 -subj "/CN=$SNI" 2>/dev/null || { not_ok tls_stacks_setup "openssl req failed"; exit 1; }
python3 -u - "$TW_TMP/cert.pem" "$TW_TMP/key.pem" >"$TW_TMP/port" 2>"$TW_TMP/srv.err" <<'PY' &
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1])
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True); t.settimeout(30); data = b""
        while b"\r\n\r\n" not in data:
            d = t.recv(65536)
            if not d: break
            data += d
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"); t.unwrap()
    except Exception as e:
        print("tls error:", e, file=sys.stderr)
    finally:
        c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PIDS+=($!)
tw_poll test -s "$TW_TMP/port" || { not_ok tls_stacks_setup "no TLS server: $(cat "$TW_TMP/srv.err")"; exit 1; }
PORT=$(head -1 "$TW_TMP/port")

# The Go client, built now from the standard library only, offline.
GOBIN=$TW_TMP/go/tls_go_client
mkdir -p "$TW_TMP/go"
if ! GOCACHE=$TW_TMP/go/cache GOPATH=$TW_TMP/go/path GOPROXY=off GOFLAGS= GO111MODULE=off \
     go build -o "$GOBIN" "$TW_ROOT/tests/progs/tls_go_client.go" 2>"$TW_TMP/go.err"; then
  not_ok tls_go_build "$(head -5 "$TW_TMP/go.err")"
fi
# ... and stripped (-s -w: no .symtab), found through .gopclntab.
GOSTRIP=$TW_TMP/go/tls_go_strip
[ -x "$GOBIN" ] && ! GOCACHE=$TW_TMP/go/cache GOPATH=$TW_TMP/go/path GOPROXY=off GOFLAGS= GO111MODULE=off \
     go build -ldflags='-s -w' -o "$GOSTRIP" "$TW_ROOT/tests/progs/tls_go_client.go" 2>>"$TW_TMP/go.err" &&
  not_ok tls_go_build_stripped "$(tail -3 "$TW_TMP/go.err")"
PY3=/usr/bin/python3
[ -x "$PY3" ] || PY3=$(command -v python3)

marker=$(tw_marker)
tw_start --ledger "$LEDGER" --no-sweep --trace-io --watch-literal "$marker" --cgroup "$TW_CG" ||
  { not_ok tls_stacks_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

tls() { # EXPR over t, the status's sensors.tls
  tw_wait_status "(lambda t: $1)(s['sensors']['tls'])" >/dev/null
}
tls_now() { # KEY: its value in the latest status
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sensors']['tls'][sys.argv[2]])" \
    "$TW_TMP/state/status.json" "$1"
}
if tls "any(p.endswith('/libssl.so.3') for p in t['probed']) and any('/libgnutls.so.30' in p for p in t['probed'])"; then
  ok tls_system_libraries_probed_at_start
else
  not_ok tls_system_libraries_probed_at_start "$(grep TLS "$TW_TMP/stderr")"
fi

mint() { # AUD: prints "ID TOKEN"
  local tok id
  tok=$("$TW" mint --ledger "$LEDGER" --task tls --aud "$1" 2>"$TW_TMP/mint.err") || return 1
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
  TOKENS+=("$tok"); tw_token_record "$tok"
  echo "$id $tok"
}
status_of() { "$TW" ledger show "$1" --json --ledger "$LEDGER" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
_status_is() { [ "$(status_of "$1")" = "$2" ]; }

# Clients take their header line on stdin, a FIFO here (pipes are not
# captured; argv and the environment are, by the exec sensor). A client
# connects only once the line has come, so the test can see its program
# probed first: the first run of a program new to the monitor may write
# before its maps are read (docs/SENSORS.md).
HOLD_PID=
hold() { # NAME CMD...: start CMD with stdin on a FIFO
  mkfifo "$TW_TMP/hold.$1"
  "${@:2}" <"$TW_TMP/hold.$1" >/dev/null 2>>"$TW_TMP/client.err" &
  HOLD_PID=$!
  PIDS+=($HOLD_PID)
  exec 8>"$TW_TMP/hold.$1"
}
release() { # LINE: send it, close, wait for the client
  printf '%s\n' "$1" >&8; exec 8>&-; wait "$HOLD_PID"
}
NHOLD=0

# client KIND HEADER: one HTTPS request carrying HEADER from the stack
# KIND; waits for it to finish.
client() {
  local lib before
  NHOLD=$((NHOLD + 1))
  case $1 in
    python3) printf '%s\n' "$2" | "$PY3" "$TW_ROOT/tests/progs/tls_py_client.py" "$PORT" ;;
    curl) printf '%s\n' "$2" | curl -sk --http1.1 --resolve "$SNI:$PORT:127.0.0.1" -H @- "https://$SNI:$PORT/" ;;
    gnutls) printf 'GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n' "$SNI" "$2" |
              gnutls-cli --insecure --sni-hostname "$SNI" -p "$PORT" 127.0.0.1 ;;
    node) hold $NHOLD node "$TW_ROOT/tests/progs/tls_node_client.js" "$PORT"
          tls "any(p.endswith('/node') for p in t['probed'])"; release "$2" ;;
    go) hold $NHOLD "$GOBIN" "$PORT"
        tls "any(p.endswith('/tls_go_client') for p in t['probed'])"; release "$2" ;;
    ns) # python3 on a copy of libssl bind-mounted in a mount namespace of its own
        lib=$("$PY3" -c 'import _ssl; print(_ssl.__file__)' | xargs ldd | awk '/libssl\.so/ {print $3}')
        cp "$lib" "$TW_TMP/libssl-copy.$NHOLD.so"
        before=$(tls_now files_attached)
        hold $NHOLD unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh \
          "$TW_TMP/libssl-copy.$NHOLD.so" "$lib" "$PY3" "$TW_ROOT/tests/progs/tls_py_client.py" "$PORT"
        tls "t['files_attached'] > $before"; release "$2" ;;
  esac >/dev/null 2>>"$TW_TMP/client.err"
}
declare -A COMM=([python3]=python3 [curl]=curl [node]=node [go]=tls_go_client [gnutls]=gnutls-cli [ns]=python3)

# verdict_is NAME ID CLASS ACTION COMM: the token's verdict, with the
# socket's peer and the SNI of its handshake.
verdict_is() {
  local ev
  if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$2' and e.get('dest')") &&
     python3 - "$ev" "$3" "$4" "$5" "127.0.0.1:$PORT" "$SNI" <<'PY'; then
import json, sys
e = json.loads(sys.argv[1]); want = sys.argv[2:]
got = [e.get("class"), e.get("action"), e.get("comm"), e.get("dest"), e.get("sni")]
if not got[2] or not got[2].startswith(want[2]): sys.exit("got %s" % got)
got[2] = want[2]
sys.exit(0 if got == want else "got %s" % got)
PY
    ok "$1"
  else
    not_ok "$1" "want $3/$4 from $5 to 127.0.0.1:$PORT sni $SNI, got: ${ev:-no verdict} $(cat "$TW_TMP/client.err")"
  fi
}

for kind in python3 curl node go gnutls ns; do
  [ "$kind" = go ] && [ ! -x "$GOBIN" ] && continue
  read -r ID TOK < <(mint "127.0.0.1:1")
  client "$kind" "Authorization: Bearer $TOK"
  verdict_is "tls_${kind}_bearer_elsewhere_is_net_dest" "$ID" net_dest revoke "${COMM[$kind]}"
  tw_poll _status_is "$ID" revoked && ok "tls_${kind}_net_dest_revoked" ||
    not_ok "tls_${kind}_net_dest_revoked" "ledger status $(status_of "$ID")"

  read -r ID TOK < <(mint "127.0.0.1:$PORT")
  client "$kind" "Authorization: Bearer $TOK"
  verdict_is "tls_${kind}_bearer_to_audience_is_use" "$ID" use record "${COMM[$kind]}"
  # and nothing else: barrier, a later send of the marker in the clear
  bpid=$(TW_MARKER=$marker python3 -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(os.environ["TW_MARKER"].encode() + b"\r\n"); s.close(); print(os.getpid())' "$PORT")
  tw_no_event_case "tls_${kind}_audience_only_use" \
    "e.get('event')=='verdict' and e.get('token_id')=='$ID' and e.get('class')!='use'" \
    "e['event']=='sock_send' and e['pid']==${bpid:-0} and e.get('literals')"
done

# A stripped Go binary: its crypto/tls.(*Conn).Write from Go's own table.
if [ -x "$GOSTRIP" ]; then
  read -r ID TOK < <(mint "127.0.0.1:1")
  hold strip "$GOSTRIP" "$PORT"
  tls "any(p.endswith('/tls_go_strip') for p in t['probed'])" ||
    not_ok tls_go_stripped_probed "$(grep 'TLS' "$TW_TMP/stderr" | tail -3)"
  release "Authorization: Bearer $TOK"
  verdict_is tls_go_stripped_bearer_elsewhere_is_net_dest "$ID" net_dest revoke tls_go_strip
fi

# ---- bad input ------------------------------------------------------------

# A file named libssl.so.3 that is some other library: one warning, however
# many processes map it, and the rest keeps running.
mkdir -p "$TW_TMP/fake"
cp "$(ldconfig -p | awk '/libz\.so\.1 / {print $NF; exit}')" "$TW_TMP/fake/libssl.so.3"
hold fake env LD_PRELOAD="$TW_TMP/fake/libssl.so.3" cat
tls "t['no_symbols'] >= 1"
exec 8>&-; wait "$HOLD_PID"
warns=$(grep -c "fake/libssl.so.3 defines none of" "$TW_TMP/stderr")
if [ "$warns" -eq 1 ] && kill -0 "$TW_PID" 2>/dev/null; then
  ok tls_library_without_functions_warned
else
  not_ok tls_library_without_functions_warned "$warns warnings; monitor $(kill -0 "$TW_PID" 2>/dev/null && echo running || echo gone)"
fi

# A probed binary deleted while probed: its probes go, cleanly; a new
# file at the same path is a new file, probed anew and captured.
if [ -x "$GOBIN" ]; then
  mkdir -p "$TW_TMP/gone"
  cp "$GOBIN" "$TW_TMP/gone/tls_go_gone"
  hold gone1 "$TW_TMP/gone/tls_go_gone" "$PORT"
  tls "any(p.endswith('/tls_go_gone') for p in t['probed'])"
  kill "$HOLD_PID"; exec 8>&-; wait "$HOLD_PID" 2>/dev/null
  rm -f "$TW_TMP/gone/tls_go_gone"
  if tls "t['files_dropped'] >= 1 and not any(p.endswith('/tls_go_gone') for p in t['probed'])" &&
     kill -0 "$TW_PID" 2>/dev/null; then
    ok tls_deleted_binary_dropped
  else
    not_ok tls_deleted_binary_dropped "$(grep 'TLS' "$TW_TMP/stderr" | tail -3)"
  fi
  cp "$GOBIN" "$TW_TMP/gone/tls_go_gone"
  read -r ID TOK < <(mint "127.0.0.1:1")
  hold gone2 "$TW_TMP/gone/tls_go_gone" "$PORT"
  tls "any(p.endswith('/tls_go_gone') for p in t['probed'])"; release "Authorization: Bearer $TOK"
  verdict_is tls_replaced_binary_probed_anew "$ID" net_dest revoke tls_go_gone

  # Replaced while it runs, as a package upgrade does (a new file renamed
  # over the path): the running process keeps its probes and is captured;
  # once it has exited, the old file's probes are dropped cleanly, and the
  # new file is probed at its first run.
  dropped0=$(tls_now files_dropped)
  read -r ID TOK < <(mint "127.0.0.1:1")
  hold gone3 "$TW_TMP/gone/tls_go_gone" "$PORT"
  tls "any(p.endswith('/tls_go_gone') for p in t['probed'])"
  cp "$GOBIN" "$TW_TMP/gone/.tls_go_gone.new" && mv -f "$TW_TMP/gone/.tls_go_gone.new" "$TW_TMP/gone/tls_go_gone"
  release "Authorization: Bearer $TOK"
  verdict_is tls_replaced_while_running_still_captured "$ID" net_dest revoke tls_go_gone
  if tls "t['files_dropped'] > $dropped0" && kill -0 "$TW_PID" 2>/dev/null; then
    ok tls_replaced_while_running_dropped_after_exit
  else
    not_ok tls_replaced_while_running_dropped_after_exit "$(grep 'TLS' "$TW_TMP/stderr" | tail -3)"
  fi
fi

# Thousands of short-lived processes that map libssl: each exec costs a
# bounded, counted maps read or a counted skip, never a file examined again,
# and the kernel sends no new-file record for a file already examined.
ex0=$(tls_now files_examined); mr0=$(tls_now map_records); acc0=$(python3 -c "import json; t=json.load(open('$TW_TMP/state/status.json'))['sensors']['tls']; print(t['maps_scans']+t['scans_skipped']+t['vanished'])")
N=2000
for _ in $(seq $N); do "$PROGS/tls_client" 2>/dev/null; done
if tls "t['maps_scans'] + t['scans_skipped'] + t['vanished'] >= $acc0 + 4 * $N and t['files_examined'] <= $ex0 + 10 and t['map_records'] <= $mr0 + 10"; then
  ok tls_short_lived_processes_bounded
else
  not_ok tls_short_lived_processes_bounded "before: reads $acc0, examined $ex0, map records $mr0; now $(python3 -c "import json; t=json.load(open('$TW_TMP/state/status.json'))['sensors']['tls']; t.pop('probed'); print(t)")"
fi
python3 -c "import json; t=json.load(open('$TW_TMP/state/status.json'))['sensors']['tls']; t.pop('probed'); print('# sensors.tls:', t)"

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok tls_stacks_clean_exit || not_ok tls_stacks_clean_exit "exit $TW_RC"
leaked=""
for t in $(tw_minted); do
  f=$(grep -rlF -- "$t" "$TW_TMP" 2>/dev/null | head -3)
  [ -n "$f" ] && leaked="$leaked $f"
done
[ -z "$leaked" ] && ok tls_stacks_no_raw_token_in_artefacts || not_ok tls_stacks_no_raw_token_in_artefacts "found in:$leaked"
