"""A python3 HTTPS client for the live TLS tests (system libssl through the
ssl module): one HTTP/1.1 request to 127.0.0.1:PORT with SNI
api.tokenward.test, whose extra header line is the first line of stdin
(a pipe: never argv or environment, which exec events show). It connects
only once that line has come, so a test can hold it mapped but silent.
    python3 tls_py_client.py PORT"""
import socket
import ssl
import sys

port = int(sys.argv[1])
hdr = sys.stdin.readline().strip() or "X-None: 1"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="api.tokenward.test") as t:
        t.sendall(("GET / HTTP/1.1\r\nHost: api.tokenward.test\r\n%s\r\n\r\n" % hdr).encode())
        while t.recv(4096):
            pass
