#!/usr/bin/env bash
# An encoded token split across two write() calls to a log file, and across
# two send() calls on one TCP connection (issue 12): the stream carry
# (user/sensors/capture.c, detector_tail_need) must hold the encoded run in
# progress at the end of the first capture, not only a raw token's worth,
# so that the second capture decodes the run whole. Real processes write
# the two halves with separate syscalls; each verdict says the decoding
# that revealed it, and each token is revoked as for a plain sighting.
# The encodings: a \u-escaped token in a JSON string and one made of HTML
# entities (runs 5-6 times the token), base64 of an env file that holds
# it; and a fully percent-encoded token, whose run (3 times a 44-byte
# token) the raw carry already held. A base64 run of 3 KB before its token
# asks for more carry than the 1 KiB stream tail: the cut is counted
# (carry_cut) and the cut carry, mid-run, still decodes.
# The negative: the same split shapes without a token raise nothing.
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input     # the log files hold tokens on purpose
mkdir -p "$LEAKS"
TOKENS=()
trap 'tw_stop; tw_tmp_done' EXIT

tw_sink aud && AUD_PORT=$TW_SINK_PORT || exit 1
tw_sink wrong && WRONG_PORT=$TW_SINK_PORT || exit 1

mint() { tw_mint "$LEDGER" "http://127.0.0.1:$AUD_PORT" "$1"; } # TASK: prints "ID TOKEN"
verdict_decoded() { # NAME ID CHAIN CLASS ACTION
  local ev got
  if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$2'"); then
    got=$(python3 -c "import json,sys; e=json.loads(sys.argv[1]); print(e.get('decoded'), e['class'], e['action'])" "$ev")
    [ "$got" = "$3 $4 $5" ] && ok "$1" || not_ok "$1" "want $3 $4 $5, got $got"
  else
    not_ok "$1" "no verdict for $2"
  fi
}
status_of() { tw_ledger_status "$LEDGER" "$1"; }
expect_status() { tw_expect_status "$1" "$LEDGER" "$2" "$3"; } # NAME ID STATUS

tw_start --ledger "$LEDGER" --no-sweep || { not_ok split_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

CASES="percent json html base64 longb64"
declare -A ID
TOKLIST=""
for c in $CASES sock_json sock_base64; do
  read -r ID[$c] tok <<<"$(mint "split-$c")"
  TOKLIST+="$tok "
done

# The writer: for each case one line (or one request) whose token is
# encoded, cut in the middle of the token's encoded bytes, and written with
# two syscalls on a fresh file (the first write is copied, the second read
# back from the page cache: two captures) or sent with two send() calls of
# more than 1 KiB each (not batched: two captures). The tokens come on
# stdin (a pipe, not captured: in a file or on argv each would be a
# sighting of its own); an argument of "neg" plants decoys of the same shape.
cat >"$TW_TMP/writer.py" <<'EOF'
import base64, json, os, random, socket, string, sys
src, leaks, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
alnum = string.ascii_lowercase + string.digits   # no rule's keyword is made of these
if src == "neg":
    toks = ["the-quick-brown-fox-jumps-over-the-lazy-dog-%d" % i for i in range(7)]
else:
    toks = sys.stdin.read().split()
pad = lambda n: "".join(random.choice(alnum) for _ in range(n))

def pct(s): return "".join("%%%02X" % b for b in s.encode())
def jsu(s): return "".join("\\u%04x" % ord(ch) for ch in s)
def ent(s): return "".join("&#%d;" % ord(ch) for ch in s)

def shapes(t):
    """(head, encoded token, tail): the cut falls inside the encoded token."""
    # base64 of an env file, as in a Kubernetes Secret: no JSON, so no
    # "eyJ" keyword opens a candidate that carries the run by chance
    env = "APP_NAME=api\nNOTE=%s\nAPI_TOKEN=%s\nMORE=%s\n" % (pad(300), t, pad(120))
    b = base64.b64encode(env.encode()).decode()
    at = env.index(t) * 4 // 3 + 4   # inside the token's base64
    # the same, 3 KB of base64 before the token: longer than the 1 KiB
    # stream tail, so the carry is cut mid-run (counted) and still decodes
    lenv = "APP_NAME=api\nNOTE=%s\nAPI_TOKEN=%s\n" % (pad(2400), t)
    lb = base64.b64encode(lenv.encode()).decode()
    lat = lenv.index(t) * 4 // 3 + 4
    return [
        ("GET /cb?next=", pct("token=" + t), " HTTP/1.1 302\n"),
        ('{"level":"error","msg":"', jsu(t), '"}\n'),
        ('<a href="/x?t=', ent(t), '">link</a>\n'),
        ("config: " + b[:at], b[at:at + 40], b[at + 40:] + "\n"),
        ("secret: " + lb[:lat], lb[lat:lat + 40], lb[lat + 40:] + "\n"),
    ]

def two_writes(path, line, cut):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, line[:cut].encode())
    os.write(fd, line[cut:].encode())
    os.close(fd)

