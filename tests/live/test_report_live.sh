#!/usr/bin/env bash
# Issue 16: the exposure report from a real monitor run, with the real
# sensors, the event store and a real OAuth 2.0 issuer (oidc-provider).
# Run 1 (a normal ring buffer), in a cgroup of its own:
#   T0: used with its audience (use), then written to a file (file_write,
#       revoked at the issuer);
#   T1: sent to a wrong destination (net_dest, revoked at the issuer);
#   T2: handed in the environment of a foreign program (exposure, policy
#       alert: not revoked), then used by the agent: a use after the
#       exposure, which the report must highlight;
#   an unmanaged secret (a GitHub token) written to a file.
# Run 2 (a 4 KiB ring): a flood of sends that makes the ring drop.
# Then T2's task is completed without revocation (--no-revoke), so the
# token is still active at the issuer, which the report must list.
# Every fact in the JSON report is checked against the event stream, the
# ledger, `status` after each run and the provider; the Markdown for the
# same facts; the HTML in headless Chromium (text, screenshot, no network
# request); every report for every raw token and its encodings.
# lane: scoped
. "$(dirname "$0")/lib.sh"
. "$TW_ROOT/tests/issuer/lib.sh"
. "$(dirname "$0")/sensors_lib.sh"

CG=
AGENT_PID=
LISTEN_PID=
rep_cleanup() {
  if [ -n "${AGENT_PID:-}" ]; then kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; fi
  if [ -n "$LISTEN_PID" ]; then kill "$LISTEN_PID" 2>/dev/null; wait "$LISTEN_PID" 2>/dev/null; fi
  [ -n "$CG" ] && rmdir "$CG" 2>/dev/null
  issuer_kill_all; tw_stop; tw_tmp_done
}
trap rep_cleanup EXIT

CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG_ROOT" ] || { not_ok rep_cgroup "no cgroup v2 mount"; exit 1; }
CG=$CG_ROOT/tw-rep.$$.$(rand_hex 4)
mkdir "$CG" || { not_ok rep_cgroup "cannot create $CG"; CG=; exit 1; }
command -v chromium >/dev/null || { not_ok rep_chromium "chromium is not installed (make deps)"; exit 1; }
oidc_start || { not_ok rep_oidc_start "the test issuer did not start"; exit 1; }
OIDC_PORT=${OIDC_URL##*:}
LEDGER=$TW_TMP/ledger.db
export TOKENWARD_LEDGER=$LEDGER
LEAKS=$TW_TMP/leak-input
OUT=$TW_TMP/report
mkdir -p "$LEAKS" "$TW_TMP/state" "$OUT"
chmod 700 "$TW_TMP/state"
cat >"$TW_TMP/tw.yaml" <<YAML
state_dir: $TW_TMP/state
ledger: $LEDGER
policy:
  exec_env: alert
  foreign_process: alert
revocation:
  backoff_base: 100ms
  backoff_max: 1s
retention:
  max_age: 7d
  parent_depth: 4
issuers:
  oidc:
    type: rfc7009
    revocation_endpoint: $OIDC_URL/token/revocation
    client_id: tokenward
    client_secret_file: $TW_SECRET_F
    auth_method: client_secret_basic
    token_type_hint: access_token
    timeout: 30s
YAML

python3 - "$TW_TMP/listen.port" >"$TW_TMP/listen.log" 2>&1 <<'PY' &
import os, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d: break
        data += d
    c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); c.close()
PY
LISTEN_PID=$!
wait_file "$TW_TMP/listen.port" || { not_ok rep_listener "listener did not start"; exit 1; }
WRONG_PORT=$(cat "$TW_TMP/listen.port")

SINCE=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
tw_start --config "$TW_TMP/tw.yaml" --ledger "$LEDGER" --cgroup "$CG" ||
  { not_ok rep_start "monitor failed to start"; exit 1; }

coproc AGENT { echo "$BASHPID" >"$CG/cgroup.procs" &&
  exec python3 "$TW_ROOT/tests/live/e2e_agent.py" "$OIDC_URL" "$AUD" "$AGENT_SECRET_F" 2>"$TW_TMP/agent.err"; }
AGENT_PID=$AGENT_PID; AGENT_P0=$AGENT_PID
exec 8<&"${AGENT[0]}" 9>&"${AGENT[1]}"
agent() { echo "$*" >&9; IFS= read -r -t "$TW_WAIT_S" REPLY_LINE <&8 || REPLY_LINE="err no reply"; }

