#!/usr/bin/env python3
"""The production-like corpus of `make bench-scan` (issue 12, "Speed of
scan"): what a real host's logs look like, not what suits the prefilter.

  prodcorpus.py DIR SIZE_MB TOKGEN_DIR

writes DIR/prod.log (SIZE_MB MiB), DIR/prod-planted.tsv (form, sha256 of
each planted token, one a line) and DIR/prod-decoys.tsv (form, sha256).
Only hashes are written beside the corpus: the tokens themselves are in
the corpus alone, which the bench deletes.

Filler lines, drawn at random from a pool (so that a 4 MiB piece holds
mostly distinct lines): JSON structured logs with escapes (\\n, \\t, \\",
\\u00XX, \\/), long hex and base64 ids, JSON inside JSON string values;
access logs with percent-encoded query strings; journal-style lines
(`Dec 03 05:50:15 host unit[pid]: ...`); base64 blobs (config dumps,
Kubernetes Secret-like data, HTTP Basic with ordinary passwords). About
one line in PER_TOKEN carries a token minted by tokgen (valid checksums),
its form rotating over every encoding tokenward decodes; as many again
carry decoys: token-shaped strings whose checksum fails, raw and encoded.
"""
import base64, hashlib, json, os, random, sys, urllib.parse

sys.path.insert(0, sys.argv[3])
import tokgen  # noqa: E402

PER_TOKEN = 500
rnd = random.Random(12)
hexs = lambda n: rnd.randbytes((n + 1) // 2).hex()[:n]
b64 = lambda s: base64.b64encode(s.encode() if isinstance(s, str) else s).decode()
b64u = lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")
pct = lambda s: "".join("%%%02X" % b for b in s.encode())
quote = lambda s: urllib.parse.quote(s, safe="")  # what a client does
jsu = lambda s: "".join("\\u%04x" % ord(c) for c in s)
ent = lambda s: "".join("&#%d;" % ord(c) for c in s)
jstr = lambda s: json.dumps(s)[1:-1]          # the inside of a JSON string
WORDS = ("request completed upstream timeout retry cache miss hit user session login logout "
         "payment order item cart checkout inventory shipping warehouse queue worker job "
         "scheduled failed succeeded connection reset refused pool exhausted").split()
NAMES = ["José", "Zoë", "Łukasz", "François", "Ünal", "Mårten", "Renée"]
HOSTS = ["web-1", "web-2", "api-7f9c", "db-primary", "kube-node-3"]
UNITS = [("systemd", 1), ("sshd", 2211), ("kernel", 0), ("nginx", 918), ("dockerd", 733),
         ("kubelet", 1402), ("cron", 655), ("app-api", 3141)]
UA = ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      'curl/8.5.0', 'Go-http-client/2.0', 'python-requests/2.31.0',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)']


