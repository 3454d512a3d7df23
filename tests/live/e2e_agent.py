"""The "agent" of tests/live/test_e2e_oidc.sh: one long-lived process that
obtains delegation tokens and then uses or leaks them, on command.

usage: e2e_agent.py OIDC_URL RESOURCE AGENT_SECRET_FILE

Commands, one per line on stdin; one reply line per command on stdout
(a pipe to the test, which the sensors do not capture):
  token                 client_credentials grant with resource=RESOURCE;
                        reply "ok N TOKEN" (N: its index here). The test
                        needs the raw token to introspect it and to grep
                        artefacts; it travels only over this pipe.
  leak_file N PATH      append a log line holding token N to PATH (one write())
  send N HOST PORT      plain HTTP GET / to HOST:PORT with "Authorization:
                        Bearer" token N; reply "ok STATUS"
  use N                 GET /resource on OIDC_URL with token N (the token's
                        audience); reply "ok STATUS"
  quit
The process id is the delegate the test registers (--delegate-pid).
"""
import base64
import json
import os
import socket
import sys
import urllib.parse
import urllib.request

# Deadline for one HTTP exchange: generous for a loaded machine (tests/live/lib.sh).
WAIT_S = float(os.environ.get("TW_WAIT_S", "60"))

oidc, resource, secret_file = sys.argv[1:4]
secret = open(secret_file).read().strip()
tokens = []


def reply(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def get_token():
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": resource,
                                   "scope": "api:read"}).encode()
    req = urllib.request.Request(oidc + "/token", data=body, method="POST")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"agent:{secret}".encode()).decode())
    with urllib.request.urlopen(req, timeout=WAIT_S) as r:
        return json.load(r)["access_token"]


def http_get(host, port, path, token):
    """One send(): the request line, Host and Authorization together."""
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
           f"Connection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=WAIT_S) as s:
        s.sendall(req)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 else 0


def main():
    u = urllib.parse.urlsplit(oidc)
    for line in sys.stdin:
        cmd = line.split()
        try:
            if not cmd:
                continue
            if cmd[0] == "token":
                tokens.append(get_token())
                reply(f"ok {len(tokens) - 1} {tokens[-1]}")
            elif cmd[0] == "leak_file":
                fd = os.open(cmd[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.write(fd, f"DEBUG calling api with Authorization: Bearer {tokens[int(cmd[1])]}\n".encode())
                os.close(fd)
                reply("ok")
            elif cmd[0] == "send":
                reply(f"ok {http_get(cmd[2], cmd[3], '/', tokens[int(cmd[1])])}")
            elif cmd[0] == "use":
                reply(f"ok {http_get(u.hostname, u.port, '/resource', tokens[int(cmd[1])])}")
            elif cmd[0] == "quit":
                reply("ok")
                return
            else:
                reply("err unknown command")
        except Exception as e:  # report, never with a token in it
            reply(f"err {type(e).__name__}")


main()