TOKENS=() IDS=() SHAS=()
new_token() { # TASK
  local tok id
  agent token
  case $REPLY_LINE in "ok "*) ;; *) return 1 ;; esac
  tok=${REPLY_LINE#ok * }
  tw_token_record "$tok"
  id=$(printf '%s' "$tok" | "$TW" ledger register --ledger "$LEDGER" --issuer oidc --task "$1" \
        --aud "http://127.0.0.1:$OIDC_PORT" --scope api:read --ttl 10m --delegate-pid "$AGENT_PID" 2>>"$TW_TMP/register.err") || return 1
  TOKENS+=("$tok"); IDS+=("$id"); SHAS+=("$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)")
}
TASK_A=rep-a-$$ TASK_B=rep-b-$$
new_token "$TASK_A" && new_token "$TASK_A" && new_token "$TASK_B" ||
  { not_ok rep_tokens "could not obtain or register a token: $REPLY_LINE $(tail -2 "$TW_TMP/register.err")"; exit 1; }
_loaded() { "$TW" status --state-dir "$TW_TMP/state" --json 2>/dev/null |
  python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["detection"]["ledger_tokens"] >= 3 else 1)' 2>/dev/null; }
tw_poll _loaded || { not_ok rep_loaded "the monitor never loaded the tokens"; exit 1; }
verdict_for() { tw_wait_event "e.get('event')=='verdict' and e.get('sha256')=='$1' and e.get('class')=='$2'" >/dev/null; }
_active_is() { [ "$(oidc_active "$1" 2>/dev/null)" = "$2" ]; }

# T0: a legitimate use, then the leak to a file, revoked at the provider.
agent use 0
verdict_for "${SHAS[0]}" use && ok rep_t0_use_seen || not_ok rep_t0_use_seen "no use verdict"
agent leak_file 0 "$LEAKS/agent.log"
verdict_for "${SHAS[0]}" file_write && tw_poll _active_is "${TOKENS[0]}" false &&
  ok rep_t0_file_write_revoked || not_ok rep_t0_file_write_revoked "no verdict, or still active at the provider"
# T1: the wrong destination, revoked at the provider.
agent send 1 127.0.0.1 "$WRONG_PORT"
verdict_for "${SHAS[1]}" net_dest && tw_poll _active_is "${TOKENS[1]}" false &&
  ok rep_t1_net_dest_revoked || not_ok rep_t1_net_dest_revoked "no verdict, or still active at the provider"
# T2: in the environment of a program that is not its delegate (policy:
# alert), then used by the agent: a use after an exposure.
TWREP=${TOKENS[2]} sh -c 'echo $$ >"$1/cgroup.procs" && exec /bin/true' sh "$CG"
tw_wait_event "e.get('event')=='verdict' and e.get('sha256')=='${SHAS[2]}' and e.get('exposure')" >/dev/null &&
  ok rep_t2_exposed_alert || not_ok rep_t2_exposed_alert "no exposure verdict for T2"
agent use 2
verdict_for "${SHAS[2]}" use && ok rep_t2_used_after || not_ok rep_t2_used_after "no use verdict for T2"
# An unmanaged secret, written to a file from inside the cgroup.
GH=$(python3 "$TW_ROOT/tests/cli/tokgen.py" ghp); tw_token_record "$GH"
GH=$GH sh -c 'echo $$ >"$1/cgroup.procs" && printf "gh=%s\n" "$GH" >"$2"' sh "$CG" "$LEAKS/unmanaged.txt"
tw_wait_event "e.get('event')=='verdict' and e.get('class')=='unmanaged'" >/dev/null &&
  ok rep_unmanaged_seen || not_ok rep_unmanaged_seen "no unmanaged verdict"
# ... and on a command line: the store keeps each process's argv, redacted.
sh -c 'echo $$ >"$1/cgroup.procs" && exec sh -c "printf \"%s\n\" \"\$1\" >\"\$2\"" inner "$2" "$3"' sh "$CG" "$GH" "$LEAKS/argv-leak.txt"
tw_wait_event "e.get('event')=='verdict' and e.get('class')=='unmanaged' and e.get('kind')=='exec_argv'" >/dev/null &&
  ok rep_unmanaged_argv_seen || not_ok rep_unmanaged_argv_seen "no exec_argv verdict"
