#!/usr/bin/env bash
# `tokenward scan` through decoded views (user/detect/views.h): each form
# issue 12 names (partial and full percent-encoding, JSON escapes at a
# token's seam, HTTP Basic with the token as either part, base64 of a JSON
# or env blob, HTML entities, nesting), the chain each finding says, its
# line, no second report, --no-decode, negatives, hostile encodings
# bounded and counted, and no output holding a token in any form. Every
# token is minted here; the Nosey Parker examples (../shared/corpora) are
# re-found through each encoding.
. "$(dirname "$0")/../live/lib.sh"
GEN="python3 $TW_ROOT/tests/cli/tokgen.py"
D=$TW_TMP/leak-input    # the files scanned: they hold tokens on purpose
mkdir -p "$D"
TOKENS=$TW_TMP/leak-input-tokens

mint() { local t; t=$($GEN "$1"); echo "$t" >>"$TOKENS"; echo "$t"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
expect_json() {
  if python3 - "$2" "$3" <<'PY'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)
PY
  then ok "$1"; else not_ok "$1" "assertion failed: $3; got: $(head -c 800 "$2")"; fi
}

# --- one line per form, each with its own token -------------------------
# The table: CASE, the chain the finding must say ("" for raw), the line.
t_raw=$(mint ghp); t_pct=$(mint ghp); t_pctall=$(mint twd); t_json=$(mint twd); t_u=$(mint ghp)
t_bpw=$(mint ghp); t_buser=$(mint twd); t_bjson=$(mint npm); t_benv=$(mint ghp); t_html=$(mint ghp)
t_nest=$(mint twd); t_pj=$(mint ghp); t_dup=$(mint ghp)
python3 - "$D/forms.log" "$TW_TMP/forms.expect" <<PY
import base64, json, sys
out, exp = open(sys.argv[1], "w"), open(sys.argv[2], "w")
b64 = lambda s: base64.b64encode(s.encode()).decode()
b64u = lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")
pct = lambda s: "".join("%%%02X" % ord(c) for c in s)
rows = [
  ("raw",          "",            "token=$t_raw"),
  ("percent",      "percent",     "GET /cb?next=token%3D$t_pct HTTP/1.1"),
  ("percent_full", "percent",     "GET /cb?x=" + pct("token=$t_pctall") + " HTTP/1.1"),
  ("json_newline", "json",        '{"level":"error","msg":"failed\\\\n$t_json"}'),
  ("json_unicode", "json",        '{"msg":"token\\\\u003d$t_u"}'),
  ("basic_password", "base64>http-basic", "Authorization: Basic " + b64("user:$t_bpw")),
  ("basic_user",   "base64>http-basic", "authorization: basic " + b64("$t_buser:x-oauth-basic")),
  ("base64_json",  "base64",      "data: " + b64(json.dumps({"auth": {"token": "$t_bjson"}}))),
  ("base64url_env", "base64",     "env=" + b64u("GITHUB_TOKEN=$t_benv\nOTHER=1\n")),
  ("html",         "html",        '<a href="/x?t=&#x67;' + "$t_html"[1:] + '&amp;y=1">'),
  ("base64_of_json_escape", "base64>json", "blob " + b64(json.dumps({"msg": "failed\n$t_nest"}))),
  ("percent_of_json_escape", "percent>json", "GET /?q=%22failed%5Cn$t_pj%22 HTTP/1.1"),
  ("raw_in_escaped_json", "",     '{"msg":"a\\\\tb $t_dup c\\\\n"}'),
]
for i, (name, chain, line) in enumerate(rows):
    out.write(line + "\n")
    exp.write("%s %d %s\n" % (name, i + 1, chain or "-"))
PY
"$TW" scan --format json "$D/forms.log" >"$TW_TMP/forms.json" 2>"$TW_TMP/forms.err"; rc=$?
[ $rc -eq 1 ] && ok decode_scan_exit_1 || not_ok decode_scan_exit_1 "exit $rc: $(head -c 300 "$TW_TMP/forms.err")"
i=0
for t in "$t_raw" "$t_pct" "$t_pctall" "$t_json" "$t_u" "$t_bpw" "$t_buser" "$t_bjson" "$t_benv" "$t_html" "$t_nest" "$t_pj" "$t_dup"; do
  i=$((i + 1))
  read -r name line chain < <(sed -n "${i}p" "$TW_TMP/forms.expect")
  [ "$chain" = "-" ] && chain=""
  expect_json "decode_form_$name" "$TW_TMP/forms.json" \
    "[(o['line'], o.get('decoded', '')) for o in f if o['sha256'] == '$(sha "$t")'] == [($line, '$chain')]"
