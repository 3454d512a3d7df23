#!/usr/bin/env bash
# `tokenward scan`: findings, formats, sources, boundaries, bad input.
# Every token is minted here (tests/cli/tokgen.py); all artefacts are
# grepped for the raw tokens at the end.
. "$(dirname "$0")/../live/lib.sh"
GEN="python3 $TW_ROOT/tests/cli/tokgen.py"
D=$TW_TMP/leak-input    # the files scanned: they hold tokens on purpose
mkdir -p "$D"
TOKENS=$TW_TMP/leak-input-tokens   # every raw token used, one a line, for the leak check

mint() { local t; t=$($GEN "$1"); echo "$t" >>"$TOKENS"; echo "$t"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# expect CASE JSONFILE PYTHON_ASSERTION (objects in `f`, a list)
expect_json() {
  if python3 - "$2" "$3" <<'PY'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)
PY
  then ok "$1"; else not_ok "$1" "assertion failed: $3; got: $(head -c 600 "$2")"; fi
}

# --- findings with exact positions and hashes ---------------------------
ghp=$(mint ghp); twd=$(mint twd); jwt=$(mint atjwt); aws=$(mint aws); npm=$(mint npm)
bad=$(mint ghp_bad); ph=$($GEN ghp_placeholder)
{
  echo "first line, nothing here"
  echo "export GITHUB_TOKEN=$ghp"
  echo "  tok: '$twd'"
  printf 'GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n' "$jwt"
  echo "aws_access_key_id = $aws and npm=$npm"
  echo "lookalike $bad placeholder $ph AKIA""IOSFODNN7EXAMPLE your-token-here"
} >"$D/app.log"
"$TW" scan --format json "$D/app.log" >"$TW_TMP/out.json" 2>"$TW_TMP/err"; rc=$?
[ $rc -eq 1 ] && ok scan_exit_1_when_found || not_ok scan_exit_1_when_found "exit $rc: $(cat "$TW_TMP/err")"
expect_json scan_finds_all_and_only_valid "$TW_TMP/out.json" "len(f) == 5 and [o['rule'] for o in f] == ['github-classic','tokenward','jwt','aws-access-key-id','npm']"
expect_json scan_line_and_column "$TW_TMP/out.json" "[(o['line'], o['column']) for o in f] == [(2,21),(3,9),(5,23),(6,21),(6,$((21 + 20 + 9)))]"
expect_json scan_sha256_of_secret "$TW_TMP/out.json" "[o['sha256'] for o in f] == ['$(sha "$ghp")','$(sha "$twd")','$(sha "$jwt")','$(sha "$aws")','$(sha "$npm")']"
expect_json scan_json_fields "$TW_TMP/out.json" "all(o['managed'] is False and o['token_id'] is None and o['path'] == '$D/app.log' and o['redacted'].endswith('\u2026') and len(o['redacted']) <= 7 for o in f)"

# --- no findings: exit 0 and no output ----------------------------------
printf 'nothing to see\nghp_short AKIA1234 Authorization: Bearer ${TOKEN}\n' >"$D/clean.log"
"$TW" scan "$D/clean.log" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$TW_TMP/out" ] && ok scan_exit_0_when_clean || not_ok scan_exit_0_when_clean "exit $rc, out $(head -c 200 "$TW_TMP/out")"

# --- text and sarif ------------------------------------------------------
"$TW" scan "$D/app.log" >"$TW_TMP/out.txt" 2>&1
if [ "$(wc -l <"$TW_TMP/out.txt")" -eq 5 ] && grep -q "^$D/app.log:2:21: github-classic ghp_.*… sha256:$(sha "$ghp") unmanaged" "$TW_TMP/out.txt"; then
  ok scan_text_format; else not_ok scan_text_format "$(head -c 400 "$TW_TMP/out.txt")"; fi
"$TW" scan --format sarif "$D/app.log" >"$TW_TMP/out.sarif"
if python3 -c "
import json,sys
d=json.load(open(sys.argv[1])); r=d['runs'][0]['results']
assert d['version']=='2.1.0' and len(r)==5
assert r[0]['ruleId']=='github-classic' and r[0]['locations'][0]['physicalLocation']['region']['startLine']==2
assert r[0]['partialFingerprints']['sha256']=='$(sha "$ghp")'
assert any(x['id']=='tokenward' for x in d['runs'][0]['tool']['driver']['rules'])
" "$TW_TMP/out.sarif"; then ok scan_sarif; else not_ok scan_sarif "bad sarif: $(head -c 300 "$TW_TMP/out.sarif")"; fi

