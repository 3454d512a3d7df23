#!/usr/bin/env bash
# `tokenward scan` at the detector's bounds (issue 13, defects 1 and 9):
# every JWT `ledger register` accepts (up to 64 KiB) is found whole and
# managed; a bound that may cost findings (a PCRE2 limit, a candidate
# longer than its rule's max_len) is said on stderr and in the output; a
# catastrophic custom rule finishes; hostile keyword-dense text gives up
# the token planted in it. Tokens are minted here; all artefacts are
# grepped for them at the end.
. "$(dirname "$0")/../live/lib.sh"
export TOKENWARD_LEDGER=$TW_TMP/state/ledger.db
D=$TW_TMP/leak-input   # leak-input*: written with tokens on purpose (the audit skips it)
mkdir -p "$D" "$TW_TMP/state"
chmod 700 "$TW_TMP/state"
TOKENS=$TW_TMP/leak-input-tokens
GEN="python3 $TW_ROOT/tests/cli/tokgen.py"

# bigjwt N: a JWT of exactly N bytes (header, padded claims, signature).
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
head = '{"sub":"agent-%s","jti":"%s","aud":"https://api.test","exp":1900000000,"pad":"' % (secrets.token_hex(4), secrets.token_hex(16))
body = (head + secrets.token_hex(m)[: m - len(head) - 2] + '"}').encode()
t = h + "." + b64(body) + "." + s
assert len(t) == n, (len(t), n)
print(t)
PY
}
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
expect_json() { # CASE FILE PYTHON_ASSERTION over f (the JSON lines)
  if python3 - "$2" "$3" <<'PY'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
  then ok "$1"; else not_ok "$1" "assertion failed: $3; got: $(head -c 400 "$2")"; fi
}

# --- large JWTs: registered, then found whole and managed ----------------
for n in 16500 27000 65535; do
  t=$(bigjwt "$n"); echo "$t" >>"$TOKENS"
  # the largest: 65535 bytes, all that register's 64 KiB of input holds
  # (no newline after it)
  if ! printf '%s' "$t" | "$TW" ledger register --issuer ext --task "big-$n" --aud https://api.test --ttl 600 \
      >"$TW_TMP/reg.out" 2>"$TW_TMP/reg.err"; then
    not_ok "register_jwt_$n" "$(head -c 300 "$TW_TMP/reg.err")"; continue
  fi
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/reg.out" "$TW_TMP/reg.err" | head -1 | cut -d: -f2)
  printf 'GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\nlog id_token=%s done\n' "$t" "$t" >"$D/big-$n.log"
  "$TW" scan --ledger "$TOKENWARD_LEDGER" --format json "$D/big-$n.log" >"$TW_TMP/big-$n.json" 2>"$TW_TMP/big-$n.err"
  expect_json "scan_large_jwt_${n}_managed" "$TW_TMP/big-$n.json" \
    "len(f) == 2 and all(o['rule'] == 'jwt' and o['managed'] and o['token_id'] == '$id' and o['length'] == $n and o['sha256'] == '$(sha "$t")' for o in f)"
  [ ! -s "$TW_TMP/big-$n.err" ] && ok "scan_large_jwt_${n}_complete" || not_ok "scan_large_jwt_${n}_complete" "$(head -c 300 "$TW_TMP/big-$n.err")"
done
# Across scan pieces: a 64 KiB JWT at every offset near a piece boundary.
t=$(bigjwt 65535); echo "$t" >>"$TOKENS"
printf '%s' "$t" | "$TW" ledger register --issuer ext --task big-pieces --aud https://api.test --ttl 600 >/dev/null 2>&1
python3 - "$D/pieces.log" "$t" <<'PY'
import sys
path, t = sys.argv[1], sys.argv[2]
with open(path, "w") as f:
    for k in range(6):   # tokens straddle the 1 MiB pieces at varied points
        f.write("x" * (1_000_000 - 40000 * k) + " " + t + "\n")
PY
"$TW" scan --ledger "$TOKENWARD_LEDGER" --chunk 1M --format json "$D/pieces.log" >"$TW_TMP/pieces.json" 2>"$TW_TMP/pieces.err"
expect_json scan_large_jwt_across_pieces "$TW_TMP/pieces.json" "len(f) == 6 and all(o['managed'] and o['length'] == 65535 and o['sha256'] == '$(sha "$t")' for o in f)"

