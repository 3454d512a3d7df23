#!/usr/bin/env bash
# make bench-scan: tokenward scan vs ripgrep vs grep -P on a generated log
# corpus (>= 1 GiB, planted tokens and decoys, made at run time under
# /tmp and deleted after). Rounds alternate the order of the tools; the
# table shows medians. Then tokenward on one thread over hostile inputs
# (keyword-dense text made to slow each built-in rule, ADV_MB each, with
# real tokens planted in them) beside the same binary on the log corpus.
# Results replace the "Scan" section of docs/BENCHMARKS.md.
#   tools/bench-scan.sh [BUILD_DIR]   env: SIZE_MB (default 1100), ROUNDS (3),
#     ADV_MB (64), REF_TW (another tokenward binary, e.g. main's, measured
#     beside this one on the hostile inputs), ADV_ONLY=1 (skip the tool race),
#     PROD (1: also race on the production-like corpus, tools/bench/prod-race.sh;
#     0: not), PROD_ONLY=1 (only that), PROD_MB (1024), PROD_RGU_MB (32)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
TW=$build/tokenward
SIZE_MB=${SIZE_MB:-1100}
ROUNDS=${ROUNDS:-3}
ADV_MB=${ADV_MB:-64}
REF_TW=${REF_TW:-}
ADV_ONLY=${ADV_ONLY:-}
PROD=${PROD:-1}
PROD_ONLY=${PROD_ONLY:-}
W=$(mktemp -d /tmp/tw-bench-scan.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
for t in rg grep /usr/bin/time python3; do command -v "$t" >/dev/null || { echo "bench-scan: missing $t (make deps)" >&2; exit 2; }; done

if [ -z "$PROD_ONLY" ]; then
echo "generating ${SIZE_MB} MiB under $W ..." >&2
python3 - "$W" "$SIZE_MB" "$root/tests/cli" <<'PY'
import os, random, sys
sys.path.insert(0, sys.argv[3])
import tokgen
w, size = sys.argv[1], int(sys.argv[2]) << 20
rnd = random.Random(4)
words = ("the a user request session key they money okay task ask desk whisky token eye ghost "
         "npm aws google slack stripe sky risk bearer authorization header value skipped").split()
def line(i):
    ts = "2026-11-27T06:%02d:%02d.%03dZ" % (i % 60, (i * 7) % 60, i % 1000)
    k = i % 8
    if k == 0: return f'{ts} INFO http GET /api/v1/items/{rnd.randint(1, 99999)}?q={rnd.choice(words)} status=200 dur={rnd.random():.3f}s ua="Mozilla/5.0 (X11; Linux x86_64)"'
    if k == 1: return f'{ts} DEBUG worker-{i % 8} job={rnd.getrandbits(64):x} user={rnd.choice(words)} key=value they said okay'
    if k == 2: return f'{ts} WARN proxy header="Authorization: Bearer ${{TOKEN}}" skipped for host=svc{i % 50}.internal'
    if k == 3: return f'{ts} INFO ' + " ".join(rnd.choice(words) for _ in range(14))
    if k == 4: return f'{ts} ERROR db pool exhausted pool=main size=32 waiters={i % 17} trace={rnd.getrandbits(128):032x}'
    if k == 5: return f'{ts} DEBUG cfg eyJhbGciOiJub25lIn0 ghp_short sk-notakey {AWS_DOC} npm_install ok'
    if k == 6: return f'{ts} INFO sha={rnd.getrandbits(160):040x} branch=main build ok in {rnd.randint(1, 900)}s'
    return f'{ts} INFO audit user=svc-{rnd.randint(1, 300)} action=read resource=/v1/secrets/{rnd.getrandbits(32):08x} allowed=true'
AWS_DOC = "AKIA" + "IOSFODNN7EXAMPLE"   # AWS's documentation sample: a placeholder
block = ("\n".join(line(i) for i in range(60000)) + "\n").encode()
kinds = ["ghp", "gho", "npm", "twd", "jwt", "atjwt", "aws", "glpat", "slack", "stripe", "openai", "anthropic", "google"]
planted = open(os.path.join(w, "planted.txt"), "w")
decoys = open(os.path.join(w, "decoys.txt"), "w")
decoys.write(AWS_DOC + "\n")
with open(os.path.join(w, "corpus.log"), "wb") as f:
    n = 0
    while f.tell() < size:
        f.write(block)
        for j in range(24):   # planted tokens, every family, in varied contexts
            t = tokgen.KINDS[kinds[(n + j) % len(kinds)]]()
            planted.write(t + "\n")
            f.write(f"2026-11-27T07:00:00Z WARN leaked cfg value={t} (#{n}.{j})\n".encode())
        for j in range(6):    # decoys: token-shaped, checksum fails
            t = tokgen.KINDS["ghp_bad" if j % 2 else "npm"]()
            if j % 2 == 0:
                t = t[:-1] + ("A" if t[-1] != "A" else "B")
            decoys.write(t + "\n")
            f.write(f"2026-11-27T07:00:01Z INFO example token={t}\n".encode())
        n += 1
PY
size=$(stat -c %s "$W/corpus.log")
nplant=$(wc -l <"$W/planted.txt"); ndecoy=$(wc -l <"$W/decoys.txt")
fi

# The rule pack's patterns in ripgrep's (Rust regex) syntax: no lookaround,
# so \b stands in for the rules' (?<![..]) guards. One alternation, since
# grep -P takes a single pattern.
PATS=(
 '\btwd_[0-9A-Za-z]{49}\b'
 'eyJ[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*'
 '\b(?:ghp|gho|ghu|ghs)_[A-Za-z0-9]{36}\b'
 '\bghr_[A-Za-z0-9]{36}(?:[A-Za-z0-9]{40})?\b'
 '\bgithub_pat_[0-9A-Za-z_]{82}\b'
 '\bglpat-[0-9A-Za-z_-]{20,64}'
 '\bnpm_[A-Za-z0-9]{36}\b'
 '\b(?:AKIA|ASIA)[A-Z2-7]{16}\b'
 '\bxox[abeoprs]-[0-9A-Za-z-]{10,250}'
 '\b(?:sk|rk)_live_[0-9A-Za-z]{24,99}\b'
 '\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,200}'
 '\bsk-[A-Za-z0-9]{48}\b'
 '\bsk-ant-(?:api|admin|oat|ort)[0-9]{2}-[A-Za-z0-9_-]{80,120}'
 '\bAIza[0-9A-Za-z_-]{35}'
 '(?i:\bauthorization["'"'"']?\s*[:=]\s*["'"'"']?\s*bearer\s+[A-Za-z0-9._~+/-]{6,}=*)'
)
PAT=$(IFS='|'; echo "${PATS[*]}")

# The production-like corpus (its own block of docs/BENCHMARKS.md).
if [ "$PROD" = 1 ] || [ -n "$PROD_ONLY" ]; then
  PAT=$PAT ROUNDS=$ROUNDS "$root/tools/bench/prod-race.sh" "$build"
fi
[ -z "$PROD_ONLY" ] || exit 0

run() { # NAME OUT CMD... -> appends "NAME seconds maxrss_kb" to $W/times
  local name=$1 out=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$W/t" "$@" >"$out" 2>"$W/err" || [ $? -eq 1 ] || { echo "$name failed: $(cat "$W/err")" >&2; exit 2; }
  echo "$name $(tail -1 "$W/t")" >>"$W/times"
}
tw1()  { run "tokenward (1 thread)" "$W/tw1.json" "$TW" scan --threads 1 --format json "$W/corpus.log"; }
tw2()  { run "tokenward (2 threads)" "$W/tw.json" "$TW" scan --format json "$W/corpus.log"; }
rgx()  { run "ripgrep -o -n" "$W/rg.out" rg -o -n --no-heading -e "$PAT" "$W/corpus.log"; }
grp()  { run "grep -P -o -n" "$W/grep.out" grep -P -o -n -e "$PAT" "$W/corpus.log"; }

if [ -z "$ADV_ONLY" ]; then
echo "warm-up (page cache) ..." >&2
cat "$W/corpus.log" >/dev/null
: >"$W/times"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS ..." >&2
  case $((r % 4)) in
    1) tw2; rgx; grp; tw1 ;;
    2) rgx; grp; tw1; tw2 ;;
    3) grp; tw1; tw2; rgx ;;
    0) tw1; tw2; rgx; grp ;;
  esac
