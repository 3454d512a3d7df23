"""Wait for a JSON event matching a Python expression over `e`.

usage: wait_event.py EVENTS_FILE EXPR TIMEOUT_SECONDS [ABSENT_EXPR]
Prints the first matching event and exits 0, or exits 1 after the timeout.
With ABSENT_EXPR, EXPR is a barrier: an event caused after the action
under test, which the monitor writes after anything that action would
have caused. Exits 0 once the barrier is seen and no event read so far
satisfies ABSENT_EXPR, 3 (printing the offending event) if one does, 1
if the barrier never came. A negative check thus waits for the monitor
to have caught up, never for a guessed interval.
A line that is not valid JSON fails at once: tokenward must never write one.
The file is read incrementally: with --trace-io on a busy host it grows by
megabytes a second, and re-reading it from the start each round would not
keep up. On a timeout the last events read go to stderr.
"""
import collections
import json
import sys
import time

path, expr, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
absent = compile(sys.argv[4], "<absent>", "eval") if len(sys.argv) > 4 else None
code = compile(expr, "<expr>", "eval")
deadline = time.monotonic() + timeout
# Read at most this much a round, so that the deadline is checked between
# rounds even when a whole-host --trace-io file grows faster than it is
# parsed (a loaded host): a wait then ends at its deadline, not minutes on.
CHUNK_MAX = 4 << 20
pos, lineno, partial = 0, 0, b""
last = collections.deque(maxlen=5)
bad = None


def holds(c, e):
    try:
        return bool(eval(c, {}, {"e": e}))
    except (KeyError, TypeError, IndexError, AttributeError):
        return False


while True:
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            chunk = f.read(CHUNK_MAX)
            pos += len(chunk)
    except FileNotFoundError:
        chunk = b""
    data = partial + chunk
    lines = data.split(b"\n")
    partial = lines.pop()  # an unterminated last line is read again next round
    found = None
    for raw in lines:
        lineno += 1
        try:
            e = json.loads(raw.decode("utf-8", errors="strict"))
        except ValueError as err:
            print(f"line {lineno} is not JSON: {err}", file=sys.stderr)
            sys.exit(2)
        last.append(raw.decode())
        if absent is not None and bad is None and holds(absent, e):
            bad = e
        if found is None and holds(code, e):
            found = e
            if absent is None:
                break
    if found is not None:
        if bad is not None:
            print(json.dumps(bad))
            sys.exit(3)
        print(json.dumps(found))
        sys.exit(0)
    if time.monotonic() > deadline:
        if len(chunk) == CHUNK_MAX:
            print(f"wait_event: {path} grew faster than it was read", file=sys.stderr)
        what = "barrier" if absent is not None else "event"
        print(f"wait_event: no {what} matching {expr!r} in {path} within {timeout:g} s "
              f"({lineno} lines read); the last ones:", file=sys.stderr)
        for l in last:
            print("    " + l[:600], file=sys.stderr)
        sys.exit(1)
    if len(chunk) < CHUNK_MAX:
        time.sleep(0.02)  # caught up: poll again shortly
