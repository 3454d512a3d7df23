#!/usr/bin/env python3
"""A fault-injecting RFC 7009 revocation endpoint on loopback (stdlib only).

  fault_server.py --port-file F --log L --client-id ID --secret-file S [--port N]

POST /revoke    RFC 7009: checks client authentication (Basic or post), then
                answers with the next scripted step (default 200).
POST /webhook   accepts JSON, answers the next step.
POST /_script   {"steps": [{"status": 500}, {"status": 503, "retry_after": 1},
                 {"delay_ms": 2000}], "then": {"status": 200}} replaces the script.

Every request is logged as a JSON line to --log with the SHA-256 of the
token, never the token itself.
"""
import argparse
import base64
import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--client-id", default="tokenward")
ap.add_argument("--secret-file", required=True)
args = ap.parse_args()
with open(args.secret_file) as f:
    SECRET = f.read().strip()

lock = threading.Lock()
script = {"steps": [], "then": {"status": 200}}
seq = 0


def next_step():
    with lock:
        if script["steps"]:
            return script["steps"].pop(0)
        return dict(script["then"])


def log(entry):
    with lock:
        with open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global seq
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        t_ns = time.time_ns()
        if self.path == "/_script":
            new = json.loads(raw)
            with lock:
                script["steps"] = new.get("steps", [])
                script["then"] = new.get("then", {"status": 200})
            return self.reply(200, b"{}")
        with lock:
            seq += 1
            my = seq
        entry = {"seq": my, "t_ns": t_ns, "path": self.path}
        if self.path == "/revoke":
            form = urllib.parse.parse_qs(raw.decode("ascii", "replace"), keep_blank_values=True)
            tok = form.get("token", [""])[0]
            entry["token_sha256"] = hashlib.sha256(tok.encode()).hexdigest() if tok else None
            entry["token_type_hint"] = form.get("token_type_hint", [None])[0]
            cid = csec = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                cid, csec = urllib.parse.unquote(u), urllib.parse.unquote(p)
                entry["auth"] = "client_secret_basic"
            elif "client_id" in form:
                cid, csec = form["client_id"][0], form.get("client_secret", [""])[0]
                entry["auth"] = "client_secret_post"
            entry["client_id"] = cid
            if cid != args.client_id or csec != SECRET:
                entry["status"] = 401
                log(entry)
                return self.reply(401, b'{"error":"invalid_client"}')
        elif self.path == "/webhook":
            try:
                entry["body"] = json.loads(raw)
            except ValueError:
                entry["body"] = None
        else:
            entry["status"] = 404
            log(entry)
            return self.reply(404, b"{}")
        step = next_step()
        if step.get("delay_ms"):
            # Log the arrival too: a test may act while the answer waits.
            log(dict(entry, phase="received"))
            entry["delayed_ms"] = step["delay_ms"]
            time.sleep(step["delay_ms"] / 1000)
        status = step.get("status", 200)
        entry["status"] = status
        log(entry)
        headers = {}
        if "retry_after" in step:
            headers["Retry-After"] = str(step["retry_after"])
        try:
            self.reply(status, b"" if status == 200 else b'{"error":"temporarily_unavailable"}', headers)
        except (BrokenPipeError, ConnectionResetError):
            pass


srv = ThreadingHTTPServer(("127.0.0.1", args.port), H)
srv.daemon_threads = True
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402
os.rename(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
