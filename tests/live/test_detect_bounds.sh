#!/usr/bin/env bash
# The detector's bounds in the live pipeline (issue 13, defects 1 and 9),
# with real writes:
#  - a 27 KB JWT that `ledger register` took, written in one write(), is
#    judged as the managed token it is;
#  - a 64 KiB JWT in a write longer than --capture-bytes is cut by the
#    capture window: no verdict with a wrong hash, the cut counted in
#    status (detection.matches_cut_short); with --capture-bytes 128K it
#    is judged managed;
#  - a JWT split over two writes is carried across the seam only as far
#    as --stream-tail: with the default (1 KiB) the cut carry is counted
#    (sensors.userspace.carry_cut); with --stream-tail 64K it is judged;
#  - a catastrophic custom rule's abandoned searches are counted in
#    status (detection.regex_limit_hits, rules_suspended).
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input     # files this test leaks tokens into on purpose
RULES=$TW_TMP/rules
mkdir -p "$LEAKS" "$RULES"
TOKENS=()
cat >"$RULES/evil.yaml" <<'Y'
rules:
  - id: evil
    name: catastrophic backtracking
    pattern: '((?:a|aa)+)b$'
    keywords: [aa]
    severity: low
    max_len: 4096
Y

# bigjwt N: a JWT of exactly N bytes.
bigjwt() {
  python3 - "$1" <<'PY'
import base64, json, os, secrets, sys
n = int(sys.argv[1])
b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
h = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
for sb in (32, 33, 34, 35):
    s = b64(os.urandom(sb))
    p = n - len(h) - len(s) - 2
    if p % 4 != 1:
        break
m = p * 3 // 4
head = '{"sub":"agent-%s","jti":"%s","exp":1900000000,"pad":"' % (secrets.token_hex(4), secrets.token_hex(16))
body = (head + secrets.token_hex(m)[: m - len(head) - 2] + '"}').encode()
t = h + "." + b64(body) + "." + s
assert len(t) == n
print(t)
PY
}
# register N: prints "ID TOKEN" for a fresh N-byte JWT in the ledger.
register() {
  local t id
  t=$(bigjwt "$1")
  TOKENS+=("$t")
  printf '%s' "$t" | "$TW" ledger register --ledger "$LEDGER" --issuer ext --task "big-$1" \
    --aud https://api.test --ttl 3600 >/dev/null 2>"$TW_TMP/reg.err" || { cat "$TW_TMP/reg.err" >&2; return 1; }
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/reg.err" | head -1)
  echo "$id $t"
}
# put PATH < PIECES: the NUL-separated pieces of standard input, one
# write() each. Tokens travel on pipes, which are not captured, never in
# argv (an exec's argv is captured, and cut at 16 KiB).
put() {
  python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
for b in sys.stdin.buffer.read().split(b"\0"):
    while b:
        b = b[os.write(fd, b):]
os.close(fd)' "$1"
}
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
managed() { # NAME ID TOKEN: a verdict on ID, with the token's own hash
  local ev
  if ev=$(tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$2'"); then
    python3 -c "import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e['sha256']=='$(sha "$3")' and e['rule']=='jwt' else 1)" "$ev" \
      && ok "$1" || not_ok "$1" "verdict with the wrong hash or rule: $ev"
  else
    not_ok "$1" "no verdict for $2"
  fi
}
# barrier NAME: a marker token written after the case; its verdict comes
# after anything the case could have caused.
barrier_expr() {
  local t; t=$(python3 "$TW_ROOT/tests/cli/tokgen.py" ghp); TOKENS+=("$t")
  printf 'marker %s\n' "$t" | put "$LEAKS/barrier-$1.log"
  echo "e.get('event')=='verdict' and e.get('sha256')=='$(sha "$t")'"
}

read -r ID27 TOK27 < <(register 27000) || { not_ok detect_bounds_register "register failed"; exit 1; }
read -r ID64 TOK64 < <(register 65535) || { not_ok detect_bounds_register "register failed"; exit 1; }
read -r IDS TOKS < <(register 20000) || { not_ok detect_bounds_register "register failed"; exit 1; }

# --- --capture-bytes 64K (the default is 4M), --stream-tail 1K (default) --
tw_start --ledger "$LEDGER" --no-sweep --capture-bytes 64K || { not_ok detect_bounds_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }
printf 'id_token=%s\n' "$TOK27" | put "$LEAKS/big27.log"
managed live_large_jwt_27k_managed "$ID27" "$TOK27"

# 65545 bytes in one write: the capture window holds 65536 of them.
printf 'id_token=%s\n' "$TOK64" | put "$LEAKS/cut.log"
tw_no_event_case live_cut_jwt_not_judged_with_wrong_hash \
  "e.get('event')=='verdict' and e.get('rule')=='jwt' and str(e.get('path','')).endswith('/cut.log')" "$(barrier_expr cut)"
tw_wait_status "s['detection']['matches_cut_short'] >= 1" >/dev/null \
  && ok live_cut_jwt_counted || not_ok live_cut_jwt_counted "detection.matches_cut_short stayed 0"

# Split over two writes, 5 KB in the first: more than a 1 KiB carry holds.
printf 'id_token=%s\0%s\n' "${TOKS:0:5000}" "${TOKS:5000}" | put "$LEAKS/split.log"
tw_wait_status "s['sensors']['userspace']['carry_cut'] >= 1" >/dev/null \
  && ok live_split_jwt_carry_cut_counted || not_ok live_split_jwt_carry_cut_counted "sensors.userspace.carry_cut stayed 0"
tw_stop

# --- room for them: --capture-bytes 128K, --stream-tail 64K ---------------
rm -f "$TW_TMP/events.jsonl"
tw_start --ledger "$LEDGER" --no-sweep --capture-bytes 131072 --stream-tail 65536 --rules "$RULES" \
  || { not_ok detect_bounds_start_wide "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }
printf 'id_token=%s\n' "$TOK64" | put "$LEAKS/big64.log"
managed live_large_jwt_64k_managed_with_window "$ID64" "$TOK64"
printf 'id_token=%s\0%s\n' "${TOKS:0:5000}" "${TOKS:5000}" | put "$LEAKS/split2.log"
managed live_split_jwt_managed_with_carry "$IDS" "$TOKS"

# A catastrophic custom rule: each buffer costs a few limit hits, counted.
python3 -c "import sys; sys.stdout.write(''.join('b' if i % 2000 == 1999 else 'a' for i in range(96 * 1024)))" | put "$LEAKS/aaa.log"
tw_wait_status "s['detection']['regex_limit_hits'] >= 1 and s['detection']['rules_suspended'] >= 1 and s['detection']['keyword_hits_skipped'] > 1000" >/dev/null \
  && ok live_catastrophic_rule_counted || not_ok live_catastrophic_rule_counted "no limit hits in detection status"
"$TW" status --state-dir "$TW_TMP/state" >"$TW_TMP/status.txt" 2>&1
sed -n '/^detection:/,/^[a-z]/p' "$TW_TMP/status.txt" >"$TW_TMP/status.det"
grep -Eq "^  regex_limit_hits +[1-9]" "$TW_TMP/status.det" && grep -Eq "^  matches_cut_short +[0-9]" "$TW_TMP/status.det" \
  && ok live_status_shows_coverage || not_ok live_status_shows_coverage "$(head -c 600 "$TW_TMP/status.det")"
tw_stop

# --- no raw token in what the monitor wrote --------------------------------
leak=
for t in $(tw_minted); do
  f=$(grep -rlF --exclude-dir=leak-input -- "$t" "$TW_TMP" 2>/dev/null | head -1)
  [ -n "$f" ] && { leak=$f; break; }
done
[ -z "$leak" ] && ok live_detect_bounds_no_raw_token || not_ok live_detect_bounds_no_raw_token "raw token in $leak"
