#!/usr/bin/env bash
# The config file (no BPF needed): `config check` and `config show`, every
# error with its file and line, suggestions for typos, and the same file
# read by every command, so that they all agree on the ledger. Bad input
# exits 2 with one clear message and never reaches the sensors.
. "$(dirname "$0")/../live/lib.sh"

C=$TW_TMP/tw.yaml
expect() { # NAME WANT_RC PATTERN CMD...: exit code, and PATTERN (grep -E) in stdout+stderr
  local name=$1 want=$2 pat=$3 rc; shift 3
  "$@" >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
  if [ $rc -ne "$want" ]; then not_ok "$name" "exit $rc, want $want: $(head -c 300 "$TW_TMP/err")"; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" "$TW_TMP/out" "$TW_TMP/err"; then
    not_ok "$name" "no /$pat/ in: $(head -c 300 "$TW_TMP/out" "$TW_TMP/err")"; return
  fi
  ok "$name"
}

# --- check: valid, and each way a file is wrong
mkdir -p "$TW_TMP/rules"
cat >"$TW_TMP/rules/zeta.yaml" <<'Y'
rules:
  - id: zeta
    name: Zeta test key
    pattern: '\b(zeta_[a-f0-9]{40})\b'
    keywords: [zeta_]
    severity: low
    examples: ['k=zeta_{{hex:40}}']
    negative_examples: ['k=zeta_{{hex:39}}']
Y
printf 'poll_ms: 7\nrules_dirs: [%s/rules]\npolicy:\n  unmanaged: alert\n' "$TW_TMP" >"$C"
expect check_valid 0 "tw.yaml: ok" "$TW" config check "$C"

printf 'state_dir: /x\npol_ms: 5\n' >"$C"
expect check_unknown_key_suggests 2 "tw.yaml:2: unknown key 'pol_ms'; did you mean 'poll_ms'\?" "$TW" config check "$C"
printf 'frobnicate: 5\n' >"$C"
expect check_unknown_key_far_no_suggestion 2 "tw.yaml:1: unknown key 'frobnicate'$" "$TW" config check "$C"
printf 'poll_ms: soon\n' >"$C"
expect check_wrong_type 2 "tw.yaml:1: 'poll_ms': 'soon' is not a whole number" "$TW" config check "$C"
printf 'tls: maybe\n' >"$C"
expect check_wrong_bool 2 "tw.yaml:1: 'tls' must be true or false" "$TW" config check "$C"
printf 'capture_size: 17M\n' >"$C"
expect check_capture_size_bound 2 "tw.yaml:1: 'capture_size' must be 1..16777216" "$TW" config check "$C"
printf 'ringbuf_size: 3M\n' >"$C"
expect check_ringbuf_pow2 2 "tw.yaml:1: 'ringbuf_size' must be a power of two" "$TW" config check "$C"
printf 'rules_dirs: %s/no-such-dir\n' "$TW_TMP" >"$C"
expect check_missing_rules_dir 2 "tw.yaml:1: rules_dirs: .*no-such-dir: No such file or directory" "$TW" config check "$C"
mkdir -p "$TW_TMP/badrules"
printf 'rules:\n  - id: broken\n    pattern: "(unclosed"\n    keywords: [ab]\n    severity: low\n' >"$TW_TMP/badrules/bad.yaml"
printf 'rules_dirs: %s/badrules\n' "$TW_TMP" >"$C"
expect check_rules_dir_that_does_not_compile 2 "bad.yaml:3" "$TW" config check "$C"
# the sections other modules parse name their errors by line too
printf 'metrics:\n  lissen: 127.0.0.1:9\n' >"$C"
expect check_metrics_section_unknown_key 2 "tw.yaml:2: metrics: unknown key 'lissen'" "$TW" config check "$C"
printf 'retention:\n  max_ag: 7d\n' >"$C"
expect check_retention_section_unknown_key 2 "tw.yaml:2: retention: unknown key 'max_ag'; did you mean 'max_age'" "$TW" config check "$C"

# every error, each with its line, in one run
printf 'pol_ms: 5\nringbuf_size: 3M\npolicy:\n  filewrite: alert\n' >"$C"
"$TW" config check "$C" >/dev/null 2>"$TW_TMP/err"
if grep -q 'tw.yaml:1:' "$TW_TMP/err" && grep -q 'tw.yaml:2:' "$TW_TMP/err" &&
   grep -q "tw.yaml:4: policy: unknown verdict class 'filewrite'; did you mean 'file_write'?" "$TW_TMP/err"; then
  ok check_reports_every_error