# --- a candidate longer than the rule allows: counted and said -----------
t=$(bigjwt 80000); echo "$t" >>"$TOKENS"
printf 'id_token=%s\n' "$t" >"$D/toolong.log"
"$TW" scan --format json "$D/toolong.log" >"$TW_TMP/toolong.json" 2>"$TW_TMP/toolong.err"; rc=$?
expect_json scan_too_long_not_reported_cut "$TW_TMP/toolong.json" "len(f) == 1 and 'rule' not in f[0] and f[0]['coverage']['complete'] is False and f[0]['coverage']['matches_too_long'] >= 1"
[ $rc -eq 0 ] && grep -q "coverage: .*candidate.* longer than its rule's max_len; findings there may be missing" "$TW_TMP/toolong.err" \
  && ok scan_too_long_said_on_stderr || not_ok scan_too_long_said_on_stderr "exit $rc: $(head -c 300 "$TW_TMP/toolong.err")"
"$TW" scan --format sarif "$D/toolong.log" >"$TW_TMP/toolong.sarif" 2>/dev/null
python3 -c "
import json, sys
inv = json.load(open(sys.argv[1]))['runs'][0]['invocations'][0]
assert inv['properties']['coverage']['complete'] is False and inv['properties']['coverage']['matches_too_long'] >= 1
assert 'max_len' in inv['toolExecutionNotifications'][0]['message']['text']
" "$TW_TMP/toolong.sarif" && ok scan_too_long_in_sarif || not_ok scan_too_long_in_sarif "$(head -c 300 "$TW_TMP/toolong.sarif")"
"$TW" scan --stats "$D/toolong.log" >/dev/null 2>"$TW_TMP/stats.err"
grep -q "0 regex limit hits, [1-9][0-9]* too long, 0 rule suspensions, 0 keyword hits skipped" "$TW_TMP/stats.err" \
  && ok scan_stats_counts_bounds || not_ok scan_stats_counts_bounds "$(cat "$TW_TMP/stats.err")"

# --- a catastrophic custom rule: bounded, and the loss said --------------
mkdir -p "$TW_TMP/rules"
cat >"$TW_TMP/rules/evil.yaml" <<'Y'
rules:
  - id: evil
    name: catastrophic backtracking
    pattern: '((?:a|aa)+)b$'
    keywords: [aa]
    severity: low
    max_len: 4096
Y
python3 -c "import sys; sys.stdout.write(''.join('b' if i % 2000 == 1999 else 'a' for i in range(96 * 1024)))" >"$D/aaa.txt"
"$TW" scan --rules "$TW_TMP/rules" --format json "$D/aaa.txt" >"$TW_TMP/evil.json" 2>"$TW_TMP/evil.err"; rc=$?
expect_json scan_catastrophic_rule_bounded "$TW_TMP/evil.json" "len(f) == 1 and 1 <= f[0]['coverage']['regex_limit_hits'] <= 4 * 2 and f[0]['coverage']['rules_suspended'] >= 1 and f[0]['coverage']['keyword_hits_skipped'] > 90000"
[ $rc -eq 0 ] && grep -q "coverage: .*stopped at a PCRE2 limit.*sat out the rest of a buffer" "$TW_TMP/evil.err" \
  && ok scan_catastrophic_rule_said || not_ok scan_catastrophic_rule_said "exit $rc: $(head -c 300 "$TW_TMP/evil.err")"