# --- --no-validate reports the look-alike, marked invalid ----------------
"$TW" scan --no-validate --format json "$D/app.log" >"$TW_TMP/nv.json"
expect_json scan_no_validate "$TW_TMP/nv.json" "len(f) == 6 and [o['checksum'] for o in f if o['sha256'] == '$(sha "$bad")'] == ['invalid']"

# --- stdin, gzip ---------------------------------------------------------
"$TW" scan --format json - <"$D/app.log" >"$TW_TMP/stdin.json"
expect_json scan_stdin "$TW_TMP/stdin.json" "len(f) == 5 and f[0]['path'] == '-' and f[0]['line'] == 2"
gzip -c "$D/app.log" >"$D/app.log.gz"
"$TW" scan --format json "$D/app.log.gz" >"$TW_TMP/gz.json"
expect_json scan_gzip "$TW_TMP/gz.json" "[(o['rule'],o['line'],o['column']) for o in f] == [(o['rule'],o['line'],o['column']) for o in [json.loads(l) for l in open('$TW_TMP/out.json')]]"
{ gzip -c "$D/clean.log"; gzip -c "$D/app.log"; } >"$D/multi.gz"
"$TW" scan --format json - <"$D/multi.gz" >"$TW_TMP/mgz.json"
expect_json scan_gzip_multimember_stdin "$TW_TMP/mgz.json" "len(f) == 5 and f[0]['line'] == 4"
seq 1 20000 | gzip | head -c 3000 >"$D/trunc.gz"
"$TW" scan "$D/trunc.gz" "$D/clean.log" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "trunc.gz: error: gzip data" "$TW_TMP/err"; then ok scan_gzip_truncated_is_error; else not_ok scan_gzip_truncated_is_error "exit $rc: $(cat "$TW_TMP/err")"; fi

# --- directories, dangling links, unreadable files ----------------------
mkdir -p "$D/tree/a/b" "$D/tree/c"
t1=$(mint gho); t2=$(mint twd); t3=$(mint glpat)
echo "x $t1" >"$D/tree/a/b/deep.txt"
echo "y $t2" >"$D/tree/c/one.txt"
echo "z $t3" | gzip >"$D/tree/c/rot.log.1.gz"
ln -s /nonexistent/target "$D/tree/a/dangling"
ln -s "$D/tree/c" "$D/tree/a/dirlink"   # not followed: no duplicates
"$TW" scan --format json "$D/tree" >"$TW_TMP/tree.json" 2>"$TW_TMP/err"; rc=$?
expect_json scan_directory_recursive "$TW_TMP/tree.json" "sorted(o['sha256'] for o in f) == sorted(['$(sha "$t1")','$(sha "$t2")','$(sha "$t3")'])"
if [ $rc -eq 1 ] && grep -q "dangling: dangling symbolic link" "$TW_TMP/err"; then ok scan_dangling_link_reported; else not_ok scan_dangling_link_reported "exit $rc: $(cat "$TW_TMP/err")"; fi
if command -v setpriv >/dev/null; then
  chmod 755 "$TW_TMP" "$D" "$D/tree" "$D/tree/c"; chmod 644 "$D/tree/c/one.txt" "$D/tree/c/rot.log.1.gz"
  echo "secret $(mint ghp)" >"$D/tree/c/locked.txt"; chmod 000 "$D/tree/c/locked.txt"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$TW" scan --format json "$D/tree/c" >"$TW_TMP/np.json" 2>"$TW_TMP/err"; rc=$?
  if [ $rc -eq 1 ] && grep -q "locked.txt: error: cannot open: Permission denied" "$TW_TMP/err" && [ "$(wc -l <"$TW_TMP/np.json")" -eq 2 ]; then
    ok scan_unreadable_reported_and_skipped; else not_ok scan_unreadable_reported_and_skipped "exit $rc: $(cat "$TW_TMP/err")"; fi
  rm -f "$D/tree/c/locked.txt"
