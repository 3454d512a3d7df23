#!/usr/bin/env bash
# `tokenward report` over an event store (STATE_DIR/events.db) written the
# way the monitor writes it (user/ledger/evstore.c; rows made here with
# the same schema), offline, so that the sanitized build runs it too:
# the window's edges (inclusive, RFC 3339 and relative), an empty window,
# coverage from the counter samples, top-N with rows left out, escaping of
# hostile store values, bad input (times, ids, -o) and, with the normal
# build, a store of 1 million verdicts (time and memory recorded).
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"

STATE=$TW_TMP/state
mkdir -p "$STATE"; chmod 700 "$STATE"
tok=$("$TW" mint --task S1 --aud https://api.example.test --ttl 10m 2>"$TW_TMP/mint.err"); RAW_TOKENS+=("$tok"); tw_token_record "$tok"
A=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
[ -n "$A" ] || { not_ok store_setup "mint failed: $(cat "$TW_TMP/mint.err")"; exit 1; }

# mkstore DB SPEC.json: the store's schema and rows (tests/cli/evstore_gen.py).
mkstore() { python3 "$TW_ROOT/tests/cli/evstore_gen.py" spec "$@"; }
NOW=$(date +%s%N)
S=1000000000
# Three verdicts of token A at NOW-30s, NOW-20s, NOW-10s (whole µs), one 3 h
# old; an unmanaged one; a hostile path; 15 processes with one exposure
# each (top-N); counters: one run with a baseline before the window and
# losses inside it.
T1=$(( (NOW - 30*S) / 1000 * 1000 )); T2=$(( (NOW - 20*S) / 1000 * 1000 )); T3=$(( (NOW - 10*S) / 1000 * 1000 ))
OLD=$(( NOW - 3*3600*S ))
RUN=$(( NOW - 4*3600*S ))
EVIL='/srv/<img src=x onerror=alert(1)>&"q'"'"'|*_`#.log'
python3 - "$A" "$T1" "$T2" "$T3" "$OLD" "$RUN" "$EVIL" "$NOW" >"$TW_TMP/spec.json" <<'PY'
import json, sys
a, t1, t2, t3, old, run, evil, now = sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7], int(sys.argv[8])
v = [{"at": t1, "token": a, "class": "use", "exposure": False, "action": "record", "kind": "net_send", "dest": "192.0.2.1:443"},
     {"at": t2, "token": a, "path": evil},
     {"at": t3, "token": a, "class": "use", "exposure": False, "action": "record", "kind": "net_send", "dest": "192.0.2.1:443"},
     {"at": old, "token": a, "path": "/old.log"},
     {"at": t2 + 1000, "token": None, "class": "unmanaged", "exposure": False, "action": "alert", "rule": "github-classic",
      "path": "/tmp/u.txt", "container": "0123456789ab"}]
v += [{"at": t2 + 2000 + i, "token": None, "class": "unmanaged", "exposure": False, "action": "alert",
       "rule": "aws-access-key", "exe": "/usr/bin/p%02d" % i, "comm": "p%02d" % i} for i in range(15)]
c = [{"at": now - 3600 * 10**9 * 3 + 5, "run": run, "lost": {"ringbuf_full": 100}, "cut": {"capture_truncated": 1}},
     {"at": t1, "run": run, "lost": {"ringbuf_full": 100}, "cut": {"capture_truncated": 1}},
     {"at": t2, "run": run, "lost": {"ringbuf_full": 1303}, "cut": {"capture_truncated": 1}},
     {"at": t3, "run": run, "lost": {"ringbuf_full": 1303}, "cut": {"capture_truncated": 4}}]
print(json.dumps({"verdicts": v, "counters": c}))
PY
mkstore "$STATE/events.db" "$TW_TMP/spec.json" || { not_ok store_setup "cannot write the store"; exit 1; }
rep() { "$TW" report --state-dir "$STATE" "$@"; }

