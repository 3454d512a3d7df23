#!/usr/bin/env bash
# The metrics endpoint, scraped by a real Prometheus (Debian's package)
# that this test starts on loopback with its own scrape config and storage:
# a leak moves tokenward_verdicts_total and the revocation counters, as
# seen through Prometheus's own query API. Then the server's bounds (busy,
# too large, timeout, not found) are counted, and a port in use is one
# message and exit 2.
# lane: scoped
. "$(dirname "$0")/lib.sh"

LEDGER=$TW_TMP/ledger.db
LEAKS=$TW_TMP/leak-input
mkdir -p "$LEAKS"
PROM_PID=
trap '[ -n "$PROM_PID" ] && kill $PROM_PID 2>/dev/null && wait $PROM_PID 2>/dev/null; tw_stop; tw_leave_cgroup; tw_tmp_done' EXIT

command -v prometheus >/dev/null || { not_ok metrics_prometheus_present "prometheus is not installed (make deps)"; exit 1; }
tw_own_cgroup || { not_ok metrics_cgroup "no cgroup"; exit 1; }

tw_start --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" --metrics 127.0.0.1:0 ||
  { not_ok metrics_start "monitor failed"; exit 1; }
ADDR=$(sed -n 's|.*metrics on http://\([0-9.:]*\)/metrics.*|\1|p' "$TW_TMP/stderr" | head -1)
[ -n "$ADDR" ] && ok metrics_address_logged || { not_ok metrics_address_logged "$(cat "$TW_TMP/stderr")"; exit 1; }

# The text format itself, as Prometheus's own checker (and linter) reads it: no complaint.
curl -sf "http://$ADDR/metrics" >"$TW_TMP/metrics.txt"
if promtool check metrics <"$TW_TMP/metrics.txt" >"$TW_TMP/promtool.out" 2>&1 && [ ! -s "$TW_TMP/promtool.out" ] &&
   grep -q '^tokenward_sensors_records_total ' "$TW_TMP/metrics.txt"; then
  ok metrics_promtool_parses
else
  not_ok metrics_promtool_parses "$(head -5 "$TW_TMP/promtool.out")"
fi

# Prometheus on a free loopback port, scraping every second.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PROM_PORT=$(free_port)
cat >"$TW_TMP/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: tokenward
    static_configs: [{targets: ["$ADDR"]}]
YML
prometheus --config.file="$TW_TMP/prometheus.yml" --storage.tsdb.path="$TW_TMP/prom-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$TW_TMP/prometheus.log" 2>&1 &
PROM_PID=$!