tw_wait_status '(lambda r: r["pending"]==0 and r["in_flight"]==0 and r["done"]>=2)(s["revocation"])' >/dev/null ||
  not_ok rep_revoker_idle "the revoker never went idle"
agent quit
exec 9>&- 8<&-
wait "${AGENT_PID:-}" 2>/dev/null; AGENT_PID=
tw_stop
[ "${TW_RC:-1}" -eq 0 ] && ok rep_run1_clean_exit || not_ok rep_run1_clean_exit "exit status $TW_RC"
"$TW" status --state-dir "$TW_TMP/state" --json >"$TW_TMP/status1.json"
cp "$TW_TMP/events.jsonl" "$TW_TMP/events1.jsonl"

# Run 2: a ring buffer far too small for a flood of sends.
tw_start --config "$TW_TMP/tw.yaml" --ledger "$LEDGER" --cgroup "$CG" --trace-io --no-sweep --ringbuf-size 4096 ||
  { not_ok rep_start2 "monitor failed to start"; exit 1; }
sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" flood 20000' sh "$CG" "$TW_IO" >/dev/null
tw_wait_status 's["running"] and s["sensors"]["drops"]["ringbuf_full"] > 0' >/dev/null ||
  not_ok rep_flood_dropped "the flood did not overfill the ring"
tw_stop
"$TW" status --state-dir "$TW_TMP/state" --json >"$TW_TMP/status2.json"
# T2's task completed without a revocation: the token still works.
"$TW" ledger complete --no-revoke --ledger "$LEDGER" --config "$TW_TMP/tw.yaml" --task "$TASK_B" >/dev/null 2>"$TW_TMP/complete.err" ||
  not_ok rep_complete "$(cat "$TW_TMP/complete.err")"
_active_is "${TOKENS[2]}" true && ok rep_t2_still_active_at_provider || not_ok rep_t2_still_active_at_provider "T2 was revoked"
UNTIL=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)

R=(--ledger "$LEDGER" --state-dir "$TW_TMP/state" --since "$SINCE" --until "$UNTIL")
for f in json md html; do
  "$TW" report "${R[@]}" --format $f -o "$OUT/report.$f" 2>"$TW_TMP/report.err" && ok "rep_report_$f" ||
    not_ok "rep_report_$f" "$(cat "$TW_TMP/report.err")"
done

# Every fact of the JSON, against what the monitor and the provider said.
if python3 - "$OUT/report.json" "$TW_TMP/events.jsonl" "$TW_TMP/status1.json" "$TW_TMP/status2.json" \
     "${IDS[@]}" "$LEAKS" "$WRONG_PORT" "$AGENT_P0" "$$" "$TASK_B" >"$TW_TMP/check.out" 2>&1 <<'PY'
import collections, json, sys
rep, events, st1, st2, t0, t1, t2, leaks, wport, agent, shell, task_b = sys.argv[1:]
r = json.load(open(rep))
verdicts = [e for e in map(json.loads, open(events)) if e.get("event") == "verdict"]
s1, s2 = (json.load(open(p)) for p in (st1, st2))
def check(name, cond, info=""):
    print(("ok " if cond else "not ok ") + name + ("" if cond else ": " + str(info)[:600]))
check("rep_json_schema", r["schema"] == 1 and r["events_store"] is True, r.get("schema"))
s = r["summary"]
check("rep_json_verdict_count", s["verdicts"] == len(verdicts), (s["verdicts"], len(verdicts)))
check("rep_json_by_class", s["by_class"] == dict(collections.Counter(v["class"] for v in verdicts)), s["by_class"])
check("rep_json_by_action", s["by_action"] == dict(collections.Counter(v["action"] for v in verdicts)), s["by_action"])
tok = {t["id"]: t for t in r["tokens"]}
check("rep_json_tokens", sorted(tok) == sorted([t0, t1, t2]), list(tok))
a, b, c = tok.get(t0, {}), tok.get(t1, {}), tok.get(t2, {})
def sights(t): return [e for e in t.get("timeline", []) if e["event"] == "sighting"]
mine = lambda tid: [v for v in verdicts if v.get("token_id") == tid]
for name, t, tid in (("t0", a, t0), ("t1", b, t1), ("t2", c, t2)):
    check(f"rep_json_{name}_sightings", t.get("sightings") == len(mine(tid)) == len(sights(t)),
          (t.get("sightings"), len(mine(tid))))
    check(f"rep_json_{name}_issuance", t.get("issuer") == "oidc" and t.get("scope") == "api:read" and
          t.get("audience") and t.get("expires_at") and t.get("delegate", {}).get("kind") == "pid", t.get("delegate"))
    chain = [e["detail"].get("parents") for e in sights(t)]
    check(f"rep_json_{name}_parent_chain", all(p and p[0]["pid"] > 1 for p in chain), chain)
