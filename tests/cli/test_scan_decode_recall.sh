#!/usr/bin/env bash
# `tokenward scan` recall per encoding (issue 12), the table of
# docs/RECALL.md "Decoded views": tokens minted here (tests/cli/
# decode_recall.py, tokgen.py) in every form a view must see through, among
# filler that the views decode anyway; each must be found at its line with
# its chain. The same corpus is scanned with pieces of 1 KiB and 64 KiB on
# two threads, so that encoded runs cross the scanner's piece boundaries
# (and the threads' pieces): the findings must be the same. A base64 blob
# longer than the scanner's overlap, with tokens near its end, crosses a
# boundary mid-run.
. "$(dirname "$0")/../live/lib.sh"
D=$TW_TMP/leak-input     # the corpus holds tokens on purpose
mkdir -p "$D"
R="python3 $TW_ROOT/tests/cli/decode_recall.py"

$R gen "$D" 8 || { not_ok recall_gen "the generator failed"; exit 1; }
"$TW" scan --format json "$D/leak-input-recall.log" >"$TW_TMP/one.json" 2>"$TW_TMP/one.err"
if $R table "$D" "$TW_TMP/one.json" >"$TW_TMP/table.md"; then
  ok recall_every_form_found_with_its_chain
else
  not_ok recall_every_form_found_with_its_chain "$(grep -v '| 8/8 | 8/8 |' "$TW_TMP/table.md" | tail -n +3)"
fi
cat "$TW_TMP/table.md" >&2    # the table, in the test log (docs/RECALL.md)

norm() { python3 -c 'import json,sys; print("\n".join(sorted("%s %s %s %s" % (o["line"], o["column"], o["sha256"], o.get("decoded", "")) for o in map(json.loads, open(sys.argv[1])) if "sha256" in o)))' "$1"; }
norm "$TW_TMP/one.json" >"$TW_TMP/one.norm"
for c in 1K 64K; do
  "$TW" scan --format json --threads 2 --chunk $c "$D/leak-input-recall.log" >"$TW_TMP/c$c.json" 2>/dev/null
  norm "$TW_TMP/c$c.json" >"$TW_TMP/c$c.norm"
  cmp -s "$TW_TMP/one.norm" "$TW_TMP/c$c.norm" && [ -s "$TW_TMP/one.norm" ] && ok "recall_same_with_chunk_$c" \
    || not_ok "recall_same_with_chunk_$c" "$(diff "$TW_TMP/one.norm" "$TW_TMP/c$c.norm" | cut -c1-30 | head -5)"
done

# one base64 run of ~430 KB (a blob), tokens at several places in it: the
# piece boundaries of --chunk 16K fall inside the run
python3 - "$D/leak-input-blob.log" "$TW_TMP/blob.expect" "$TW_ROOT/tests/cli" <<'PY'
import base64, hashlib, os, secrets, sys
sys.path.insert(0, sys.argv[3])
import tokgen
toks = [tokgen.KINDS["ghp"]() for _ in range(8)]
body = "".join("NOTE%d=%s\nAPI_TOKEN_%d=%s\n" % (i, secrets.token_hex(20000), i, t) for i, t in enumerate(toks))
with open(sys.argv[1], "w") as f:
    f.write("a secret: " + base64.b64encode(body.encode()).decode() + "\n")  # not on a 4-byte quantum of the file
open(sys.argv[2], "w").write("\n".join(sorted(hashlib.sha256(t.encode()).hexdigest() for t in toks)) + "\n")
PY
shas() { python3 -c 'import json,sys; print("\n".join(sorted({o["sha256"] for o in map(json.loads, open(sys.argv[1])) if "sha256" in o})))' "$1"; }
for c in 4M 16K; do
  "$TW" scan --format json --threads 2 --chunk $c "$D/leak-input-blob.log" >"$TW_TMP/blob$c.json" 2>/dev/null
  shas "$TW_TMP/blob$c.json" >"$TW_TMP/blob$c.got"
  cmp -s "$TW_TMP/blob.expect" "$TW_TMP/blob$c.got" && ok "recall_long_base64_run_chunk_$c" \
    || not_ok "recall_long_base64_run_chunk_$c" "found $(wc -l <"$TW_TMP/blob$c.got") of 8"
done
tw_tmp_done