for i in range(5):   # token i in shape i
    h, e, tl = shapes(toks[i])[i]
    # the cut near the end of the encoded token: its start is well back
    # in the first write
    two_writes(os.path.join(leaks, "split-%d-%s.log" % (i, src)), h + e + tl, len(h) + len(e) * 3 // 4)

# sockets: a POST whose body holds the encoded token, padded so that each
# half is one send of over 1 KiB
for k, t in ((1, toks[5]), (3, toks[6])):
    h, e, tl = shapes(t)[k]
    body = h + e + tl
    req = ("POST /cfg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + pad(1200) +
           "\r\nContent-Length: %d\r\n\r\n" % (len(body) + 1200) + body + pad(1200))
    cut = req.index(e) + len(e) * 3 // 4
    b = req.encode()
    assert cut > 1024 and len(b) - cut > 1024
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b[:cut])
    s.sendall(b[cut:])
    s.close()
EOF

printf '%s\n' "$TOKLIST" | python3 "$TW_TMP/writer.py" pos "$LEAKS" "$WRONG_PORT" || not_ok split_writer "the writer failed"

verdict_decoded split_percent_across_writes "${ID[percent]}" percent file_write revoke
verdict_decoded split_json_u_across_writes "${ID[json]}" json file_write revoke
verdict_decoded split_html_across_writes "${ID[html]}" html file_write revoke
verdict_decoded split_base64_blob_across_writes "${ID[base64]}" base64 file_write revoke
verdict_decoded split_long_base64_carry_cut_still_found "${ID[longb64]}" base64 file_write revoke
verdict_decoded split_json_u_across_sends "${ID[sock_json]}" json net_dest revoke
verdict_decoded split_base64_across_sends "${ID[sock_base64]}" base64 net_dest revoke
for c in $CASES sock_json sock_base64; do
  expect_status "split_${c}_revoked" "${ID[$c]}" revoked
done

# the long run asked for more carry than --stream-tail keeps: counted
# (other processes on the host may count too; the verdict above is this
# test's own proof that the cut carry still decodes)
tw_wait_status "s['sensors']['userspace']['carry_cut'] >= 1" >/dev/null \
  && ok split_long_run_carry_cut_counted || not_ok split_long_run_carry_cut_counted "sensors.userspace.carry_cut stayed 0"

# --- negative: the same shapes and cuts with no token in them -------------
python3 "$TW_TMP/writer.py" neg "$LEAKS" "$WRONG_PORT" </dev/null &
NEG_PID=$!
wait $NEG_PID || not_ok split_neg_writer "the writer failed"
/bin/sh -c ': split-barrier'   # an exec the monitor handles after those
# (the monitor sees the whole host: only that writer's verdicts count)
tw_no_event_case split_negative_nothing_raised \
  "e.get('event')=='verdict' and e.get('pid')==$NEG_PID" \
  "e.get('event')=='exec' and 'split-barrier' in ' '.join(e.get('argv', []))"

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok split_clean_exit || not_ok split_clean_exit "exit $TW_RC"
# No output holds a token: raw or percent-encoded.
leaked=""
for t in $(tw_minted); do
  for f in "$t" "$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$t")"; do
    grep -rqF --exclude-dir=leak-input -- "$f" "$TW_TMP" && leaked="$leaked $(grep -rlF --exclude-dir=leak-input -- "$f" "$TW_TMP" | head -2)"
  done
done
[ -z "$leaked" ] && ok split_no_token_in_output || not_ok split_no_token_in_output "a token form in:$leaked"
