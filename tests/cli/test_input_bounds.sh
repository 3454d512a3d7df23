#!/usr/bin/env bash
# Hostile and out-of-range input to the offline commands (issue 13,
# defects 2, 10, 11, 12): what the ledger accepts the detector finds;
# expiry times, status.json numbers, audiences and YAML files are bounded,
# and each refusal exits 2 with a message naming what was wrong.
# Tokens are made here at run time; none is committed.
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"

# rnd ALPHABET N: N random characters of ALPHABET (CSPRNG).
rnd() { python3 -c 'import secrets,sys; a=sys.argv[1]; print("".join(secrets.choice(a) for _ in range(int(sys.argv[2]))))' "$1" "$2"; }
B64U='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
reg() { # TOKEN ARGS...: register TOKEN from stdin, id on stdout of $TW_TMP/out
  local tok=$1; shift
  printf '%s' "$tok" | "$TW" ledger register --issuer corp --no-seal "$@" >"$TW_TMP/out" 2>"$TW_TMP/err"
}
# expect_refused NAME TOKEN PATTERN ARGS...: exit 2, ledger unchanged,
# stderr matches PATTERN and does not hold the token.
expect_refused() {
  local name=$1 tok=$2 pat=$3 before rc; shift 3
  before=$(ledger_snapshot)
  reg "$tok" "$@"; rc=$?
  if [ $rc -ne 2 ]; then not_ok "$name" "exit $rc, want 2: $(head -c 200 "$TW_TMP/err")"; return; fi
  if [ "$before" != "$(ledger_snapshot)" ]; then not_ok "$name" "ledger changed"; return; fi
  if ! grep -Eq -- "$pat" "$TW_TMP/err"; then not_ok "$name" "message does not say /$pat/: $(head -c 300 "$TW_TMP/err")"; return; fi
  if [ ${#tok} -ge 6 ] && grep -qF -- "$tok" "$TW_TMP/err"; then not_ok "$name" "the token is in the message"; return; fi
  ok "$name"
}

# ---- defect 2: every opaque shape the ledger accepts, scan finds --------
declare -A shape=(
  [min_len]=$(rnd "$B64U" 8)
  [min_len_plus1]=$(rnd "$B64U" 9)
  [digits_only]=$(rnd 0123456789 12)
  [dashes_underscores]="-_$(rnd "$B64U" 20)_-"
  [typical_43]=$(opaque_token)
  [max_len]=$(rnd "$B64U" 65536)
)
ids=()
: >"$TW_TMP/leak.log"
for k in "${!shape[@]}"; do
  t=${shape[$k]}; RAW_TOKENS+=("$t")
  if reg "$t" --aud api.example.test:443 --ttl 1h; then
    ids+=("$(cat "$TW_TMP/out")"); ok "opaque_accepted_$k"
    printf 'config %s: %s\n' "$k" "$t" >>"$TW_TMP/leak.log"
  else
    not_ok "opaque_accepted_$k" "exit $?: $(head -c 200 "$TW_TMP/err")"
  fi
done
"$TW" scan --ledger "$LEDGER" --format json "$TW_TMP/leak.log" >"$TW_TMP/scan.json" 2>"$TW_TMP/scan.err"
missing=$(python3 - "$TW_TMP/scan.json" "${ids[@]}" <<'PY'
import json, sys
found = {j["token_id"] for j in map(json.loads, filter(str.strip, open(sys.argv[1]))) if j.get("managed")}
print(" ".join(i for i in sys.argv[2:] if i not in found))
PY
)
[ ${#ids[@]} -eq ${#shape[@]} ] && [ -z "$missing" ] && ok opaque_every_accepted_shape_is_found ||
  not_ok opaque_every_accepted_shape_is_found "registered ${#ids[@]}/${#shape[@]}, not found by scan: $missing"
rm -f "$TW_TMP/leak.log" # it holds the raw tokens on purpose

# ...and what it could never find is refused at registration.
t=$(rnd "$B64U" 7); RAW_TOKENS+=("$t")
expect_refused opaque_refused_short "$t" "8 to 65536 characters" --aud api.example.test:443 --ttl 1h
t=$(rnd "$B64U" 65537); RAW_TOKENS+=("$t")
expect_refused opaque_refused_long "$t" "larger than a token" --aud api.example.test:443 --ttl 1h
for c in . '~' + / =; do
  t="$(rnd "$B64U" 20)$c$(rnd "$B64U" 20)"; RAW_TOKENS+=("$t")
  expect_refused "opaque_refused_byte_$(printf %02x "'$c")" "$t" "A-Z a-z 0-9 - _.*0x$(printf %02x "'$c")" \
    --aud api.example.test:443 --ttl 1h
done

# ---- defect 2: every registered length is looked for -------------------
# scan once passed only the first 64 distinct opaque lengths to the
# detector: a ledger with more never found its longest tokens.
: >"$TW_TMP/leak-input-lengths.log"
n_reg=0 long_id=
# one python for all 71 tokens (one a length, 100..170): a start each cost a second under load
mapfile -t lens_toks < <(python3 -c 'import secrets,sys
for n in range(100, 171): print("".join(secrets.choice(sys.argv[1]) for _ in range(n)))' "$B64U")
for t in "${lens_toks[@]}"; do
  RAW_TOKENS+=("$t")
  reg "$t" --aud api.example.test:443 --ttl 1h && n_reg=$((n_reg + 1)) && long_id=$(cat "$TW_TMP/out")
  last=$t
done
printf 'config longest: %s\n' "$last" >"$TW_TMP/leak-input-lengths.log"
"$TW" scan --ledger "$LEDGER" --format json "$TW_TMP/leak-input-lengths.log" >"$TW_TMP/scan-lengths.json" 2>&1
if [ $n_reg -eq 71 ] && grep -q "\"token_id\":\"$long_id\"" "$TW_TMP/scan-lengths.json"; then
  ok opaque_every_length_looked_for
else
  not_ok opaque_every_length_looked_for "registered $n_reg/71; the longest ($long_id) not found by scan"
fi
rm -f "$TW_TMP/leak-input-lengths.log"

# ---- defect 11: expiry bounded on input --------------------------------
now=$(date +%s)
fresh() { t=$(opaque_token); RAW_TOKENS+=("$t"); }
fresh; expect_refused exp_int64_max "$t" "10 years" --aud api.example.test:443 --exp 9223372036854775807
fresh; expect_refused exp_eleven_years "$t" "10 years" --aud api.example.test:443 --exp $((now + 11 * 366 * 86400))
fresh; expect_refused exp_rfc3339_year_9999 "$t" "10 years" --aud api.example.test:443 --exp 9999-12-31T23:59:59Z
fresh
if reg "$t" --aud api.example.test:443 --exp $((now + 9 * 365 * 86400)); then ok exp_nine_years_accepted
else not_ok exp_nine_years_accepted "exit $?: $(head -c 200 "$TW_TMP/err")"; fi
far=$(jwt_token 253402300799); RAW_TOKENS+=("$far")
expect_refused exp_jwt_claim_year_9999 "$far" "10 years" --aud api.example.test:443
if reg "$far" --aud api.example.test:443 --ttl 1h; then
  id=$(cat "$TW_TMP/out")
  "$TW" ledger show "$id" --json >"$TW_TMP/show.json"
  got=$(json_eval "$TW_TMP/show.json" "j['expires_at'][:13]")
  [ "$got" = "$(date -u -d "@$((now + 3600))" +%Y-%m-%dT%H)" ] || [ "$got" = "$(date -u -d "@$((now + 3601))" +%Y-%m-%dT%H)" ] &&
    ok exp_jwt_far_claim_narrowed_by_ttl || not_ok exp_jwt_far_claim_narrowed_by_ttl "expires_at $got"
else
  not_ok exp_jwt_far_claim_narrowed_by_ttl "exit $?: $(head -c 200 "$TW_TMP/err")"
fi
"$TW" ledger list >"$TW_TMP/list" 2>&1 && ! grep -Eq ' (19[0-6][0-9]|197[0-9]|2[1-9][0-9][0-9])-' "$TW_TMP/list" &&
  ok exp_list_dates_sane || not_ok exp_list_dates_sane "$(head -c 400 "$TW_TMP/list")"

# ---- defect 11: status.json's pid is a process id or the file is malformed
for bad in -1 0 1e300 1.5 2147483648 '"123"'; do
  mkdir -p "$TW_TMP/st$bad"
  printf '{"version":1,"pid":%s,"running":true,"updated":"2026-01-01T00:00:00.000000Z"}\n' "$bad" >"$TW_TMP/st$bad/status.json"
  "$TW" status --state-dir "$TW_TMP/st$bad" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "$TW_TMP/st$bad/status.json" "$TW_TMP/err" && grep -q "pid" "$TW_TMP/err" &&
    ! grep -q running "$TW_TMP/out" && ok "status_bad_pid_$bad" ||
    not_ok "status_bad_pid_$bad" "exit $rc: $(head -c 200 "$TW_TMP/out") $(head -c 200 "$TW_TMP/err")"
done

# ---- defect 12: audiences ----------------------------------------------
t=$(opaque_token); RAW_TOKENS+=("$t")
expect_refused aud_host_bits "$t" "host bits.*10\.0\.0\.0/8" --aud 10.1.2.3/8 --ttl 1h
aud_stored() { # NAME AUD WANT
  local tok; tok=$(opaque_token); RAW_TOKENS+=("$tok")
  if reg "$tok" --aud "$2" --ttl 1h; then
    "$TW" ledger show "$(cat "$TW_TMP/out")" --json >"$TW_TMP/show.json" 2>"$TW_TMP/err"
    got=$(json_eval "$TW_TMP/show.json" "j['audience']")
    [ "$got" = "['$3']" ] && ok "$1" || not_ok "$1" "stored $got, want ['$3']"
  else
    not_ok "$1" "exit $?: $(head -c 200 "$TW_TMP/err")"
  fi
}
aud_stored aud_v4_mapped_is_ipv4 '[::ffff:203.0.113.7]:443' 203.0.113.7:443
aud_stored aud_host_unix_round_trips unix.:3 unix:3

# ---- defect 10: YAML files are bounded ---------------------------------
# expect_yaml_refused NAME WANT_IN_STDERR CMD...: exit 2 within 10 s (the
# unbounded reader took 49 s on deep nesting, over a minute on 20 MB).
expect_yaml_refused() {
  local name=$1 want=$2 start rc; shift 2
  start=$SECONDS
  timeout 60 "$@" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
  if [ $rc -ne 2 ]; then not_ok "$name" "exit $rc, want 2: $(head -c 200 "$TW_TMP/err")"
  elif ! grep -qF -- "$want" "$TW_TMP/err"; then not_ok "$name" "stderr lacks '$want': $(head -c 300 "$TW_TMP/err")"
  elif [ $((SECONDS - start)) -gt 10 ]; then not_ok "$name" "took $((SECONDS - start)) s"
  else ok "$name"; fi
}
mkdir -p "$TW_TMP/deep" "$TW_TMP/dup"
python3 -c 'import sys; n=100000; open(sys.argv[1], "w").write("rules: " + "[" * n + "]" * n + "\n")' "$TW_TMP/deep/r.yaml"
expect_yaml_refused yaml_rules_deep_nesting "deep/r.yaml:1: nested deeper than 64 levels" "$TW" rules list --rules "$TW_TMP/deep"
cat >"$TW_TMP/dup/r.yaml" <<'Y'
rules:
  - id: k
    pattern: '\b(kk_[a-z]{8})\b'
    keywords: [kk_]
    severity: low
    severity: critical
Y
expect_yaml_refused yaml_rules_duplicate_key "dup/r.yaml:6: 'severity' given twice (first at line 5)" "$TW" rules list --rules "$TW_TMP/dup"
printf 'revocation:\n  workers: 2\n---\nrevocation:\n  workers: 3\n' >"$TW_TMP/two.yaml"
expect_yaml_refused yaml_config_second_document "two.yaml:3: a second YAML document" \
  "$TW" revoke-queue status --config "$TW_TMP/two.yaml" --db "$TW_TMP/q.db"
python3 -c 'import sys; f=open(sys.argv[1], "w"); f.write("policy:\n"); [f.write("  k%d: alert\n" % i) for i in range(1500000)]' "$TW_TMP/big.yaml"
expect_yaml_refused yaml_config_20mb "big.yaml:" "$TW" revoke-queue status --config "$TW_TMP/big.yaml" --db "$TW_TMP/q.db"
grep -q "larger than 1 MiB" "$TW_TMP/err" && ok yaml_config_20mb_says_limit || not_ok yaml_config_20mb_says_limit "$(head -c 200 "$TW_TMP/err")"
rm -f "$TW_TMP/big.yaml"

assert_no_raw_tokens
