#!/usr/bin/env bash
# `tokenward mint`: the token once on stdout, only hash and promise in the
# ledger, and every bad input refused with exit 2 and the ledger unchanged.
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"

# --- a good mint ---
"$TW" mint --task build-42 --aud https://api.example.test --aud 10.0.0.0/8:443 --ttl 15m \
    --scope repo:read --subject alice --delegate-pid $$ >"$TW_TMP/tok" 2>"$TW_TMP/mint.err"
rc=$?
tok=$(cat "$TW_TMP/tok"); RAW_TOKENS+=("$tok"); rm -f "$TW_TMP/tok"
if [ $rc -eq 0 ] && [[ $tok =~ ^twd_[0-9A-Za-z]{49}$ ]]; then ok mint_prints_token; else not_ok mint_prints_token "rc $rc, shape wrong"; fi
lines=$(printf '%s\n' "$tok" | wc -l)
[ "$lines" -eq 1 ] && ok mint_one_line || not_ok mint_one_line "$lines lines"
grep -q 'tk-' "$TW_TMP/mint.err" && ok mint_id_on_stderr || not_ok mint_id_on_stderr "no id on stderr"

"$TW" ledger list --json >"$TW_TMP/list.json"
h=$(sha256 "$tok")
if [ "$(json_eval "$TW_TMP/list.json" "[(t['task'],t['status'],t['audience'],t['issuer'],t['subject'],t['scope'],t['delegate']['kind']) for t in j if t['sha256']=='$h']")" = \
     "[('build-42', 'active', ['https://api.example.test:443', '10.0.0.0/8:443'], 'tokenward', 'alice', 'repo:read', 'pid')]" ]; then
  ok mint_recorded_by_hash
else
  not_ok mint_recorded_by_hash "$(head -c 400 "$TW_TMP/list.json")"
fi
exp_ok=$(json_eval "$TW_TMP/list.json" "[t for t in j if t['sha256']=='$h'][0]['expires_at'] is not None")
[ "$exp_ok" = True ] && ok mint_has_expiry || not_ok mint_has_expiry "no expires_at"
[ "$(sql "SELECT count(*) FROM tokens WHERE sealed IS NOT NULL")" = 0 ] && ok mint_not_sealed || not_ok mint_not_sealed "built-in tokens need no sealed copy"
[ "$(stat -c %a "$LEDGER")" = 600 ] && ok ledger_file_0600 || not_ok ledger_file_0600 "mode $(stat -c %a "$LEDGER")"

tok2=$("$TW" mint --task build-42 --aud api.example.test:8443 2>/dev/null); RAW_TOKENS+=("$tok2")
[ -n "$tok2" ] && [ "$tok2" != "$tok" ] && ok mint_fresh_each_time || not_ok mint_fresh_each_time "same or empty"
[ "$(sql "SELECT count(*) FROM tokens")" = 2 ] && ok mint_two_rows || not_ok mint_two_rows "rows: $(sql "SELECT count(*) FROM tokens")"

# --ledger overrides the environment
tok3=$("$TW" mint --ledger "$TW_TMP/other.db" --task t --aud 192.0.2.1:443 2>/dev/null); RAW_TOKENS+=("$tok3")
[ -s "$TW_TMP/other.db" ] && [ "$(sql "SELECT count(*) FROM tokens")" = 2 ] && ok mint_ledger_flag || not_ok mint_ledger_flag "not written to --ledger"

# --- bad input: exit 2, ledger unchanged ---
expect_unchanged bad_unknown_flag 2 "$TW" mint --task t --aud a.example:1 --frobnicate
expect_unchanged bad_missing_task 2 "$TW" mint --aud a.example:1
expect_unchanged bad_empty_task 2 "$TW" mint --task "" --aud a.example:1
expect_unchanged bad_missing_aud 2 "$TW" mint --task t
for a in "api.example.test" "https://" "http://h:0" "h:99999" "10.0.0.0/33" "300.1.1.1" "[::1" "ftp://h" \
         "https://user@h" "bad host:1" "unix:relative" "2001:db8::/129" "-bad-.example:1"; do
  expect_unchanged "bad_audience_$(echo "$a" | tr -c 'a-zA-Z0-9' _)" 2 "$TW" mint --task t --aud "$a"
done
grep -q "bad audience" "$TW_TMP/err" && ok bad_audience_says_so || not_ok bad_audience_says_so "$(cat "$TW_TMP/err")"
for t in 0 -5 abc 10x ""; do
  expect_unchanged "bad_ttl_${t:-empty}" 2 "$TW" mint --task t --aud a.example:1 --ttl "$t"
