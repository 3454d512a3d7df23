"""A python3 HTTPS client for the live TLS tests (system libssl through the
ssl module): one HTTP/1.1 request to 127.0.0.1:PORT with SNI
api.tokenward.test, the extra header line from $TW_HEADER (never argv).
With "wait" it first reads one line from stdin.
    python3 tls_py_client.py PORT [wait]"""
import os
import socket
import ssl
import sys

port = int(sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2] == "wait":
    sys.stdin.readline()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="api.tokenward.test") as t:
        hdr = os.environ.get("TW_HEADER", "X-None: 1")
        t.sendall(("GET / HTTP/1.1\r\nHost: api.tokenward.test\r\n%s\r\n\r\n" % hdr).encode())
        while t.recv(4096):
            pass
