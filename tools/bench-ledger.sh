#!/usr/bin/env bash
# Ledger benchmarks: CLI mint/register throughput and the in-process
# figures of tools/bench_ledger.c (writes, lookups cache vs SQLite,
# cache refresh). Usage: tools/bench-ledger.sh BUILD_DIR [TOKENS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
ntok=${2:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/tw-bench-ledger.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
TW=$build/tokenward

objs="$build/libtokenward.a"
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -I"$root/user" -I"$root/bpf" -I"$build" $(pkg-config --cflags libcjson) \
   "$root/tools/bench_ledger.c" $objs -o "$tmp/bench_ledger" \
   $(pkg-config --libs libbpf libpcre2-8 libcjson zlib yaml-0.1 sqlite3 libcurl libcrypto) -lelf -lpthread -lm

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

# CLI: one process per token, fsync'd commit; alternating mint/register rounds.
n=100 rounds=5
: >"$tmp/mint" ; : >"$tmp/reg"
export TOKENWARD_LEDGER=$tmp/cli.db
for r in $(seq $rounds); do
  t0=$(date +%s.%N)
  for i in $(seq $n); do "$TW" mint --task b --aud api.example.test:443 >/dev/null 2>&1; done
  t1=$(date +%s.%N)
  for i in $(seq $n); do head -c 32 /dev/urandom | base64 | tr -d '=\n' | "$TW" ledger register --issuer corp --aud api.example.test:443 --ttl 1h >/dev/null 2>&1; done
  t2=$(date +%s.%N)
  awk -v n=$n -v a=$t0 -v b=$t1 'BEGIN{print n/(b-a)}' >>"$tmp/mint"
  awk -v n=$n -v a=$t1 -v b=$t2 'BEGIN{print n/(b-a)}' >>"$tmp/reg"
done
printf 'cli_mint %.0f tokens/s\n' "$(median <"$tmp/mint")"
printf 'cli_register_sealed %.0f tokens/s\n' "$(median <"$tmp/reg")"

"$tmp/bench_ledger" "$tmp" "$ntok"
echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(df -T "$tmp" | awk 'NR==2{print $2}') on /tmp"
