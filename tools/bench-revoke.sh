#!/usr/bin/env bash
# make bench-revoke: latency from a leak to the issuer RECEIVING the RFC 7009
# revocation request, for N tokens leaked one by one (issue 6: p99 <= 20 ms).
#
#   tools/bench-revoke.sh BUILD_DIR
#   BENCH_N=200 BENCH_ROUNDS=3 BENCH_PEERS=write,submit tools/bench-revoke.sh build
#
# Peers, side by side, alternating order each round (BENCH_PEERS, comma list):
#   write          the real path. `tokenward run` (real BPF sensors, defaults)
#                  watches the host; build/progs/leak_writer appends a log line
#                  holding a registered token to a file with one write(); t0 is
#                  CLOCK_REALTIME just before that write(). Detection (opaque
#                  token by ledger hash) -> file_write verdict -> durable job ->
#                  libcurl POST.
#   write-wake     the same with --wakeup-bytes 0: the sensors wake the reader
#                  on every record instead of letting the poll timeout find it.
#   write-poll1    the same with --poll-ms 1.
#   send           the line goes out with one write() on a TCP connection to a
#                  local sink instead (a port outside the token's audience: a
#                  net_dest verdict): the send-batch path, taken every 2 ms.
#   submit         the revoker alone: a JSON line to `tokenward revoke-queue
#                  serve` (t0 just before that write), synchronous=NORMAL.
#   submit-full    the same with synchronous=FULL (one fsync per job).
#   write-base     the write peer with another build's tokenward, given as
#                  BENCH_BASELINE=/path/to/build (an A/B of a change).
# Default peers: write, write-wake, submit, submit-full (+ write-base when
# BENCH_BASELINE is set).
#
# Between leaks the driver waits until the issuer has the request, then a
# random 0..BENCH_GAP_MS ms (default 10), so that leaks land at random
# phases of the monitor's poll timer as real ones do; BENCH_GAP_MS=0 is
# lockstep (each leak right after the previous revocation arrived).
#
# BENCH_STRESS=disk runs a background writer (256 KiB write + fsync in a
# loop, on the same filesystem) through every round: a host whose disk is
# busy, where fsyncs and SQLite lock waits grow long.
#
# The issuer is a local HTTP/1.1 keep-alive endpoint (rfc7009 issuer in the
# config) that stamps CLOCK_REALTIME once the whole request has arrived and
# answers 200. Tokens are random per run (43 base64url characters, the shape
# of oidc-provider's opaque tokens), registered with `tokenward ledger
# register`, and never printed. Extra `tokenward run` arguments for every
# write peer: BENCH_RUN_ARGS.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
export TW="$build/tokenward" LEAK_WRITER="$build/progs/leak_writer" \
       BENCH_N=${BENCH_N:-200} BENCH_ROUNDS=${BENCH_ROUNDS:-3} BENCH_WARMUP=${BENCH_WARMUP:-3} \
       BENCH_PEERS=${BENCH_PEERS:-write,write-wake,submit,submit-full} BENCH_RUN_ARGS=${BENCH_RUN_ARGS:-} \
       BENCH_GAP_MS=${BENCH_GAP_MS:-10} BENCH_STRESS=${BENCH_STRESS:-} BENCH_BASELINE=${BENCH_BASELINE:-}
if [ -n "$BENCH_BASELINE" ]; then
  BENCH_BASELINE=$(cd "$BENCH_BASELINE" && pwd)/tokenward
  [ -x "$BENCH_BASELINE" ] || { echo "no tokenward in BENCH_BASELINE" >&2; exit 2; }
  case ",$BENCH_PEERS," in *,write-base,*) ;; *) BENCH_PEERS=$BENCH_PEERS,write-base ;; esac
fi
[ -x "$LEAK_WRITER" ] || { echo "missing $LEAK_WRITER (make $build/progs/leak_writer)" >&2; exit 2; }
work=$(mktemp -d "$build/bench-revoke.XXXXXX")   # on the build disk, not tmpfs: fsync is real
[ -n "${BENCH_KEEP:-}" ] && echo "keeping $work" >&2 || trap 'rm -rf "$work"' EXIT
export BENCH_WORK=$work

python3 - <<'PY'
import base64, datetime, random, hashlib, json, os, queue, secrets, shlex, socket, statistics, subprocess, sys, threading, time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E = os.environ
TW, LEAK_WRITER, WORK, BASE_TW = E["TW"], E["LEAK_WRITER"], E["BENCH_WORK"], E["BENCH_BASELINE"]
N, ROUNDS, WARM = int(E["BENCH_N"]), int(E["BENCH_ROUNDS"]), int(E["BENCH_WARMUP"])
PEERS = [p for p in E["BENCH_PEERS"].split(",") if p]
RUN_ARGS = shlex.split(E["BENCH_RUN_ARGS"])
GAP_MS = float(E["BENCH_GAP_MS"])
rng = random.Random()
received = queue.Queue()

