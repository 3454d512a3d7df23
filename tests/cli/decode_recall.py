#!/usr/bin/env python3
"""Per-encoding recall of `tokenward scan` (issue 12): plant freshly minted
tokens (tokgen.py: valid checksums, recorded for the redaction audit) in
every form a decoded view must see through, scan, and count found/planted
per form. Nothing token-shaped is committed; the table in docs/RECALL.md
("Decoded views") is this script's output.

  decode_recall.py gen DIR N        write DIR/leak-input-recall.log (N tokens
                                    per form, among filler lines) and
                                    DIR/expect.tsv (form, sha256, line)
  decode_recall.py table DIR JSON   the scan's --format json output: print the
                                    markdown table; exit 1 if a planted token
                                    was not found where it was planted

Filler: log lines, JSON with escapes, base64 ids and blobs, query strings,
so that the tokens sit among the things the views decode anyway. Lines are
long and varied so that with a small --chunk every token lands near some
piece boundary.
"""
import base64, hashlib, json, os, random, secrets, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokgen  # noqa: E402

b64 = lambda s: base64.b64encode(s.encode()).decode()
b64u = lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")
pct = lambda s: "".join("%%%02X" % b for b in s.encode())
jsu = lambda s: "".join("\\u%04x" % ord(c) for c in s)
ent = lambda s: "".join("&#%d;" % ord(c) for c in s)
pad = lambda n: secrets.token_hex(n)[:n]

# (form, the chain a finding must say, line maker). Kinds rotate per token.
FORMS = [
    ("raw", "", lambda t: "INFO auth ok token=" + t),
    ("percent, partial (%3D)", "percent", lambda t: "GET /cb?next=token%3D" + t + " HTTP/1.1"),
    ("percent, full", "percent", lambda t: "GET /cb?r=" + pct("token=" + t) + " HTTP/1.1"),
    ("JSON escape (\\n at the seam)", "json", lambda t: json.dumps({"level": "error", "msg": "failed\n" + t})),
    ("JSON \\uXXXX, full", "json", lambda t: '{"msg":"' + jsu(t) + '"}'),
    ("base64 (standard, padded) of a config", "base64", lambda t: "data: " + b64("# cfg %s\ntoken = %s\n" % (pad(40), t))),
    ("base64url (unpadded) of an env file", "base64", lambda t: "env=" + b64u("NOTE=%s\nAPI_TOKEN=%s\n" % (pad(30), t))),
    ("HTTP Basic, password", "base64>http-basic", lambda t: "Authorization: Basic " + b64("git:" + t)),
    ("HTTP Basic, user", "base64>http-basic", lambda t: "authorization: basic " + b64(t + ":x-oauth-basic")),
    ("HTML entities, full", "html", lambda t: '<a href="/x?t=' + ent(t) + '">x</a>'),
    ("HTML entity for the first character", "html", lambda t: '<a href="/x?t=&#%d;' % ord(t[0]) + t[1:] + '&amp;y=1">'),
    ("base64 of a JSON line with an escape (nested)", "base64>json",
     lambda t: "blob " + b64(json.dumps({"msg": "failed\n" + t}))),
    ("percent of a JSON escape (nested)", "percent>json", lambda t: "GET /?q=%22failed%5Cn" + t + "%22 HTTP/1.1"),
    ("base64 of base64 of a credential (nested)", "base64>base64",
     lambda t: "x-auth: " + b64(b64("user:" + t))),
]
KINDS = ["ghp", "twd", "npm", "glpat", "slack", "stripe"]


def filler(rng):
    k = rng.randrange(5)
    if k == 0:
        return json.dumps({"ts": rng.random(), "msg": "req done\tok \"x\"", "id": pad(rng.randrange(8, 64))})
    if k == 1:
        return "GET /search?q=%22hello%20world%22&page=" + str(rng.randrange(99)) + " HTTP/1.1 200 " + pad(rng.randrange(200))
    if k == 2:
        return "cache " + b64(pad(rng.randrange(20, 400)) + " Mixed Case Text")
    if k == 3:
        return "<p>fish &amp; chips &#8212; " + pad(rng.randrange(300)) + "</p>"
    return "Dec  2 13:00:00 host app[42]: " + pad(rng.randrange(1, 900))


def gen(d, n):
    rng = random.Random(secrets.randbits(32))
    rows, lines = [], []
    for i in range(n):
        for fi, (name, chain, mk) in enumerate(FORMS):
            t = tokgen.KINDS[KINDS[(i + fi) % len(KINDS)]]()
            rows.append((fi, hashlib.sha256(t.encode()).hexdigest()))
            lines.append((rng.random(), mk(t), len(rows) - 1))
    lines.sort()
    with open(os.path.join(d, "leak-input-recall.log"), "w") as f, open(os.path.join(d, "expect.tsv"), "w") as e:
        ln = 0
        for _, text, ri in lines:
            for _ in range(rng.randrange(4)):
                f.write(filler(rng) + "\n")
                ln += 1
            f.write(text + "\n")
            ln += 1
            e.write("%d\t%s\t%d\n" % (rows[ri][0], rows[ri][1], ln))


def table(d, path):
    found = {}
    for l in open(path):
        o = json.loads(l)
        if "sha256" in o:
            found.setdefault(o["sha256"], []).append((o["line"], o.get("decoded", "")))
    per = [[0, 0, 0] for _ in FORMS]  # planted, found at its line, with the right chain
    for l in open(os.path.join(d, "expect.tsv")):
        fi, sha, line = l.split("\t")
        fi, line = int(fi), int(line)
        per[fi][0] += 1
        hits = [c for (ln, c) in found.get(sha, []) if ln == line]
        per[fi][1] += bool(hits)
        per[fi][2] += FORMS[fi][1] in hits
    print("| form | chain reported | found / planted | with that chain |")
    print("| --- | --- | ---: | ---: |")
    for (name, chain, _), (p, f, c) in zip(FORMS, per):
        print("| %s | %s | %d/%d | %d/%d |" % (name, "`" + chain + "`" if chain else "(raw)", f, p, c, p))
    tp, tf, tc = (sum(x[i] for x in per) for i in range(3))
    print("| **all** | | %d/%d | %d/%d |" % (tf, tp, tc, tp))
    return 0 if tf == tp and tc == tp else 1


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(table(sys.argv[2], sys.argv[3]))