ca = [e["detail"]["class"] for e in sights(a)]
check("rep_json_t0_classes", ca == ["use", "file_write"] and a["exposures"] == 1, ca)
fw = sights(a)[1]["detail"] if len(sights(a)) > 1 else {}
check("rep_json_t0_file", fw.get("path") == leaks + "/agent.log" and fw.get("pid") == int(agent), fw)
check("rep_json_t0_agent_parent", sights(a) and sights(a)[0]["detail"]["parents"][0]["pid"] == int(shell),
      sights(a)[0]["detail"].get("parents") if sights(a) else None)
check("rep_json_t0_use_before_not_highlighted", sights(a) and not sights(a)[0]["highlight"], sights(a)[:1])
for name, t in (("t0", a), ("t1", b)):
    rv = t.get("revocation", {})
    check(f"rep_json_{name}_revoked", rv.get("state") == "done" and rv.get("how") == "RFC 7009" and
          rv.get("http_status") == 200 and rv.get("issuer") == "oidc" and rv.get("confirmed_at"), rv)
    ms = t.get("exposed_for_ms")
    check(f"rep_json_{name}_time_to_revoke", isinstance(ms, (int, float)) and 0 < ms < 60000, ms)
    txt = [e["text"] for e in t.get("timeline", []) if e["event"] == "revoked" and "issuer" in e["text"]]
    check(f"rep_json_{name}_sentence", any("revoked at issuer oidc (RFC 7009, HTTP 200)" in x and
          "after the exposure" in x for x in txt), txt)
    check(f"rep_json_{name}_no_json_text", all(not e["text"].startswith("{") for e in t.get("timeline", [])), "")
nd = [e["detail"] for e in sights(b) if e["detail"]["class"] == "net_dest"]
check("rep_json_t1_dest", nd and nd[0]["dest"] == "127.0.0.1:" + wport, nd)
ttr = s["time_to_revoke"]
ms = sorted([a["exposed_for_ms"], b["exposed_for_ms"]])
check("rep_json_ttr", ttr["count"] == 2 and abs(ttr["max_ms"] - ms[1]) < 1e-6 and
      abs(ttr["median_ms"] - sum(ms) / 2) < 1e-6 and abs(ttr["p95_ms"] - ms[1]) < 1e-6, ttr)
hl = [e for e in sights(c) if e["highlight"]]
check("rep_json_t2_use_after_highlighted", len(hl) == 1 and hl[0]["detail"]["class"] == "use" and
      c["blast_radius"]["uses_after_exposure"] == 1, [(e["detail"]["class"], e["highlight"]) for e in sights(c)])
check("rep_json_t2_not_revoked", c.get("exposed_for_ms") is None and c["revocation"].get("state") == "none" and
      c["blast_radius"]["exposed_until"] is None, c.get("revocation"))
sa = {x["id"]: x for x in s["still_active"]}
check("rep_json_still_active", list(sa) == [t2] and sa[t2]["why"] == "task completed", s["still_active"])
um = [v for v in verdicts if v["class"] == "unmanaged"]
rules = s["unmanaged_by_rule"]["rows"]
check("rep_json_unmanaged_by_rule", [(x["key"], x["count"]) for x in rules] ==
      sorted(collections.Counter(v["rule"] for v in um).items(), key=lambda kv: (-kv[1], kv[0])), rules)
top = s["top"]
files = {x["key"]: x["count"] for x in top["files"]["rows"]}
check("rep_json_top_files", files.get(leaks + "/agent.log") == 1 and files.get(leaks + "/unmanaged.txt") == 1, files)
dests = {x["key"]: x["count"] for x in top["destinations"]["rows"]}
check("rep_json_top_destinations", dests.get("127.0.0.1:" + wport) == 1, dests)
procs = top["processes"]["rows"]
exp = collections.Counter(v["exe"] or v["comm"] for v in verdicts if v["exposure"] or v["class"] == "unmanaged")
check("rep_json_top_processes", {x["key"]: x["count"] for x in procs} == dict(exp), (procs, exp))
av = [e["detail"].get("argv") for t in r["tokens"] for e in sights(t)]
check("rep_json_argv_kept", all(isinstance(x, str) and x for x in av), av)
check("rep_json_t0_agent_argv", sights(a) and "e2e_agent.py" in (sights(a)[0]["detail"].get("argv") or ""),
      sights(a)[0]["detail"].get("argv") if sights(a) else None)
