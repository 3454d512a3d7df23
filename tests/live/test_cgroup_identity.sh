#!/usr/bin/env bash
# Process identity in verdicts, and --delegate-cgroup as the docs say it:
# the delegate's cgroup and everything below it. Real cgroups, created by
# the test in the cgroup v2 hierarchy wherever it is mounted (pure v2 at
# /sys/fs/cgroup, hybrid at /sys/fs/cgroup/unified).
#
# The regression: the pipeline never filled the sighting's cgroup path, so
# correlation compared exact cgroup ids: a delegate's child cgroup using
# the token as intended was `foreign_process`, and revoked. On a hybrid
# host the id was never even found (mint looked under /sys/fs/cgroup).
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
AGENT_BIN=$PROGS/tw_agent
SINK_PID=
[ -x "$AGENT_BIN" ] || { not_ok cgroup_agent "$AGENT_BIN is missing (make $AGENT_BIN)"; exit 1; }
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG_ROOT" ] || { not_ok cgroup_v2_mounted "no cgroup2 hierarchy"; exit 1; }
BASE=tw-cg-test.$$.$RANDOM
CG=$CG_ROOT/$BASE
cleanup() {
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  tw_stop
  for d in "$CG/deleg/child" "$CG/deleg" "$CG/sibling" "$CG/docker-ctr/$CTR_LEAF" "$CG/docker-ctr" "$CG"; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null
  done
  tw_tmp_done
}
trap cleanup EXIT
# A container-runtime layout (docker under systemd): the verdict names the container.
CTR_ID=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
CTR_LEAF=docker-$CTR_ID.scope
mkdir -p "$CG/deleg/child" "$CG/sibling" "$CG/docker-ctr/$CTR_LEAF" ||
  { not_ok cgroup_setup "cannot create cgroups under $CG"; exit 1; }

python3 -u -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1])
while True:
    c, _ = s.accept(); c.settimeout(2)
    try: c.recv(65536)
    except OSError: pass
    c.close()' >"$TW_TMP/sink" &
SINK_PID=$!
tw_poll test -s "$TW_TMP/sink"
PORT=$(head -1 "$TW_TMP/sink")
AUD="http://127.0.0.1:$PORT"

tw_start --ledger "$LEDGER" --no-sweep --no-tls || { not_ok cgroup_start "monitor failed: $(tail -3 "$TW_TMP/stderr")"; exit 1; }

# mint DELEGATE_CGROUP: prints "ID TOKEN"
mint() {
  local tok id
  tok=$("$TW" mint --ledger "$LEDGER" --task "cg-$RANDOM" --aud "$AUD" --delegate-cgroup "$1" 2>"$TW_TMP/mint.err") ||
    { cat "$TW_TMP/mint.err" >&2; return 1; }
  id=$(grep -o 'tk-[0-9a-f]*' "$TW_TMP/mint.err" | head -1)
  tw_token_record "$tok"
  echo "$id $tok"
}
# send_from CGROUP_DIR TOKEN: the agent, moved into CGROUP_DIR before it
# starts, sends the token to the audience. Prints the agent's pid.
send_from() {
  ( echo "$BASHPID" >"$1/cgroup.procs" && exec "$AGENT_BIN" >/dev/null <<<"token $2
send $PORT" ) &
  echo $!
  wait $! 2>/dev/null
}
# verdict NAME ID CLASS: the token's verdict has this class; prints it.
verdict_of() { tw_wait_event "e.get('event')=='verdict' and e.get('token_id')=='$1'"; }
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

# --- the delegate's child cgroup, to the audience: use.
read -r ID TOK < <(mint "/$BASE/deleg")
send_from "$CG/deleg/child" "$TOK" >/dev/null
if ev=$(verdict_of "$ID"); then
  [ "$(field "$ev" class)" = use ] && ok delegate_cgroup_child_is_use ||
    not_ok delegate_cgroup_child_is_use "class $(field "$ev" class): $(field "$ev" reason)"
  [ "$(field "$ev" cgroup)" = "/$BASE/deleg/child" ] && ok verdict_carries_cgroup_path ||
    not_ok verdict_carries_cgroup_path "cgroup '$(field "$ev" cgroup)'"
  [ "$(field "$ev" hostname)" = "$(hostname)" ] && ok verdict_carries_hostname ||
    not_ok verdict_carries_hostname "hostname '$(field "$ev" hostname)'"
  [ "$(field "$ev" boot_id)" = "$(cat /proc/sys/kernel/random/boot_id)" ] && ok verdict_carries_boot_id ||
    not_ok verdict_carries_boot_id "boot_id '$(field "$ev" boot_id)'"
  [ -z "$(field "$ev" container_id)" ] && ok no_container_id_outside_a_container ||
    not_ok no_container_id_outside_a_container "container_id '$(field "$ev" container_id)'"
else
  not_ok delegate_cgroup_child_is_use "no verdict"
fi

# --- the delegate's own cgroup: use.
read -r ID TOK < <(mint "$CG/deleg")
send_from "$CG/deleg" "$TOK" >/dev/null
if ev=$(verdict_of "$ID"); then
  [ "$(field "$ev" class)" = use ] && ok delegate_cgroup_itself_is_use_full_path ||
    not_ok delegate_cgroup_itself_is_use_full_path "class $(field "$ev" class)"
else not_ok delegate_cgroup_itself_is_use_full_path "no verdict"; fi

# --- a sibling cgroup: foreign_process.
read -r ID TOK < <(mint "/$BASE/deleg")
send_from "$CG/sibling" "$TOK" >/dev/null
if ev=$(verdict_of "$ID"); then
  [ "$(field "$ev" class)" = foreign_process ] && ok sibling_cgroup_is_foreign_process ||
    not_ok sibling_cgroup_is_foreign_process "class $(field "$ev" class)"
else not_ok sibling_cgroup_is_foreign_process "no verdict"; fi

# --- a name that only starts like the delegate's (deleg vs deleg-x is not below it).
mkdir -p "$CG/deleg-x" || true
read -r ID TOK < <(mint "/$BASE/deleg")
send_from "$CG/deleg-x" "$TOK" >/dev/null
if ev=$(verdict_of "$ID"); then
  [ "$(field "$ev" class)" = foreign_process ] && ok cgroup_name_prefix_is_not_below ||
    not_ok cgroup_name_prefix_is_not_below "class $(field "$ev" class)"
else not_ok cgroup_name_prefix_is_not_below "no verdict"; fi
rmdir "$CG/deleg-x" 2>/dev/null

# --- a container's cgroup: the verdict names the container (its short id,
# as `docker ps` shows it: the full 64 hex is redacted like any secret) and its runtime.
read -r ID TOK < <(mint "/$BASE/docker-ctr")
send_from "$CG/docker-ctr/$CTR_LEAF" "$TOK" >/dev/null
if ev=$(verdict_of "$ID"); then
  [ "$(field "$ev" container_id)" = "${CTR_ID:0:12}" ] && [ "$(field "$ev" container_runtime)" = docker ] &&
    ok verdict_names_docker_container ||
    not_ok verdict_names_docker_container "container '$(field "$ev" container_id)' runtime '$(field "$ev" container_runtime)'"
  [ "$(field "$ev" class)" = use ] && ok container_below_delegate_is_use ||
    not_ok container_below_delegate_is_use "class $(field "$ev" class)"
else not_ok verdict_names_docker_container "no verdict"; fi