# --- hostile keyword-dense text: the planted token is found --------------
ghp=$($GEN ghp); echo "$ghp" >>"$TOKENS"
python3 - "$D/hostile.log" "$ghp" <<'PY'
import sys
path, tok = sys.argv[1], sys.argv[2]
units = ["eyJ", "eyJ ", "xoxb-", "sk-proj-", "glpat-", "AKIA", "Authorization: Bearer ", "eyJhbGciOi.eyJzdWIiOi."]
with open(path, "w") as f:
    for u in units:
        f.write(u * (200000 // len(u)))
        f.write(" " + tok + " ")
PY
"$TW" scan --format json "$D/hostile.log" >"$TW_TMP/hostile.json" 2>"$TW_TMP/hostile.err"
expect_json scan_hostile_finds_planted "$TW_TMP/hostile.json" "[o['sha256'] for o in f if o.get('rule') == 'github-classic'] == ['$(sha "$ghp")'] * 8"
# No search gave up: the bound met is the 200 KB run of "eyJ", a JWT
# header longer than the rule's 64 KiB (said, as it should be); being
# base64-shaped too, it is decoded in 64 KiB pieces (said as well).
expect_json scan_hostile_no_search_lost "$TW_TMP/hostile.json" "[{k: v for k, v in o['coverage'].items() if k != 'encoded_runs_cut'} for o in f if 'coverage' in o] == [{'complete': False, 'regex_limit_hits': 0, 'matches_too_long': 1, 'matches_cut_short': 0, 'rules_suspended': 0, 'keyword_hits_skipped': 0, 'decode_budget_hits': 0, 'decode_depth_hits': 0, 'repeats_collapsed': 0, 'findings_capped': 0}]"

# --- one secret repeated densely: a few reports per piece, the rest counted
# (issue 13 defect 9: 1.8 million findings of the same JWTs in 64 MiB).
# A managed token in the middle of the collapsed copies, and a distinct
# JWT after them, are still reported.
jwt=$($GEN jwt); jwt2=$($GEN jwt); mtok=$($GEN ghp)
printf '%s\n%s\n%s\n' "$jwt" "$jwt2" "$mtok" >>"$TOKENS"
printf '%s' "$mtok" | "$TW" ledger register --issuer ext --task repeats --aud https://api.test --ttl 600 \
  >"$TW_TMP/reg.out" 2>"$TW_TMP/reg.err"
mid=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/reg.out" "$TW_TMP/reg.err" | head -1 | cut -d: -f2)
python3 - "$D/repeats.log" "$jwt" "$mtok" "$jwt2" <<'PY'
import sys
path, j, m, j2 = sys.argv[1:]
with open(path, "w") as f:
    f.write((j + " ") * 2500 + m + " " + (j + " ") * 2500 + j2 + "\n")
PY
"$TW" scan --ledger "$TOKENWARD_LEDGER" --format json "$D/repeats.log" >"$TW_TMP/rep.json" 2>"$TW_TMP/rep.err"
expect_json scan_repeats_collapsed_counted "$TW_TMP/rep.json" \
  "[o['sha256'] for o in f if 'sha256' in o] == ['$(sha "$jwt")'] * 8 + ['$(sha "$mtok")', '$(sha "$jwt2")'] and f[-1]['coverage']['repeats_collapsed'] == 4992 and f[-1]['coverage']['complete'] is False"
expect_json scan_repeats_managed_token_seen "$TW_TMP/rep.json" \
  "[(o['managed'], o['token_id']) for o in f if o.get('sha256') == '$(sha "$mtok")'] == [(True, '$mid')]"
grep -q "coverage: 4992 repeats of a secret already reported 8 times in the same buffer not listed; every secret found was reported" "$TW_TMP/rep.err" \
  && ok scan_repeats_said_on_stderr || not_ok scan_repeats_said_on_stderr "$(head -c 300 "$TW_TMP/rep.err")"
# In 64 KiB pieces each piece reports the first copies in its own region
# (detector_set_region); the managed token and the last JWT are still
# there, and every copy is either reported or counted, exactly once.
"$TW" scan --ledger "$TOKENWARD_LEDGER" --chunk 64K --format json "$D/repeats.log" >"$TW_TMP/rep64.json" 2>/dev/null
expect_json scan_repeats_collapsed_per_piece "$TW_TMP/rep64.json" \
  "len([o for o in f if o.get('sha256') == '$(sha "$jwt")']) >= 8 * 10 and [o['managed'] for o in f if o.get('sha256') == '$(sha "$mtok")'] == [True] and [o['sha256'] for o in f if 'sha256' in o][-1] == '$(sha "$jwt2")' and f[-1]['coverage']['repeats_collapsed'] == 5000 - len([o for o in f if o.get('sha256') == '$(sha "$jwt")'])"
"$TW" scan --format sarif "$D/repeats.log" >"$TW_TMP/rep.sarif" 2>/dev/null
python3 -c "
import json, sys
inv = json.load(open(sys.argv[1]))['runs'][0]['invocations'][0]
assert inv['properties']['coverage']['repeats_collapsed'] == 4992
assert 'repeats of a secret' in inv['toolExecutionNotifications'][0]['message']['text']
" "$TW_TMP/rep.sarif" && ok scan_repeats_in_sarif || not_ok scan_repeats_in_sarif "$(head -c 300 "$TW_TMP/rep.sarif")"

# --- a flood of distinct tokens (issue 13 defect 9) -----------------------
# 1500 distinct GitHub tokens in one piece, a managed one among the last:
# the first 1000 unmanaged are listed, the managed one is, the JWT of
# another rule after them is, and the rest are counted (findings_capped)
# on stderr, in JSON and in SARIF; --flood-cap moves or lifts the bound.
python3 - "$D/flood.log" "$D/flood.toks" "$TW_ROOT/tests/cli" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
import tokgen
toks = [tokgen.KINDS["ghp"]() for _ in range(1500)]
jwt = tokgen.KINDS["jwt"]()
open(sys.argv[2], "w").write("\n".join(toks + [jwt]) + "\n")
with open(sys.argv[1], "w") as f:
    for i in range(0, 1500, 10):
        f.write("ts=%d level=info keys " % i + " ".join(toks[i:i + 10]) + "\n")
    f.write("auth " + jwt + "\n")
PY
cat "$D/flood.toks" >>"$TOKENS"
ftok=$(sed -n 1301p "$D/flood.toks"); fjwt=$(sed -n 1501p "$D/flood.toks")
printf '%s' "$ftok" | "$TW" ledger register --issuer ext --task flood --aud https://api.test --ttl 600 \
  >"$TW_TMP/freg.out" 2>"$TW_TMP/freg.err"
fid=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/freg.out" "$TW_TMP/freg.err" | head -1 | cut -d: -f2)
"$TW" scan --ledger "$TOKENWARD_LEDGER" --format json "$D/flood.log" >"$TW_TMP/flood.json" 2>"$TW_TMP/flood.err"
first=$(head -1000 "$D/flood.toks" | while read -r t; do sha "$t"; done | tr '\n' ' ')
expect_json scan_flood_capped_counted "$TW_TMP/flood.json" \
  "[o['sha256'] for o in f if 'sha256' in o] == '$first'.split() + ['$(sha "$ftok")', '$(sha "$fjwt")'] and f[-1]['coverage']['findings_capped'] == 499 and f[-1]['coverage']['repeats_collapsed'] == 0 and f[-1]['coverage']['complete'] is False"
expect_json scan_flood_managed_token_listed "$TW_TMP/flood.json" \
  "[(o['managed'], o['token_id']) for o in f if o.get('sha256') == '$(sha "$ftok")'] == [(True, '$fid')]"
grep -q "coverage: 499 unmanaged findings of a flood not listed" "$TW_TMP/flood.err" && grep -q "warning: a flood of findings: 499 unmanaged secrets were counted, not listed; --flood-cap 0 lists every one" "$TW_TMP/flood.err" \
  && ok scan_flood_said_on_stderr || not_ok scan_flood_said_on_stderr "$(head -c 400 "$TW_TMP/flood.err")"
"$TW" scan --flood-cap 0 --format json "$D/flood.log" >"$TW_TMP/flood0.json" 2>"$TW_TMP/flood0.err"
expect_json scan_flood_cap_off_lists_all "$TW_TMP/flood0.json" \
  "len([o for o in f if 'sha256' in o]) == 1501 and not [o for o in f if 'coverage' in o]"
"$TW" scan --flood-cap 10 "$D/flood.log" >"$TW_TMP/flood10.txt" 2>"$TW_TMP/flood10.err"
[ "$(grep -c 'sha256:' "$TW_TMP/flood10.txt")" -eq 11 ] && grep -q "coverage: 1490 unmanaged findings of a flood" "$TW_TMP/flood10.err" \
  && ok scan_flood_cap_set_text || not_ok scan_flood_cap_set_text "$(wc -l <"$TW_TMP/flood10.txt") lines: $(head -c 300 "$TW_TMP/flood10.err")"
"$TW" scan --format sarif "$D/flood.log" >"$TW_TMP/flood.sarif" 2>/dev/null
python3 -c "
import json, sys
run = json.load(open(sys.argv[1]))['runs'][0]
inv = run['invocations'][0]
assert len(run['results']) == 1001, len(run['results'])
assert inv['properties']['coverage']['findings_capped'] == 500
assert 'of a flood not listed' in inv['toolExecutionNotifications'][0]['message']['text']
" "$TW_TMP/flood.sarif" && ok scan_flood_in_sarif || not_ok scan_flood_in_sarif "$(head -c 300 "$TW_TMP/flood.sarif")"
"$TW" scan --flood-cap -1 "$D/flood.log" >/dev/null 2>"$TW_TMP/fbad.err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--flood-cap must be" "$TW_TMP/fbad.err" && ok scan_flood_cap_bad_value \
  || not_ok scan_flood_cap_bad_value "exit $rc: $(head -c 200 "$TW_TMP/fbad.err")"

# --- an ordinary file: no coverage line at all ---------------------------
printf 'nothing to see here\nuser=alice eyJhbGciOiJub25lIn0 ok\n' >"$D/plain.log"
"$TW" scan --format json "$D/plain.log" >"$TW_TMP/plain.json" 2>"$TW_TMP/plain.err"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$TW_TMP/plain.json" ] && [ ! -s "$TW_TMP/plain.err" ] && ok scan_complete_says_nothing \
  || not_ok scan_complete_says_nothing "exit $rc: $(head -c 200 "$TW_TMP/plain.json") $(head -c 200 "$TW_TMP/plain.err")"

# --- no raw token in anything this test produced (besides its inputs) ----
leaks=0
while read -r t; do
  [ -n "$t" ] || continue
  if grep -rqF --exclude-dir=leak-input --exclude=leak-input-tokens -- "$t" "$TW_TMP"; then
    leaks=1; not_ok scan_bounds_no_raw_token "raw token in $(grep -rlF --exclude-dir=leak-input --exclude=leak-input-tokens -- "$t" "$TW_TMP" | head -3 | tr '\n' ' ')"; break
  fi
done <"$TOKENS"
[ $leaks -eq 0 ] && ok scan_bounds_no_raw_token