done
expect_json decode_no_second_report "$TW_TMP/forms.json" "len(f) == 13"
# a decoded finding points at its encoded run: Basic's column is in the base64
expect_json decode_points_at_encoded_run "$TW_TMP/forms.json" \
  "[(o['column'] > 21 and o['encoded_length'] > o['length']) for o in f if o['sha256'] == '$(sha "$t_bpw")'] == [True]"
# text and SARIF say the chain too
"$TW" scan "$D/forms.log" >"$TW_TMP/forms.txt" 2>&1
grep -q "^$D/forms.log:6:.* decoded:base64>http-basic$" "$TW_TMP/forms.txt" && ok decode_text_says_chain \
  || not_ok decode_text_says_chain "$(head -c 400 "$TW_TMP/forms.txt")"
"$TW" scan --format sarif "$D/forms.log" >"$TW_TMP/forms.sarif" 2>&1
python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))['runs'][0]['results']
assert sorted(x['properties'].get('decoded', '') for x in r).count('base64') == 2 and [x['properties'].get('decoded') for x in r].count('base64>http-basic') == 2, r
" "$TW_TMP/forms.sarif" && ok decode_sarif_says_chain || not_ok decode_sarif_says_chain "$(head -c 400 "$TW_TMP/forms.sarif")"

# --- --no-decode: the raw bytes only --------------------------------------
"$TW" scan --no-decode --format json "$D/forms.log" >"$TW_TMP/raw.json" 2>/dev/null
expect_json decode_off_finds_raw_only "$TW_TMP/raw.json" \
  "sorted(o['sha256'] for o in f) == sorted(['$(sha "$t_raw")', '$(sha "$t_dup")']) and not any('decoded' in o for o in f)"

# --- negatives: decoded runs that hold no token ---------------------------
python3 - "$D/neg.log" <<'PY'
import base64, json
with open(__import__("sys").argv[1], "w") as f:
    f.write("Authorization: Basic " + base64.b64encode(b"alice:correct-horse-battery-staple").decode() + "\n")
    f.write("GET /search?q=%22hello%20world%22&lang=en%2Dus HTTP/1.1\n")
    f.write(json.dumps({"msg": "line one\nline two\t\"quoted\" \u00e9t\u00e9"}) + "\n")
    f.write("<p>fish &amp; chips &#8212; &lt;b&gt;</p>\n")
    f.write("cfg " + base64.b64encode(json.dumps({"user": "bob", "ghp": "ghp_notatoken"}).encode()).decode() + "\n")
PY
"$TW" scan --format json --stats "$D/neg.log" >"$TW_TMP/neg.json" 2>"$TW_TMP/neg.err"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$TW_TMP/neg.json" ] && grep -q "decoded views: [1-9][0-9]* views" "$TW_TMP/neg.err" \
  && ok decode_negatives_find_nothing || not_ok decode_negatives_find_nothing "exit $rc: $(head -c 300 "$TW_TMP/neg.json") $(cat "$TW_TMP/neg.err")"

# --- hostile encodings: bounded, counted, said ----------------------------
t_h=$(mint ghp)
python3 - "$D/hostile.log" "$t_h" <<'PY'
import base64, sys
path, tok = sys.argv[1], sys.argv[2]
with open(path, "w") as f:
    f.write("%41" * (8 << 20))                       # 24 MB of one percent-encoded run
    f.write("\n")
    s = "token:" + tok
    for _ in range(8):                               # base64 of base64 ..., 8 deep
        s = base64.b64encode(s.encode()).decode()
    f.write("deep " + s + "\n")
    s = "token=" + tok
    for _ in range(6):                               # percent-encoding of percent-encoding
        s = "".join("%%%02X" % ord(c) for c in s)
    f.write("GET /?x=" + s[:200000] + " HTTP/1.1\n")
    f.write("ok " + tok + "\n")                      # and a raw one after it all
