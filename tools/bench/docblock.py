#!/usr/bin/env python3
"""Replace a benchmark's block in a doc: docblock.py DOC NAME [AFTER] < SECTION.
The block sits between <!-- NAME:begin --> and <!-- NAME:end -->; a new one
goes after the block AFTER when there is one, else at the end."""
import re, sys
p, name = sys.argv[1], sys.argv[2]
after = sys.argv[3] if len(sys.argv) > 3 else None
sec = sys.stdin.read().strip() + "\n"
s = open(p).read()
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
block = f"{begin}\n{sec}{end}\n"
anchor = f"<!-- {after}:end -->\n" if after else None
if begin in s:
    s = re.sub(re.escape(begin) + ".*?" + re.escape(end) + "\n?", lambda m: block, s, flags=re.S)
elif anchor and anchor in s:
    s = s.replace(anchor, anchor + "\n" + block, 1)
else:
    s = s.rstrip("\n") + "\n\n" + block
open(p, "w").write(s)
