#!/bin/bash
# cpu-cmp.sh over several inputs, one line each: the two binaries' CPU sums
# (R rounds, alternating) and the change, for an A/B of every row at once.
#   tools/bench/cpu-cmp-all.sh BIN_A BIN_B FILE...   env R (default 6)
a=$1 b=$2; shift 2
here=$(dirname "$0")
for f in "$@"; do
  out=$("$here/cpu-cmp.sh" "$f" "$a" "$b")
  ta=$(echo "$out" | sed -n 1p | awk '{print $NF}'); tb=$(echo "$out" | sed -n 2p | awk '{print $NF}')
  echo "$(basename "$f") $ta $tb $(echo "scale=1; ($tb - $ta) * 100 / $ta" | bc)%"
done
