#!/usr/bin/env bash
# The exec sensor end to end: a real exec, through the ring buffer, to a
# JSON line with the right identity.
. "$(dirname "$0")/lib.sh"

tw_start || { not_ok exec_start "monitor failed to start"; exit 1; }

marker=$(tw_marker)
mkdir -p "$TW_TMP/deep/a/b"
cp /bin/true "$TW_TMP/deep/a/b/tw-true"
"$TW_TMP/deep/a/b/tw-true" "$marker" second-arg &
child=$!
wait $child

if ev=$(tw_wait_event "e['event']=='exec' and '$marker' in e['argv']"); then
  python3 - "$ev" "$child" "$$" "$TW_TMP/deep/a/b/tw-true" "$marker" <<'PY' && ok exec_event_fields || not_ok exec_event_fields "fields wrong: $ev"
import json, re, sys
e = json.loads(sys.argv[1]); child, parent, exe, marker = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
assert e["pid"] == child, ("pid", e["pid"], child)
assert e["ppid"] == parent, ("ppid", e["ppid"], parent)
assert e["uid"] == 0
assert e["comm"] == "tw-true", e["comm"]
assert e["exe"] == exe, (e["exe"], exe)
assert e["argv"] == [exe, marker, "second-arg"], e["argv"]
assert e["argv_truncated"] is False
assert isinstance(e["cgroup_id"], (int, float)) and e["cgroup_id"] > 0
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["time"]), e["time"]
PY
else
  not_ok exec_event_fields "no exec event with marker $marker"
fi

# A failed execve produces no event: the sensor fires after the new image.
bad=$(tw_marker)
"$TW_TMP/does-not-exist" "$bad" 2>/dev/null
/bin/true "$bad-after"
# The barrier: the exec after it, seen only once the failed one was handled.
tw_no_event_case exec_failed_not_reported "e['event']=='exec' and '$bad' in e['argv']" \
  "e['event']=='exec' and '$bad-after' in e['argv']"

# Symlinked and relative invocations resolve to the real file.
ln -s "$TW_TMP/deep/a/b/tw-true" "$TW_TMP/link-true"
rel=$(tw_marker)
(cd "$TW_TMP/deep/a" && ./b/tw-true "$rel")
"$TW_TMP/link-true" "$rel-link"
if tw_wait_event "e['argv'][1:]==['$rel'] and e['exe']=='$TW_TMP/deep/a/b/tw-true'" >/dev/null &&
   tw_wait_event "e['argv'][1:]==['$rel-link'] and e['exe']=='$TW_TMP/deep/a/b/tw-true'" >/dev/null; then
  ok exec_exe_resolved
else
  not_ok exec_exe_resolved "relative or symlinked exec not resolved to the real path"
fi

# argv is bounded: a huge argv is cut and flagged, not dropped.
big=$(tw_marker)
/bin/true "$big" $(head -c 40000 /dev/zero | tr '\0' 'x' | fold -w 100)
if tw_wait_event "e['event']=='exec' and e['argv'][1]=='$big' and e['argv_truncated'] is True" >/dev/null; then
  ok exec_argv_bounded
else
  not_ok exec_argv_bounded "no truncated event for a 40 KB argv"
fi

# A secret-looking argument never reaches the output raw.
secret="tw$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 28)Q7z"
/bin/true "$secret"
if tw_wait_event "e['event']=='exec' and e['comm']=='true' and 'sha256:' in ' '.join(e['argv'])" >/dev/null; then
  ok exec_argv_redacted
else
  not_ok exec_argv_redacted "secret-looking argv not redacted"
fi

tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok exec_clean_exit || not_ok exec_clean_exit "exit status $TW_RC after SIGTERM"
tw_assert_no_leak exec_no_raw_secret_in_artefacts "$secret" "$TW_TMP"