fi
"$TW" scan "$D/does-not-exist" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
[ $rc -eq 2 ] && grep -q "No such file" "$TW_TMP/err" && ok scan_missing_path_exit_2 || not_ok scan_missing_path_exit_2 "exit $rc"

# --- binary files and NUL bytes -----------------------------------------
t4=$(mint twd)
{ printf 'head\0er\n'; echo "k=$t4"; } >"$D/bin.dat"
"$TW" scan "$D/bin.dat" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "binary file (NUL byte at offset 4), skipped" "$TW_TMP/err"; then ok scan_binary_skipped; else not_ok scan_binary_skipped "exit $rc: $(cat "$TW_TMP/err")"; fi
"$TW" scan --binary --format json "$D/bin.dat" >"$TW_TMP/bin.json"
expect_json scan_binary_flag "$TW_TMP/bin.json" "len(f) == 1 and f[0]['line'] == 2"
{ head -c 20000 /dev/zero | tr '\0' 'a'; printf '\n\0\0\n'; echo "after nul $t4"; } >"$D/latenul.log"
"$TW" scan --format json "$D/latenul.log" >"$TW_TMP/nul.json" 2>"$TW_TMP/err"
if grep -q "NUL byte at offset 20001; scanning on" "$TW_TMP/err"; then ok scan_late_nul_reported; else not_ok scan_late_nul_reported "$(cat "$TW_TMP/err")"; fi
expect_json scan_after_nul_found "$TW_TMP/nul.json" "len(f) == 1 and f[0]['line'] == 3 and f[0]['column'] == 11"

# --- chunk boundaries: every alignment, same result as one big piece ----
python3 - "$D/bound.log" "$TOKENS" "$TW_ROOT/tests/cli" <<'PY'
import sys; sys.path.insert(0, sys.argv[3]); import tokgen
out = open(sys.argv[1], "w"); toks = open(sys.argv[2], "a")
# lines of varying length so tokens land on every offset of a 1 KiB piece
for i in range(600):
    t = [tokgen.github, tokgen.twd, tokgen.jwt][i % 3]()
    toks.write(t + "\n")
    out.write("x" * (i * 37 % 1500) + " " + t + " tail\n")
PY
"$TW" scan --format json --chunk 4M "$D/bound.log" >"$TW_TMP/big.json"
ok_all=1
for c in 1K 3K 64K; do
  for th in 1 2; do
    "$TW" scan --format json --chunk $c --threads $th "$D/bound.log" >"$TW_TMP/small.json"
    cmp -s "$TW_TMP/big.json" "$TW_TMP/small.json" || { ok_all=0; not_ok "scan_chunk_boundaries_$c" "differs with --chunk $c --threads $th"; }
  done
done
n=$(wc -l <"$TW_TMP/big.json")
[ $ok_all -eq 1 ] && [ "$n" -eq 600 ] && ok scan_chunk_boundaries || not_ok scan_chunk_boundaries "found $n of 600"

# --- a 100 MB line: found, memory flat ------------------------------------
t5=$(mint ghp); t6=$(mint twd)
{ head -c 50000000 /dev/zero | tr '\0' 'a'; printf ' %s ' "$t5"; head -c 50000000 /dev/zero | tr '\0' 'b'; printf ' %s\n' "$t6"; } >"$D/long.log"
/usr/bin/time -f '%M' -o "$TW_TMP/rss" "$TW" scan --format json "$D/long.log" >"$TW_TMP/long.json" 2>"$TW_TMP/err"
rss=$(tail -1 "$TW_TMP/rss")
expect_json scan_100mb_line "$TW_TMP/long.json" "len(f) == 2 and f[0]['line'] == 1 and f[0]['column'] == 50000002 and f[1]['column'] == 50000000 + 1 + 40 + 1 + 50000000 + 1 + 1"
[ "$rss" -lt 80000 ] && ok scan_100mb_line_memory_flat || not_ok scan_100mb_line_memory_flat "peak RSS ${rss} KB"
rm -f "$D/long.log"

