#!/usr/bin/env python3
"""The redaction audit: no token the test suite used may appear in
anything the suite wrote.

  tools/redaction-audit.py --tokens REGISTRY ROOT...
  tools/redaction-audit.py --self-test

REGISTRY holds every token minted at test time, one a line as
"TEST<TAB>HEX", HEX the token's bytes reversed, in hex, so that writing
the registry is not itself a token written to a file for a running
monitor to catch (tests/live/lib.sh tw_token_record, tests/cli/tokgen.py,
tests/unit/tokmint.h; tools/run-tests.sh creates it, mode 0600, as
BUILD/test-tokens). Every regular file under each ROOT is searched for each
token raw, percent-encoded (reserved bytes only, and every byte; upper-
and lower-case hex) and base64-encoded in the standard and
the URL alphabet at all three alignments (the token preceded by 0, 1 or 2
bytes: only the characters that depend on the token's bytes alone are
searched, so it is found inside any longer encoded text), and in hex.

Skipped, by rule rather than by list: the registry itself, anything that is
not a regular file (never opened, so a FIFO cannot hang the audit), and any
path with a component whose name starts with "leak-input": that is where a
test writes the inputs that hold tokens on purpose (a file for `scan` to
find, a log the sensors must catch, the test's own list of its tokens).
Everything tokenward produced (stdout and stderr captures, events,
databases with -wal and -shm, reports, status files, logs) is searched.

A hit prints the file, the byte offset, the form and the token's
fingerprint (sha256:<12 hex>, the one tokenward prints) and the test that
minted it; never the token. Exit 0 when clean, 1 on any hit, 2 on error.
"""
import base64, binascii, hashlib, io, os, re, stat, subprocess, sys, tempfile, urllib.parse
from concurrent.futures import ThreadPoolExecutor

SKIP_PREFIX = "leak-input"
MIN_FORM = 12        # shorter forms would match by chance
MAX_FILES = 30       # files with hits printed, and hits per file;
PER_FILE = 3         # all are counted


def fingerprint(tok):
    return "sha256:" + hashlib.sha256(tok).hexdigest()[:12]


def b64_stable(tok, k, alphabet):
    """The base64 characters of tok preceded by k bytes that depend on
    tok's bits alone: char i covers bits [6i, 6i+6) of the padded input,
    kept when that window lies inside tok's bits [8k, 8(k+n))."""
    enc = base64.b64encode(b"\0" * k + tok)
    if alphabet == "url":
        enc = enc.translate(bytes.maketrans(b"+/", b"-_"))
    first = (8 * k + 5) // 6               # smallest i with 6i >= 8k
    end = 8 * (k + len(tok)) // 6          # i < end: 6i + 6 <= 8(k + n)
    return enc[first:end]


def forms(tok):
    """{form bytes: form name} for one token."""
    out = {}

    def add(name, f):
        if len(f) >= MIN_FORM and f not in out:
            out[f] = name

    add("raw", tok)
    s = tok.decode("latin-1")
    lower = lambda f: re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f)
    for name, f in (("percent", urllib.parse.quote(s, safe="")),
                    ("percent-all", "".join("%%%02X" % b for b in tok))):
        add(name, f.encode())
        add(name + "-lower", lower(f).encode())
    add("hex", tok.hex().encode())
    add("hex-upper", tok.hex().upper().encode())
    for alphabet in ("std", "url"):
        for k in range(3):
            add("base64%s+%d" % ("" if alphabet == "std" else "url", k), b64_stable(tok, k, alphabet))
    return out


def read_registry(path):
    """[(test, token bytes)], deduplicated by token."""
    seen, toks = set(), []
    with open(path, "rb") as f:
        for line in f:
            test, _, enc = line.rstrip(b"\r\n").rpartition(b"\t")
            try:
                tok = bytes.fromhex(enc.decode())[::-1]
            except ValueError:
                raise RuntimeError("%s: a line that is not TEST<TAB>HEX" % path)
            if len(tok) < 8 or tok in seen:
                continue
            seen.add(tok)
            toks.append((test.decode(errors="replace") or "?", tok))
    return toks