done
# Memory flat in input size: 1x vs 3x the corpus through stdin.
/usr/bin/time -f "%M" -o "$W/m1" "$TW" scan --format json - <"$W/corpus.log" >/dev/null || true
/usr/bin/time -f "%M" -o "$W/m3" sh -c "cat '$W/corpus.log' '$W/corpus.log' '$W/corpus.log' | '$TW' scan --format json - >/dev/null" || true

# Same findings? tokenward must find exactly the planted tokens; the regex
# tools find those plus the decoys, which only checksums can reject.
check=$(python3 - "$W" <<'PY'
import hashlib, json, os, re, sys
w = sys.argv[1]
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
planted = {h(l.strip()) for l in open(os.path.join(w, "planted.txt"))}
decoys = {h(l.strip()) for l in open(os.path.join(w, "decoys.txt"))}
tw = [json.loads(l) for l in open(os.path.join(w, "tw.json"))]
tw1 = [json.loads(l) for l in open(os.path.join(w, "tw1.json"))]
tws = {o["sha256"] for o in tw}
def regex_set(p):
    s = set()
    for l in open(p, errors="replace"):
        m = l.rstrip("\n").split(":", 1)[1]
        m = re.sub(r"(?i)^authorization[\"']?\s*[:=]\s*[\"']?\s*bearer\s+", "", m)
        s.add(h(m))
    return s
rg, gp = regex_set(os.path.join(w, "rg.out")), regex_set(os.path.join(w, "grep.out"))
res = {
  "planted": len(planted), "decoys": len(decoys),
  "tokenward": len(tw), "tokenward_equals_planted": tws == planted and len(tw) == len(planted),
  "threads_agree": [(o["line"], o["sha256"]) for o in tw] == [(o["line"], o["sha256"]) for o in tw1],
  "rg": len(rg), "rg_equals_planted_plus_decoys": rg == planted | decoys,
  "grep": len(gp), "grep_equals_rg": gp == rg,
  "rg_extra": len(rg - planted - decoys), "rg_missing": len((planted | decoys) - rg),
}
print(json.dumps(res))
PY
)
echo "$check" >&2

