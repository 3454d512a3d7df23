#!/usr/bin/env bash
# Startup cost: the time from exec of `tokenward run` to its ready file
# (every sensor attached, /proc swept), and what the BPF verifier spends on
# each program. Results: stdout and BUILD/bench-startup.md.
#
#   tools/bench-startup.sh BUILD
#   STARTS=10 REF_TW=/tmp/tw-ref/build/tokenward tools/bench-startup.sh build
#
# STARTS (default 10) starts per binary; with REF_TW (a tokenward built
# from an older commit, its tokenward.bpf.o beside it) the two binaries
# start in turn, so background load falls on both alike, and both
# objects' verifier tables are printed. Each start runs against a private
# temp ledger, state directory and ready file; the ready file is waited
# for with inotify (build/bench/startup), never a fixed sleep.
#
# The verifier table loads the linked object (BUILD/tokenward.bpf.o) with
# the .rodata values `tokenward run` sets by default and BPF_LOG_STATS:
# per program the verifier's own time, verified_insns (bpf_prog_info) and
# the load time (verifier, JIT and the rest of BPF_PROG_LOAD).
set -eu
build=$(cd "${1:-build}" && pwd)
starts=${STARTS:-10}
tmp=$(mktemp -d /tmp/tw-bench-startup.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench-startup: run as root (loads BPF)" >&2; exit 2; }

names=(tokenward) bins=("$build/tokenward")
if [ -n "${REF_TW:-}" ]; then
  names+=(tw-ref) bins+=("$(cd "$(dirname "$REF_TW")" && pwd)/$(basename "$REF_TW")")
fi
# The rodata `tokenward run` sets by default (user/sensors/monitor.c): file tails
# and send batches on, 64 KiB wakeups; tw_self_tgid only needs to be
# someone else.
rodata=(tw_self_tgid=1 tw_tail_on=1 tw_batch_on=1 tw_wakeup_bytes=65536)

{
  echo "## Startup, $(date -u +%Y-%m-%d), $(nproc) CPUs, kernel $(uname -r)"
  echo
  for i in "${!bins[@]}"; do
    obj=$(dirname "${bins[$i]}")/tokenward.bpf.o
    echo "### ${names[$i]}: verifier per program ($obj)"
    echo
    "$build/bench/startup" verify "$obj" "${rodata[@]}"
    echo
  done
} | tee "$tmp/verify.md"

for s in $(seq 1 "$starts"); do
  for i in "${!bins[@]}"; do
    n=${names[$i]}
    rm -rf "$tmp/run-$n" && mkdir -p "$tmp/run-$n"
    ms=$("$build/bench/startup" ready 1 "$tmp/run-$n/ready" -- "${bins[$i]}" run \
           --events /dev/null --state-dir "$tmp/run-$n/state" --ledger "$tmp/run-$n/ledger.db" \
           --ready-file "$tmp/run-$n/ready" 2>>"$tmp/$n.log" | sed -n 's/^start 1: \([0-9]*\) ms$/\1/p') ||
      { echo "bench-startup: ${names[$i]} did not start" >&2; cat "$tmp/$n.log" >&2; exit 1; }
    [ -n "$ms" ] || { echo "bench-startup: ${names[$i]} did not start" >&2; cat "$tmp/$n.log" >&2; exit 1; }
    printf '%s\t%s\n' "$n" "$ms" >>"$tmp/starts.tsv"
  done
  echo "start $s/$starts done" >&2
done

python3 - "$tmp/starts.tsv" "${names[*]}" <<'PY' | tee "$tmp/ready.md"
import statistics, sys
from collections import defaultdict
t = defaultdict(list)
for row in open(sys.argv[1]):
    n, ms = row.split("\t")
    t[n].append(float(ms))
print("### exec -> ready file (`tokenward run`, ms)")
print()
print("| binary | starts | median | min | max |")
print("|---|---:|---:|---:|---:|")
for n in sys.argv[2].split():
    v = t[n]
    print(f"| {n} | {len(v)} | {statistics.median(v):.0f} | {min(v):.0f} | {max(v):.0f} |")
print()
print("Samples (ms, in start order): " +
      "; ".join(f"{n}: " + " ".join(f"{x:.0f}" for x in t[n]) for n in sys.argv[2].split()))
PY
cat "$tmp/verify.md" "$tmp/ready.md" >"$build/bench-startup.md"