# --- rules: --rules DIR adds; a bad rule file stops with file, line, rule --
mkdir -p "$TW_TMP/rules" "$TW_TMP/badrules"
cat >"$TW_TMP/rules/custom.yaml" <<'Y'
rules:
  - id: acme
    name: ACME internal key
    pattern: '\b(acme_[a-f0-9]{32})\b'
    keywords: [acme_]
    severity: high
    examples: ['k=acme_{{hex:32}}']
    negative_examples: ['k=acme_{{hex:31}}']
Y
acme="acme_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"; echo "$acme" >>"$TOKENS"; tw_token_record "$acme"
echo "key $acme" >"$D/acme.log"
"$TW" scan --rules "$TW_TMP/rules" --format json "$D/acme.log" >"$TW_TMP/acme.json"
expect_json scan_custom_rules "$TW_TMP/acme.json" "len(f) == 1 and f[0]['rule'] == 'acme'"
printf 'rules:\n  - id: broken\n    pattern: "(unclosed"\n    keywords: [ab]\n    severity: low\n' >"$TW_TMP/badrules/bad.yaml"
"$TW" scan --rules "$TW_TMP/badrules" "$D/app.log" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "bad.yaml:3: rule 'broken': pattern does not compile" "$TW_TMP/err"; then ok scan_bad_rule_file; else not_ok scan_bad_rule_file "exit $rc: $(cat "$TW_TMP/err")"; fi

# --- usage ----------------------------------------------------------------
"$TW" scan --format xml "$D/app.log" >/dev/null 2>&1; [ $? -eq 2 ] && ok scan_usage_bad_format || not_ok scan_usage_bad_format "not exit 2"
"$TW" scan --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok scan_usage_unknown_flag || not_ok scan_usage_unknown_flag "not exit 2"
"$TW" scan --help >"$TW_TMP/help" 2>&1 && grep -q -- '--format' "$TW_TMP/help" && ok scan_help || not_ok scan_help "no help"

# --- ledger ----------------------------------------------------------------
if "$TW" ledger --help >/dev/null 2>&1; then
  export TOKENWARD_LEDGER=$TW_TMP/ledger.db
  mt=$("$TW" mint --task scan-t1 --aud https://api.test --ttl 600 2>"$TW_TMP/err"); echo "$mt" >>"$TOKENS"; tw_token_record "$mt"
  op=$(mint opaque)
  printf '%s' "$op" | "$TW" ledger register --issuer ext --task scan-t2 --aud https://api.test --ttl 600 >/dev/null 2>>"$TW_TMP/err"
  um=$(mint twd)
  printf 'a %s\nb %s\nc %s\n' "$mt" "$op" "$um" >"$D/managed.log"
  "$TW" scan --ledger "$TOKENWARD_LEDGER" --format json "$D/managed.log" >"$TW_TMP/led.json" 2>>"$TW_TMP/err"
  "$TW" ledger list --json >"$TW_TMP/ledger.json" 2>>"$TW_TMP/err"
  ids=$(python3 -c "import json,sys; print(' '.join(t['id'] for t in json.load(open(sys.argv[1]))))" "$TW_TMP/ledger.json")
  expect_json scan_ledger_managed "$TW_TMP/led.json" "len(f) == 3 and f[0]['managed'] and f[0]['rule'] == 'tokenward' and f[0]['token_id'] in '$ids'.split() and f[1]['rule'] == 'opaque' and f[1]['managed'] and f[1]['token_id'] in '$ids'.split() and not f[2]['managed'] and f[2]['token_id'] is None"
else
  "$TW" scan --ledger "$TW_TMP/none.db" "$D/app.log" >/dev/null 2>"$TW_TMP/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "no ledger support" "$TW_TMP/err" && ok scan_ledger_unavailable || not_ok scan_ledger_unavailable "exit $rc"
fi

# --- no raw token in anything this test produced (besides its inputs) -----
leaks=0
while read -r t; do
  [ -n "$t" ] || continue
  if grep -rqF --exclude-dir=leak-input --exclude=leak-input-tokens -- "$t" "$TW_TMP"; then leaks=1; not_ok scan_no_raw_token_in_outputs "raw token in $(grep -rlF --exclude-dir=leak-input --exclude=leak-input-tokens -- "$t" "$TW_TMP" | head -3 | tr '\n' ' ')"; break; fi
done <"$TOKENS"
[ $leaks -eq 0 ] && ok scan_no_raw_token_in_outputs
