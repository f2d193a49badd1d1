#!/usr/bin/python3
"""The apply hook the tests use. usage: hook.py LOG CTLDIR

Reads one item as JSON on standard input. Fails (exit 3, a message on
stderr) for employee ids listed in CTLDIR/fail, hangs for those in
CTLDIR/hang, writes 5 MB to stderr and fails for those in CTLDIR/spew;
otherwise appends "TYPE ID RUN:ITEM" to LOG and answers JSON on stdout.
With CTLDIR/sleep (seconds), every item takes that long first. For ids in
CTLDIR/leave it starts a process that keeps its stdout and stderr open
until CTLDIR/release exists (60 s at most), its pid appended to
CTLDIR/left, and then answers as usual.
It also records the names of its environment variables in CTLDIR/env,
and the descriptors it found open above 2 in CTLDIR/fds.
"""
import json
import os
import sys
import time

from left_behind import leave

log, ctl = sys.argv[1], sys.argv[2]
inherited = []
for fd in range(3, 1024):
    try:
        os.fstat(fd)
        inherited.append(str(fd))
    except OSError:
        pass
item = json.load(sys.stdin)
eid = item.get("employee_id") or item.get("team") or ""


def listed(name):
    try:
        with open(os.path.join(ctl, name)) as f:
            return eid in f.read().split()
    except FileNotFoundError:
        return False


with open(os.path.join(ctl, "env"), "w") as f:
    f.write(" ".join(sorted(os.environ)) + "\n")
with open(os.path.join(ctl, "fds"), "w") as f:
    f.write(" ".join(inherited) + "\n")
try:
    with open(os.path.join(ctl, "sleep")) as f:
        time.sleep(float(f.read()))
except FileNotFoundError:
    pass
if listed("leave"):
    leave(ctl)
if listed("hang"):
    time.sleep(3600)
if listed("spew"):
    sys.stderr.write("x" * (5 << 20))
    sys.exit(4)
if listed("fail"):
    print("the directory refused %s" % eid, file=sys.stderr)
    sys.exit(3)
with open(log, "a") as f:
    f.write("%s %s %s\n" % (item["type"], eid, os.environ["ROSTERSYNC_ITEM"]))
print(json.dumps({"ok": True, "id": eid}))
