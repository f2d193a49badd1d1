#!/bin/bash
# The tree reads top to bottom: from the objects the build made, which
# module calls which (nm), and that no two modules call each other, even
# through others, and that a stage of the pipeline
#
#   fetch -> load -> validate -> diff -> guard -> apply -> report -> publish
#
# calls no stage after it: what a stage needs of the ones before it, or
# of the shared parts below them all (the store, the job's key table, the
# known-lines hashes, util, log), it calls down. run.c and the commands
# sit on top.
. "$(dirname "$0")/lib.sh"

OBJ=$(dirname "$ROSTERSYNC")
if ! command -v nm >/dev/null || ! ls "$OBJ"/*.o >/dev/null 2>&1; then
	skip "no objects or no nm beside $ROSTERSYNC"
	finish
fi
out=$($PYTHON - "$OBJ" <<'EOF'
import collections, os, subprocess, sys
d = sys.argv[1]
objs = sorted(f[:-2] for f in os.listdir(d) if f.endswith(".o") and
              not f.startswith(("test_", "rostersync-ldap", "rsbench")))
# A module is one object, but the store is one module of several
# (store.c and store_*.c, which share store_int.h).
def module(o):
    return "store" if o.startswith("store_") else o
defs, undefs = collections.defaultdict(set), collections.defaultdict(set)
for o in objs:
    out = subprocess.run(["nm", os.path.join(d, o + ".o")],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "TDBR":
            defs[module(o)].add(p[2])
        elif len(p) == 2 and p[0] == "U":
            undefs[module(o)].add(p[1])
objs = sorted(set(module(o) for o in objs))
owner = {s: o for o in objs for s in defs[o]}
calls = collections.defaultdict(dict)
for o in objs:
    for s in undefs[o]:
        if owner.get(s, o) != o:
            calls[o].setdefault(owner[s], []).append(s)
# Cycles: strongly connected modules (Tarjan).
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in calls[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v:
                break
        sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for v in objs:
    if v not in index:
        visit(v)
for c in sccs:
    if len(c) > 1:
        print("cycle: " + " ".join(c) + " (" + "; ".join(
            "%s -> %s: %s" % (a, b, ", ".join(sorted(calls[a][b])[:3]))
            for a in c for b in c if b in calls[a]) + ")")
# Stages in pipeline order, each with the files it is made of.
stages = [["fetch", "fetch_dir", "fetch_sftp", "sftp_xfer"],
          ["load", "load_csv", "load_xlsx", "xmltok"], ["validate"], ["diff"],
          ["guard"], ["apply", "hook", "hook_stream"],
          ["report", "summary", "report_csv", "report_xlsx", "runlog"],
          ["publish"]]
rank = {f: i for i, s in enumerate(stages) for f in s}
for a in objs:
    for b in calls[a]:
        if a in rank and b in rank and rank[b] > rank[a]:
            print("stage %s calls %s, a later stage: %s" % (
                a, b, ", ".join(sorted(calls[a][b])[:3])))
print("modules: %d" % len(objs))
EOF
)
eq "no module calls another that calls it back, even through others" \
    "$(printf '%s\n' "$out" | grep '^cycle' || true)" ""
eq "no stage calls a later stage of the pipeline" \
    "$(printf '%s\n' "$out" | grep '^stage' || true)" ""
check "the objects were read ($(printf '%s\n' "$out" | tail -1))" \
    test "$(printf '%s\n' "$out" | tail -1 | cut -d' ' -f2)" -gt 30

finish