check("rep_json_top_containers", top["containers"]["rows"] == [] and top["containers"]["left_out"] == 0, top["containers"])
# Coverage: the same figures as `status` after each run.
cov = r["coverage"]
drops = lambda st, k: st["sensors"]["drops"][k]
check("rep_json_coverage_ringbuf", cov["lost"]["ringbuf_full"] == drops(s1, "ringbuf_full") + drops(s2, "ringbuf_full") > 0,
      (cov["lost"], drops(s1, "ringbuf_full"), drops(s2, "ringbuf_full")))
for k in ("read_failed", "chunk_lost", "meta_lost", "tls_unsent"):
    check(f"rep_json_coverage_{k}", cov["lost"][k] == drops(s1, k) + drops(s2, k), (cov["lost"][k], drops(s1, k), drops(s2, k)))
for k in ("path_truncated", "exec_args_truncated", "capture_truncated"):
    check(f"rep_json_coverage_{k}", cov["cut"][k] == drops(s1, k) + drops(s2, k), (cov["cut"][k], drops(s1, k), drops(s2, k)))
lt = s1["sensors"]["lost_total"] + s2["sensors"]["lost_total"] + s1["sensors"]["events_lost"] + s2["sensors"]["events_lost"]
check("rep_json_coverage_lost_total", cov["lost_total"] == sum(cov["lost"].values()) and
      cov["lost_total"] >= s2["sensors"]["lost_total"], (cov["lost_total"], lt))
check("rep_json_coverage_runs", cov["runs"] == 2 and cov["known"], cov["runs"])
check("rep_json_coverage_statement", cov["statement"] and "the monitor lost %s events" % format(int(cov["lost_total"]), ",")
      in cov["statement"] and cov["periods"], cov["statement"])
check("rep_json_chart", len(r["chart"]["buckets"]) == 48 and
      sum(x["exposures"] + x["uses"] + x["unmanaged"] for x in r["chart"]["buckets"]) == len(verdicts) and
      sum(x["revocations"] for x in r["chart"]["buckets"]) == 2, r["chart"]["buckets"])
open(rep + ".facts", "w").write(json.dumps({
    "ids": [t0, t1, t2], "ttr": ["%.1f ms" % ttr["median_ms"], "%.1f ms" % ttr["max_ms"]],
    "statement": cov["statement"], "rule": rules[0]["key"] if rules else "",
    "classes": sorted(s["by_class"])}))
PY
then :; fi
cat "$TW_TMP/check.out"

# Markdown: the same facts.
if python3 - "$OUT/report.md" "$OUT/report.json.facts" <<'PY'; then ok rep_md_facts; else not_ok rep_md_facts "$(tail -1 "$TW_TMP/md.err")"; fi 2>"$TW_TMP/md.err"
import json, sys
md = open(sys.argv[1]).read(); f = json.load(open(sys.argv[2]))
unesc = md.replace("\\", "")
for i in f["ids"]:
    assert "\n## " + i.replace("-", "-") in md, i
for x in f["ttr"]:
    assert x in md, x
assert f["statement"] in unesc and "**Coverage:**" in md, f["statement"]
assert "revoked at issuer oidc (RFC 7009, HTTP 200)" in unesc
assert "USE AFTER EXPOSURE" in md and "this may be the attacker" in md
assert f["rule"] in unesc and "Still active at the issuer" in md
for c in f["classes"]:
    assert "| " + c.replace("_", "\\_") + " |" in md, c
PY

# HTML in a real browser: the rendered text, a screenshot, no network.
# The browser's own background traffic (time, component updates, sign-in)
# is turned off as far as flags go; what remains is to Google's service
# hosts and is not the page's: netcheck leaves those out, and the probe
# below proves it still sees a fetch the page makes.
CHROME=(chromium --headless --no-sandbox --disable-gpu --user-data-dir="$TW_TMP/chrome" --no-first-run
        --disable-background-networking --disable-component-update --disable-sync --no-pings
        --disable-default-apps --disable-domain-reliability --disable-client-side-phishing-detection
        --disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication)
