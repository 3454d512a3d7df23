#!/bin/bash
# Instructions of detector_scan (callgrind: deterministic, where this
# machine's CPU time moves by a third) on the first MIB (default 4) MiB of
# each FILE, with detect-harness.c built against BUILD_DIR's library; and
# the harness's digest of findings and counters, to compare two builds.
#   tools/bench/detect-icount.sh BUILD_DIR FILE...   env MIB
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd); shift
root=$(cd "$here/../.." && pwd)
t=$(mktemp -d /tmp/tw-icount.XXXXXX)
trap 'rm -rf "$t"' EXIT
# shellcheck disable=SC2046 # the libraries' flags are words
cc -O2 -g -D_GNU_SOURCE -I"$build" -I"$root/user" "$here/detect-harness.c" "$build/libtokenward.a" \
	$(pkg-config --libs libpcre2-8 libcjson zlib yaml-0.1 sqlite3 libcurl libcrypto libnghttp2 libsystemd) \
	-lelf -lpthread -lm -o "$t/harness"
for f in "$@"; do
	head -c $(( ${MIB:-4} << 20 )) "$f" >"$t/in"
	n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect=detector_scan \
		"$t/harness" "$t/in" 4096 2>&1 | awk '/refs:/ { gsub(",", "", $4); print $4 }')
	echo "$(basename "$f") $n $("$t/harness" "$t/in" 4096 | head -1 | awk '{ print $NF }')"
done
