#!/usr/bin/env bash
# The BPF object's deepest call chains stay under the verifier's 512-byte
# combined stack (tools/bpf-stack.py). Some kernels give tracing programs
# a private stack and load more; 6.18.44 does not, and refused tw_sendmsg
# (608 bytes through tw_capture and tw_capture_record) that the kernel of
# the day before had loaded. Checked on the object, so every kernel that
# runs the suite catches it, not only the strict ones.
. "$(dirname "$0")/../live/lib.sh"
OBJ=$TW_BUILD/tokenward.bpf.o
[ -f "$OBJ" ] || { not_ok bpf_stack_object "no $OBJ (make all)"; exit 1; }
out=$TW_TMP/stack
python3 "$TW_ROOT/tools/bpf-stack.py" "$OBJ" >"$out" 2>&1; rc=$?
sed 's/^/# /' "$out"
if [ $rc -eq 0 ]; then ok bpf_stack_under_512; else not_ok bpf_stack_under_512 "$(grep OVER "$out" | head -3 | tr '\n' ' ')"; fi
# The call graph is read, not assumed: a send's chain reaches the record
# copy through tw_capture. Were calls missed, every total would shrink and
# the check above would pass for nothing.
if grep -qE '^ok +[0-9]+ tw_sendmsg: tw_sendmsg [0-9]+ > tw_capture [0-9]+ > tw_capture_record' "$out" &&
   grep -qE '^ok +[0-9]+ tw_sendmmsg: tw_sendmmsg [0-9]+ > tw_mmsg_step [0-9]+ > tw_capture ' "$out"; then
  ok bpf_stack_chains_followed
else
  not_ok bpf_stack_chains_followed "the send chains do not go through tw_capture"
fi
# It can fail: under a limit below the deepest chain it names that chain.
python3 "$TW_ROOT/tools/bpf-stack.py" "$OBJ" 256 >"$out.low" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q '^OVER' "$out.low"; then ok bpf_stack_limit_enforced; else not_ok bpf_stack_limit_enforced "exit $rc under a 256-byte limit"; fi
python3 "$TW_ROOT/tools/bpf-stack.py" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok bpf_stack_usage_exit_2 || not_ok bpf_stack_usage_exit_2 "exit $rc without arguments"
