#!/usr/bin/env python3
"""Event stores (STATE_DIR/events.db) written the way the monitor writes
them (user/ledger/evstore.c, schema 1), for the report tests and the
1-million-verdict measurement. Nothing token-shaped is written: rows hold
token ids, paths and names only.

  evstore_gen.py spec DB SPEC.json       rows from a JSON spec (see tests/cli/test_report_store.sh)
  evstore_gen.py million DB TOKEN_ID NOW_NS [N]
                                         N (default 1,000,000) verdicts over the 23 h before NOW:
                                         every 10th of TOKEN_ID, the rest unmanaged; 2,000
                                         programs, 5,000 files, 40 rules
"""
import datetime, json, sqlite3, sys

SCHEMA = """
PRAGMA auto_vacuum=INCREMENTAL;
CREATE TABLE IF NOT EXISTS verdicts (id INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, token_id TEXT, sha256 TEXT,
 class TEXT, exposure INTEGER, action TEXT, rule TEXT, kind TEXT, pid INTEGER, uid INTEGER, comm TEXT, exe TEXT,
 path TEXT, dest TEXT, sni TEXT, host TEXT, container TEXT, decoded TEXT);
CREATE TABLE IF NOT EXISTS verdict_details (id INTEGER PRIMARY KEY, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS revocations (id INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, token_id TEXT, event TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS counters (id INTEGER PRIMARY KEY, at_ns INTEGER NOT NULL, run_ns INTEGER NOT NULL, counters TEXT NOT NULL);
PRAGMA user_version=1;
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS verdicts_at ON verdicts(at_ns);
CREATE INDEX IF NOT EXISTS verdicts_token ON verdicts(token_id, at_ns);
CREATE INDEX IF NOT EXISTS revocations_at ON revocations(at_ns);
CREATE INDEX IF NOT EXISTS counters_at ON counters(at_ns);
"""
COLS = "at_ns, token_id, class, exposure, action, rule, kind, pid, comm, exe, path, dest, container"


def ts(ns):
    return datetime.datetime.fromtimestamp(ns // 1000 / 1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def insert(db, rows):
    """rows: (column tuple, detail JSON) pairs; ids assigned in order."""
    start = (db.execute("SELECT coalesce(max(id), 0) FROM verdicts").fetchone()[0]) + 1
    vs, ds = [], []
    for i, (cols, detail) in enumerate(rows):
        vs.append((start + i,) + cols)
        ds.append((start + i, detail))
        if len(vs) == 50000:
            db.executemany("INSERT INTO verdicts (id, %s) VALUES (?,%s)" % (COLS, ",".join("?" * 13)), vs)
            db.executemany("INSERT INTO verdict_details (id, detail) VALUES (?,?)", ds)
            vs, ds = [], []
    db.executemany("INSERT INTO verdicts (id, %s) VALUES (?,%s)" % (COLS, ",".join("?" * 13)), vs)
    db.executemany("INSERT INTO verdict_details (id, detail) VALUES (?,?)", ds)


def spec(db, path):
    s = json.load(open(path))
    rows = []
    for v in s.get("verdicts", []):
        d = {"time": ts(v["at"]), "class": v.get("class", "file_write"), "exposure": v.get("exposure", True),
             "token_id": v.get("token"), "kind": v.get("kind", "file_write"), "pid": v.get("pid", 4242),
             "comm": v.get("comm", "agent"), "exe": v.get("exe", "/usr/bin/agent"), "uid": 0,
             "path": v.get("path"), "dest": v.get("dest"), "rule": v.get("rule", "tokenward"),
             "action": v.get("action", "revoke"), "parents": [{"pid": 1, "comm": "init", "exe": "/sbin/init", "uid": 0}]}
        rows.append(((v["at"], d["token_id"], d["class"], int(d["exposure"]), d["action"], d["rule"], d["kind"],
                      d["pid"], d["comm"], d["exe"], d["path"], d["dest"], v.get("container")), json.dumps(d)))
    rows.sort(key=lambda r: r[0][0])
    insert(db, rows)
    db.executemany("INSERT INTO counters (at_ns, run_ns, counters) VALUES (?,?,?)",
                   [(c["at"], c["run"], json.dumps({"lost": c.get("lost", {}), "cut": c.get("cut", {})}))
                    for c in s.get("counters", [])])


def million(db, tok, now, n):
    def rows():
        for i in range(n):
            at = now - 23 * 3600 * 10**9 + i * (23 * 3600 * 10**9 // n)
            mine = i % 10 == 0
            cls = "file_write" if mine else "unmanaged"
            p = "/var/log/app%d.log" % (i % 5000)
            d = json.dumps({"time": ts(at), "class": cls, "exposure": mine, "token_id": tok if mine else None,
                            "kind": "file_write", "pid": i % 30000, "comm": "w%d" % (i % 2000),
                            "exe": "/usr/bin/w%d" % (i % 2000), "path": p, "rule": "r%d" % (i % 40),
                            "action": "alert", "parents": [{"pid": 1, "comm": "init", "exe": "/sbin/init", "uid": 0}]})
            yield ((at, tok if mine else None, cls, int(mine), "alert", "r%d" % (i % 40), "file_write", i % 30000,
                    "w%d" % (i % 2000), "/usr/bin/w%d" % (i % 2000), p, None, None), d)
    insert(db, rows())


def main():
    mode, path = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(SCHEMA)
    if mode == "spec":
        spec(db, sys.argv[3])
    else:
        million(db, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 1000000)
    db.executescript(INDEXES)
    db.commit()


main()
