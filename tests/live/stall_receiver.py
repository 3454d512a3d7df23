#!/usr/bin/env python3
"""A TCP receiver that accepts and never reads, for tests/live/test_outputs.sh.

    stall_receiver.py PORTFILE

Listens on a free loopback port (printed to PORTFILE) with a small receive
buffer, accepts every connection and holds it open without reading a byte:
a syslog server that has stopped reading. Counts the connections it took
in PORTFILE.conns.
"""
import socket
import sys

portfile = sys.argv[1]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind(("127.0.0.1", 0))
ls.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
held = []
while True:
    c, _ = ls.accept()
    held.append(c)
    with open(portfile + ".conns", "w") as f:
        f.write(str(len(held)))
