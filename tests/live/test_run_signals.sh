#!/usr/bin/env bash
# SIGHUP is what logrotate sends: it must not stop the monitor (it used
# to: the default action), it reopens the event files by path, and it
# loads the rules again, keeping the old ones when the new ones are bad.
# lane: scoped
. "$(dirname "$0")/lib.sh"

RULES=$TW_TMP/rules
LEAKS=$TW_TMP/leak-input
mkdir -p "$RULES" "$LEAKS"
# A rules directory must hold a rule at start: one that matches nothing here.
cat >"$RULES/base.yaml" <<'Y'
rules:
  - id: zeta
    name: Zeta test key
    pattern: '\b(zeta_[a-f0-9]{40})\b'
    keywords: [zeta_]
    severity: low
    examples: ['k=zeta_{{hex:40}}']
    negative_examples: ['k=zeta_{{hex:39}}']
Y
tw_own_cgroup || { not_ok signals_cgroup "$TW_CG"; exit 1; }
tw_start --no-sweep --no-tls --cgroup "$TW_CG" --rules "$RULES" ||
  { not_ok signals_start "monitor failed: $(cat "$TW_TMP/stderr")"; exit 1; }

reloads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["reloads"])' "$TW_TMP/state/status.json"; }
hup() { # wait until the monitor has handled one more SIGHUP
  local n; n=$(tw_wait_status 'True' >/dev/null && reloads)
  kill -HUP "$TW_PID"
  tw_wait_status "s['sensors']['reloads'] > $n" >/dev/null
}
# An exec from a marker program: an event only this test causes.
marker_exec() { local m; m=$(tw_marker); /bin/sh -c ": $m"; echo "$m"; }
seen_in() { grep -qF -- "$2" "$1"; }

# --- logrotate: move the file away, HUP, the next events go to a new file.
m1=$(marker_exec)
tw_poll seen_in "$TW_TMP/events.jsonl" "$m1" || not_ok hup_setup "marker exec never logged"
mv "$TW_TMP/events.jsonl" "$TW_TMP/events.jsonl.1"
if hup; then ok hup_handled; else not_ok hup_handled "reloads did not grow"; fi
if kill -0 "$TW_PID" 2>/dev/null; then ok hup_does_not_stop; else not_ok hup_does_not_stop "monitor exited on SIGHUP"; fi
m2=$(marker_exec)
if tw_poll seen_in "$TW_TMP/events.jsonl" "$m2"; then ok hup_reopens_events_file; else not_ok hup_reopens_events_file "no new events.jsonl with the next event"; fi
if seen_in "$TW_TMP/events.jsonl.1" "$m1" && ! seen_in "$TW_TMP/events.jsonl.1" "$m2"; then
  ok hup_rotated_file_kept_whole
else
  not_ok hup_rotated_file_kept_whole "the rotated file lost its events or got new ones"
fi

# --- rules: a rule added while running is used after HUP.
key="acme_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"; tw_token_record "$key"
cat >"$RULES/custom.yaml" <<'Y'
rules:
  - id: acme
    name: ACME internal key
    pattern: '\b(acme_[a-f0-9]{32})\b'
    keywords: [acme_]
    severity: high
    examples: ['k=acme_{{hex:32}}']
    negative_examples: ['k=acme_{{hex:31}}']
Y
hup
pid=$(K=$key OUT=$LEAKS/acme.log python3 -c '
import os
open(os.environ["OUT"], "w").write("key " + os.environ["K"] + "\n"); print(os.getpid())')
if tw_wait_event "e.get('event')=='verdict' and e.get('rule')=='acme' and e.get('pid')==$pid" >/dev/null; then
  ok hup_loads_new_rule
else
  not_ok hup_loads_new_rule "no verdict from the rule added before SIGHUP"
fi
if grep -q 'SIGHUP: rules reloaded' "$TW_TMP/stderr"; then ok hup_rules_reload_logged; else not_ok hup_rules_reload_logged "no log line"; fi

# --- a bad rule file: rejected with its reason, the old rules stay.
printf 'rules:\n  - id: broken\n    pattern: "(unclosed"\n    keywords: [ab]\n    severity: low\n' >"$RULES/bad.yaml"
hup
if tw_poll grep -q "SIGHUP: the new rules were not loaded, the old ones stay: .*bad.yaml:3" "$TW_TMP/stderr"; then
  ok hup_bad_rules_rejected_with_reason
else
  not_ok hup_bad_rules_rejected_with_reason "$(grep SIGHUP "$TW_TMP/stderr" | tail -2)"
fi
# another key: a repeat of the first would be folded into its alert
key2="acme_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"; tw_token_record "$key2"
pid=$(K=$key2 OUT=$LEAKS/acme2.log python3 -c '
import os
open(os.environ["OUT"], "w").write("key " + os.environ["K"] + "\n"); print(os.getpid())')
if tw_wait_event "e.get('event')=='verdict' and e.get('rule')=='acme' and e.get('pid')==$pid" >/dev/null; then
  ok hup_bad_rules_old_rules_stay
else
  not_ok hup_bad_rules_old_rules_stay "the rules in use were lost"
fi

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok signals_clean_exit || not_ok signals_clean_exit "exit $TW_RC"
if grep -rqF -e "$key" -e "$key2" "$TW_TMP" --exclude-dir=leak-input --exclude-dir=rules; then
  not_ok signals_no_key_in_output "a raw key in $(grep -rlF -e "$key" -e "$key2" "$TW_TMP" --exclude-dir=leak-input --exclude-dir=rules | tr '\n' ' ')"
else
  ok signals_no_key_in_output
fi
