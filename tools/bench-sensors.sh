#!/usr/bin/env bash
# Sensor overhead, side by side in one run: no monitor, the floor (empty BPF
# programs on the same hooks), and tokenward capturing content, on three
# workloads: redis-benchmark over loopback, a 200-byte-line write() loop,
# a fork+exec loop, and bulk I/O: 1 MiB write()s to a file and 1 MiB
# send()s over loopback TCP (tools/bench/bulk.c). Rounds alternate the order of the modes; the
# table reports medians and ratios. Results: stdout and BUILD/bench-sensors.md
# (raw samples in BUILD/bench-sensors.tsv).
#
#   tools/bench-sensors.sh BUILD
#   ROUNDS=5 BENCH_MODES="none floor tokenward tw-wake-each" tools/bench-sensors.sh build
#
# WORKLOADS="logwriter" runs a subset. Extra modes (for docs/SENSORS.md):
# tw-no-tail (copy every file write in the kernel: no file tails),
# tw-no-carry (no stream tail re-scanned with each capture), tw-no-batch
# (every socket send through the ring: no send batches), tw-batch-8ms (take
# send batches and file tails every 8 ms instead of 2), tw-wake-1m
# (wake the reader once 1 MiB is queued instead of 64 KiB), tw-wake-each (wake the reader on every
# record), tw-no-path-cache (resolve the path on every write), tw-4k
# (capture 4 KiB per write), tw-64k and tw-256k (64 or 256 KiB per write/send), tw-pipes (capture pipes and ttys too),
# tw-ref (the tokenward binary at $REF_TW, e.g. a build of an older commit,
# to measure one change side by side with its predecessor), none-again (a
# second no-monitor sample in each round: the A/A spread, i.e. how much
# the machine alone moves a result).
#
# Every tokenward mode runs the whole pipeline (detection, ledger cache,
# correlation) against a private temp ledger and state directory.
set -eu
build=$(cd "${1:-build}" && pwd)
rounds=${ROUNDS:-5}
modes=(${BENCH_MODES:-none floor tokenward})
log_lines=${LOG_LINES:-300000}
forks=${FORKS:-1000}
bulk_file_n=${BULK_FILE_N:-512}  # MiB written per sample, 1 MiB a write()
bulk_send_n=${BULK_SEND_N:-1024} # MiB sent per sample, 1 MiB a send()
steal_max=${STEAL_MAX_MS:-100}   # host steal (ms) that flags a sample
steal_retries=${STEAL_RETRIES:-2}
redis_n=${REDIS_N:-100000}
tmp=$(mktemp -d /tmp/tw-bench.XXXXXX)
results=$tmp/results.tsv
: >"$tmp/stolen"
mon_pid= redis_pid= waited=0

cleanup() {
  umount "$tmp/fs" 2>/dev/null
  [ -n "$mon_pid" ] && kill -TERM "$mon_pid" 2>/dev/null && wait "$mon_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench-sensors: run as root (loads BPF)" >&2; exit 2; }
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
  { echo "bench-sensors: redis-server and redis-benchmark are needed (make deps)" >&2; exit 2; }

start_mode() {
  local mode=$1 args=()
  rm -f "$tmp/ready"
  case $mode in
    none|none-again) return 0 ;;
    floor) "$build/bench/floor" "$tmp/ready" & mon_pid=$! ;;
    tokenward) ;;
    tw-wake-each) args=(--wakeup-bytes 0) ;;
    tw-no-path-cache) args=(--no-path-cache) ;;
    tw-pipes) args=(--capture-pipes) ;;
    tw-4k) args=(--capture-bytes 4096) ;;
    tw-64k) args=(--capture-bytes 64K) ;;
    tw-256k) args=(--capture-bytes 256K) ;;
    tw-ref) ;;
    tw-no-tail) args=(--no-file-tail) ;;
    tw-no-carry) args=(--stream-tail 0) ;;
    tw-wake-1m) args=(--wakeup-bytes 1M) ;;
    tw-no-batch) args=(--no-sock-batch) ;;
    tw-batch-8ms) args=(--sock-batch-ms 8 --file-tail-ms 8) ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  if [ "$mode" != floor ]; then
    local bin=$build/tokenward
    [ "$mode" = tw-ref ] && bin=${REF_TW:?tw-ref needs REF_TW=path/to/tokenward}
    "$bin" run --events /dev/null --state-dir "$tmp/state-$mode" \
      --ledger "$tmp/ledger-$mode.db" --ready-file "$tmp/ready" "${args[@]}" \
      2>>"$tmp/tw-$mode.log" & mon_pid=$!
  fi
  for _ in $(seq 1 300); do [ -e "$tmp/ready" ] && return 0; sleep 0.05; done
  echo "bench-sensors: $mode did not start" >&2; cat "$tmp/tw-$mode.log" >&2; exit 1
}

