#!/usr/bin/env python3
"""The deepest BPF stack each program of an object can reach, from its code.

usage: bpf-stack.py OBJECT [LIMIT]

The verifier refuses a program whose deepest chain of calls (bpf-to-bpf
calls, global functions and bpf_loop callbacks alike) uses more than 512
bytes of stack in all. Some kernels give tracing programs a private stack
and accept more; 6.18.44 does not, and refused tw_sendmsg at 608 bytes
while the kernel the suite ran on the day before loaded it. So the bound
is checked here, on the object, whatever kernel runs the tests.

Each function's frame is the deepest stack slot its code touches: a store
or load at r10 - N, or a pointer r10 - N handed on (to a helper that fills
it). Frames are rounded up to 16 bytes, as the verifier does for a JIT.
Edges are calls, which name their callee in a relocation (clang emits
one for every bpf-to-bpf call of an object), and function addresses
loaded for a callback (a relocation against .text, the address in the
immediate). Prints
one line per program, deepest first: its total and the chain; exits 1 when
a program's total passes LIMIT (default 512), 2 on a usage error.
"""
import re
import subprocess
import sys

FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:")
INSN = re.compile(r"^\s*(\d+):\s+(.*)$")
RELOC = re.compile(r"^\s*[0-9a-f]+:\s+(R_BPF_\w+)\s+(\S+)")
SECTION = re.compile(r"^Disassembly of section (\S+):")


def disassemble(obj):
    tool = next((t for t in ("llvm-objdump-14", "llvm-objdump") if subprocess.run(
        ["sh", "-c", f"command -v {t}"], capture_output=True).returncode == 0), None)
    if not tool:
        sys.exit("bpf-stack: llvm-objdump is not installed (make deps)")
    r = subprocess.run([tool, "-dr", "--no-show-raw-insn", obj], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"bpf-stack: {obj}: {r.stderr.strip()}")
    return r.stdout.splitlines()


def parse(lines):
    """functions: key -> {name, section, insns: [[idx, text, reloc]]}; a
    static function's name may repeat (one copy per object linked), so
    the key is its section and first instruction."""
    funcs, section, cur, order = {}, None, None, {}
    for line in lines:
        m = SECTION.match(line)
        if m:
            section, cur = m.group(1), None
            continue
        m = FUNC.match(line)
        if m:
            if not m.group(2).startswith("LBB"):
                start = int(m.group(1), 16) // 8
                cur = {"name": m.group(2), "section": section, "insns": []}
                funcs[(section, start)] = cur
                order.setdefault(section, []).append(start)
            continue
        m = RELOC.match(line)
        if m and cur is not None and cur["insns"]:
            cur["insns"][-1][2] = m.group(2)
            continue
        m = INSN.match(line)
        if m and cur is not None:
            cur["insns"].append([int(m.group(1)), m.group(2), None])
    return funcs, order


def frame(insns):
    """The deepest slot touched, and pointers into the frame handed on."""
    deepest, fp = 0, set()
    for _, text, _ in insns:
        for n in re.findall(r"r10 - (\d+)", text):
            deepest = max(deepest, int(n))
        m = re.match(r"(r\d+) = r10$", text)
        if m:
            fp.add(m.group(1))
            continue
        m = re.match(r"(r\d+) \+= -(\d+)$", text)
        if m and m.group(1) in fp:
            deepest = max(deepest, int(m.group(2)))
            continue
        m = re.match(r"(r\d+) = ", text)
        if m:
            fp.discard(m.group(1))
    return deepest


def owner(order, section, idx):
    starts = [st for st in order.get(section, []) if st <= idx]
    return (section, max(starts)) if starts else None


def by_name(funcs, name):
    """A global function: its name is unique."""
    return next((k for k, f in funcs.items() if f["name"] == name and f["section"] == ".text"), None)


def callees(funcs, order, key):
    """Calls name their callee, or .text with the callee's instruction
    in the immediate (imm + 1, as libbpf reads it); a callback is an
    ld_imm64 of its byte offset in .text."""
    out = set()
    for _, text, reloc in funcs[key]["insns"]:
        if not reloc:
            continue
        m = re.match(r"call (-?\d+)$", text)
        if m:
            out.add(owner(order, ".text", int(m.group(1)) + 1) if reloc == ".text"
                    else by_name(funcs, reloc))
            continue
        m = re.match(r"r\d+ = (\d+) ll$", text)
        if m and reloc == ".text":
            out.add(owner(order, ".text", int(m.group(1)) // 8))
    out.discard(key)
    out.discard(None)
    return sorted(out)


def deepest(funcs, order, key, sizes, seen=()):
    if key in seen:
        sys.exit(f"bpf-stack: recursion through {funcs[key]['name']}")
    best, chain = 0, []
    for c in callees(funcs, order, key):
        d, ch = deepest(funcs, order, c, sizes, seen + (key,))
        if d > best:
            best, chain = d, ch
    return sizes[key] + best, [key] + chain


def main():
    if len(sys.argv) not in (2, 3) or not sys.argv[-1]:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    limit = int(sys.argv[2]) if len(sys.argv) == 3 else 512
    funcs, order = parse(disassemble(sys.argv[1]))
    sizes = {n: -(-frame(f["insns"]) // 16) * 16 for n, f in funcs.items()}
    progs = [k for k, f in funcs.items() if f["section"] != ".text"]
    if not progs:
        sys.exit(f"bpf-stack: {sys.argv[1]}: no programs")
    rows = sorted(((*deepest(funcs, order, p, sizes), p) for p in progs), reverse=True)
    bad = 0
    for total, chain, prog in rows:
        over = total > limit
        bad += over
        print(f"{'OVER' if over else 'ok  '} {total:4d} {funcs[prog]['name']}: " +
              " > ".join(f"{funcs[c]['name']} {sizes[c]}" for c in chain))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
