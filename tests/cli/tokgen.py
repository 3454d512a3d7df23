#!/usr/bin/env python3
"""Mint token-shaped test strings at test time (nothing token-shaped is
committed). An independent implementation of the checksums, so the tests
cross-check user/checksum.c.

  tokgen.py KIND [N]   print N (default 1) fresh strings of KIND, one a line

Every secret minted is also recorded in the suite's token registry when
TW_TOKENS names it (tools/run-tests.sh), for the redaction audit
(tools/redaction-audit.py); placeholders are not secrets and are not.
"""
import base64, json, os, secrets, sys, zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def record(tok):
    """Append tok to the registry, never following a symlink; a no-op
    outside tools/run-tests.sh. The line is "TEST<TAB>HEX", the token's
    bytes reversed, in hex: a token written plain to a file is what a
    running monitor catches (tests/live/lib.sh tw_token_record)."""
    path = os.environ.get("TW_TOKENS")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, ("%s\t%s\n" % (os.environ.get("TW_TEST", "?"), tok.encode()[::-1].hex())).encode())
        finally:
            os.close(fd)
    return tok


# What the detector's placeholder test (user/detect/filter.c, docs/RULES.md)
# takes for a documentation sample. A random string holds one now and then
# (a 100-character key "xxxx" about once in 10 000): such a draw is drawn
# again, or a test that expects its token found would fail at random.
# Looser than the detector (a word marker anywhere counts): only redraws.
MARKERS = ("example", "your", "placeholder", "redacted", "changeme", "dummy", "insert",
           "token_here", "token-here", "key_here", "key-here", "xxxx", "<", ">", "${", "{{",
           "****", "....", "0000000", "1234567")


def placeholder_like(tok):
    low = tok.lower()
    if any(m in low for m in MARKERS):
        return True
    return any(low[i] * 8 == low[i:i + 8] for i in range(len(low) - 7))


def recorded(fn):
    def mint(*a):
        tok = fn(*a)
        while placeholder_like(tok):
            tok = fn(*a)
        return record(tok)
    return mint


def rand(alpha, n):
    return "".join(secrets.choice(alpha) for _ in range(n))


def b62num(v, width):
    out = ""
    while v:
        v, r = divmod(v, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def crc6(body):
    return b62num(zlib.crc32(body.encode()), 6)


@recorded
def github(prefix="ghp_"):
    body = rand(B62, 30)
    return prefix + body + crc6(body)


@recorded
def github_bad(prefix="ghp_"):
    body = rand(B62, 30)
    good = crc6(body)
    bad = good
    while bad == good:
        bad = rand(B62, 6)
    return prefix + body + bad


@recorded
def twd():
    body = b62num(int.from_bytes(os.urandom(32), "big"), 43)
    return "twd_" + body + crc6(body)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@recorded
def jwt(typ="JWT"):
    h = b64u(json.dumps({"alg": "RS256", "typ": typ}).encode())
    p = b64u(json.dumps({"sub": "agent-" + secrets.token_hex(4), "jti": secrets.token_hex(16),
                         "aud": "https://api.test", "exp": 1900000000}).encode())
    return h + "." + p + "." + b64u(os.urandom(32))


KINDS = {
    "ghp": github,
    "ghp_bad": github_bad,
    "gho": lambda: github("gho_"),
    "npm": lambda: github("npm_"),
    "twd": twd,
    "jwt": jwt,
    "atjwt": lambda: jwt("at+jwt"),
    "aws": recorded(lambda: "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    "glpat": recorded(lambda: "glpat-" + rand(B62, 20)),
    "slack": recorded(lambda: "xoxb-" + rand("0123456789", 12) + "-" + rand("0123456789", 13) + "-" + rand(B62, 24)),
    "stripe": recorded(lambda: "sk_live_" + rand(B62, 24)),
    "openai": recorded(lambda: "sk-proj-" + rand(B64U, 100)),
    "anthropic": recorded(lambda: "sk-ant-api03-" + rand(B64U, 93) + "AA"),
    "google": recorded(lambda: "AIza" + rand(B64U, 35)),
    "opaque": recorded(lambda: rand(B64U, 43)),
    "ghp_placeholder": lambda: "ghp_" + "x" * 36,
}

if __name__ == "__main__":
    kind = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for _ in range(n):
        print(KINDS[kind]())