def ts(i):
    return "2026-12-03T05:%02d:%02d.%03dZ" % (i // 60 % 60, i % 60, (i * 37) % 1000)


def jts(i):
    return "Dec 03 05:%02d:%02d" % (i // 60 % 60, i % 60)


def words(n):
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def b64id(n):
    return base64.urlsafe_b64encode(rnd.randbytes(n)).decode().rstrip("=")


def yaml_cfg():
    return "".join("%s:\n  host: %s.internal\n  port: %d\n  password: %s\n  timeout: %ds\n"
                   % (rnd.choice(WORDS), rnd.choice(HOSTS), rnd.randint(1000, 65000), hexs(16),
                      rnd.randint(1, 90)) for _ in range(rnd.randint(2, 12)))


def f_json(i):
    o = {"ts": ts(i), "level": rnd.choice(["info", "info", "debug", "warn", "error"]),
         "logger": "api." + rnd.choice(WORDS), "msg": words(rnd.randint(2, 6)),
         "trace_id": hexs(32), "span_id": hexs(16), "request_id": b64id(16),
         "path": "/v1/%s/%d" % (rnd.choice(WORDS), rnd.randint(1, 99999)),
         "dur_ms": round(rnd.random() * 900, 3)}
    k = rnd.randrange(6)
    if k == 0:
        o["msg"] += "\n\tat handler (%s.go:%d)\n\tat main" % (rnd.choice(WORDS), rnd.randint(1, 900))
    elif k == 1:
        o["user"] = rnd.choice(NAMES)
        o["msg"] = 'user said "%s"' % words(3)
    elif k == 2:  # JSON inside a JSON string
        o["body"] = json.dumps({"id": hexs(24), "status": rnd.choice(WORDS), "items": [rnd.randint(1, 9)] * 3,
                                "next": "/v1/items?page=%d" % rnd.randint(1, 50)})
    elif k == 3:
        o["sha256"] = hexs(64)
        o["etag"] = b64id(32)
    elif k == 4:
        o["headers"] = {"user-agent": rnd.choice(UA), "authorization": "Bearer [REDACTED]",
                        "x-forwarded-for": "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))}
    else:
        o["html"] = "<p>%s &amp; %s &lt;b&gt;</p>" % (words(2), words(2))
    s = json.dumps(o, ensure_ascii=rnd.random() < 0.7)
    return s.replace("/", "\\/") if rnd.random() < 0.3 else s


def f_access(i):
    q = "q=%s&page=%d&filter=%s&redirect_uri=%s" % (
        quote(words(2)).replace("%20", "+") if rnd.random() < 0.5 else words(1),
        rnd.randint(1, 40), quote(json.dumps({"a": rnd.choice(WORDS), "n": rnd.randint(1, 9)})),
        quote("https://app.example.com/cb?state=%s&x=1" % hexs(16)))
    return '10.%d.%d.%d - - [03/Dec/2026:05:%02d:%02d +0000] "GET /api/v1/search?%s HTTP/1.1" %d %d "https://app.example.com/" "%s"' % (
        rnd.randrange(256), rnd.randrange(256), rnd.randrange(256), i // 60 % 60, i % 60, q,
        rnd.choice([200, 200, 200, 304, 404, 500]), rnd.randint(100, 90000), rnd.choice(UA))


def f_journal(i):
    unit, pid = rnd.choice(UNITS)
    tag = unit if not pid else "%s[%d]" % (unit, pid)
    k = rnd.randrange(4)
    if k == 0:
        m = "Accepted publickey for deploy from 10.0.%d.%d port %d ssh2: ED25519 SHA256:%s" % (
            rnd.randrange(256), rnd.randrange(256), rnd.randint(1024, 65535), b64id(32))
    elif k == 1:
        m = "Started session-%d.scope - Session %d of User deploy." % (rnd.randint(1, 9999), rnd.randint(1, 9999))
    elif k == 2:
        m = "pod %s-%s container %s image sha256:%s restarted" % (rnd.choice(WORDS), hexs(10), rnd.choice(WORDS), hexs(64))
    else:
        m = words(rnd.randint(4, 12))
    return "%s %s %s: %s" % (jts(i), rnd.choice(HOSTS), tag, m)


def f_blob(i):
    k = rnd.randrange(4)
    if k == 0:
        return "%s INFO config snapshot: %s" % (ts(i), b64(yaml_cfg()))
    if k == 1:
        return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": rnd.choice(WORDS) + "-creds"},
                           "data": {"username": b64(rnd.choice(WORDS)), "password": b64(hexs(24)),
                                    "tls.key": b64(rnd.randbytes(rnd.randint(64, 600)))}})
    if k == 2:  # a base64 run that decodes to an ordinary credential
        return '%s DEBUG outbound GET https://registry.internal/v2/ headers={"Authorization":"Basic %s"}' % (
            ts(i), b64("deploy:%s-%s" % (rnd.choice(WORDS), hexs(8))))
    return "%s DEBUG cache put key=%s value=%s" % (ts(i), hexs(40), b64(rnd.randbytes(rnd.randint(30, 300))))


FILLERS = [f_json] * 5 + [f_access] * 2 + [f_journal] * 2 + [f_blob]

# The forms a token is planted in: (name, chain tokenward reports, line maker).
FORMS = [
    ("raw, JSON value", "", lambda t, i: json.dumps({"ts": ts(i), "level": "debug", "msg": "loaded", "api_key": t})),
    ("raw, query string", "", lambda t, i: '10.1.2.3 - - [03/Dec/2026:05:50:15 +0000] "GET /hook?access_token=%s&v=2 HTTP/1.1" 200 12 "-" "curl/8.5.0"' % t),
    ("percent, partial (%3D)", "percent", lambda t, i: '10.1.2.3 - - [03/Dec/2026:05:50:15 +0000] "GET /login?next=%%2Fhome%%3Ftoken%%3D%s HTTP/1.1" 302 0 "-" "%s"' % (t, UA[0])),
    ("percent, full", "percent", lambda t, i: '10.1.2.3 - - [03/Dec/2026:05:50:16 +0000] "GET /cb?r=%s HTTP/1.1" 302 0' % pct("https://ci.internal/hook?token=" + t)),
    ("JSON \\n at the seam", "json", lambda t, i: json.dumps({"ts": ts(i), "level": "error", "msg": "auth failed for\n" + t, "trace_id": hexs(32)})),
    ("JSON \\u003d at the seam (Go)", "json", lambda t, i: '{"ts":"%s","level":"warn","msg":"retrying with token\\u003d%s","span_id":"%s"}' % (ts(i), t, hexs(16))),
    ("JSON \\uXXXX, full", "json", lambda t, i: '{"ts":"%s","msg":"%s"}' % (ts(i), jsu(t))),
    ("base64 config dump", "base64", lambda t, i: "%s INFO config snapshot: %s" % (ts(i), b64(yaml_cfg() + "github:\n  token: %s\n" % t))),
    ("base64url env file", "base64", lambda t, i: "%s DEBUG env=%s" % (ts(i), b64u("HOME=/srv\nNOTE=%s\nAPI_TOKEN=%s\n" % (hexs(30), t)))),
    ("Kubernetes Secret data", "base64", lambda t, i: json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ci-creds"}, "data": {"username": b64("ci"), "token": b64(t)}})),
    ("HTTP Basic, password", "base64>http-basic", lambda t, i: '%s DEBUG outbound headers={"Authorization":"Basic %s"}' % (ts(i), b64("x-access-token:" + t))),
    ("HTTP Basic, user", "base64>http-basic", lambda t, i: "%s %s git-remote-https[4242]: > authorization: Basic %s" % (jts(i), HOSTS[0], b64(t + ":x-oauth-basic"))),
    ("HTML entities, full", "html", lambda t, i: json.dumps({"ts": ts(i), "msg": "rendered", "html": '<a href="/x?t=%s">x</a>' % ent(t)})),
    ("HTML entity, first character", "html", lambda t, i: '%s WARN template <a href="/x?t=&#%d;%s&amp;y=1">' % (ts(i), ord(t[0]), t[1:])),
    ("nested: base64 of JSON with an escape", "base64>json", lambda t, i: "%s DEBUG event=%s" % (ts(i), b64(json.dumps({"msg": "failed\n" + t, "n": i})))),
    ("nested: JSON inside a JSON string", "json>json", lambda t, i: json.dumps({"ts": ts(i), "msg": "upstream response", "body": json.dumps({"error": "bad credential\n" + t})})),
    ("nested: percent of a JSON escape", "percent>json", lambda t, i: '10.1.2.3 - - [03/Dec/2026:05:50:17 +0000] "GET /?q=%%22failed%%5Cn%s%%22 HTTP/1.1" 400 0' % t),
    ("nested: base64 of a Basic credential", "base64>base64", lambda t, i: "%s DEBUG x-auth: %s" % (ts(i), b64(b64("user:" + t)))),
]
KINDS = ["ghp", "gho", "npm", "twd", "jwt", "atjwt", "aws", "glpat", "slack", "stripe", "openai", "anthropic", "google"]


def bad(kind):
    """A token-shaped string whose checksum fails."""
    if kind == "ghp":
        return tokgen.KINDS["ghp_bad"]()
    t = tokgen.KINDS[kind]()
    return t[:-1] + ("A" if t[-1] != "A" else "B")


DECOYS = [
    ("raw", lambda t, i: json.dumps({"ts": ts(i), "msg": "example", "token": t})),
    ("percent", FORMS[2][2]),
    ("json", FORMS[4][2]),
    ("base64", FORMS[9][2]),
    ("http-basic", FORMS[10][2]),
]


def sha(t):
    return hashlib.sha256(t.encode()).hexdigest()


def main():
    d, size = sys.argv[1], int(sys.argv[2]) << 20
    pool = [rnd.choice(FILLERS)(i) for i in range(200000)]
    n = 0
    with open(os.path.join(d, "prod.log"), "w") as f, open(os.path.join(d, "prod-planted.tsv"), "w") as p, \
            open(os.path.join(d, "prod-decoys.tsv"), "w") as dc:
        dc.write("raw\t%s\n" % sha("AKIA" + "IOSFODNN7EXAMPLE"))
        while f.tell() < size:
            lines = rnd.choices(pool, k=PER_TOKEN - 2)
            name, _, mk = FORMS[n % len(FORMS)]
            t = tokgen.KINDS[KINDS[(n // len(FORMS) + n) % len(KINDS)]]()
            p.write("%s\t%s\n" % (name, sha(t)))
            lines.insert(rnd.randrange(len(lines)), mk(t, n))
            dname, dmk = DECOYS[n % len(DECOYS)]
            t = bad(["ghp", "npm", "twd"][n % 3])
            dc.write("%s\t%s\n" % (dname, sha(t)))
            lines.insert(rnd.randrange(len(lines)), dmk(t, n))
            if n % 50 == 0:  # AWS's documentation key id: a placeholder
                lines.insert(rnd.randrange(len(lines)), "%s INFO example key AKIA%s" % (ts(n), "IOSFODNN7EXAMPLE"))
            f.write("\n".join(lines) + "\n")
            n += 1


if __name__ == "__main__":
    main()