class Issuer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        t = time.time_ns()
        tok = urllib.parse.parse_qs(body.decode())["token"][0]
        received.put((hashlib.sha256(tok.encode()).hexdigest(), t))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()

srv = ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, daemon=True).start()
port = srv.server_address[1]
secret = os.path.join(WORK, "client.secret")
with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
    f.write(secrets.token_hex(24))

def new_token():
    # 32 random bytes in base64url, no padding: 43 characters, like oidc-provider's.
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()

def write_config(d, sync):
    cfg = os.path.join(d, "tw.yaml")
    open(cfg, "w").write(
        f"state_dir: {d}/state\nrevocation:\n  synchronous: {sync}\nissuers:\n  bench:\n    type: rfc7009\n"
        f"    revocation_endpoint: http://127.0.0.1:{port}/revoke\n    client_id: tokenward\n"
        f"    client_secret_file: {secret}\n    token_type_hint: access_token\n")
    return cfg

def wait_file(path, proc, errf):
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{proc.args[1]} failed to start: " + open(errf).read()[-2000:])
        time.sleep(0.01)

class SubmitProducer:
    """t0 = just before the request line is written to revoke-queue serve."""
    def __init__(self, d, tokens, sync):
        cfg, db = write_config(d, sync), os.path.join(d, "q.db")
        self.p = subprocess.Popen([TW, "revoke-queue", "--config", cfg, "--db", db, "--ready-file",
                                   db + ".ready", "serve"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=open(db + ".err", "w"))
        wait_file(db + ".ready", self.p, db + ".err")
    def leak(self, token):
        line = json.dumps({"verdict_class": "file_write", "token": token, "issuer": "bench"}).encode() + b"\n"
        t0 = time.time_ns()
        self.p.stdin.write(line); self.p.stdin.flush()
        return t0
    def close(self):
        self.p.terminate(); self.p.wait()
    def sightings(self):
        return {}
    def diagnose(self, sha):
        return "revoke-queue serve did not deliver"

def sink():
    """A TCP sink on loopback that reads and discards; returns its port."""
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
    def serve():
        while True:
            c, _ = s.accept()
            threading.Thread(target=lambda: [None for _ in iter(lambda: c.recv(65536), b"")],
                             daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]

class WriteProducer:
    """t0 = CLOCK_REALTIME in leak_writer just before its write()."""
    def __init__(self, d, tokens, extra, tw=TW, target=None):
        cfg, self.db, self.d = write_config(d, "normal"), os.path.join(d, "ledger.db"), d
        # Register first: the monitor then loads every token at start.
        def register(tok):
            r = subprocess.run([tw, "ledger", "register", "--ledger", self.db, "--issuer", "bench",
                                "--aud", "127.0.0.1:1", "--ttl", "1h", "--task", "bench"],
                               input=tok.encode(), capture_output=True)
            if r.returncode:
                sys.exit("ledger register failed: " + r.stderr.decode()[-500:])
        register(tokens[0])   # creates the ledger and seal key alone
        with ThreadPoolExecutor(2) as ex:
            list(ex.map(register, tokens[1:]))
        self.events, err = os.path.join(d, "events.jsonl"), os.path.join(d, "run.err")
        self.mon = subprocess.Popen([tw, "run", "--config", cfg, "--ledger", self.db, "--state-dir", d + "/state",
                                     "--events", self.events, "--ready-file", d + "/ready", *extra],
                                    stdout=subprocess.DEVNULL, stderr=open(err, "w"))
        wait_file(d + "/ready", self.mon, err)
        os.mkdir(d + "/leaks")
        self.w = subprocess.Popen([LEAK_WRITER, target or d + "/leaks/agent.log"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
    def leak(self, token):
        self.w.stdin.write(token.encode() + b"\n"); self.w.stdin.flush()
        line = self.w.stdout.readline()
        if not line:
            sys.exit("leak_writer failed")
        return int(line.split()[0])
    def close(self):
        self.w.stdin.close(); self.w.wait()
        self.mon.terminate(); self.mon.wait()
    def diagnose(self, sha):
        """Why a leak got no revocation: no verdict (sensor loss?) or no delivery."""
        v = [l.strip() for l in open(self.events) if sha in l]
        try:
            st = json.load(open(self.d + "/state/status.json"))
            drops = {k: v for k, v in st["sensors"]["drops"].items() if v}
            rev = {k: st["revocation"].get(k) for k in ("pending", "done", "failed")}
        except (OSError, ValueError, KeyError) as e:
            drops = rev = f"no status ({e})"
        return (f"verdicts for it: {v[:2] or 'none'}; sensor drops: {drops}; revocation: {rev}; "
                f"monitor log tail: {open(self.d + '/run.err').read()[-600:]!r}")
    def sightings(self):
        """sha256 -> (kernel sighting time, ns) from the verdicts, for the breakdown."""
        out = {}
        for l in open(self.events):
            e = json.loads(l)
            if e.get("event") == "verdict" and e.get("class") in ("file_write", "net_dest"):
                t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
                out[e["sha256"]] = int(t.timestamp()) * 10**9 + t.microsecond * 1000
        return out

def make(peer, d, tokens):
    if peer == "submit": return SubmitProducer(d, tokens, "normal")
    if peer == "submit-full": return SubmitProducer(d, tokens, "full")
    if peer == "write": return WriteProducer(d, tokens, RUN_ARGS)
    if peer == "write-wake": return WriteProducer(d, tokens, ["--wakeup-bytes", "0", *RUN_ARGS])
    if peer == "write-poll1": return WriteProducer(d, tokens, ["--poll-ms", "1", *RUN_ARGS])
    if peer == "send": return WriteProducer(d, tokens, RUN_ARGS, target=f"tcp:{sink()}")
    if peer == "write-base" and BASE_TW: return WriteProducer(d, tokens, RUN_ARGS, BASE_TW)
    sys.exit(f"unknown peer {peer}")

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]

def run(peer, rnd):
    d = os.path.join(WORK, f"{peer}-{rnd}"); os.mkdir(d)
    tokens = [new_token() for _ in range(N + WARM)]
    prod = make(peer, d, tokens)
    lat, t0s, t1s = [], {}, {}
    try:
        for i, tok in enumerate(tokens):
            want = hashlib.sha256(tok.encode()).hexdigest()
            t0 = prod.leak(tok)
            try:
                sha, t1 = received.get(timeout=10)
            except queue.Empty:
                sys.exit(f"{peer}: token {i}: the issuer received no revocation within 10 s; "
                         + prod.diagnose(want))
            if sha != want: sys.exit(f"{peer}: the issuer received a different token")
            if i >= WARM:
                lat.append((t1 - t0) / 1e6); t0s[want] = t0; t1s[want] = t1
            if GAP_MS > 0:
                time.sleep(rng.uniform(0, GAP_MS) / 1000)
    finally:
        prod.close()
    res = {"p50": pct(lat, 0.50), "p99": pct(lat, 0.99), "max": max(lat)}
    sight = prod.sightings()
    if sight:  # where the time goes: write() -> sensor, sensor -> issuer
        a = [(sight[s] - t0s[s]) / 1e6 for s in t0s if s in sight]
        b = [(t1s[s] - sight[s]) / 1e6 for s in t0s if s in sight]
        res["detail"] = (f"write->sensor p50 {pct(a, .5):.3f} ms; sensor->issuer p50 {pct(b, .5):.2f} "
                         f"p99 {pct(b, .99):.2f} max {max(b):.2f} ms ({len(a)} verdicts)")
    return res

stress = None
if E["BENCH_STRESS"] == "disk":
    stress = subprocess.Popen([sys.executable, "-c", """
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
buf, n = os.urandom(256 << 10), 0
while True:
    os.write(fd, buf); os.fsync(fd); n += 1
    if n % 256 == 0: os.lseek(fd, 0, 0)
""", os.path.join(WORK, "stress.bin")])
elif E["BENCH_STRESS"]:
    sys.exit(f"BENCH_STRESS={E['BENCH_STRESS']}: only 'disk' is known")

res = {p: [] for p in PEERS}
for r in range(ROUNDS):
    for p in (PEERS if r % 2 == 0 else PEERS[::-1]):
        res[p].append(run(p, r))
        x = res[p][-1]
        print(f"round {r + 1} {p:12s}: p50 {x['p50']:.2f}  p99 {x['p99']:.2f}  max {x['max']:.2f} ms"
              + (f"   [{x['detail']}]" if "detail" in x else ""), file=sys.stderr, flush=True)

if stress:
    stress.kill(); stress.wait()

START = {"write": "leaking write()", "write-base": "leaking write() (BENCH_BASELINE)", "write-wake": "leaking write()", "write-poll1": "leaking write()", "send": "leaking write() on a TCP socket",
         "submit": "request handed to the revoker", "submit-full": "request handed to the revoker"}
print(f"\n{N} tokens leaked one by one per round (+{WARM} warm-up), {ROUNDS} rounds, "
      f"random gap 0..{GAP_MS:g} ms between leaks{'; disk stress' if stress else ''}; "
      f"medians across rounds; max = worst round\n")
print("| peer | clock starts at | p50 (ms) | p99 (ms) | max (ms) |")
print("| --- | --- | ---: | ---: | ---: |")
med = {p: {k: statistics.median(x[k] for x in res[p]) for k in ("p50", "p99")} for p in PEERS}
for p in PEERS:
    med[p]["max"] = max(x["max"] for x in res[p])
    print(f"| {p} | {START[p]} | {med[p]['p50']:.2f} | {med[p]['p99']:.2f} | {med[p]['max']:.2f} |")
if "write" in med and "submit" in med:
    print(f"\np99 ratio write/submit: {med['write']['p99'] / med['submit']['p99']:.1f}")
if "write" in med:
    v = med["write"]["p99"]
    print(f"target: p99 <= 20 ms from the leaking write() to the issuer: {'met' if v <= 20 else 'NOT met'} ({v:.2f} ms)")
PY
