#!/usr/bin/env bash
# `tokenward report` offline, in every format, from a ledger with real
# history (mint, register, complete, revoke) and sightings in the form the
# monitor records them, so that the sanitized build (cli-asan/) runs the
# report code too. The live tier's test_verdicts.sh makes a report from a
# real monitor run; this one pins the rendering: the summary, the timeline
# order, the exposure time, the filters, escaping of a hostile path in
# html and markdown, and -o.
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"

mint_id() { # TASK: mints; sets ID; the token is recorded and kept in RAW_TOKENS
  local tok
  tok=$("$TW" mint --task "$1" --aud https://api.example.test --ttl 10m 2>"$TW_TMP/mint.err") || return 1
  RAW_TOKENS+=("$tok"); tw_token_record "$tok"
  ID=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
}
# sighting ID CLASS EXPOSURE PATH: one history row as the monitor writes it
# (user/ledger/handoff.c: the verdict JSON), seen now.
sighting() {
  python3 - "$LEDGER" "$@" <<'PY'
import datetime, json, sqlite3, sys, time
ledger, tid, cls, exposure, path = sys.argv[1:]
now = time.time_ns()
t = datetime.datetime.fromtimestamp(now / 1e9, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
d = {"time": t, "class": cls, "classes": [cls], "exposure": exposure == "1", "token_id": tid,
     "kind": "file_write", "pid": 4242, "comm": "agent", "exe": "/usr/bin/agent", "uid": 0,
     "path": path or None, "dest": None if path else "192.0.2.7:443", "action": "revoke" if exposure == "1" else "record"}
db = sqlite3.connect(ledger)
db.execute("INSERT INTO history (token_id, at_ns, event, detail) VALUES (?, ?, 'sighting', ?)", (tid, now, json.dumps(d)))
db.commit()
PY
}

mint_id R1 && A=$ID && mint_id R1 && B=$ID || { not_ok report_setup "mint failed: $(cat "$TW_TMP/mint.err")"; exit 1; }
op=$(opaque_token); RAW_TOKENS+=("$op")
C=$(printf '%s' "$op" | "$TW" ledger register --issuer corp-idp --task R2 --aud 192.0.2.10:443 --ttl 1h 2>"$TW_TMP/err") ||
  { not_ok report_setup "register failed: $(cat "$TW_TMP/err")"; exit 1; }
EVIL='/srv/<b>x</b>&"q'"'"'|*_`#.log'
sighting "$A" file_write 1 "$EVIL"
sighting "$B" use 0 ""
"$TW" ledger complete --task R1 >/dev/null 2>"$TW_TMP/complete.err" || not_ok report_setup "complete: $(cat "$TW_TMP/complete.err")"

# JSON: the seen tokens only, the summary, the timeline in time order.
expect_rc report_json 0 "$TW" report --format json
cp "$TW_TMP/out" "$TW_TMP/report.json"
if python3 - "$TW_TMP/report.json" "$A" "$B" <<'PY' 2>"$TW_TMP/check.err"; then ok report_json_model; else not_ok report_json_model "$(tail -1 "$TW_TMP/check.err")"; fi
import json, sys
r = json.load(open(sys.argv[1])); a, b = sys.argv[2:]
s = r["summary"]
assert (s["tokens_seen"], s["tokens_exposed"], s["revoked_at_issuer"]) == (2, 1, 2), s
assert s["sightings_by_class"] == {"file_write": 1, "use": 1}, s
t = {x["id"]: x for x in r["tokens"]}
assert sorted(t) == sorted([a, b]), list(t)
ta = t[a]
assert (ta["sightings"], ta["exposures"], ta["status"]) == (1, 1, "revoked"), ta
assert ta["exposed_for_ms"] is not None and 0 <= ta["exposed_for_ms"] < 60000, ta["exposed_for_ms"]
assert t[b]["exposures"] == 0 and t[b]["exposed_for_ms"] is None, t[b]
ev = [e["event"] for e in ta["timeline"]]
assert ev[0] == "issued" and ev.index("sighting") < ev.index("completed"), ev
times = [e["time"] for e in ta["timeline"]]
assert times == sorted(times), times
PY

# Filters: --all adds the never-seen token; --task and --token narrow.
expect_rc report_all 0 "$TW" report --format json --all
[ "$(json_eval "$TW_TMP/out" "sorted(t['id'] for t in j['tokens'])")" = "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$A" "$B" "$C")" ] &&
  ok report_all_lists_unseen || not_ok report_all_lists_unseen "$(json_eval "$TW_TMP/out" "[t['id'] for t in j['tokens']]")"
expect_rc report_task 0 "$TW" report --format json --task R2 --all
[ "$(json_eval "$TW_TMP/out" "[t['id'] for t in j['tokens']]")" = "['$C']" ] && ok report_task_filter || not_ok report_task_filter "$(head -c 300 "$TW_TMP/out")"
expect_rc report_token 0 "$TW" report --format json --token "$C"
[ "$(json_eval "$TW_TMP/out" "([t['id'] for t in j['tokens']], j['tokens'][0]['sightings'])")" = "(['$C'], 0)" ] &&
  ok report_token_shown_unseen || not_ok report_token_shown_unseen "$(head -c 300 "$TW_TMP/out")"

# Markdown and html: every token, the hostile path escaped, never markup.
expect_rc report_md 0 "$TW" report --format md
cp "$TW_TMP/out" "$TW_TMP/report.md"
grep -q "^## $A" "$TW_TMP/report.md" && grep -q "^## $B" "$TW_TMP/report.md" && grep -qxF '| file\_write | 1 |' "$TW_TMP/report.md" &&
  ok report_md_sections || not_ok report_md_sections "$(head -c 600 "$TW_TMP/report.md")"
grep -qF '/srv/\<b\>x\</b\>&"q'"'"'\|\*\_\`\#.log' "$TW_TMP/report.md" && ok report_md_escapes_path || not_ok report_md_escapes_path "$(grep -F 'srv' "$TW_TMP/report.md" | head -2)"
expect_rc report_html 0 "$TW" report --format html -o "$TW_TMP/report.html"
[ ! -s "$TW_TMP/out" ] && ok report_o_writes_file_only || not_ok report_o_writes_file_only "stdout not empty"
grep -qF '/srv/&#60;b&#62;x&#60;/b&#62;&#38;&#34;q&#39;|*_`#.log' "$TW_TMP/report.html" && ! grep -q '<b>x' "$TW_TMP/report.html" &&
  ok report_html_escapes_path || not_ok report_html_escapes_path "$(grep -F 'srv' "$TW_TMP/report.html" | head -2)"
grep -q '<h2 class="exposed">'"$A" "$TW_TMP/report.html" && tail -1 "$TW_TMP/report.html" | grep -q '</html>' &&
  ok report_html_complete || not_ok report_html_complete "$(tail -c 300 "$TW_TMP/report.html")"

# Usage: a bad format is a usage error.
expect_rc report_bad_format 2 "$TW" report --format xml
expect_rc report_bad_flag 2 "$TW" report --bogus
expect_rc report_help 0 "$TW" report --help

# Nothing printed a token (the suite's audit searches every encoding too).
assert_no_raw_tokens "$TW_LOGS"