# query EXPR: the first sample's value, or nothing.
query() {
  curl -sf --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
# value_is EXPR PYCOND: the query's value v satisfies PYCOND.
value_is() { local v; v=$(query "$1"); [ -n "$v" ] && python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if $2 else 1)" "$v"; }

if tw_poll value_is 'up{job="tokenward"}' 'v == 1'; then ok metrics_scraped_up
else not_ok metrics_scraped_up "Prometheus never scraped tokenward: $(tail -3 "$TW_TMP/prometheus.log")"; exit 1; fi
# Before the leak: no verdict yet (the series is absent or 0).
before=$(query 'sum(tokenward_verdicts_total)'); before=${before:-0}
[ "${before%.*}" = 0 ] && ok metrics_no_verdict_before || not_ok metrics_no_verdict_before "already $before"

tok=$("$TW" mint --ledger "$LEDGER" --task metrics --aud http://127.0.0.1:9 2>"$TW_TMP/mint.err")
tw_token_record "$tok"
printf 'token=%s\n' "$tok" >"$LEAKS/leak.txt"
tw_wait_event "e.get('event')=='verdict' and e.get('class')=='file_write'" >/dev/null ||
  { not_ok metrics_leak_verdict "no verdict"; exit 1; }

if tw_poll value_is 'sum(tokenward_verdicts_total{class="file_write"})' 'v >= 1'; then
  ok metrics_verdict_counter_moved
else
  not_ok metrics_verdict_counter_moved "Prometheus has $(query 'sum(tokenward_verdicts_total)')"
fi
tw_poll value_is 'tokenward_revocations_total{outcome="revoked"}' 'v >= 1' &&
  ok metrics_revocations_by_outcome || not_ok metrics_revocations_by_outcome "$(query 'tokenward_revocations_total{outcome="revoked"}')"
tw_poll value_is 'tokenward_revoke_latency_seconds_count' 'v >= 1' &&
  ok metrics_revoke_latency_histogram || not_ok metrics_revoke_latency_histogram "$(query tokenward_revoke_latency_seconds_count)"
tw_poll value_is 'tokenward_detection_bytes_scanned_total' 'v > 0' &&
  ok metrics_bytes_scanned || not_ok metrics_bytes_scanned "$(query tokenward_detection_bytes_scanned_total)"
if grep -rqF -- "$tok" "$TW_TMP/metrics.txt" "$TW_TMP/prom-data" 2>/dev/null; then
  not_ok metrics_redacted "the raw token is in the metrics"
else ok metrics_redacted; fi

# Bounds: every refusal counted in status.json (and so on /metrics).
python3 - "$ADDR" <<'PY' >"$TW_TMP/bounds.out" 2>&1
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1); port = int(port)
def conn():
    s = socket.create_connection((host, port)); s.settimeout(10); return s
idle = [conn() for _ in range(8)]          # fill every slot
# No wait for the server to take them: whichever of the nine it takes
# last finds the slots full and is closed (counted busy); if that is one
# of the idle eight, the ninth holds a slot and is closed at its 2 s
# timeout. Either way the ninth's recv sees the close.
extra = conn()                             # the ninth
print("busy_closed", extra.recv(100) == b"")
for s in idle: s.close()
def closed(s):
    try: return s.recv(100) == b""
    except ConnectionResetError: return True   # closed with our bytes unread: a reset
s = conn()
try: s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 5000)
except (BrokenPipeError, ConnectionResetError): pass
print("too_large_closed", closed(s))
s = conn(); s.sendall(b"GET /nope HTTP/1.1\r\n\r\n"); print("not_found", s.recv(100).startswith(b"HTTP/1.1 404"))
s = conn(); print("timeout_closed", s.recv(100) == b"")
PY
grep -q 'busy_closed True' "$TW_TMP/bounds.out" && grep -q 'too_large_closed True' "$TW_TMP/bounds.out" &&
  grep -q 'not_found True' "$TW_TMP/bounds.out" && grep -q 'timeout_closed True' "$TW_TMP/bounds.out" &&
  ok metrics_bounds_enforced || not_ok metrics_bounds_enforced "$(cat "$TW_TMP/bounds.out")"
if tw_wait_status "s['outputs']['metrics_refused']['busy'] >= 1 and s['outputs']['metrics_refused']['too_large'] >= 1 and s['outputs']['metrics_refused']['not_found'] >= 1 and s['outputs']['metrics_refused']['timeout'] >= 1" >/dev/null; then
  ok metrics_refusals_counted
else
  not_ok metrics_refusals_counted "status: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"])' "$TW_TMP/state/status.json")"
fi

# A port in use: one clear message, exit 2.
"$TW" run --state-dir "$TW_TMP/state2" --events /dev/null --ledger "$LEDGER" --metrics "$ADDR" \
  --exit-after 1 >"$TW_TMP/inuse.out" 2>"$TW_TMP/inuse.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(grep -c 'error' "$TW_TMP/inuse.err")" -eq 1 ] && grep -q 'Address already in use' "$TW_TMP/inuse.err"; then
  ok metrics_port_in_use_exit_2
else
  not_ok metrics_port_in_use_exit_2 "rc $rc: $(cat "$TW_TMP/inuse.err")"
fi
# A malformed address is a usage error too.
"$TW" run --state-dir "$TW_TMP/state2" --events /dev/null --metrics "nope" --exit-after 1 2>"$TW_TMP/bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q 'HOST:PORT' "$TW_TMP/bad.err" && ok metrics_bad_address_exit_2 || not_ok metrics_bad_address_exit_2 "rc $rc: $(cat "$TW_TMP/bad.err")"

