#!/usr/bin/env bash
# Issue 15, "host kinds": process identity and --delegate-cgroup on a pure
# cgroup v2 host, where the hierarchy is /sys/fs/cgroup itself. This
# machine is hybrid (v2 at /sys/fs/cgroup/unified), so the test makes the
# other kind: a private mount namespace in which the v1 tmpfs is gone and
# cgroup2 is mounted at /sys/fs/cgroup. It is the same kernel hierarchy
# (the same cgroup ids, the same /proc/PID/cgroup "0::" paths), seen where
# a pure v2 host has it; the monitor and the CLI run inside and must find
# it there. test_cgroup_identity.sh then runs unchanged in that
# namespace; its cases are reported here with a "v2only_" prefix.
set -u
here=$(cd "$(dirname "$0")" && pwd)
layout='awk '"'"'$2 == "/sys/fs/cgroup" && $3 == "cgroup2" { v2 = 1 } $2 == "/sys/fs/cgroup/unified" { u = 1 } END { exit !(v2 && !u) }'"'"' /proc/self/mounts'

set -o pipefail
unshare -m --propagation private bash -c '
  if ! eval "$2"; then
    umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup ||
      { echo "not ok layout: cannot mount cgroup2 at /sys/fs/cgroup in a mount namespace"; exit 1; }
  fi
  if eval "$2"; then echo "ok layout"; else echo "not ok layout: $(grep cgroup /proc/self/mounts | head -3)"; exit 1; fi
  exec bash "$1"' sh "$here/test_cgroup_identity.sh" "$layout" |
  sed -u -E 's/^(not ok|ok) /\1 v2only_/'
