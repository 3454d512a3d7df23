"""Wait for a JSON event matching a Python expression over `e`.

usage: wait_event.py EVENTS_FILE EXPR TIMEOUT_SECONDS
Prints the first matching event and exits 0, or exits 1 after the timeout.
A line that is not valid JSON fails at once: tokenward must never write one.
The file is read incrementally: with --trace-io on a busy host it grows by
megabytes a second, and re-reading it from the start each round would not
keep up.
"""
import json
import sys
import time

path, expr, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
code = compile(expr, "<expr>", "eval")
deadline = time.monotonic() + timeout
pos, lineno, partial = 0, 0, b""
while True:
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            chunk = f.read()
            pos += len(chunk)
    except FileNotFoundError:
        chunk = b""
    data = partial + chunk
    lines = data.split(b"\n")
    partial = lines.pop()  # an unterminated last line is read again next round
    for raw in lines:
        lineno += 1
        try:
            e = json.loads(raw.decode("utf-8", errors="strict"))
        except ValueError as err:
            print(f"line {lineno} is not JSON: {err}", file=sys.stderr)
            sys.exit(2)
        try:
            if eval(code, {}, {"e": e}):
                print(json.dumps(e))
                sys.exit(0)
        except (KeyError, TypeError, IndexError):
            pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.02)
