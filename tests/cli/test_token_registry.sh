#!/usr/bin/env bash
# The suite's token registry (tools/run-tests.sh, BUILD/test-tokens) is
# appended to by every tier at once. A line written in pieces lets another
# writer's line land inside it, and the redaction audit then refuses the
# whole registry (a bug seen once the unit tiers ran beside the others): a
# record, however long its token, is one write. The recorders here write
# to a registry of the test's own, in TW_TMP, many at once.
. "$(dirname "$0")/../live/lib.sh"
REG=$TW_TMP/registry
WRITERS=12 EACH=8

# writer N: records EACH tokens of 30-60 KiB (the shell's printf wrote
# such a line in 4 KiB pieces), the shortest a plain one.
writer() {
  local i t
  for i in $(seq "$EACH"); do
    t=$(head -c $(( (40 + (RANDOM % 40)) * 768 )) /dev/urandom | base64 -w0)
    [ "$i" = 1 ] && t=${t:0:40}
    TW_TOKENS=$REG TW_TEST="registry/w$1" tw_token_record "$t"
  done
}
# One write a record, as strace sees it (buffers not printed: -s 0): a
# write() of the whole line's length. Deterministic, where the race below
# shows a split line only now and then.
one=$TW_TMP/one
T=$(head -c 45000 /dev/urandom | base64 -w0) strace -f -s 0 -e trace=write -o "$TW_TMP/strace" \
  bash -c '. "$1/tests/live/lib.sh"; TW_TOKENS=$2 TW_TEST=registry/one tw_token_record "$T"' _ "$TW_ROOT" "$one"
size=$(stat -c %s "$one" 2>/dev/null || echo 0)
if [ "$size" -gt 60000 ] && grep -qE "write\([0-9]+, \"\"\.\.\., $size\) += $size\$" "$TW_TMP/strace"; then
  ok registry_record_one_write
else
  not_ok registry_record_one_write "no write() of the whole $size-byte line: $(grep -oE '= [0-9]+$' "$TW_TMP/strace" | tr '\n' ' ' | head -c 200)"
fi

pids=()
for n in $(seq "$WRITERS"); do writer "$n" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done

lines=$(wc -l <"$REG")
bad=$(awk -F'\t' 'NF != 2 || $1 !~ /^registry\/w[0-9]+$/ || $2 !~ /^([0-9a-f][0-9a-f])+$/' "$REG" | wc -l)
[ "$lines" -eq $((WRITERS * EACH)) ] && ok registry_one_line_a_token ||
  not_ok registry_one_line_a_token "$lines lines for $((WRITERS * EACH)) tokens"
[ "$bad" -eq 0 ] && ok registry_lines_whole || not_ok registry_lines_whole "$bad lines are not TEST<TAB>HEX"
mkdir -p "$TW_TMP/empty"
python3 "$TW_ROOT/tools/redaction-audit.py" --tokens "$REG" "$TW_TMP/empty" >"$TW_TMP/audit.out" 2>&1 &&
  ok registry_read_by_the_audit || not_ok registry_read_by_the_audit "$(head -c 300 "$TW_TMP/audit.out")"
tw_tmp_done