# The default window (24 h): the old row is in, everything counted.
expect_rc store_default_window 0 rep --format json
if python3 - "$TW_TMP/out" "$A" <<'PY' 2>"$TW_TMP/check.err"; then ok store_default_model; else not_ok store_default_model "$(tail -1 "$TW_TMP/check.err")"; fi
import json, sys
r = json.load(open(sys.argv[1])); a = sys.argv[2]
assert r["schema"] == 1 and r["events_store"] is True and r["empty"] is False
s = r["summary"]
assert s["verdicts"] == 20, s["verdicts"]
assert s["by_class"] == {"use": 2, "file_write": 2, "unmanaged": 16}, s["by_class"]
t = r["tokens"][0]
assert t["id"] == a and t["sightings"] == 4 and t["exposures"] == 2, t
h = [e for e in t["timeline"] if e["event"] == "sighting"]
# the uses at T1 and T3 come after the exposure at OLD: highlighted
assert [e["highlight"] for e in h] == [False, True, False, True], [(e["time"], e["highlight"]) for e in h]
assert t["blast_radius"]["uses_after_exposure"] == 2 and t["blast_radius"]["sightings_after_exposure"] == 3, t["blast_radius"]
u = s["unmanaged_by_rule"]["rows"]
assert [(x["key"], x["count"]) for x in u] == [("aws-access-key", 15), ("github-classic", 1)], u
assert s["top"]["containers"]["rows"][0]["key"] == "0123456789ab", s["top"]["containers"]
c = r["coverage"]
# baseline 100 at the sample before the window (3 h ago is inside 24 h: the
# first sample is the baseline's own run start, so 0 -> 100 counts too)
assert c["lost"]["ringbuf_full"] == 1303 and c["cut"]["capture_truncated"] == 4, c
assert c["statement"].startswith("the monitor lost 1,303 events and 4 captures were cut short between "), c["statement"]
PY

# Without --state-dir the store is the config's state_dir's.
printf 'state_dir: %s\nledger: %s\n' "$STATE" "$LEDGER" >"$TW_TMP/tw.yaml"
expect_rc store_config_state_dir 0 "$TW" report --config "$TW_TMP/tw.yaml" --format json
[ "$(json_eval "$TW_TMP/out" "(j['events_store'], j['summary']['verdicts'])")" = "(True, 20)" ] &&
  ok store_config_state_dir_used || not_ok store_config_state_dir_used "$(head -c 300 "$TW_TMP/out")"
expect_rc store_config_missing 2 "$TW" report --config "$TW_TMP/none.yaml" --format json

# The window's edges: inclusive at both ends, to the microsecond.
iso() { python3 -c 'import datetime,sys; n=int(sys.argv[1]); print(datetime.datetime.fromtimestamp(n//1000/1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))' "$1"; }
expect_rc store_edge_exact 0 rep --format json --since "$(iso "$T2")" --until "$(iso "$T2")"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); p=[e["detail"]["path"] for t in j["tokens"] for e in t["timeline"] if e["event"]=="sighting"]; sys.exit(0 if j["summary"]["verdicts"]==1 and p==[sys.argv[2]] else 1)' "$TW_TMP/out" "$EVIL" &&
  ok store_edge_exact_one || not_ok store_edge_exact_one "$(json_eval "$TW_TMP/out" "j['summary']['verdicts']")"
expect_rc store_edge_after 0 rep --format json --since "$(iso $((T2 + 1000)))" --until "$(iso $((T3 - 1000)))"
[ "$(json_eval "$TW_TMP/out" "(j['summary']['by_class'], len(j['tokens']))")" = "({'unmanaged': 16}, 0)" ] &&
  ok store_edge_excludes || not_ok store_edge_excludes "$(json_eval "$TW_TMP/out" "j['summary']['by_class']")"
# Relative times: the last 2 hours leave out the 3 h old row.
expect_rc store_relative 0 rep --format json --since 2h
[ "$(json_eval "$TW_TMP/out" "j['summary']['verdicts']")" = 19 ] && ok store_relative_window || not_ok store_relative_window "$(json_eval "$TW_TMP/out" "j['summary']['verdicts']")"
# The coverage of a window that starts after the first samples: the
# sample before the window is the baseline.
expect_rc store_coverage_baseline 0 rep --format json --since "$(iso $((T1 + 1000)))"
[ "$(json_eval "$TW_TMP/out" "(j['coverage']['lost']['ringbuf_full'], j['coverage']['cut']['capture_truncated'], len(j['coverage']['periods']))")" = "(1203, 3, 1)" ] &&
  ok store_coverage_delta || not_ok store_coverage_delta "$(json_eval "$TW_TMP/out" "j['coverage']")"
