#!/usr/bin/env bash
# Per-call cost of tokenward's BPF programs, from the kernel's own run-time
# statistics (kernel.bpf_stats_enabled, switched on only for the run):
# average ns per program run on the log writer (200-byte write() to a
# tmpfs file) and on redis-benchmark (small write()s on TCP sockets).
# Unlike the end-to-end benchmark this is not skewed by other monitors
# attached to the same hooks, only by CPU contention.
#
#   tools/bench/progcost.sh BUILD [TOKENWARD_BINARY...]
#
# With several binaries, rounds alternate between them (ROUNDS, default 3)
# and the medians are printed per binary.
set -eu
build=$(cd "${1:-build}" && pwd)
shift || true
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("$build/tokenward")
rounds=${ROUNDS:-3}
lines=${LOG_LINES:-300000}
redis_n=${REDIS_N:-50000}
tmp=$(mktemp -d /tmp/tw-progcost.XXXXXX)
mon= redis=
cleanup() {
  sysctl -q kernel.bpf_stats_enabled=0
  umount "$tmp/fs" 2>/dev/null || true
  [ -n "$mon" ] && kill -TERM "$mon" 2>/dev/null && wait "$mon" 2>/dev/null
  [ -n "$redis" ] && kill "$redis" 2>/dev/null && wait "$redis" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/fs" && mount -t tmpfs -o size=512m tw-progcost "$tmp/fs"
out=$tmp/out.tsv
port=$((20000 + RANDOM % 20000))
if command -v redis-server >/dev/null; then
  redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --logfile "$tmp/redis.log" & redis=$!
  for _ in $(seq 1 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
fi
stats() { # prog name -> "run_cnt run_time_ns"
  for id in $ids; do bpftool prog show id "$id" --json 2>/dev/null; echo; done | python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if not line: continue
    p = json.loads(line)
    if p.get("name") == sys.argv[1]:
        print(p.get("run_cnt", 0), p.get("run_time_ns", 0)); break
else:
    print(0, 0)' "$1"
}
measure() { # binary-index label prog command...
  local b=$1 label=$2 prog=$3; shift 3
  read -r c0 t0 < <(stats "$prog")
  "$@" >/dev/null
  read -r c1 t1 < <(stats "$prog")
  echo "$b $label $((c1 - c0)) $((t1 - t0))" >>"$out"
}
sysctl -q kernel.bpf_stats_enabled=1
for round in $(seq 1 "$rounds"); do
  for b in "${!bins[@]}"; do
    rm -f "$tmp/ready"
    "${bins[$b]}" run --events /dev/null --state-dir "$tmp/state$b" --ledger "$tmp/ledger$b.db" \
      --ready-file "$tmp/ready" 2>>"$tmp/tw$b.log" & mon=$!
    for _ in $(seq 1 300); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
    [ -e "$tmp/ready" ] || { cat "$tmp/tw$b.log" >&2; exit 1; }
    # Our programs are the ones whose fds our monitor holds.
    ids=$(for l in /proc/$mon/fdinfo/*; do awk '/^prog_id:/{print $2}' "$l"; done 2>/dev/null | sort -u)
    measure "$b" logwriter tw_write "$build/bench/logwriter" "$tmp/fs/app.log" "$lines"
    [ -n "$redis" ] && measure "$b" redis tw_write redis-benchmark -h 127.0.0.1 -p $port -n "$redis_n" -c 20 -t set,get -q
    kill -TERM $mon; wait $mon 2>/dev/null || true; mon=
  done
done
python3 - "$out" "${bins[@]}" <<'PY'
import statistics, sys
from collections import defaultdict
d = defaultdict(list)
for row in open(sys.argv[1]):
    b, label, c, t = row.split()
    d[(int(b), label)].append(int(t) / max(int(c), 1))
for (b, label), v in sorted(d.items()):
    print(f"{sys.argv[2 + b]:<40} {label:<10} median {statistics.median(v):6.0f} ns/run  (" +
          " ".join(f"{x:.0f}" for x in v) + ")")
PY
for f in "$tmp"/tw*.log; do grep -i 'error\|ringbuf_full\|lost' "$f" >&2 || true; done
