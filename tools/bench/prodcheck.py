#!/usr/bin/env python3
"""Findings on the production-like corpus (prodcorpus.py), for
tools/bench-scan.sh.

  prodcheck.py DIR TW_JSON TW1_JSON RG_OUT

Prints one JSON line (the summary) and then a markdown table: per form,
planted tokens, how many tokenward found (by sha256) and with which
decoding chain, how many ripgrep's matches hold. Exit 1 when tokenward
missed a planted token, reported a decoy or anything else, or when its
two thread counts disagree.
"""
import hashlib, json, os, re, sys

d, twp, tw1p, rgp = sys.argv[1:5]
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
planted, decoys = [], {}
for l in open(os.path.join(d, "prod-planted.tsv")):
    form, sha = l.rstrip("\n").split("\t")
    planted.append((form, sha))
for l in open(os.path.join(d, "prod-decoys.tsv")):
    form, sha = l.rstrip("\n").split("\t")
    decoys[sha] = form


def tw_load(p):
    out = []
    for l in open(p):
        o = json.loads(l)
        if "sha256" in o:
            out.append(o)
    return out


tw, tw1 = tw_load(twp), tw_load(tw1p)
chains = {}
for o in tw:
    chains.setdefault(o["sha256"], set()).add(o.get("decoded", ""))
rg = set()
for l in open(rgp, errors="replace"):
    m = l.rstrip("\n").split(":", 1)[1]
    m = re.sub(r"(?i)^authorization[\"']?\s*[:=]\s*[\"']?\s*bearer\s+", "", m)
    rg.add(h(m))
pset = {s for _, s in planted}
forms = []
per = {}
for form, sha in planted:
    if form not in per:
        forms.append(form)
        per[form] = [0, 0, 0, set()]
    r = per[form]
    r[0] += 1
    r[1] += sha in chains
    r[2] += sha in rg
    r[3] |= chains.get(sha, set())
summary = {
    "planted": len(planted), "decoys": len(decoys),
    "tokenward_findings": len(tw), "tokenward_found": sum(s in chains for s in pset),
    "tokenward_decoys": sum(s in chains for s in decoys),
    "tokenward_other": len(set(chains) - pset - set(decoys)),
    "threads_agree": [(o["line"], o["sha256"]) for o in tw] == [(o["line"], o["sha256"]) for o in tw1],
    "rg_matches": len(rg), "rg_planted": len(rg & pset), "rg_decoys": len(rg & set(decoys)),
    "rg_encoded_found": sum(per[f][2] for f in forms if not f.startswith("raw")),
}
print(json.dumps(summary))
print("| form | planted | tokenward found | chain reported | ripgrep found |")
print("| --- | ---: | ---: | --- | ---: |")
for f in forms:
    p, t, r, c = per[f]
    ch = ", ".join("`%s`" % x if x else "(raw)" for x in sorted(c)) or "-"
    print("| %s | %d | %d | %s | %d |" % (f, p, t, ch, r))
dr = {}
for sha, form in decoys.items():
    dr.setdefault(form, [0, 0, 0])
    dr[form][0] += 1
    dr[form][1] += sha in chains
    dr[form][2] += sha in rg
for form, (n, t, r) in dr.items():
    print("| decoy (checksum fails), %s | %d | %d | - | %d |" % (form, n, t, r))
ok = (summary["tokenward_found"] == len(pset) and not summary["tokenward_decoys"]
      and not summary["tokenward_other"] and summary["threads_agree"])
sys.exit(0 if ok else 1)
