#!/usr/bin/env bash
# Issue 11's proof that the suite never races the machine: a fresh clone at
# an unusual path passes `make test` N times in a row while CPU hogs run
# beside it at normal priority.
#   tools/proof-hog.sh [COMMIT] [RUNS] [HOGS]     (defaults: HEAD, 5, 2)
# The clone goes to /var/tmp/proof-HHMM/deep/clone (a path no other test
# run uses, two levels down, so no test may assume where it lives). Each
# run's closing line and wall time go to /var/tmp/proof-HHMM/results, one
# line a run, with the load average at its end; the hogs die with the
# script, whatever ends it. Exit status: 0 when every run passed.
set -u
commit=${1:-HEAD}
runs=${2:-5}
hogs=${3:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
case "$runs$hogs" in *[!0-9]*|'') echo "usage: tools/proof-hog.sh [COMMIT] [RUNS] [HOGS]" >&2; exit 2 ;; esac
rev=$(git -C "$src" rev-parse --verify -q "$commit^{commit}") || {
	echo "proof-hog: not a commit: $commit" >&2; exit 2; }
top=/var/tmp/proof-$(date +%H%M)
clone=$top/deep/clone
[ -e "$top" ] && { echo "proof-hog: $top exists; wait a minute or remove it" >&2; exit 1; }
mkdir -p "$top/deep" && git clone -q "$src" "$clone" && git -C "$clone" checkout -q "$rev" || exit 1

pids=()
stop_hogs() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$hogs"); do
	sha256sum /dev/zero >/dev/null &
	pids+=($!)
done

ok=0
for i in $(seq "$runs"); do
	t0=$SECONDS
	(cd "$clone" && make test) >"$top/run-$i.log" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$top/run-$i.log" | tail -1)
	printf 'run %d: rc %d, %s, %d s, load %s\n' "$i" "$rc" "${line:-no closing line}" $((SECONDS - t0)) \
		"$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$top/results"
	[ "$rc" -eq 0 ] && ok=$((ok + 1))
done
echo "proof-hog: $ok of $runs runs passed at $rev ($clone)" | tee -a "$top/results"
[ "$ok" -eq "$runs" ]