else
  not_ok check_reports_every_error "$(cat "$TW_TMP/err")"
fi

expect check_config_is_directory 2 "is a directory" "$TW" config check "$TW_TMP"
expect check_missing_file 2 "no-such.yaml" "$TW" config check "$TW_TMP/no-such.yaml"
mkfifo "$TW_TMP/fifo.yaml"
expect check_fifo_does_not_hang 2 "not a regular file|FIFO|fifo" timeout 10 "$TW" config check "$TW_TMP/fifo.yaml"

# secret files: loose mode, wrong owner, missing, a directory
SECRET=$TW_TMP/idp.secret
printf 'not-a-real-secret\n' >"$SECRET"
issuer() { printf 'issuers:\n  idp:\n    type: rfc7009\n    revocation_endpoint: https://idp.example/revoke\n    client_id: tw\n    client_secret_file: %s\n' "$1" >"$C"; }
issuer "$SECRET"; chmod 644 "$SECRET"
expect check_secret_file_loose_mode 2 "tw.yaml:2: issuer 'idp': client_secret_file .* has mode 0644; refusing it" "$TW" config check "$C"
chmod 600 "$SECRET"
expect check_secret_file_ok 0 "ok" "$TW" config check "$C"
chown nobody "$SECRET"
expect check_secret_file_other_owner 2 "tw.yaml:2: .*owned by uid" "$TW" config check "$C"
chown root "$SECRET"
issuer "$TW_TMP/no-such.secret"
expect check_secret_file_missing 2 "tw.yaml:2: issuer 'idp': cannot open client_secret_file" "$TW" config check "$C"
issuer "$TW_TMP"
expect check_secret_file_directory 2 "tw.yaml:2: issuer 'idp'" "$TW" config check "$C"

# --- show: the effective value and its source
printf '# a comment\npoll_ms: 7\npolicy:\n  unmanaged: revoke\n' >"$C"
expect show_runs 0 "" "$TW" config show "$C"
grep -qx "poll_ms: 7  # $C:2" "$TW_TMP/out" && ok show_names_file_line || not_ok show_names_file_line "$(grep poll_ms "$TW_TMP/out")"
grep -qx "ringbuf_size: 16777216  # default" "$TW_TMP/out" && ok show_names_default || not_ok show_names_default "$(grep ringbuf "$TW_TMP/out")"
grep -qx "  unmanaged: revoke  # $C:4" "$TW_TMP/out" && ok show_policy_source || not_ok show_policy_source "$(grep unmanaged "$TW_TMP/out")"
issuer "$SECRET"
"$TW" config show "$C" >"$TW_TMP/out" 2>&1
grep -q "idp: {type: rfc7009, at: https://idp.example/revoke}" "$TW_TMP/out" && ! grep -q "not-a-real-secret" "$TW_TMP/out" &&
  ok show_issuer_never_its_secret || not_ok show_issuer_never_its_secret "$(grep idp "$TW_TMP/out")"
# $TOKENWARD_CONFIG and `tokenward --config FILE` name the same file
printf 'poll_ms: 9\n' >"$C"
TOKENWARD_CONFIG=$C "$TW" config show | grep -qx "poll_ms: 9  # $C:1" && ok show_from_env || not_ok show_from_env "TOKENWARD_CONFIG not read"
"$TW" --config "$C" config show | grep -qx "poll_ms: 9  # $C:1" && ok show_from_global_flag || not_ok show_from_global_flag "--config before the command not read"

# the flags as run would apply them: the source is the flag
printf 'poll_ms: 9\ntls: true\n' >"$C"
"$TW" config show "$C" -- --poll-ms 11 --no-tls >"$TW_TMP/out" 2>&1
grep -qx "poll_ms: 11  # flag --poll-ms" "$TW_TMP/out" && grep -qx "tls: false  # flag --no-tls" "$TW_TMP/out" &&
  grep -qx "ringbuf_size: 16777216  # default" "$TW_TMP/out" && ok show_names_flag_source || not_ok show_names_flag_source "$(grep -E 'poll|tls' "$TW_TMP/out")"
