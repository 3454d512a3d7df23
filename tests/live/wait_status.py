"""Wait for a status.json written after now that satisfies an expression.

usage: wait_status.py STATUS_FILE EXPR TIMEOUT_SECONDS
EXPR is Python over `s`, the parsed status. Only a status the monitor
built after this program started counts (its "updated" time is later), so
the answer reflects everything the caller did before calling: the
monitor rewrites the file every second, and a check of the file as it
happens to be would race that. Prints the status and exits 0 as soon as
one holds; exits 1 after the timeout, with the last status on stderr.
"""
import datetime
import json
import sys
import time

path, expr, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
code = compile(expr, "<expr>", "eval")
since = time.time()
deadline = time.monotonic() + timeout


def updated(s):
    t = datetime.datetime.strptime(s["updated"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


last, why = None, "no status file"
while True:
    try:
        with open(path) as f:
            text = f.read()
        s = json.loads(text)
        last = text
        if updated(s) <= since:
            why = "not rewritten since the call"
        else:
            try:
                if eval(code, {}, {"s": s}):
                    print(json.dumps(s))
                    sys.exit(0)
                why = "condition false"
            except (KeyError, TypeError, IndexError, AttributeError) as err:
                why = f"condition raised {err!r}"
    except FileNotFoundError:
        pass
    except ValueError as err:  # rewritten by rename, so never partial; still, say so
        why = f"not JSON: {err}"
    if time.monotonic() > deadline:
        print(f"wait_status: {path} did not satisfy {expr!r} within {timeout:g} s ({why}); last status:",
              file=sys.stderr)
        print((last or "(none)")[:3000], file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