# --- SIGHUP moves the endpoint: a monitor started from a config
# listening on PA is reloaded to PB; Prometheus (told about both) finds PA
# down and PB up, and the verdict counter it reads on PB has kept its
# count. Then a port in use (Prometheus's own) refuses the reload, with
# the reason, and PB goes on serving.
tw_stop
PA=$(free_port); PB=$(free_port)
cat >"$TW_TMP/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: tokenward
    static_configs: [{targets: ["$ADDR", "127.0.0.1:$PA", "127.0.0.1:$PB"]}]
YML
kill -HUP "$PROM_PID"   # Prometheus reloads its config on SIGHUP
printf 'metrics:\n  listen: 127.0.0.1:%s\n' "$PA" >"$TW_TMP/m.yaml"
tw_start --config "$TW_TMP/m.yaml" --ledger "$LEDGER" --no-sweep --cgroup "$TW_CG" ||
  { not_ok metrics_reload_start "monitor failed"; exit 1; }
tw_poll value_is "up{instance=\"127.0.0.1:$PA\"}" 'v == 1' || { not_ok metrics_reload_scraped "PA never up"; exit 1; }
tok=$("$TW" mint --ledger "$LEDGER" --task metrics-reload --aud http://127.0.0.1:9 2>"$TW_TMP/mint.err")
tw_token_record "$tok"
printf 'token=%s\n' "$tok" >"$LEAKS/leak-reload.txt"
tw_poll value_is "sum(tokenward_verdicts_total{instance=\"127.0.0.1:$PA\",class=\"file_write\"})" 'v >= 1' ||
  { not_ok metrics_reload_counted_before "no verdict on PA"; exit 1; }
reloads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["reloads"])' "$TW_TMP/state/status.json"; }
config_reloads() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sensors"]["config_reloads"])' "$TW_TMP/state/status.json"; }
hup() { local n; n=$(tw_wait_status 'True' >/dev/null && reloads); kill -HUP "$TW_PID"; tw_wait_status "s['sensors']['reloads'] > $n" >/dev/null; }
printf 'metrics:\n  listen: 127.0.0.1:%s\n' "$PB" >"$TW_TMP/m.yaml"
hup
grep -q "metrics on http://127.0.0.1:$PB/metrics" "$TW_TMP/stderr" && ok metrics_reload_new_address_logged ||
  not_ok metrics_reload_new_address_logged "$(grep -E 'SIGHUP|metrics' "$TW_TMP/stderr" | tail -3)"
if tw_poll value_is "up{instance=\"127.0.0.1:$PB\"}" 'v == 1' && tw_poll value_is "up{instance=\"127.0.0.1:$PA\"}" 'v == 0'; then
  ok metrics_reload_moves_listener
else
  not_ok metrics_reload_moves_listener "PA up=$(query "up{instance=\"127.0.0.1:$PA\"}") PB up=$(query "up{instance=\"127.0.0.1:$PB\"}")"
fi
tw_poll value_is "sum(tokenward_verdicts_total{instance=\"127.0.0.1:$PB\",class=\"file_write\"})" 'v >= 1' &&
  ok metrics_reload_counts_carried || not_ok metrics_reload_counts_carried "PB has $(query "sum(tokenward_verdicts_total{instance=\"127.0.0.1:$PB\"})")"
before=$(config_reloads)
printf 'metrics:\n  listen: 127.0.0.1:%s\n' "$PROM_PORT" >"$TW_TMP/m.yaml"
hup
if grep -q "SIGHUP: the new outputs could not be opened, the old config stays: metrics: cannot listen on 127.0.0.1:$PROM_PORT: Address already in use" "$TW_TMP/stderr" &&
   [ "$(config_reloads)" -eq "$before" ] && curl -sf "http://127.0.0.1:$PB/metrics" | grep -q '^tokenward_sensors_records_total '; then
  ok metrics_reload_port_in_use_refused_old_kept
else
  not_ok metrics_reload_port_in_use_refused_old_kept "$(grep SIGHUP "$TW_TMP/stderr" | tail -2)"
fi
tw_stop
