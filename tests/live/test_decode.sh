#!/usr/bin/env bash
# Decoded views in the live monitor (user/detect/views.h), with a real
# process: it writes a JSON-escaped and a percent-encoded managed token to
# a log file and sends a third as the password of an HTTP Basic header
# over loopback. None is in the bytes as a bare token; each verdict says
# the decoding that revealed it, and the token is revoked as for a plain
# sighting. The negative: decoded runs that hold no token raise nothing.
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input     # the log file holds tokens on purpose
mkdir -p "$LEAKS"
TOKENS=()
trap 'tw_stop; tw_tmp_done' EXIT

tw_sink aud && AUD_PORT=$TW_SINK_PORT || exit 1
tw_sink wrong && WRONG_PORT=$TW_SINK_PORT || exit 1

mint() { tw_mint "$LEDGER" "http://127.0.0.1:$AUD_PORT" "$1"; } # TASK: prints "ID TOKEN"
verdict_decoded() { # NAME ID CHAIN CLASS ACTION
  local ev
  if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$2'"); then
    if python3 -c "import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if (e.get('decoded'), e['class'], e['action']) == ('$3', '$4', '$5') else 1)" "$ev"; then
      ok "$1"
    else
      not_ok "$1" "want $3 $4/$5, got $(python3 -c "import json,sys; e=json.loads(sys.argv[1]); print(e.get('decoded'), e['class'], e['action'])" "$ev")"
    fi
  else
    not_ok "$1" "no verdict for $2"
  fi
}
status_of() { tw_ledger_status "$LEDGER" "$1"; }
expect_status() { tw_expect_status "$1" "$LEDGER" "$2" "$3"; } # NAME ID STATUS

tw_start --ledger "$LEDGER" --no-sweep || { not_ok decode_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

read -r ID_J TOK_J <<<"$(mint decode-json)"
read -r ID_P TOK_P <<<"$(mint decode-percent)"
read -r ID_B TOK_B <<<"$(mint decode-basic)"

# The writer gets its tokens on stdin (a pipe, not captured): on argv or
# in its environment each would be an exec sighting of its own.
printf '%s\n%s\n%s\n' "$TOK_J" "$TOK_P" "$TOK_B" | python3 -c '
import base64, json, socket, sys
tj, tp, tb = (sys.stdin.readline().strip() for _ in range(3))
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"level": "error", "msg": "failed\n" + tj}) + "\n")
    f.flush()
    f.write("GET /cb?next=token%3D" + tp + " HTTP/1.1 302\n")
    f.flush()
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
s.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic " +
           base64.b64encode(("git:" + tb).encode()).decode() + "\r\n\r\n").encode())
s.close()
' "$LEAKS/app.log" "$WRONG_PORT" || not_ok decode_writer "the writer failed"

verdict_decoded decode_json_escaped_file_write "$ID_J" json file_write revoke
verdict_decoded decode_percent_encoded_file_write "$ID_P" percent file_write revoke
verdict_decoded decode_basic_header_net_dest "$ID_B" "base64>http-basic" net_dest revoke
expect_status decode_json_escaped_revoked "$ID_J" revoked
expect_status decode_basic_header_revoked "$ID_B" revoked

# --- negative: decoded runs with no token in them ---------------------------
python3 -c '
import base64, json, socket, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"msg": "retry\nlater \"soon\""}) + "\n")
    f.write("GET /search?q=%22hello%20world%22 HTTP/1.1\n")
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
s.sendall(("GET / HTTP/1.1\r\nAuthorization: Basic " +
           base64.b64encode(b"alice:correct-horse-battery-staple").decode() + "\r\n\r\n").encode())
s.close()
' "$LEAKS/app.log" "$WRONG_PORT" &
NEG_PID=$!
wait $NEG_PID
/bin/sh -c ': decode-barrier'   # an exec the monitor handles after those
# (the monitor sees the whole host: only that writer's verdicts count)
tw_no_event_case decode_negative_nothing_raised \
  "e.get('event')=='verdict' and e.get('pid')==$NEG_PID" \
  "e.get('event')=='exec' and 'decode-barrier' in ' '.join(e.get('argv', []))"

if tw_wait_status "s['detection']['decoded_views']['findings'] >= 3 and s['detection']['decoded_views']['views'] >= 6 and s['detection']['decode_budget_hits'] == 0" >/dev/null; then
  ok decode_counted_in_status
else
  not_ok decode_counted_in_status "$(grep -o '"decoded_views":{[^}]*}' "$TW_TMP/state/status.json")"
fi

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok decode_clean_exit || not_ok decode_clean_exit "exit $TW_RC"
# No output holds a token: raw, percent-encoded, or the Basic credential's base64.
leaked=""
for t in $(tw_minted); do
  for f in "$t" "$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$t")" \
           "$(printf 'git:%s' "$t" | base64 -w0 | cut -c9-40)"; do
    grep -rqF --exclude-dir=leak-input -- "$f" "$TW_TMP" && leaked="$leaked $(grep -rlF --exclude-dir=leak-input -- "$f" "$TW_TMP" | head -2)"
  done
done
[ -z "$leaked" ] && ok decode_no_token_in_output || not_ok decode_no_token_in_output "a token form in:$leaked"