PY
start=$(date +%s)
"$TW" scan --format json "$D/hostile.log" >"$TW_TMP/hostile.json" 2>"$TW_TMP/hostile.err"; rc=$?
took=$(( $(date +%s) - start ))
expect_json decode_hostile_raw_still_found "$TW_TMP/hostile.json" "[o['line'] for o in f if o.get('sha256') == '$(sha "$t_h")'] == [4]"
expect_json decode_hostile_bounds_counted "$TW_TMP/hostile.json" \
  "[c for c in [o.get('coverage') for o in f] if c] and [c for c in [o.get('coverage') for o in f] if c][0]['encoded_runs_cut'] >= 100 and [c for c in [o.get('coverage') for o in f] if c][0]['decode_depth_hits'] >= 1"
[ $rc -eq 1 ] && [ "$took" -lt 60 ] && grep -q "coverage: .*decoded in pieces.*deep not decoded further" "$TW_TMP/hostile.err" \
  && ok decode_hostile_bounded_and_said || not_ok decode_hostile_bounded_and_said "exit $rc in ${took}s: $(head -c 300 "$TW_TMP/hostile.err")"
rm -f "$D/hostile.log"

# --- Nosey Parker's examples, re-found through each encoding ---------------
if C=$(tw_corpora) && [ -f "$C/noseyparker/examples.jsonl" ]; then
  python3 - "$C/noseyparker/examples.jsonl" "$D/np" <<'PY'
import base64, json, os, sys
src, d = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
ex = [e for l in open(src) for e in json.loads(l)["examples"] if "\n" not in e and len(e) < 2000]
forms = {
  "raw": lambda e: e,
  "percent": lambda e: "GET /?q=" + "".join("%%%02X" % b for b in e.encode()) + " HTTP/1.1",
  "json": lambda e: '{"msg":"' + "".join("\\u%04x" % ord(c) if c in '"=:\\/ ' else c for c in e) + '"}',
  "base64": lambda e: "blob " + base64.b64encode(e.encode()).decode(),
}
for name, fn in forms.items():
    with open(os.path.join(d, name + ".log"), "w") as f:
        for e in ex:
            f.write(fn(e) + "\n")
PY
  for form in raw percent json base64; do
    "$TW" scan --no-validate --format json "$D/np/$form.log" 2>/dev/null \
      | python3 -c "import json,sys; print(len({(o['line'], o['sha256']) for o in map(json.loads, sys.stdin) if 'sha256' in o}))" >"$TW_TMP/np.$form"
  done
  raw=$(cat "$TW_TMP/np.raw")
  for form in percent json base64; do
    n=$(cat "$TW_TMP/np.$form")
    # each encoded line holds the secrets the raw line does: all re-found
    [ "$raw" -ge 20 ] && [ "$n" -ge "$raw" ] && ok "decode_noseyparker_$form" \
      || not_ok "decode_noseyparker_$form" "raw finds $raw example secrets, $form finds $n"
  done
else
  ok "decode_noseyparker # SKIP no ../shared/corpora"
fi

# --- no output holds a token in any form ----------------------------------
python3 - "$TOKENS" "$TW_TMP" <<'PY' && ok decode_no_token_in_any_form || not_ok decode_no_token_in_any_form "$(cat "$TW_TMP/leak.txt")"
import base64, os, sys, urllib.parse
toks = [t.strip() for t in open(sys.argv[1]) if t.strip()]
hits = []
for root, dirs, files in os.walk(sys.argv[2]):
    dirs[:] = [x for x in dirs if "leak-input" not in x]
    for fn in files:
        if "leak-input" in fn:
            continue
        data = open(os.path.join(root, fn), "rb").read()
        for t in toks:
            forms = [t, urllib.parse.quote(t, safe=""), base64.b64encode(t.encode()).decode()[:-4],
                     base64.b64encode(("user:" + t).encode()).decode()[8:-4], t[6:]]
            if any(f.encode() in data for f in forms if len(f) >= 16):
                hits.append(fn)
open(os.path.join(sys.argv[2], "leak.txt"), "w").write(" ".join(sorted(set(hits))))
sys.exit(1 if hits else 0)
PY
tw_tmp_done
