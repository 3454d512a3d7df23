#!/usr/bin/env bash
# The flood bound in the monitor (issue 13, defect 9): past flood_cap
# distinct unmanaged secrets of one rule in one capture, the rest are
# counted in status.json (detection.findings_capped), not judged one by
# one. The bound is the config key flood_cap (default 1000; 0: every one)
# and the flag --flood-cap, which wins over the file; a SIGHUP takes the
# file's new value. Each flood is N fresh GitHub tokens (valid checksums,
# unmanaged: alerts) in one write() to a file of this test's cgroup.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEAKS=$TW_TMP/leak-input     # the floods' files hold tokens on purpose
mkdir -p "$LEAKS"
trap 'tw_stop; tw_leave_cgroup; tw_tmp_done' EXIT
tw_own_cgroup || { not_ok flood_cap_cgroup "$TW_CG"; exit 1; }
N=1200    # 49 KB of tokens: one capture

# The tokens are made before any monitor runs, each case its own: a
# secret the monitor has already seen is judged once (a repeat is
# suppressed), and the files they are made in are writes it would see.
CASES="f_default f_zero f_hup20 f_flag5 f_flag_hup"
for c in $CASES; do
  python3 "$TW_ROOT/tests/cli/tokgen.py" ghp $N >"$LEAKS/$c.tokens" &&
    python3 "$TW_ROOT/tests/cli/tokgen.py" ghp 1 >"$LEAKS/$c-barrier.tokens" ||
    { not_ok flood_cap_tokens "tokgen failed"; exit 1; }
done
# write_tokens NAME: NAME.tokens, space-separated, in one write() to
# LEAKS/NAME.log.
write_tokens() {
  python3 -c 'import os, sys
data = open(sys.argv[1], "rb").read().replace(b"\n", b" ")
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
assert os.write(fd, data) == len(data)
os.close(fd)' "$LEAKS/$1.tokens" "$LEAKS/$1.log"
}
# verdicts NAME: verdicts for LEAKS/NAME.log so far (every one is
# unmanaged: nothing is in the ledger). grep, not python: the polls are
# processes in the watched cgroup too.
verdicts() { grep -cF "\"path\":\"$LEAKS/$1.log\"" "$TW_TMP/events.jsonl"; }
capped() { sed -n 's/.*"findings_capped":[[:space:]]*\([0-9]*\).*/\1/p' "$TW_TMP/state/status.json" | head -1; }
_counts_are() { # NAME VERDICTS CAPPED
  [ "$(verdicts "$1")" -eq "$2" ] && [ "$(capped)" = "$3" ]
}

# flood_case CASE FILE LISTED: a flood of N gives exactly LISTED verdicts and
# N - LISTED more capped findings; a barrier (one more token, in a file
# written after the flood's) shows that nothing more comes.
flood_case() {
  local name=$1 file=$2 want=$3 c0
  tw_wait_status 'True' >/dev/null
  c0=$(capped)
  write_tokens "$file" || { not_ok "$name" "cannot write the flood"; return; }
  if ! tw_poll _counts_are "$file" "$want" $((c0 + N - want)); then
    not_ok "$name" "$(verdicts "$file") verdicts, $(($(capped) - c0)) capped; want $want and $((N - want))"
    return
  fi
  write_tokens "$file-barrier"
  if ! tw_poll _counts_are "$file-barrier" 1 $((c0 + N - want)); then
    not_ok "$name" "the barrier's verdict never came"
    return
  fi
  if [ "$(verdicts "$file")" -eq "$want" ]; then ok "$name"; else not_ok "$name" "$(verdicts "$file") verdicts after the barrier"; fi
}

# --- the default: 1000 listed, the rest counted
tw_start --no-sweep --no-tls --cgroup "$TW_CG" || { not_ok flood_cap_start "monitor failed"; exit 1; }
flood_case flood_cap_default_1000 f_default 1000
tw_stop

# --- the file says 0: every one listed; then 20, taken by a SIGHUP
printf 'flood_cap: 0\n' >"$TW_TMP/tw.yaml"
tw_start --config "$TW_TMP/tw.yaml" --no-sweep --no-tls --cgroup "$TW_CG" ||
  { not_ok flood_cap_start "monitor failed"; exit 1; }
flood_case flood_cap_config_0_lists_all f_zero $N
printf 'flood_cap: 20\n' >"$TW_TMP/tw.yaml"
r0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["config_reloads"])' "$TW_TMP/state/status.json")
kill -HUP "$TW_PID"
if tw_wait_status "s['sensors']['config_reloads'] > $r0" >/dev/null; then
  flood_case flood_cap_sighup_20 f_hup20 20
else
  not_ok flood_cap_sighup_20 "the config was not reloaded: $(tail -3 "$TW_TMP/stderr")"
fi
tw_stop

# --- the flag wins over the file, and a SIGHUP keeps it
tw_start --config "$TW_TMP/tw.yaml" --flood-cap 5 --no-sweep --no-tls --cgroup "$TW_CG" ||
  { not_ok flood_cap_start "monitor failed"; exit 1; }
flood_case flood_cap_flag_5_wins f_flag5 5
r0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["config_reloads"])' "$TW_TMP/state/status.json")
kill -HUP "$TW_PID"
if tw_wait_status "s['sensors']['config_reloads'] > $r0" >/dev/null; then
  flood_case flood_cap_flag_kept_on_sighup f_flag_hup 5
else
  not_ok flood_cap_flag_kept_on_sighup "the config was not reloaded"
fi
tw_stop

# --- a bad value is a usage error that names the flag or the key's line
"$TW" run --flood-cap 12x --state-dir "$TW_TMP/bad" >/dev/null 2>"$TW_TMP/bad.err"
[ $? -eq 2 ] && grep -q -- "--flood-cap" "$TW_TMP/bad.err" && ok flood_cap_bad_flag ||
  not_ok flood_cap_bad_flag "$(cat "$TW_TMP/bad.err")"
printf 'state_dir: %s\nflood_cap: 200000000\n' "$TW_TMP/bad" >"$TW_TMP/bad.yaml"
"$TW" run --config "$TW_TMP/bad.yaml" >/dev/null 2>"$TW_TMP/bad.err"
[ $? -eq 2 ] && grep -q "bad.yaml:2" "$TW_TMP/bad.err" && ok flood_cap_bad_key ||
  not_ok flood_cap_bad_key "$(cat "$TW_TMP/bad.err")"

# no token of any flood in the monitor's own files
cat "$LEAKS"/f_*.tokens >"$LEAKS/all.tokens"
if grep -rqF -f "$LEAKS/all.tokens" --exclude-dir=leak-input "$TW_TMP"; then
  not_ok flood_cap_no_raw_token "a raw token in $(grep -rlF -f "$LEAKS/all.tokens" --exclude-dir=leak-input "$TW_TMP" | head -3 | tr '\n' ' ')"
else
  ok flood_cap_no_raw_token
fi
