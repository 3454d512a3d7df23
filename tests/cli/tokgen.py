#!/usr/bin/env python3
"""Mint token-shaped test strings at test time (nothing token-shaped is
committed). An independent implementation of the checksums, so the tests
cross-check user/checksum.c.

  tokgen.py KIND [N]   print N (default 1) fresh strings of KIND, one a line
"""
import base64, json, os, secrets, sys, zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


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


def github(prefix="ghp_"):
    body = rand(B62, 30)
    return prefix + body + crc6(body)


def github_bad(prefix="ghp_"):
    body = rand(B62, 30)
    good = crc6(body)
    bad = good
    while bad == good:
        bad = rand(B62, 6)
    return prefix + body + bad


def twd():
    body = b62num(int.from_bytes(os.urandom(32), "big"), 43)
    return "twd_" + body + crc6(body)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


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
    "aws": lambda: "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
    "glpat": lambda: "glpat-" + rand(B62, 20),
    "slack": lambda: "xoxb-" + rand("0123456789", 12) + "-" + rand("0123456789", 13) + "-" + rand(B62, 24),
    "stripe": lambda: "sk_live_" + rand(B62, 24),
    "openai": lambda: "sk-proj-" + rand(B64U, 100),
    "anthropic": lambda: "sk-ant-api03-" + rand(B64U, 93) + "AA",
    "google": lambda: "AIza" + rand(B64U, 35),
    "opaque": lambda: rand(B64U, 43),
    "ghp_placeholder": lambda: "ghp_" + "x" * 36,
}

if __name__ == "__main__":
    kind = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for _ in range(n):
        print(KINDS[kind]())
