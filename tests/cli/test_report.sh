#!/usr/bin/env bash
# `tokenward report` from the CLI: filters that match nothing are usage
# errors (exit 2, a message, no report), not an empty report (issue 13,
# defect 13).
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"

tok=$("$TW" mint --task R1 --aud a.example:1 2>"$TW_TMP/mint.err"); RAW_TOKENS+=("$tok")
id=$(sed -n 's/^tokenward mint: \(tk-[0-9a-f]*\) .*/\1/p' "$TW_TMP/mint.err")

expect_rc report_known_token 0 "$TW" report --token "$id" --format json
[ "$(json_eval "$TW_TMP/out" "[t['id'] for t in j['tokens']]")" = "['$id']" ] && ok report_known_token_shown || not_ok report_known_token_shown "$(head -c 300 "$TW_TMP/out")"
expect_rc report_known_task 0 "$TW" report --task R1 --all --format json
[ "$(json_eval "$TW_TMP/out" "len(j['tokens'])")" = 1 ] && ok report_known_task_shown || not_ok report_known_task_shown "$(head -c 300 "$TW_TMP/out")"

for f in json md html; do
  expect_rc "report_unknown_token_$f" 2 "$TW" report --token tk-000000000000 --format "$f"
  [ ! -s "$TW_TMP/out" ] && grep -q "tk-000000000000" "$TW_TMP/err" && ok "report_unknown_token_${f}_says_so" || not_ok "report_unknown_token_${f}_says_so" "out $(wc -c <"$TW_TMP/out") err $(cat "$TW_TMP/err")"
  expect_rc "report_unknown_task_$f" 2 "$TW" report --task no-such-task --format "$f"
  [ ! -s "$TW_TMP/out" ] && grep -q "no-such-task" "$TW_TMP/err" && ok "report_unknown_task_${f}_says_so" || not_ok "report_unknown_task_${f}_says_so" "out $(wc -c <"$TW_TMP/out") err $(cat "$TW_TMP/err")"
done
# A token of another task is not in this task's report: both given, no match.
expect_rc report_token_not_in_task 2 "$TW" report --token "$id" --task other-task
# Nothing is written to -o when the filter is wrong.
echo previous >"$TW_TMP/report.md"
expect_rc report_unknown_task_output 2 "$TW" report --task no-such-task -o "$TW_TMP/report.md"
[ "$(cat "$TW_TMP/report.md")" = previous ] && ok report_unknown_task_keeps_output || not_ok report_unknown_task_keeps_output "output changed"

assert_no_raw_tokens "$TW_LOGS"