stop_mode() { # MODE WORKLOAD ROUND
  [ -n "$mon_pid" ] || return 0
  kill -TERM "$mon_pid"; wait "$mon_pid" 2>/dev/null || true; mon_pid=
  # What the monitor could not see in this sample (records lost, captures
  # cut): a monitor that drops is cheaper than one that keeps up.
  local st=$tmp/state-$1/status.json
  [ -r "$st" ] && python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sensors"]; print(sys.argv[2], sys.argv[3], sys.argv[4], s.get("lost_total", 0), s.get("cut_total", 0), s["file_tail"].get("lost_bytes", 0) + s["sock_batch"].get("lost_bytes", 0), sep="\t")' \
    "$st" "$2" "$1" "$3" >>"$tmp/lost.tsv" 2>/dev/null
  rm -f "$st"
}

# The log file lives on a private tmpfs: on a shared machine, other jobs'
# disk writeback otherwise dominates the variance of a 0.3 s loop.
mkdir -p "$tmp/fs" && mount -t tmpfs -o size=1g tw-bench "$tmp/fs"

port=$((20000 + RANDOM % 20000))
redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --logfile "$tmp/redis.log" & redis_pid=$!
for _ in $(seq 1 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done

foreign_progs() { # tracepoint programs loaded by someone other than our monitor
  local n
  n=$(bpftool prog show 2>/dev/null | grep -c ' tracepoint ' || true)
  [ -n "$mon_pid" ] && n=$((n - $(ls -l /proc/$mon_pid/fd 2>/dev/null | grep -c 'anon_inode:bpf-prog' || true)))
  echo "$n"
}

# The reader's share of the CPUs: ticks of CPU (utime+stime, all threads)
# and wakeups of its loop thread (context switches), read around a sample.
# Time stolen from this VM by its host, in clock ticks (all CPUs).
steal_mark() { awk '/^cpu / {print $9; exit}' /proc/stat; }
reader_mark() {
  [ -n "$mon_pid" ] && [ -r "/proc/$mon_pid/stat" ] || { echo "- -"; return; }
  local ticks cs
  ticks=$(awk '{print $14 + $15}' "/proc/$mon_pid/stat")
  cs=$(awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ {n += $2} END {print n}' "/proc/$mon_pid/status")
  echo "$ticks $cs"
}

# Bulk data outruns the reader: the workload ends long before the monitor
# has searched it (file tails read the page cache back later; sends wait in
# the ring). Wait until the monitor's bytes searched stop growing, and
# record how long that took and how much of the workload it searched.
catch_up() { # WORKLOAD MODE ROUND
  [ -n "$mon_pid" ] && [ "$2" != floor ] || return 0
  # Settled: under 1 MiB more searched in 0.3 s (other jobs' writes on a
  # shared host keep the count moving a little forever); at most 30 s.
  python3 - "$tmp/state-$2/status.json" "$mon_pid" "$1" "$2" "$3" >>"$tmp/catchup.tsv" <<'PY'
import json, os, signal, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
def scanned():
    os.kill(pid, signal.SIGUSR1)
    time.sleep(0.1)
    try:
        return json.load(open(path))["detection"]["bytes_scanned"]
    except (OSError, ValueError, KeyError):
        return 0
t0 = time.monotonic(); last = scanned(); settled_at = None
while time.monotonic() - t0 < 30:
    b = scanned()
    if b - last < (1 << 20) // 3:
        settled_at = settled_at or time.monotonic()
        if time.monotonic() - settled_at >= 0.3:
            break
    else:
        settled_at = None
    last = b
done = (settled_at or time.monotonic()) - t0
print(*sys.argv[3:6], f"{done:.2f}", last, sep="\t")
PY
}

run_workload() { # WORKLOAD MODE ROUND
  local w=$1 mode=$2 round=$3 v foreign c=0 before after steal0
  # Other monitors on the host (other test runs) tax every mode, and one
  # capturing with --trace-io makes a write() ten times slower: wait up to
  # QUIET_WAIT seconds for them to go (QUIET_BUDGET seconds in all), then
  # note the sample as contended.
  for _ in $(seq 1 $((${QUIET_WAIT:-10} * 4))); do
    [ "$(foreign_progs)" -le 0 ] && break
    [ "$waited" -ge $((${QUIET_BUDGET:-150} * 4)) ] && break
    waited=$((waited + 1))
    sleep 0.25
  done
  foreign=$(foreign_progs)
  [ "$foreign" -gt 0 ] && { echo "$w $mode $round" >>"$tmp/contended"; c=1; }
  before=$(reader_mark) steal0=$(steal_mark)
  case $w in
    redis) v=$(redis-benchmark -h 127.0.0.1 -p $port -n "$redis_n" -c 20 -t set,get -q --csv |
               python3 -c 'import csv,sys; r=[float(x[1]) for x in csv.reader(sys.stdin) if x and x[0] in ("SET","GET")]; print(sum(r)/len(r))') ;;
    logwriter) v=$("$build/bench/logwriter" "$tmp/fs/app.log" "$log_lines") ;;
    forkexec) v=$("$build/bench/forkexec" "$forks") ;;
    bulkfile) v=$("$build/bench/bulk" file "$tmp/fs/bulk.bin" "$bulk_file_n") ;;
    bulksend) v=$("$build/bench/bulk" send "$bulk_send_n") ;;
  esac
  after=$(reader_mark)
  local stolen=$(( ($(steal_mark) - steal0) * 1000 / $(getconf CLK_TCK) ))
  printf '%s\t%s\t%s\t%s\n' "$w" "$mode" "$round" "$stolen" >>"$tmp/steal.tsv"
  # The hypervisor ran someone else on our CPUs for a while: the sample
  # measured the host, not the monitor (flagged like a contended one).
  [ "$stolen" -gt "$steal_max" ] && { echo "$w $mode $round $stolen" >>"$tmp/stolen"; c=1; }
  case $w in bulk*) catch_up "$w" "$mode" "$round" ;; esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$mode" "$round" "$v" "$c" >>"$results"
  set -- $before $after
  [ "$1" != - ] && printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$mode" "$round" \
    "$(( ($3 - $1) * 1000 / $(getconf CLK_TCK) ))" "$(( $4 - $2 ))" >>"$tmp/reader.tsv"
  return 0
}

