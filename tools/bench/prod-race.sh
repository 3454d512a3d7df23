#!/usr/bin/env bash
# The production-like corpus of `make bench-scan` (issue 12, "Speed of
# scan"): tokenward scan (decoding on, the default; default threads and
# one) against ripgrep with the rule pack's patterns, on logs that look
# like a real host's (tools/bench/prodcorpus.py: JSON with escapes and
# nested JSON, access logs with percent-encoded queries, journal lines,
# base64 blobs; a token every ~500 lines in every encoding tokenward
# decodes, and decoys). Generated at run time under /tmp, deleted after.
# Rounds alternate the order of the tools; medians. Checks: tokenward
# finds every planted token (by sha256) and nothing else; ripgrep's
# matches per form. Writes the "bench-scan-prod" block of
# docs/BENCHMARKS.md.
#   tools/bench/prod-race.sh BUILD_DIR   env: PAT (the alternation, from
#     tools/bench-scan.sh), PROD_MB (1024), ROUNDS (3), PROD_RGU_MB (32:
#     the prefix ripgrep's Unicode mode is timed on, once), PROD_DOC=0
#     (print the tables only)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
TW=$build/tokenward
PROD_MB=${PROD_MB:-1024}
ROUNDS=${ROUNDS:-3}
PROD_RGU_MB=${PROD_RGU_MB:-32}
: "${PAT:?PAT (the ripgrep alternation) must be set: run tools/bench-scan.sh}"
P=$(mktemp -d /tmp/tw-bench-prod.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$P"' EXIT

load0=$(uptime | sed 's/.*load average: //'); t0=$(date -u +%H:%M)
echo "prod: generating ${PROD_MB} MiB under $P ..." >&2
python3 "$root/tools/bench/prodcorpus.py" "$P" "$PROD_MB" "$root/tests/cli"
C=$P/prod.log
size=$(stat -c %s "$C")
lines=$(wc -l <"$C")

run() { # NAME OUT CMD... -> "NAME wall user sys" into $P/times
  local name=$1 out=$2; shift 2
  /usr/bin/time -f "%e %U %S" -o "$P/t" "$@" >"$out" 2>"$P/err" || [ $? -eq 1 ] ||
    { echo "prod: $name failed: $(cat "$P/err")" >&2; exit 2; }
  echo "$name $(tail -1 "$P/t")" >>"$P/times"
}
# rg's \b is Unicode-aware by default; the rules' boundaries are ASCII
# (PCRE2 without UCP), so (?-u) is the equivalent pattern. Its default
# mode falls off its fast engine on every line with a non-ASCII byte
# (JSON logs with names in UTF-8): timed once, on a prefix, below.
tw2() { run "tokenward (2 threads)" "$P/tw.json" "$TW" scan --format json "$C"; }
tw1() { run "tokenward (1 thread)" "$P/tw1.json" "$TW" scan --threads 1 --format json "$C"; }
rga() { run "ripgrep (?-u) -o -n" "$P/rg.out" rg -o -n --no-heading -e "(?-u)$PAT" "$C"; }

cat "$C" >/dev/null
: >"$P/times"
for r in $(seq 1 "$ROUNDS"); do
  echo "prod: round $r/$ROUNDS ..." >&2
  case $((r % 3)) in
    1) tw2; rga; tw1 ;;
    2) rga; tw1; tw2 ;;
    0) tw1; tw2; rga ;;
  esac
done
# ripgrep as the rest of the bench runs it (Unicode \b), on a prefix.
head -c $((PROD_RGU_MB << 20)) "$C" >"$P/prefix.log"
psize=$(stat -c %s "$P/prefix.log")
run "ripgrep -o -n (Unicode, prefix)" "$P/rgu.out" rg -o -n --no-heading -e "$PAT" "$P/prefix.log"
run "tokenward (2 threads, prefix)" "$P/twp.json" "$TW" scan --format json "$P/prefix.log"
rm -f "$P/prefix.log"
"$TW" scan --format json --stats "$C" 2>"$P/stats" >/dev/null || true