grep -q '"statement":[[:space:]]*"the monitor lost 1,203 events' "$TW_TMP/out" && ok store_coverage_statement || not_ok store_coverage_statement "$(grep statement "$TW_TMP/out")"

# An empty window: a valid report that says so, in every format.
for f in json md html; do
  expect_rc "store_empty_$f" 0 rep --format $f --since 2000-01-01T00:00:00Z --until 2000-01-01T01:00:00+01:00
done
expect_rc store_empty_model 0 rep --format json --since 2000-01-01T00:00:00Z --until 2000-01-02T00:00:00Z
[ "$(json_eval "$TW_TMP/out" "(j['empty'], j['summary']['verdicts'], j['tokens'], j['coverage']['known'])")" = "(True, 0, [], False)" ] &&
  ok store_empty_says_empty || not_ok store_empty_says_empty "$(head -c 300 "$TW_TMP/out")"
rep --format md --since 2000-01-01T00:00:00Z --until 2000-01-02T00:00:00Z >"$TW_TMP/empty.md" 2>&1
grep -q "Nothing was seen between 2000-01-01T00:00:00.000000Z and 2000-01-02T00:00:00.000000Z" "$TW_TMP/empty.md" &&
  ok store_empty_md_text || not_ok store_empty_md_text "$(head -c 400 "$TW_TMP/empty.md")"

# Top-N: 16 processes leaked; --top 5 shows five and says 11 were left out.
expect_rc store_top 0 rep --format json --top 5
[ "$(json_eval "$TW_TMP/out" "(len(j['summary']['top']['processes']['rows']), j['summary']['top']['processes']['left_out'])")" = "(5, 11)" ] &&
  ok store_top_left_out || not_ok store_top_left_out "$(json_eval "$TW_TMP/out" "j['summary']['top']['processes']")"
rep --format md --top 5 >"$TW_TMP/top.md" 2>&1
grep -q "^11 rows left out.$" "$TW_TMP/top.md" && ok store_top_md_says || not_ok store_top_md_says "$(grep -n left "$TW_TMP/top.md")"

# Hostile values from the store are escaped, never markup.
rep --format html -o "$TW_TMP/r.html" 2>"$TW_TMP/err"
grep -qF '/srv/&#60;img src=x onerror=alert(1)&#62;&#38;&#34;q&#39;|*_`#.log' "$TW_TMP/r.html" && ! grep -q '<img' "$TW_TMP/r.html" &&
  ok store_html_escapes || not_ok store_html_escapes "$(grep -o 'srv[^<]*' "$TW_TMP/r.html" | head -2)"
rep --format md >"$TW_TMP/r.md" 2>&1
grep -qF '/srv/\<img src=x onerror=alert(1)\>&"q'"'"'\|\*\_\`\#.log' "$TW_TMP/r.md" && ok store_md_escapes || not_ok store_md_escapes "$(grep -F 'srv' "$TW_TMP/r.md" | head -2)"

