#!/usr/bin/env bash
# TLS plaintext: what a process hands to OpenSSL's SSL_write is captured on
# its socket (uprobes on libssl), so a token inside HTTPS is seen and judged
# by where that socket goes. Real curl, a real TLS server, real OpenSSL.
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
TOKENS=()
SRV_PID=
trap '[ -n "$SRV_PID" ] && kill $SRV_PID 2>/dev/null; tw_stop; tw_tmp_done' EXIT

# A TLS server with a certificate made now.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TW_TMP/key.pem" -out "$TW_TMP/cert.pem" \
  -days 1 -subj "/CN=api.tokenward.test" 2>/dev/null || { not_ok tls_setup "openssl req failed"; exit 1; }
python3 -u - "$TW_TMP/cert.pem" "$TW_TMP/key.pem" >"$TW_TMP/port" 2>"$TW_TMP/srv.err" <<'PY' &
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16); print(s.getsockname()[1])
while True:
    c, _ = s.accept()
    try:
        t = ctx.wrap_socket(c, server_side=True); t.recv(65536)
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"); t.close()
    except Exception as e:
        print("tls error:", e, file=sys.stderr)
PY
SRV_PID=$!
tw_poll test -s "$TW_TMP/port" || { not_ok tls_setup "the TLS server did not start: $(cat "$TW_TMP/srv.err")"; exit 1; }
PORT=$(head -1 "$TW_TMP/port")

marker=$(tw_marker)
tw_start --ledger "$LEDGER" --no-sweep --trace-io --watch-literal "$marker" ||
  { not_ok tls_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }
grep -q "TLS plaintext capture off" "$TW_TMP/stderr" && not_ok tls_attached "$(grep TLS "$TW_TMP/stderr")" || ok tls_attached

# Headers go to curl on a pipe (not captured), never in argv or a file.
https_get() { printf '%s\n' "$1" | curl -sk --http1.1 -H @- "https://127.0.0.1:$PORT/" >/dev/null; }

https_get "X-Marker: $marker"
if tw_wait_event "e['event']=='sock_send' and e['syscall']=='SSL_write' and e['comm']=='curl' and e['peer']=='127.0.0.1:$PORT' and e.get('literals')" >/dev/null; then
  ok tls_plaintext_captured_with_peer
else
  not_ok tls_plaintext_captured_with_peer "no SSL_write capture holding the marker"
fi
# Regression (issue 14): a TLS stack whose BIO sends by sendmmsg. The
# sendmmsg program took the thread's plaintext note and never captured it.
for mode in send sendmmsg; do
  TW_HEADER="X-Marker: $marker" "$PROGS/tls_client" "$PORT" $mode 2>"$TW_TMP/client.err" &
  cpid=$!
  if wait $cpid &&
     tw_wait_event "e['event']=='sock_send' and e['syscall']=='SSL_write' and e['pid']==$cpid and e['peer']=='127.0.0.1:$PORT' and e.get('literals')" >/dev/null; then
    ok "tls_plaintext_behind_$mode"
  else
    not_ok "tls_plaintext_behind_$mode" "no SSL_write capture with the marker: $(cat "$TW_TMP/client.err")"
  fi
done
# The ciphertext on the same socket does not hold it.
# The barrier: after curl is done, another process sends the marker in
# the clear (a raw send, the same path as curl's ciphertext) to the server.
bpid=$(TW_MARKER=$marker python3 -c '
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(os.environ["TW_MARKER"].encode() + b"\r\n"); s.close(); print(os.getpid())' "$PORT")
tw_no_event_case tls_ciphertext_is_not_plaintext \
  "e['event']=='sock_send' and e['syscall']!='SSL_write' and e['comm']=='curl' and e.get('literals')" \
  "e['event']=='sock_send' and e['pid']==${bpid:-0} and e.get('literals')"

mint() { # AUD: prints "ID TOKEN"
  local tok id
  tok=$("$TW" mint --ledger "$LEDGER" --task tls --aud "$1" 2>"$TW_TMP/mint.err") || return 1
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
  TOKENS+=("$tok"); tw_token_record "$tok"
  echo "$id $tok"
}
verdict() { # NAME ID CLASS ACTION
  local ev
  if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$2'") &&
     python3 -c "import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if (e['class'],e['action'],e['comm'])==('$3','$4','curl') else 1)" "$ev"; then
    ok "$1"
  else
    not_ok "$1" "want $3/$4 from curl, got: ${ev:-no verdict}"
  fi
}

read -r ID TOK < <(mint "127.0.0.1:$PORT")
https_get "Authorization: Bearer $TOK"
verdict tls_bearer_to_audience_is_use "$ID" use record

read -r ID TOK < <(mint "127.0.0.1:1")
https_get "Authorization: Bearer $TOK"
verdict tls_bearer_elsewhere_is_net_dest "$ID" net_dest revoke

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok tls_clean_exit || not_ok tls_clean_exit "exit $TW_RC"
leaked=""
for t in $(tw_minted); do
  f=$(grep -rlF -- "$t" "$TW_TMP" 2>/dev/null | head -3)
  [ -n "$f" ] && leaked="$leaked $f"
done
[ -z "$leaked" ] && ok tls_no_raw_token_in_artefacts || not_ok tls_no_raw_token_in_artefacts "found in:$leaked"