check=$(python3 "$root/tools/bench/prodcheck.py" "$P" "$P/tw.json" "$P/tw1.json" "$P/rg.out") && ok=1 || ok=0
summary=$(echo "$check" | head -1)
forms=$(echo "$check" | tail -n +2)
echo "$summary" >&2
table=$(python3 - "$P/times" "$size" "$psize" <<'PY'
import statistics, sys
rows = {}
for l in open(sys.argv[1]):
    *name, wall, user, sys_ = l.split()
    rows.setdefault(" ".join(name), []).append((float(wall), float(user) + float(sys_)))
size, psize = int(sys.argv[2]), int(sys.argv[3])
ref = statistics.median(w for w, _ in rows["ripgrep (?-u) -o -n"])
print("| tool | median wall (s) | MiB/s | vs ripgrep (?-u) | median CPU (s) | runs, wall (s) |")
print("| --- | ---: | ---: | ---: | ---: | --- |")
for name in ["tokenward (2 threads)", "tokenward (1 thread)", "ripgrep (?-u) -o -n"]:
    r = rows[name]
    med = statistics.median(w for w, _ in r)
    print(f"| {name} | {med:.2f} | {size / med / 2**20:.0f} | {ref / med:.2f}x | {statistics.median(c for _, c in r):.2f} | {', '.join(f'{w:.2f}' for w, _ in r)} |")
u, tp = rows["ripgrep -o -n (Unicode, prefix)"][0][0], rows["tokenward (2 threads, prefix)"][0][0]
print(f"| ripgrep -o -n, default (Unicode) `\\b`, first {psize >> 20} MiB, once | {u:.2f} | {psize / u / 2**20:.1f} | - | - | tokenward (2 threads) on the same prefix: {tp:.2f} s, {psize / tp / 2**20:.0f} MiB/s |")
PY
)
echo "$table"
echo "$forms"
t1=$(date -u +%H:%M); load1=$(uptime | sed 's/.*load average: //')
stats=$(sed 's/^tokenward scan: //' "$P/stats" | tr '\n' ' ')
[ "${PROD_DOC:-1}" = 1 ] || { [ $ok = 1 ] || exit 1; exit 0; }
section=$(cat <<SEC
### Production-like corpus (issue 12)

\`make bench-scan\` (tools/bench/prod-race.sh, corpus tools/bench/prodcorpus.py), $(date -u +%Y-%m-%d)
$t0-$t1 UTC, load average $load0 at the start and $load1 at the end (2 CPUs, shared);
$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') built in $build; ripgrep $(rg --version | head -1 | cut -d' ' -f2).

Corpus: $((size >> 20)) MiB, $lines lines, one file, page cache warm, generated at run time and
deleted: JSON structured logs (escapes \`\\n\` \`\\t\` \`\\"\` \`\\u00XX\` \`\\/\`, 32/64-hex and base64 ids,
JSON inside JSON string values, HTML in values), access logs with percent-encoded query
strings, journal lines (\`Dec 03 05:50:15 host unit[pid]: ...\`), base64 blobs (config dumps,
Kubernetes Secret-like data, HTTP Basic with ordinary passwords, random cache values). One
line in 500 holds a token minted by tests/cli/tokgen.py (13 families rotating), its form
rotating over the 18 below; as many hold a decoy (a GitHub, npm or tokenward token whose
CRC32 fails, raw or in one of five encodings), and one line in 25,000 AWS's documentation key id.
ripgrep gets the rule pack's patterns (tools/bench-scan.sh PATS) as one alternation with
\`(?-u)\`: the rules' \`\\b\` is ASCII (PCRE2 without UCP), and ripgrep's default Unicode \`\\b\`
leaves its DFA on every line with a non-ASCII byte (the last row). $ROUNDS rounds, order
rotated; medians. Both tools write matches with line numbers to a file.

$table

\`tokenward scan --stats\` on the corpus: $stats

Findings: \`$summary\`.

$forms

Command: \`flock /work/bench.lock make bench-scan\` (env PROD=0 skips this corpus, PROD_ONLY=1 runs only it; PROD_MB, ROUNDS, PROD_RGU_MB).
SEC
)
printf '%s\n' "$section" | python3 "$root/tools/bench/docblock.py" "$root/docs/BENCHMARKS.md" bench-scan-prod bench-scan
echo "prod: wrote the production-like corpus block of docs/BENCHMARKS.md" >&2
[ $ok = 1 ] || { echo "prod: tokenward's findings are not the planted tokens (above)" >&2; exit 1; }