# Bad input: exit 2, a message that names the problem, nothing on stdout.
bad() { # NAME WANT_IN_ERR ARGS...
  local name=$1 want=$2; shift 2
  expect_rc "$name" 2 rep "$@" && { [ ! -s "$TW_TMP/out" ] && grep -q -- "$want" "$TW_TMP/err" && ok "${name}_message" ||
    not_ok "${name}_message" "out $(wc -c <"$TW_TMP/out"), err: $(cat "$TW_TMP/err")"; }
}
bad store_bad_since "since" --since yesterday
bad store_bad_since_unit "since" --since 5y
bad store_bad_until_date "until" --until 2026-13-01T00:00:00Z
bad store_bad_until_tz "until" --until 2026-12-01T00:00:00
bad store_bad_order "before it starts" --since 1h --until 2h
bad store_bad_top "top" --top 0
bad store_unknown_token "tk-000000000000" --token tk-000000000000
bad store_unknown_task "no-such" --task no-such
# -o where nothing can be written: exit 2, and no file, no temporary left.
bad store_o_no_dir "$TW_TMP/none" -o "$TW_TMP/none/r.html" --format html
echo keep >"$TW_TMP/afile"
bad store_o_not_dir "afile" -o "$TW_TMP/afile/r.md"
mkdir -p "$TW_TMP/odir/sub"
expect_rc store_o_is_dir 2 rep -o "$TW_TMP/odir/sub" --format md
[ -d "$TW_TMP/odir/sub" ] && [ "$(ls -A "$TW_TMP/odir")" = sub ] && [ -z "$(ls -A "$TW_TMP/odir/sub")" ] &&
  ok store_o_is_dir_no_partial || not_ok store_o_is_dir_no_partial "left: $(ls -A "$TW_TMP/odir" "$TW_TMP/odir/sub" | tr '\n' ' ')"
# A store that is not one: a usage error naming it.
echo "not a database" >"$TW_TMP/bogus.db"
expect_rc store_foreign_file 2 "$TW" report --events "$TW_TMP/bogus.db" --format json
grep -q "bogus.db" "$TW_TMP/err" && ok store_foreign_file_named || not_ok store_foreign_file_named "$(cat "$TW_TMP/err")"

# A million verdicts (normal build only: the sanitized one is 10x slower by
# design). Time and peak memory printed for docs/REPORTS.md.
if [ -z "${TW_BIN:-}" ]; then
  BIG=$TW_TMP/big; mkdir -p "$BIG"; chmod 700 "$BIG"
  /usr/bin/time -f "%e" -o "$TW_TMP/gen.time" python3 "$TW_ROOT/tests/cli/evstore_gen.py" million "$BIG/events.db" "$A" "$NOW" ||
    not_ok store_million_setup "cannot write the store"
  echo "# 1M verdicts written in $(cat "$TW_TMP/gen.time") s: $(du -k "$BIG/events.db" | cut -f1) KiB"
  for f in json html; do
    /usr/bin/time -f "%e %M" -o "$TW_TMP/big.time" "$TW" report --state-dir "$BIG" --format $f -o "$TW_TMP/big.$f" 2>"$TW_TMP/big.err"
    read -r secs kib <"$TW_TMP/big.time"
    echo "# 1M verdicts, $f: ${secs} s, peak RSS ${kib} KiB, output $(wc -c <"$TW_TMP/big.$f") bytes"
    python3 -c 'import sys; s, k = float(sys.argv[1]), int(sys.argv[2]); sys.exit(0 if s < 30 and k < 262144 else 1)' "$secs" "$kib" &&
      ok "store_million_$f" || not_ok "store_million_$f" "${secs} s, ${kib} KiB: $(cat "$TW_TMP/big.err")"
  done
  [ "$(json_eval "$TW_TMP/big.json" "(j['summary']['verdicts'], len(j['summary']['top']['processes']['rows']), j['summary']['top']['processes']['left_out'], j['summary']['top']['files']['left_out'], j['tokens'][0]['sightings'], len(j['tokens'][0]['timeline']) <= 201, j['tokens'][0]['timeline_left_out'])")" = "(1000000, 10, 1990, 4990, 100000, True, 99800)" ] &&
    ok store_million_top_n || not_ok store_million_top_n "$(json_eval "$TW_TMP/big.json" "(j['summary']['verdicts'], j['summary']['top']['processes']['left_out'], j['tokens'][0]['sightings'], j['tokens'][0]['timeline_left_out'])")"
  grep -q "1990 rows left out." "$TW_TMP/big.html" && ok store_million_html_says || not_ok store_million_html_says "no rows-left-out line"
  # The 440 MB store was written by evstore_gen.py from a token id and
  # fingerprints, never a token: nothing in it for the suite's redaction
  # audit, which would spend a minute reading it. The reports made from
  # it stay.
  rm -rf "$BIG"
fi

assert_no_raw_tokens "$TW_LOGS"
