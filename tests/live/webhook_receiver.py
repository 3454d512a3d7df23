#!/usr/bin/env python3
"""A verdict webhook receiver on loopback, for tests/live/test_outputs.sh.

    webhook_receiver.py PORTFILE BODIES [FAIL_FIRST [HOLD]]

Prints its port to PORTFILE, appends each POST body (a JSON array) as one
line to BODIES, and answers 500 to the first FAIL_FIRST posts (to show
the sender retrying), 200 after. FAIL_FIRST -1: always 500. With HOLD, a
file path: the first POST creates HOLD.held and is answered only once
HOLD exists (the test decides when), so later verdicts queue meanwhile.
"""
import http.server
import os
import sys
import time

portfile, bodies = sys.argv[1], sys.argv[2]
fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
hold = sys.argv[4] if len(sys.argv) > 4 else None
posts = 0


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global posts
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        posts += 1
        if hold and posts == 1:
            open(hold + ".held", "w").close()
            deadline = time.time() + 120
            while not os.path.exists(hold) and time.time() < deadline:
                time.sleep(0.01)   # the test's own signal, not a guess at timing
        failing = fail_first < 0 or posts <= fail_first
        with open(bodies + (".refused" if failing else ""), "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