# Modes alternate inside each workload (order reversed on even rounds), so
# background load on a shared machine falls on every mode alike.
for round in $(seq 1 "$rounds"); do
  order=("${modes[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    order=(); for ((i=${#modes[@]}-1; i>=0; i--)); do order+=("${modes[$i]}"); done
  fi
  for w in ${WORKLOADS:-redis logwriter forkexec bulkfile bulksend}; do
    # A round any of whose samples the host stole from is run again (up
    # to STEAL_RETRIES times, as round N + 1000 x try): its samples are
    # kept but flagged, so medians come from rounds the host left alone.
    for try in $(seq 0 "$steal_retries"); do
      n0=$(wc -l <"$tmp/stolen")
      for mode in "${order[@]}"; do
        start_mode "$mode"
        run_workload "$w" "$mode" "$((round + 1000 * try))"
        stop_mode "$mode" "$w" "$((round + 1000 * try))"
      done
      [ "$(wc -l <"$tmp/stolen")" -eq "$n0" ] && break
    done
  done
  echo "round $round/$rounds done" >&2
done
cp "$results" "$build/bench-sensors.tsv"
# A monitor that drops records would look cheaper than it is: say so.
for f in "$tmp"/tw-*.log; do
  [ -e "$f" ] || continue
  n=$(grep -c 'events dropped or cut' "$f" || true)
  [ "$n" -gt 0 ] && echo "note: $(basename "$f" .log): $n drop warnings, last: $(grep 'events dropped or cut' "$f" | tail -1)" >&2
done
if [ -s "$tmp/stolen" ]; then
  echo "note: $(wc -l <"$tmp/stolen") samples saw more than ${steal_max} ms of host steal (flagged, their rounds run again up to $steal_retries times)" >&2
fi
if [ -s "$tmp/contended" ]; then
  echo "note: $(wc -l <"$tmp/contended") samples ran while other BPF tracepoint programs were loaded" >&2
fi

touch "$tmp/reader.tsv" "$tmp/steal.tsv" "$tmp/lost.tsv" "$tmp/catchup.tsv"
# How far behind the bulk workloads the monitor finished, and how much of
# them it searched (medians over rounds; the rest was cut and counted).
python3 - "$tmp/catchup.tsv" "$bulk_file_n" "$bulk_send_n" <<'PY' >&2
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    w, m, r, t, b = line.split("\t")
    rows[(w, m)].append((float(t), int(b)))
size = {"bulkfile": int(sys.argv[2]) << 20, "bulksend": int(sys.argv[3]) << 20}
for (w, m), v in sorted(rows.items()):
    t = statistics.median(x[0] for x in v); b = statistics.median(x[1] for x in v)
    print(f"note: {w} {m}: searched {b / size[w] * 100:.0f}% of the workload's bytes, "
          f"done {max(t, 0):.2f} s after it (medians)")
PY
# Loss per workload and mode, summed over rounds.
awk -F'\t' '$4 + $5 + $6 > 0 {k = $1 " " $2; l[k] += $4; c[k] += $5; b[k] += $6}
  END {for (k in l) printf "note: %s: %d records lost, %d captures cut, %d bytes of tails lost over all rounds\n", k, l[k], c[k], b[k]}' \
  "$tmp/lost.tsv" >&2
python3 - "$results" "${modes[*]}" "$rounds" "$log_lines" "$forks" "$redis_n" "$tmp/reader.tsv" "$tmp/steal.tsv" "$bulk_file_n" "$bulk_send_n" <<'PY' | tee "$build/bench-sensors.md"
import statistics, sys
from collections import defaultdict
path, modes, rounds, lines, forks, rn, reader_path, steal_path, bfn, bsn = sys.argv[1], sys.argv[2].split(), *sys.argv[3:]
data = defaultdict(list)
quiet = defaultdict(list)
for row in open(path):
    w, m, r, v, c = row.split("\t")
    data[(w, m)].append(float(v))
    if c.strip() == "0":
        quiet[(w, m)].append(float(v))
# Medians over the samples no other monitor taxed, when every mode of a
# workload has at least 3 of them; otherwise over all samples (flagged).
used = {}
for w in {k[0] for k in data}:
    if all(len(quiet[(w, m)]) >= 3 for m in modes):
        used[w] = "uncontended"
        for m in modes:
            data[(w, m)] = quiet[(w, m)]
    else:
        used[w] = "all (contended)"
wl = [("redis", f"redis-benchmark SET+GET, -n {rn} -c 20 (req/s, higher is better)", True),
      ("logwriter", f"write() loop, {lines} lines of 200 B to a tmpfs file (s)", False),
      ("forkexec", f"fork+exec /bin/true x {forks} (s)", False),
      ("bulkfile", f"write() of 1 MiB x {bfn} to a tmpfs file (s)", False),
      ("bulksend", f"send() of 1 MiB x {bsn} over loopback TCP (s)", False)]
print(f"| workload | " + " | ".join(modes) + " |")
print("|---|" + "---|" * len(modes))
for w, desc, higher in wl:
    if not data[(w, modes[0])]:
        continue
    base = statistics.median(data[(w, "none")]) if data[(w, "none")] else None
    cells = []
    for m in modes:
        med = statistics.median(data[(w, m)])
        if base and m != "none":
            over = (base / med - 1) if higher else (med / base - 1)
            cells.append(f"{med:,.3f} ({over*100:+.1f}%)" if not higher else f"{med:,.0f} ({over*100:+.1f}%)")
        else:
            cells.append(f"{med:,.3f}" if not higher else f"{med:,.0f}")
    n = min(len(data[(w, m)]) for m in modes)
    print(f"| {desc} [{used.get(w)}, n>={n}] | " + " | ".join(cells) + " |")
print()
print(f"Medians of {rounds} rounds; overhead in parentheses is the cost relative to no monitor")
print("(slowdown for times, lost throughput for req/s).")
for w, name in (("logwriter", "Log writer"), ("bulkfile", "Bulk file writes")):
    if "floor" not in modes or "tokenward" not in modes or not data[(w, "none")]:
        continue
    b = statistics.median(data[(w, "none")])
    f = statistics.median(data[(w, "floor")]) / b - 1
    t = statistics.median(data[(w, "tokenward")]) / b - 1
    print(f"{name}: floor overhead {f*100:+.1f}%, tokenward {t*100:+.1f}%, "
          f"ratio tokenward/floor {t/f:.2f}x" if f > 0 else f"{name}: floor overhead not measurable "
          f"(floor {f*100:+.1f}%, tokenward {t*100:+.1f}%)")
# The spread: each round's overhead against that round's no-monitor sample
# (rounds pair the modes), so a reader sees how much one run can move.
rows = defaultdict(list)
for row in open(path):
    w, m, r, v, c = row.split("\t")
    rows[(w, int(r))].append((m, float(v)))
print()
print("Spread of per-round overhead (min .. max over rounds):")
for w, desc, higher in wl:
    cells = []
    for m in modes:
        if m == "none":
            continue
        ov = []
        for (w2, r), samples in rows.items():
            d = dict(samples)
            if w2 != w or "none" not in d or m not in d:
                continue
            ov.append((d["none"] / d[m] - 1) if higher else (d[m] / d["none"] - 1))
        if ov:
            cells.append(f"{m} {min(ov)*100:+.1f}% .. {max(ov)*100:+.1f}%")
    if cells:
        print(f"- {w}: " + "; ".join(cells))
# The reader: its CPU and its loop's wakeups per sample, and whether the
# rounds where it took more CPU are the rounds where the workload lost more.
reader = defaultdict(list)
for row in open(reader_path):
    w, m, r, ms, cs = row.split("\t")
    reader[(w, m)].append((int(r), int(ms), int(cs)))
if reader:
    print()
    print("The reader per sample (median CPU ms, all threads; median loop wakeups):")
    for w, desc, higher in wl:
        cells = []
        for m in modes:
            if not reader[(w, m)]:
                continue
            cpu = statistics.median(x[1] for x in reader[(w, m)])
            cs = statistics.median(x[2] for x in reader[(w, m)])
            pts = []
            for r, ms, _ in reader[(w, m)]:
                d = dict(rows.get((w, r), []))
                if "none" in d and m in d:
                    pts.append((ms, (d["none"] / d[m] - 1) if higher else (d[m] / d["none"] - 1)))
            corr = ""
            if len(pts) >= 3 and len({p[0] for p in pts}) > 1 and len({p[1] for p in pts}) > 1:
                corr = f", r(cpu, overhead) {statistics.correlation([p[0] for p in pts], [p[1] for p in pts]):+.2f}"
            cells.append(f"{m} {cpu:.0f} ms, {cs:.0f} wakeups{corr}")
        if cells:
            print(f"- {w}: " + "; ".join(cells))
# The machine: time the host stole from this VM during each sample, and
# the median of the per-round overheads (each mode against its own
# round's no-monitor sample), which a slow drift of the machine moves
# less than the ratio of medians above.
steal = defaultdict(list)
for row in open(steal_path):
    w, m, r, ms = row.split("\t")
    steal[(w, m)].append(int(ms))
print()
print("Median of per-round overhead; host steal per sample (median, max ms):")
for w, desc, higher in wl:
    cells = []
    for m in modes:
        ov = []
        for (w2, r), samples in rows.items():
            d = dict(samples)
            if w2 == w and "none" in d and m in d and m != "none":
                ov.append((d["none"] / d[m] - 1) if higher else (d[m] / d["none"] - 1))
        st = steal.get((w, m), [])
        cell = f"{m}"
        if ov:
            cell += f" {statistics.median(ov)*100:+.1f}%"
        if st:
            cell += f" (steal {statistics.median(st):.0f}/{max(st)} ms)"
        cells.append(cell)
    if any(steal.get((w, m)) for m in modes):
        print(f"- {w}: " + "; ".join(cells))
PY
