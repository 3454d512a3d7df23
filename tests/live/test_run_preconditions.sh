#!/usr/bin/env bash
# `tokenward run` preconditions and clean detach (usage: tests/cli).
. "$(dirname "$0")/lib.sh"

# Not root: one clear line, exit 2, no libbpf noise.
if command -v setpriv >/dev/null; then
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$TW" run --events /dev/null >"$TW_TMP/out" 2>"$TW_TMP/err"
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$TW_TMP/err")" -eq 1 ] && grep -q 'root' "$TW_TMP/err"; then
    ok precondition_not_root
  else
    not_ok precondition_not_root "exit $rc: $(cat "$TW_TMP/err")"
  fi
else
  not_ok precondition_not_root "setpriv missing"
fi

# tracefs and bpffs absent: run mounts them itself.
umount /sys/kernel/tracing 2>/dev/null
umount /sys/fs/bpf 2>/dev/null
if tw_start; then
  if mountpoint -q /sys/kernel/tracing && mountpoint -q /sys/fs/bpf; then ok precondition_mounts; else not_ok precondition_mounts "tracefs or bpffs not mounted"; fi
else
  not_ok precondition_mounts "monitor failed to start with tracefs/bpffs unmounted: $(cat "$TW_TMP/stderr")"
fi

# IDs of the BPF programs a given process holds (other monitors may run too).
prog_ids_of() { grep -hs '^prog_id:' /proc/"$1"/fdinfo/* | awk '{print $2}' | sort -u; }
prog_exists() { bpftool prog show id "$1" >/dev/null 2>&1; }

# SIGTERM detaches: exit 0 and none of its programs left in the kernel.
ids=$(prog_ids_of "$TW_PID")
tw_stop
left=0; for id in $ids; do prog_exists "$id" && left=$((left + 1)); done
if [ "${TW_RC:-1}" -eq 0 ] && [ -n "$ids" ] && [ $left -eq 0 ]; then
  ok sigterm_detaches
else
  not_ok sigterm_detaches "rc=${TW_RC:-?} programs=[$ids] left=$left"
fi

# SIGINT too; the ready file is removed on the way out.
tw_start || not_ok sigint_detaches "start failed"
ids=$(prog_ids_of "$TW_PID")
kill -INT "$TW_PID"; wait "$TW_PID"; rc=$?; TW_PID=
left=0; for id in $ids; do prog_exists "$id" && left=$((left + 1)); done
if [ $rc -eq 0 ] && [ ! -e "$TW_TMP/ready" ] && [ -n "$ids" ] && [ $left -eq 0 ]; then
  ok sigint_detaches
else
  not_ok sigint_detaches "rc=$rc programs=[$ids] left=$left"
fi