timeout 120 "${CHROME[@]}" --log-net-log="$OUT/netlog.json" --dump-dom "file://$OUT/report.html" >"$OUT/dom.html" 2>"$TW_TMP/chrome.err"
timeout 120 "${CHROME[@]}" --screenshot="$OUT/report.png" --window-size=1280,2400 "file://$OUT/report.html" >/dev/null 2>>"$TW_TMP/chrome.err"
[ -s "$OUT/report.png" ] && ok rep_html_screenshot || not_ok rep_html_screenshot "$(tail -3 "$TW_TMP/chrome.err")"
if python3 - "$OUT/dom.html" "$OUT/report.json.facts" <<'PY' 2>"$TW_TMP/dom.err"; then ok rep_html_rendered_text; else not_ok rep_html_rendered_text "$(tail -1 "$TW_TMP/dom.err")"; fi
import html, json, re, sys
dom = open(sys.argv[1]).read(); f = json.load(open(sys.argv[2]))
text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|title)>.*?</\1>", " ", dom)))
text = re.sub(r"\s+", " ", text)
for i in f["ids"]:
    assert i in text, i
for x in f["ttr"]:
    assert x in text, x
assert "Coverage: " + f["statement"] in text, f["statement"]
for c in f["classes"]:
    assert c in text, c
assert "this may be the attacker" in text and "<svg" in dom and 'class="hl"' in dom
PY
# The net log of the page load: no URL but file: (a positive control
# below shows the check sees a fetch when there is one).
netcheck() { python3 - "$1" <<'PY'
import re, sys
log = open(sys.argv[1], errors="replace").read()
urls = set(re.findall(r'"(?:url|original_url)":"([a-z]+://[^"]*)"', log))
browser = re.compile(r"^https?://([a-z0-9.-]+\.)?(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)(/|:|$)")
bad = sorted(u for u in urls if not u.startswith(("file:", "data:", "about:", "chrome:")) and not browser.match(u))
print(" ".join(bad)); sys.exit(1 if bad else 0)
PY
}
if out=$(netcheck "$OUT/netlog.json"); then ok rep_html_no_network; else not_ok rep_html_no_network "requests: $out"; fi
# ... and nothing in the file could fetch: no script, link, src, href or CSS url().
if grep -Eiq '<script|<link|<iframe|<object|<embed|\ssrc=|\shref=|url\(|@import' "$OUT/report.html"; then
  not_ok rep_html_self_contained "$(grep -Eio '<script|<link|<iframe|<object|<embed|\ssrc=[^ ]*|\shref=[^ ]*|url\([^)]*|@import' "$OUT/report.html" | head -3)"
else ok rep_html_self_contained; fi
sed 's|</body>|<img src="http://127.0.0.1:9/tw-probe.png"></body>|' "$OUT/report.html" >"$OUT/probe.html"
timeout 120 "${CHROME[@]}" --log-net-log="$OUT/netlog-probe.json" --dump-dom "file://$OUT/probe.html" >/dev/null 2>>"$TW_TMP/chrome.err"
if ! netcheck "$OUT/netlog-probe.json" >/dev/null; then ok rep_html_network_check_can_fail; else
  not_ok rep_html_network_check_can_fail "the probe's fetch was not in the net log"; fi

# Redaction: every report, the DOM and the net log, for every raw token,
# percent-encoded and base64 forms included.
# The event store itself too (its WAL and shared memory included).
if python3 - "$OUT" "$TW_TMP/state" "${TOKENS[@]}" "$GH" <<'PY'; then ok rep_no_token_in_reports_or_store; else not_ok rep_no_token_in_reports_or_store "see log"; fi
import base64, os, sys, urllib.parse
d, st, toks = sys.argv[1], sys.argv[2], sys.argv[3:]
bad = []
files = [os.path.join(d, n) for n in os.listdir(d)] + [os.path.join(st, n) for n in os.listdir(st) if n.startswith("events.db")]
assert any(f.endswith("events.db") for f in files), files
for name in files:
    data = open(name, "rb").read()
    for t in toks:
        forms = {t, urllib.parse.quote(t, safe=""), base64.b64encode(t.encode()).decode(),
                 base64.urlsafe_b64encode(t.encode()).decode().rstrip("=")}
        bad += [(name, f[:6]) for f in forms if f.encode() in data]
if bad: print(bad)
sys.exit(1 if bad else 0)
PY
grep -qF -- "${TOKENS[0]}" "$LEAKS/agent.log" && ok rep_leak_happened || not_ok rep_leak_happened "the leak did not happen"
