"""Wait for a JSON event matching a Python expression over `e`.

usage: wait_event.py EVENTS_FILE EXPR TIMEOUT_SECONDS
Prints the first matching event and exits 0, or exits 1 after the timeout.
A line that is not valid JSON fails at once: tokenward must never write one.
"""
import json
import sys
import time

path, expr, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
code = compile(expr, "<expr>", "eval")
deadline = time.monotonic() + timeout
seen = 0
while True:
    try:
        with open(path, encoding="utf-8", errors="strict") as f:
            lines = f.readlines()
    except FileNotFoundError:
        lines = []
    for i, line in enumerate(lines[seen:], seen + 1):
        if not line.endswith("\n"):
            break  # partial line: read it again next round
        try:
            e = json.loads(line)
        except ValueError as err:
            print(f"line {i} is not JSON: {err}", file=sys.stderr)
            sys.exit(2)
        seen = i
        try:
            if eval(code, {}, {"e": e}):
                print(json.dumps(e))
                sys.exit(0)
        except (KeyError, TypeError, IndexError):
            pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.02)