table=$(python3 - "$W/times" "$size" <<'PY'
import statistics, sys
rows = {}
for l in open(sys.argv[1]):
    *name, sec, rss = l.split()
    rows.setdefault(" ".join(name), []).append((float(sec), int(rss)))
size = int(sys.argv[2])
ref = statistics.median(s for s, _ in rows["ripgrep -o -n"])
print("| tool | median wall (s) | MiB/s | vs ripgrep | peak RSS (MiB) | runs (s) |")
print("| --- | ---: | ---: | ---: | ---: | --- |")
for name in ["tokenward (2 threads)", "tokenward (1 thread)", "ripgrep -o -n", "grep -P -o -n"]:
    r = rows[name]
    med = statistics.median(s for s, _ in r)
    print(f"| {name} | {med:.2f} | {size / med / 2**20:.0f} | {ref / med:.2f}x | {max(m for _, m in r) / 1024:.1f} | {', '.join(f'{s:.2f}' for s, _ in r)} |")
PY
)
fi

# --- hostile inputs: text made to slow each built-in rule ----------------
# Each is ADV_MB of one pattern repeated, with a real GitHub token planted
# (between spaces) every 8 MiB: the table says whether each was found.
# One thread: the figure is per core. "opaque 43" runs with a ledger that
# holds a 43-character opaque token, so every 43-character base64url run
# is hashed; "custom catastrophic" adds a rule that backtracks
# exponentially, to show it is bounded and its losses counted.
adv_gen() { # NAME FILE: write the input, print the planted tokens
  python3 - "$1" "$2" "$ADV_MB" "$root/tests/cli" <<'PY'
import base64, json, os, random, sys
sys.path.insert(0, sys.argv[4])
import tokgen
name, path, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 20
rnd = random.Random(11)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
rb = lambda n: "".join(rnd.choice(B64) for _ in range(n))
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
KW = ["eyJ", "ghp_", "gho_", "xoxb-", "sk-", "sk-proj-", "sk-ant-api03-", "bearer ", "Authorization: Bearer ",
      "AKIA", "ASIA", "twd_", "AIza", "glpat-", "npm_", "sk_live_", "github_pat_", "ghr_"]
gens = {
  "eyJ-run": lambda: "eyJ" * 1000,
  "eyJ-spaced": lambda: "eyJ " * 1000,
  "eyJ-dotted": lambda: "eyJ." * 1000,
  "jwt-shaped": lambda: "eyJhbGciOi.eyJzdWIiOi." * 200,
  "jwt-long-header": lambda: " eyJ" + rb(20000),
  "jwt-fragments": lambda: "".join(".eyJ" + rb(rnd.randint(0, 20)) for _ in range(200)),
  "jwt-valid-dense": lambda: " ".join(b64(b'{"alg":"HS256"}') + "." + b64(json.dumps({"a": rnd.randint(0, 9)}).encode()) + "." + rb(8) for _ in range(100)) + " ",
  "slack-run": lambda: "xoxb-" * 1000,
  "openai-run": lambda: "sk-proj-" * 500,
  "anthropic-run": lambda: "sk-ant-api03-" * 300,
  "sk-run": lambda: "sk-" * 1000,
  "gitlab-run": lambda: "glpat-" * 500,
  "github-run": lambda: "ghp_" * 1000,
  "tokenward-run": lambda: "twd_" * 1000,
  "google-run": lambda: "AIza" * 1000,
  "aws-lookalikes": lambda: " ".join("AKIA" + "AB" * 8 for _ in range(200)) + " ",
  "bearer-repeated": lambda: "Authorization: Bearer " * 200,
  "bearer-long-value": lambda: "Authorization: Bearer " + rb(5000) + "\x01",
  "keywords-mixed": lambda: "".join(rnd.choice(KW) for _ in range(500)),
  # the same soup behind each decoding: every view holds a keyword every
  # few bytes, so the detector runs on the decoded bytes as on the raw
  "keywords-mixed-b64": lambda: base64.b64encode("".join(rnd.choice(KW) for _ in range(100)).encode()).decode() + "\n",
  "keywords-mixed-b64-b64": lambda: base64.b64encode(base64.b64encode("".join(rnd.choice(KW) for _ in range(100)).encode())).decode() + "\n",
  "keywords-mixed-percent": lambda: "".join("%%%02X" % c for c in "".join(rnd.choice(KW) for _ in range(50)).encode()) + "\n",
  # keywords each followed by an escape of a random kind: every line is a
  # region of every kind, and each view and view of a view holds the soup
  "keywords-escapes-mixed": lambda: "".join(rnd.choice(KW) + rnd.choice(["%3D", "\\n", "&amp;", "\\u0041", ""]) for _ in range(50)) + "\n",
  "keywords-mixed-json": lambda: '{"m":"' + "".join("\\u%04x" % c for c in "".join(rnd.choice(KW) for _ in range(30)).encode()) + '"}\n',
  "keywords-runs": lambda: "".join(k + rb(rnd.randint(0, 300)) + " " for k in KW),
  "opaque-43": lambda: " ".join(rb(43) for _ in range(200)) + " ",
  "custom-catastrophic": lambda: "".join("b" if i % 2000 == 1999 else "a" for i in range(20000)),
}
# Every token distinct (no chunk repeated): nothing to collapse, each
# finding reported. randbytes: fast, and seeded, so that every binary
# measured gets the same bytes.
ub = lambda n: b64(rnd.randbytes(n))
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
distinct = {
  # the densest findings the built-in rules give: 21 bytes each
  "aws-distinct-dense": lambda: " ".join("AKIA" + "".join(B32[b & 31] for b in rnd.randbytes(16)) for _ in range(20000)) + " ",
  "jwt-distinct-dense": lambda: " ".join("eyJhbGciOiJIUzI1NiJ9." + b64(b'{"a":"' + ub(6).encode() + b'"}') + "." + ub(6) for _ in range(20000)) + " ",
}
gen = distinct.get(name)
chunk = None if gen else "".join(gens[name]() for _ in range(8)).encode()
planted = []
with open(path, "wb") as f:
    while f.tell() < size:
        if gen:
            while f.tell() < (len(planted) + 1) * (8 << 20) and f.tell() < size:
                f.write(gen().encode())
        else:
            f.write(chunk * max(1, (8 << 20) // len(chunk)))
        t = tokgen.KINDS["ghp"]()
        planted.append(t)
        f.write((" " + t + " ").encode())
for t in planted:
    print(t)
PY
}
ADV_NAMES="${ADV_NAMES:-eyJ-run eyJ-spaced eyJ-dotted jwt-shaped jwt-long-header jwt-fragments slack-run openai-run anthropic-run sk-run gitlab-run github-run tokenward-run google-run aws-lookalikes bearer-repeated bearer-long-value keywords-runs opaque-43 keywords-mixed keywords-mixed-b64 keywords-mixed-b64-b64 keywords-mixed-percent keywords-mixed-json keywords-escapes-mixed jwt-valid-dense jwt-distinct-dense aws-distinct-dense custom-catastrophic}"
mkdir -p "$W/adv" "$W/rules"
printf 'rules:\n  - id: evil\n    name: catastrophic\n    pattern: %s\n    keywords: [aa]\n    severity: low\n    max_len: 4096\n' "'((?:a|aa)+)b\$'" >"$W/rules/evil.yaml"
python3 "$root/tests/cli/tokgen.py" opaque | "$TW" ledger register --ledger "$W/adv/ledger.db" --issuer bench \
  --aud https://bench.test --ttl 3600 --no-seal >/dev/null 2>&1 || { echo "bench-scan: cannot register the opaque token" >&2; exit 2; }
REF_TIMEOUT=${REF_TIMEOUT:-120}
adv_run() { # LABEL BIN INPUT EXTRA...: "LABEL wall user sys" into $W/adv/times, output in $W/adv/LABEL.json
  local label=$1 bin=$2 in=$3 limit=900 rc; shift 3
  [ "$bin" = "$TW" ] || limit=$REF_TIMEOUT
  /usr/bin/time -f "%e %U %S" -o "$W/t" timeout "$limit" "$bin" scan --threads 1 --format json "$@" "$in" \
    >"$W/adv/$label.json" 2>"$W/adv/$label.err" && rc=0 || rc=$?
  if [ $rc -eq 124 ] && [ "$bin" != "$TW" ]; then
    echo "$label timeout $limit" >>"$W/adv/times"; return 0
  fi
  [ $rc -le 1 ] || { echo "adv $label failed (exit $rc): $(tail -1 "$W/adv/$label.err")" >&2; exit 2; }
  echo "$label $(tail -1 "$W/t")" >>"$W/adv/times"
}
: >"$W/adv/times"
echo "hostile inputs ($ADV_MB MiB each) ..." >&2
mkdir -p "$W/adv/normal"
for r in $(seq 1 "$ROUNDS"); do adv_run "normal/tw" "$TW" "$W/corpus.log"; done
[ -n "$REF_TW" ] && adv_run "normal/ref" "$REF_TW" "$W/corpus.log"
for n in $ADV_NAMES; do
  mkdir -p "$W/adv/$n"
  adv_gen "$n" "$W/adv/in" >"$W/adv/$n/planted"
  extra=()
  [ "$n" = opaque-43 ] && extra=(--ledger "$W/adv/ledger.db")
  [ "$n" = custom-catastrophic ] && extra=(--rules "$W/rules")
  cat "$W/adv/in" >/dev/null
  stat -c %s "$W/adv/in" >"$W/adv/$n/size"
  for r in $(seq 1 "$ROUNDS"); do adv_run "$n/tw" "$TW" "$W/adv/in" "${extra[@]}"; done
  # the reference binary once: before the fix some of these take minutes
  [ -n "$REF_TW" ] && adv_run "$n/ref" "$REF_TW" "$W/adv/in" "${extra[@]}"
  rm -f "$W/adv/in"
done
advtable=$(python3 - "$W/adv" "$ADV_MB" "$size" "$ADV_NAMES" "${REF_TW:+1}" <<'PY'
import hashlib, json, os, statistics, sys
d, mb, size, names, ref = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5] == "1"
runs = {}
timeouts = {}
for l in open(os.path.join(d, "times")):
    label, *v = l.split()
    if v[0] == "timeout":
        timeouts[label] = int(v[1])
        continue
    runs.setdefault(label, []).append((float(v[0]), float(v[1]) + float(v[2])))
h = lambda t: hashlib.sha256(t.encode()).hexdigest()
def figures(label, nbytes):
    r = runs[label]
    wall = statistics.median(w for w, _ in r)
    cpu = statistics.median(c for _, c in r)
    return nbytes / wall / 2**20, nbytes / max(cpu, 1e-3) / 2**20
def out(label):
    # one line at a time: a finding-dense input's output is a gigabyte
    n, shas, cov = 0, set(), None
    for l in open(os.path.join(d, label + ".json")):
        if not l.strip():
            continue
        o = json.loads(l)
        if "coverage" in o:
            cov = o["coverage"]
        elif "sha256" in o:
            n += 1
            shas.add(o["sha256"])
    return n, shas, cov
hdr = "| input | MiB/s, 1 thread | MiB/s per CPU-second |" + (" before (REF_TW): MiB/s per CPU-second |" if ref else "") + " findings | planted found | bounds met (limit hits / too long / suspended / repeats collapsed / findings capped) |"
print(hdr)
print("| --- | ---: | ---: |" + (" ---: |" if ref else "") + " ---: | --- | --- |")
def row(name, label, nbytes, planted):
    w, c = figures(label + "/tw", nbytes)
    nf, got, cov = out(label + "/tw")
    found = "%d of %d" % (sum(h(t) in got for t in planted), len(planted)) if planted else "-"
    b = "%d / %d / %d / %d / %d" % (cov["regex_limit_hits"], cov["matches_too_long"], cov["rules_suspended"], cov.get("repeats_collapsed", 0), cov.get("findings_capped", 0)) if cov else "none"
    refc = ""
    if ref and label + "/ref" in timeouts:
        refc = " < %.2f (not done in %d s) |" % (nbytes / timeouts[label + "/ref"] / 2**20, timeouts[label + "/ref"])
    elif ref:
        _, rcpu = figures(label + "/ref", nbytes)
        refc = " %.0f |" % rcpu
    print("| %s | %.0f | %.0f |%s %d | %s | %s |" % (name, w, c, refc, nf, found, b))
row("**service logs** (the corpus above)", "normal", size, [])
for n in names:
    planted = [l.strip() for l in open(os.path.join(d, n, "planted")) if l.strip()]
    nbytes = int(open(os.path.join(d, n, "size")).read())
    row("`" + n + "`", n, nbytes, planted)
PY
)
echo "$advtable"
if [ -n "$ADV_ONLY" ]; then
  echo "ADV_ONLY: the tool race was skipped; docs/BENCHMARKS.md is left as it is" >&2
  exit 0
fi
echo "$table"
m1=$(tail -1 "$W/m1"); m3=$(tail -1 "$W/m3")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
section=$(cat <<SEC
## Scan

\`make bench-scan\` (tools/bench-scan.sh), $(date -u +%Y-%m-%d), on $(nproc) CPUs ($cpu),
$(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -r); ripgrep $(rg --version | head -1 | cut -d' ' -f2),
GNU grep $(grep --version | head -1 | awk '{print $NF}'), PCRE2 $(pkg-config --modversion libpcre2-8).

Corpus: $((size >> 20)) MiB of generated service logs (one file, page cache warm) with $nplant
planted tokens of every built-in family and $ndecoy decoys (GitHub/npm-shaped with a wrong checksum, and AWS's documentation key id),
plus keyword noise on every line (\`Bearer \${TOKEN}\`, \`eyJ…\` fragments, AWS's documentation key id).
All tools get equivalent patterns (the rule pack in Rust-regex syntax, one alternation, for
rg and grep -P) and write matches with line numbers to a file. $ROUNDS rounds, order rotated
each round; medians.

$table

Findings: \`$check\`. tokenward reports exactly the planted tokens; ripgrep and grep -P report
those plus the decoys (a regex cannot check a CRC32).

Hyperscan was not needed: the bigram keyword prefilter plus PCRE2 JIT is ahead of ripgrep on
one core, and pieces scanned in parallel use the second.

Memory: tokenward's peak RSS is $((m1 / 1024)) MiB for the corpus once through stdin and
$((m3 / 1024)) MiB for it three times ($((3 * size >> 20)) MiB): flat in input size (the pool
of pieces, 2 x threads + 2 pieces of 4 MiB + overlap). ripgrep's RSS counts the pages of the
file it maps.

### Hostile input

The same binary on one thread (\`--threads 1\`: the figure is per core) over inputs made to
slow the built-in rules, $ADV_MB MiB each (one pattern repeated; a real GitHub token planted
between spaces every 8 MiB; \`jwt-distinct-dense\` is 1.3 million distinct valid JWTs, \`aws-distinct-dense\` 3.2 million distinct AWS key ids), beside
the log corpus above. "Bounds met" is what the scan's coverage line counted: searches stopped
at a PCRE2 limit, candidates longer than their rule's max_len, rules that sat out the rest of a
piece, copies of a secret already reported 8 times in a piece (not listed). \`opaque-43\` runs with a ledger holding a
43-character opaque token, so every 43-character base64url run is hashed and looked up;
\`custom-catastrophic\` adds the rule \`((?:a|aa)+)b\$\` (keyword \`aa\`), which backtracks
exponentially. $ROUNDS rounds of each, medians${REF_TW:+; the reference binary once, stopped after ${REF_TIMEOUT} s}.

$advtable

Command: \`make bench-scan\` (env SIZE_MB, ROUNDS, ADV_MB, REF_TW=path/to/another/tokenward, REF_TIMEOUT).
SEC
)
doc=$root/docs/BENCHMARKS.md
[ -f "$doc" ] || printf '# Benchmarks\n\nEach section is written by its `make bench-*` target.\n' >"$doc"
printf '%s\n' "$section" | python3 "$root/tools/bench/docblock.py" "$doc" bench-scan
echo "wrote the Scan section of docs/BENCHMARKS.md" >&2
