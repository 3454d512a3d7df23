#!/bin/bash
# CPU seconds (user + sys) of `tokenward scan --threads 1` on FILE, the binaries
# alternating R rounds (default 5), summed: for A/B cost on a shared machine
# where wall time is noise.   tools/bench/cpu-cmp.sh FILE BIN[+FLAG]...
f=$1; shift; R=${R:-5}
declare -A tot
for r in $(seq $R); do for b in "$@"; do
  bin=${b%%+*}; fl=""; [ "$bin" != "$b" ] && fl=${b#*+}
  /usr/bin/time -o ${TMPDIR:-/tmp}/cpu-cmp.$$ -f "%U %S" $bin scan $fl --threads 1 --format json $f >/dev/null 2>&1
  t=$(tail -1 ${TMPDIR:-/tmp}/cpu-cmp.$$ | awk '{print $1+$2}')
  tot[$b]=$(echo "${tot[$b]:-0} + $t" | bc)
done; done
for b in "$@"; do echo "$b ${tot[$b]}"; done