def skipped(name):
    return name.startswith(SKIP_PREFIX)


def files_under(roots, exclude):
    """Regular files under the roots, symlinks not followed, leak-input/
    and the excluded paths left out."""
    out = []
    for root in roots:
        for d, dirs, names in os.walk(root, followlinks=False):
            dirs[:] = sorted(x for x in dirs if not skipped(x))
            for n in sorted(names):
                p = os.path.join(d, n)
                if skipped(n) or os.path.realpath(p) in exclude:
                    continue
                try:
                    st = os.lstat(p)
                except OSError:
                    continue            # removed while walking
                if stat.S_ISREG(st.st_mode) and st.st_size > 0:
                    out.append(p)
    return out


def argv_chunks(paths, limit=1 << 20):
    """The paths in as few lists as fit an argv of about limit bytes: each
    grep builds its automaton again (search)."""
    chunk, size = [], 0
    for p in paths:
        n = len(os.fsencode(p)) + 1
        if chunk and size + n > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += n
    if chunk:
        yield chunk


PATTERN_CHUNK = 40000  # patterns a grep: its automaton costs more than linear


def grep_fixed(paths, patterns):
    """[(path, offset, pattern)] for one grep -F (Aho-Corasick over the
    patterns at once). The patterns go through a pipe, never argv or a
    file; grep's matches come back on a pipe and are never printed."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["grep", "-F", "-a", "-o", "-b", "-H", "-Z", "-D", "skip",
         "-f", "/dev/fd/%d" % r, "--"] + paths,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(r,),
        env=dict(os.environ, LC_ALL="C"))
    os.close(r)
    with os.fdopen(w, "wb") as pw:
        pw.write(b"\n".join(patterns) + b"\n")
    out, err = proc.communicate()
    gone = grep_gone(proc.returncode, err)
    hits = []
    for line in out.split(b"\n"):
        if not line:
            continue
        path, _, rest = line.partition(b"\0")
        off, _, pat = rest.partition(b":")
        hits.append((path.decode(errors="replace"), int(off), pat))
    return hits, gone


GONE = b": No such file or directory"


def grep_gone(rc, err):
    """The paths grep found gone: removed since the walk (a status file
    renamed over, a test's last files cleaned up). Each grep reads every
    file once more, over some seconds, so one can go in between; it can
    hold nothing then, and is counted. Any other error raises."""
    gone = []
    for line in err.splitlines():
        if line.startswith(b"grep: ") and line.endswith(GONE):
            p = line[len(b"grep: "):-len(GONE)].decode(errors="replace")
            if not os.path.lexists(p):
                gone.append(p)
                continue
        raise RuntimeError("grep failed (%d): %s" % (rc, err.decode(errors="replace")[:300]))
    if rc not in (0, 1) and not gone:
        raise RuntimeError("grep failed (%d): %s" % (rc, err.decode(errors="replace")[:300]))
    return gone


def search(paths, patterns):
    """([(path, offset, pattern)], {paths gone}): one hit an offset (the
    longest form found there). grep -F builds its automaton in time and memory that
    grow faster than the number of patterns (720k forms: 41 s and some
    5 GB; 40k: under a second), so the patterns are cut into chunks, and
    the chunks' greps run one a CPU at once."""
    pchunks = [patterns[i:i + PATTERN_CHUNK] for i in range(0, len(patterns), PATTERN_CHUNK)]
    jobs = [(fc, pc) for fc in argv_chunks(paths) for pc in pchunks]
    best, gone = {}, set()
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        for hits, g in pool.map(lambda j: grep_fixed(*j), jobs):
            gone.update(g)
            for path, off, pat in hits:
                if len(pat) > len(best.get((path, off), b"")):
                    best[(path, off)] = pat
    return [(path, off, pat) for (path, off), pat in sorted(best.items())], gone


def audit(registry, roots, out=sys.stdout):
    """Print hits (fingerprints only); return their number."""
    toks = read_registry(registry)
    if not toks:
        print("redaction audit: %s holds no tokens: nothing to look for" % registry, file=out)
        return 0
    where = {}
    for test, tok in toks:
        for f, name in forms(tok).items():
            where.setdefault(f, (test, tok, name))
    paths = files_under(roots, {os.path.realpath(registry)})
    hits, gone = search(paths, list(where)) if paths else ([], set())
    byfile = {}
    for path, off, pat in hits:
        byfile.setdefault(path, []).append((off, pat))
    for path, found in list(byfile.items())[:MAX_FILES]:
        for off, pat in found[:PER_FILE]:
            # grep -o reports the longest match: one of the forms, or one holding it.
            test, tok, name = where.get(pat) or next(v for f, v in where.items() if f in pat)
            print("LEAK %s:%d: %s of token %s (minted by %s)" % (path, off, name, fingerprint(tok), test), file=out)
        if len(found) > PER_FILE:
            print("LEAK %s: ... and %d more hits in this file" % (path, len(found) - PER_FILE), file=out)
    if len(byfile) > MAX_FILES:
        print("... and %d more files with hits" % (len(byfile) - MAX_FILES), file=out)
    nbytes = sum(os.path.getsize(p) for p in paths if os.path.exists(p))
    print("redaction audit: %d tokens (%d forms) in %d files (%d bytes): %d hits in %d files%s"
          % (len(toks), len(where), len(paths), nbytes, len(hits), len(byfile),
             "; %d removed while searched" % len(gone) if gone else ""), file=out)
    return len(hits)


def planted(tok):
    """[(name, content, offset of the form, form name)]: the token encoded
    the way a leak would encode it, by encoders independent of forms():
    inside a longer percent-encoded string, and inside base64 of a text
    where it follows 0-5 random bytes and precedes 0-2 more."""
    unreserved = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    pct = lambda data, fmt, every: "".join(chr(b) if b in unreserved and not every else fmt % b for b in data).encode()
    out = [("raw", b"prefix: " + tok + b"\n", 8, "raw")]
    for fmt, case in (("%%%02X", ""), ("%%%02x", "-lower")):
        out.append(("percent" + case, b"q=" + pct(b"a=" + tok + b"&", fmt, False), 2 + 4, "percent" + case))
        out.append(("percent-all" + case, pct(b"AB" + tok, fmt, True), 6, "percent-all" + case))
    out.append(("hex", b"dump: " + binascii.hexlify(b"\x00\x01" + tok) + b"\n", 6 + 4, "hex"))
    out.append(("hex-upper", b"DUMP " + binascii.hexlify(tok).upper(), 5, "hex-upper"))
    for k in range(6):
        for alphabet, enc in (("", base64.b64encode), ("url", base64.urlsafe_b64encode)):
            hdr = b"Authorization: Basic "
            text = enc(os.urandom(k) + tok + os.urandom(k % 3))
            out.append(("base64%s-pre%d" % (alphabet, k), hdr + text + b"\r\n", len(hdr) + (4 * k + 2) // 3,
                        "base64%s+%d" % (alphabet, k % 3)))
    return out


def check_planted(reg, d, want, tok):
    """Run the audit over the self-test's tree; [failure] against want."""
    fails = []
    buf = io.StringIO()
    n = audit(reg, [os.path.join(d, "logs"), os.path.join(d, "art")], buf)
    text = buf.getvalue()
    got = {}
    for line in text.splitlines():
        if line.startswith("LEAK "):
            loc, _, rest = line[5:].partition(": ")
            p, _, off = loc.rpartition(":")
            got[(p, int(off))] = rest.split(" of token")[0]
    for k, name in want.items():
        if got.get(k) != name:
            fails.append("planted %s at %s:%d not reported (got %r)" % (name, os.path.basename(k[0]), k[1], got.get(k)))
    for k in got:
        if k not in want:
            fails.append("unexpected hit %s:%d" % (os.path.relpath(k[0], d), k[1]))
    if n != len(want):
        fails.append("%d hits, want %d" % (n, len(want)))
    if tok.decode() in text or any(f.decode() in text for f in forms(tok)):
        fails.append("the audit printed the token")
    if fingerprint(tok) not in text:
        fails.append("no fingerprint in the report")
    return fails


def check_gone():
    """A file gone between the walk and grep is counted, not an error,
    and the hit in the file beside it still found; a file grep cannot
    read for another reason is an error."""
    import secrets
    fails = []
    tok = secrets.token_urlsafe(30).encode()
    with tempfile.TemporaryDirectory(prefix="tw-audit-gone.") as d:
        here, gone = os.path.join(d, "here"), os.path.join(d, "gone")
        with open(here, "wb") as f:
            f.write(b"x " + tok + b"\n")
        hits, g = search([gone, here], [tok])
        if [(p, o) for p, o, _ in hits] != [(here, 2)] or g != {gone}:
            fails.append("a removed file: hits %r, gone %r" % ([(os.path.basename(p), o) for p, o, _ in hits], g))
        try:
            search([d], [tok])         # a directory: grep says "Is a directory"
            fails.append("a path grep cannot read passed as clean")
        except RuntimeError:
            pass
    return fails


def self_test():
    """Plant a token in every form in fake artefacts: the audit must report
    each at its offset, skip leak-input/, FIFOs and symlinks, and never
    print the token."""
    import secrets
    fails = []
    with tempfile.TemporaryDirectory(prefix="tw-audit-selftest.") as d:
        # Reserved characters, and "~~~": at every alignment one '~' makes
        # a '+' in standard base64, so the two alphabets differ and all 13
        # forms are distinct strings.
        tok = ("tw+/=~~~" + secrets.token_urlsafe(40)).encode()
        assert len(forms(tok)) == 13, sorted(forms(tok).values())
        clean = secrets.token_urlsafe(40).encode()      # registered, never written
        art = os.path.join(d, "art", "t1")
        reg = os.path.join(d, "logs", "minted-tokens")
        os.makedirs(os.path.join(d, "logs"))
        os.makedirs(os.path.join(art, "leak-input"))
        with open(reg, "wb") as f:
            for t in (tok, clean):
                f.write(b"selftest\t" + t[::-1].hex().encode() + b"\n")
        want = {}
        for name, content, off, form in planted(tok):
            with open(os.path.join(art, name), "wb") as f:
                f.write(content)
            want[(os.path.join(art, name), off)] = form
        with open(os.path.join(art, "db-wal"), "wb") as f:
            f.write(b"\0\1\2SQLite" + b"\0" * 100 + tok + b"\xff" * 10)
        want[(os.path.join(art, "db-wal"), 109)] = "raw"
        for p in (os.path.join(art, "leak-input", "app.log"), os.path.join(art, "leak-input-list")):
            with open(p, "wb") as f:
                f.write(b"token=" + tok + b"\n")
        os.mkfifo(os.path.join(art, "fifo"))       # never opened: would hang
        os.symlink(os.path.join(art, "leak-input", "app.log"), os.path.join(art, "link"))
        # Once as the suite runs it, once with the patterns cut into chunks
        # of 3: a form must be found whichever grep holds it.
        global PATTERN_CHUNK
        for chunk in (PATTERN_CHUNK, 3):
            PATTERN_CHUNK, saved = chunk, PATTERN_CHUNK
            fails += ["(chunks of %d) %s" % (chunk, f) for f in check_planted(reg, d, want, tok)]
            PATTERN_CHUNK = saved
    fails += check_gone()
    for f in fails:
        print("not ok:", f)
    print("redaction audit self-test: %d plantings, %d failures" % (len(want), len(fails)))
    return 1 if fails else 0


def main(argv):
    if argv[1:2] == ["--self-test"]:
        return self_test()
    if len(argv) < 4 or argv[1] != "--tokens":
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        return 1 if audit(argv[2], argv[3:]) else 0
    except (OSError, RuntimeError) as e:
        print("redaction audit: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