expect show_bad_run_flag_is_usage_error 2 "poll-ms must be 1..1000" "$TW" config show "$C" -- --poll-ms 0
expect usage_config_no_sub 2 "check or show" "$TW" config
expect usage_config_bad_sub 2 "unknown subcommand" "$TW" config frob
expect usage_config_extra 2 "unexpected argument" "$TW" config check a b
expect help_config 0 "config check" "$TW" config --help

# --- every command reads the same file: the ledger follows the config
L=$TW_TMP/cfg-ledger.db
printf 'ledger: %s\nstate_dir: %s/state\n' "$L" "$TW_TMP" >"$C"
tok=$(env -u TOKENWARD_LEDGER "$TW" --config "$C" mint --task cfgtask --aud https://api.example 2>"$TW_TMP/err")
tw_token_record "$tok"
[ -s "$L" ] && ok mint_writes_the_configs_ledger || not_ok mint_writes_the_configs_ledger "$(cat "$TW_TMP/err")"
env -u TOKENWARD_LEDGER TOKENWARD_CONFIG=$C "$TW" ledger list --json >"$TW_TMP/out" 2>&1
grep -q cfgtask "$TW_TMP/out" && ok ledger_list_reads_the_configs_ledger || not_ok ledger_list_reads_the_configs_ledger "$(head -c 200 "$TW_TMP/out")"
env -u TOKENWARD_LEDGER TOKENWARD_CONFIG=$C "$TW" report --format json >"$TW_TMP/out" 2>&1
grep -q "\"ledger\":.*\"$L\"" "$TW_TMP/out" && ok report_reads_the_configs_ledger || not_ok report_reads_the_configs_ledger "$(head -c 200 "$TW_TMP/out")"
env -u TOKENWARD_LEDGER TOKENWARD_CONFIG=$C "$TW" ledger complete --task cfgtask --no-revoke >/dev/null 2>&1
env -u TOKENWARD_LEDGER "$TW" ledger list --json --ledger "$L" | grep -q '"completed"' &&
  ok ledger_complete_uses_the_configs_ledger || not_ok ledger_complete_uses_the_configs_ledger "not completed in $L"
env -u TOKENWARD_LEDGER TOKENWARD_CONFIG=$C "$TW" status >"$TW_TMP/out" 2>&1
grep -q "$TW_TMP/state" "$TW_TMP/out" && ok status_reads_the_configs_state_dir || not_ok status_reads_the_configs_state_dir "$(head -c 200 "$TW_TMP/out")"
# scan loads the config's rules_dirs, as the monitor does
mkdir -p "$TW_TMP/leak-input"
zkey="zeta_$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"; tw_token_record "$zkey"
printf 'k=%s\n' "$zkey" >"$TW_TMP/leak-input/z.txt"
printf 'rules_dirs: [%s/rules]\n' "$TW_TMP" >"$TW_TMP/scan.yaml"
TOKENWARD_CONFIG=$TW_TMP/scan.yaml "$TW" scan "$TW_TMP/leak-input/z.txt" >"$TW_TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q zeta "$TW_TMP/out" && ok scan_uses_the_configs_rules_dirs || not_ok scan_uses_the_configs_rules_dirs "rc $rc: $(head -c 200 "$TW_TMP/out")"
"$TW" scan "$TW_TMP/leak-input/z.txt" >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && ok scan_without_config_has_builtin_rules_only || not_ok scan_without_config_has_builtin_rules_only "rc $rc"
# a flag still wins over the file
env -u TOKENWARD_LEDGER TOKENWARD_CONFIG=$C "$TW" ledger list --json --ledger "$TW_TMP/other.db" >"$TW_TMP/out" 2>&1
! grep -q cfgtask "$TW_TMP/out" && ok ledger_flag_overrides_config || not_ok ledger_flag_overrides_config "the flag was ignored"
# a broken config stops every command, by its line
printf 'ledgr: /x\n' >"$C"
expect mint_refuses_broken_config 2 "tw.yaml:1: unknown key 'ledgr'; did you mean 'ledger'" env TOKENWARD_CONFIG="$C" "$TW" mint --task t --aud https://a.example
expect run_refuses_broken_config 2 "tw.yaml:1: unknown key 'ledgr'" "$TW" run --config "$C" --exit-after 1
expect run_refuses_config_directory 2 "is a directory" "$TW" run --config "$TW_TMP" --exit-after 1
printf 'rules_dirs: %s/no-such-dir\n' "$TW_TMP" >"$C"
expect run_refuses_missing_rules_dir 2 "rules_dirs: .*no-such-dir" "$TW" run --config "$C" --exit-after 1

# a user who cannot read root's secret file can still scan with the config
# (its rules_dirs): commands that never revoke do not read secrets
PUB=$(mktemp -d /tmp/tw-cfg-pub.XXXXXX); chmod 755 "$PUB"
cp -r "$TW_TMP/rules" "$PUB/rules"; chmod -R a+rX "$PUB/rules"
printf 'not-a-real-secret\n' >"$PUB/idp.secret"; chmod 600 "$PUB/idp.secret"
printf 'rules_dirs: [%s/rules]\nissuers:\n  idp:\n    type: rfc7009\n    revocation_endpoint: https://idp.example/revoke\n    client_id: tw\n    client_secret_file: %s/idp.secret\n' "$PUB" "$PUB" >"$PUB/tw.yaml"
chmod 644 "$PUB/tw.yaml"; printf 'nothing here\n' >"$PUB/plain.txt"; chmod 644 "$PUB/plain.txt"
if command -v runuser >/dev/null; then
  runuser -u nobody -- "$TW" --config "$PUB/tw.yaml" scan "$PUB/plain.txt" >"$TW_TMP/out" 2>&1; rc=$?
  [ $rc -eq 0 ] && ok scan_as_user_without_the_secret || not_ok scan_as_user_without_the_secret "rc $rc: $(head -c 200 "$TW_TMP/out")"
  runuser -u nobody -- "$TW" config check "$PUB/tw.yaml" >"$TW_TMP/out" 2>&1; rc=$?
  [ $rc -eq 2 ] && grep -q "cannot open client_secret_file" "$TW_TMP/out" && ok check_as_user_without_the_secret_says_so ||
    not_ok check_as_user_without_the_secret_says_so "rc $rc: $(head -c 200 "$TW_TMP/out")"
fi
rm -rf "$PUB"

# --- the state directory, before any sensor is loaded
printf 'poll_ms: 5\n' >"$C"
mkdir -p "$TW_TMP/loose"; chmod 777 "$TW_TMP/loose"
expect run_refuses_world_writable_state_dir 2 "state directory .*loose is writable by others" "$TW" run --config "$C" --state-dir "$TW_TMP/loose" --exit-after 1
mkdir -p "$TW_TMP/theirs"; chmod 700 "$TW_TMP/theirs"; chown nobody "$TW_TMP/theirs"
expect run_refuses_state_dir_of_other_owner 2 "belongs to uid" "$TW" run --config "$C" --state-dir "$TW_TMP/theirs" --exit-after 1
ln -s "$TW_TMP/loose" "$TW_TMP/state-link"
expect run_refuses_state_dir_symlink 2 "state directory" "$TW" run --config "$C" --state-dir "$TW_TMP/state-link" --exit-after 1
# a held lock: the second run names the holder's pid
mkdir -p "$TW_TMP/held"; chmod 700 "$TW_TMP/held"
exec 9>"$TW_TMP/held/run.lock"; flock -x 9; echo 424242 >&9
expect run_refuses_second_instance 2 "another tokenward run \(pid 424242\) already uses the state directory" "$TW" run --config "$C" --state-dir "$TW_TMP/held" --exit-after 1
exec 9>&-
# the lock file is never opened through a link
mkdir -p "$TW_TMP/linked"; chmod 700 "$TW_TMP/linked"; ln -s /etc/passwd "$TW_TMP/linked/run.lock"
expect run_lock_never_follows_link 2 "instance lock .* symbolic link" "$TW" run --config "$C" --state-dir "$TW_TMP/linked" --exit-after 1
grep -q '^root:' /etc/passwd && ok run_lock_link_target_untouched || not_ok run_lock_link_target_untouched "/etc/passwd changed"

# docs/CONFIG.md names every key and its flag
printf '' >"$C"
n=0
for k in $("$TW" config show "$C" 2>/dev/null | sed -n 's/^\([a-z_]*\):.*/\1/p'); do
  n=$((n + 1))
  grep -q "^| \`$k\`" "$TW_ROOT/docs/CONFIG.md" || missing="${missing:-} $k"
done
[ "$n" -ge 20 ] || missing="${missing:-} (only $n keys shown)"
[ -z "${missing:-}" ] && ok config_md_documents_every_key || not_ok config_md_documents_every_key "missing:$missing"