done
expect_unchanged bad_two_delegates 2 "$TW" mint --task t --aud a.example:1 --delegate-pid $$ --delegate-exe /bin/true
expect_unchanged bad_delegate_pid 2 "$TW" mint --task t --aud a.example:1 --delegate-pid 0
expect_unchanged bad_delegate_pid_gone 2 "$TW" mint --task t --aud a.example:1 --delegate-pid 2147483000
expect_unchanged bad_delegate_exe_relative 2 "$TW" mint --task t --aud a.example:1 --delegate-exe bin/true
expect_unchanged bad_delegate_exe_missing 2 "$TW" mint --task t --aud a.example:1 --delegate-exe /no/such/exe
expect_unchanged bad_delegate_cgroup 2 "$TW" mint --task t --aud a.example:1 --delegate-cgroup relative/x
# cgroup paths: stored normalised, or refused (issue 13, defect 13)
for c in /a/.. /a/../b /.. /sys/fs/cgroup/.. ../a . "" a /a/b/../../..; do
  expect_unchanged "bad_delegate_cgroup_$(echo "$c" | tr -c 'a-zA-Z0-9' _)" 2 "$TW" mint --task t --aud a.example:1 --delegate-cgroup "$c"
done
for pair in "/a/.|/a" "/a//b/|/a/b" "/a/./b|/a/b" "//a///|/a" "/sys/fs/cgroup/a/./b/|/a/b" "/sys/fs/cgroup//x|/x" "/sys/fs/cgroup|/" "/|/" "/a/...|/a/..." "/a/.b|/a/.b"; do
  in=${pair%|*} want=${pair#*|}
  name="delegate_cgroup_normalised_$(echo "$in" | tr -c 'a-zA-Z0-9' _)"
  t=$("$TW" mint --task cg --aud a.example:1 --delegate-cgroup "$in" 2>"$TW_TMP/err"); [ -n "$t" ] && RAW_TOKENS+=("$t")
  cid=$(sed -n 's/^tokenward mint: \(tk-[0-9a-f]*\) .*/\1/p' "$TW_TMP/err")
  got=$("$TW" ledger show "$cid" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["delegate"]["value"])' 2>&1)
  [ "$got" = "$want" ] && ok "$name" || not_ok "$name" "'$in' stored as '$got', want '$want'"
done
expect_unchanged bad_extra_argument 2 "$TW" mint --task t --aud a.example:1 extra
expect_unchanged bad_token_on_argv 2 "$TW" mint --task "$tok" --aud a.example:1
expect_unchanged bad_token_on_argv_eq 2 "$TW" mint "--task=$tok" --aud a.example:1
expect_unchanged bad_token_positional 2 "$TW" mint --task t --aud a.example:1 "$tok"
expect_unchanged bad_register_option 2 "$TW" mint --task t --aud a.example:1 --issuer x
if grep -rqF -- "$tok" "$TW_TMP/err"; then not_ok error_does_not_echo_token "stderr quotes the token"; else ok error_does_not_echo_token; fi

# --- ledger unusable: exit 2, no token printed ---
ledger_lock_hold || not_ok locked_ledger_setup "the lock holder never held the lock"
before=$(sql "SELECT count(*) FROM tokens" 2>/dev/null)
TOKENWARD_LEDGER_BUSY_MS=200 "$TW" mint --task t --aud a.example:1 >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
ledger_lock_release
if [ $rc -eq 2 ] && [ ! -s "$TW_TMP/out" ] && grep -q locked "$TW_TMP/err"; then ok locked_ledger_refused; else not_ok locked_ledger_refused "rc $rc out $(wc -c <"$TW_TMP/out") err $(cat "$TW_TMP/err")"; fi
[ "$(sql "SELECT count(*) FROM tokens")" = "$before" ] && ok locked_ledger_unchanged || not_ok locked_ledger_unchanged "rows changed"

head -c 4096 /dev/urandom >"$TW_TMP/corrupt.db"
cp "$TW_TMP/corrupt.db" "$TW_TMP/corrupt.orig"
"$TW" mint --ledger "$TW_TMP/corrupt.db" --task t --aud a.example:1 >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
if [ $rc -eq 2 ] && [ ! -s "$TW_TMP/out" ] && grep -q "corrupt.db" "$TW_TMP/err"; then ok corrupt_ledger_refused; else not_ok corrupt_ledger_refused "rc $rc: $(cat "$TW_TMP/err")"; fi
cmp -s "$TW_TMP/corrupt.db" "$TW_TMP/corrupt.orig" && ok corrupt_ledger_untouched || not_ok corrupt_ledger_untouched "file changed"

expect_rc help_mint 0 "$TW" mint --help
grep -q -- '--delegate-cgroup' "$TW_TMP/out" && ok help_mint_lists_flags || not_ok help_mint_lists_flags "missing flags"

assert_no_raw_tokens "$TW_LOGS"
