#!/usr/bin/python3
"""The stream-mode apply hook the tests use. usage: stream_hook.py LOG CTLDIR

Reads items as JSON lines on standard input, takes whatever lines have
arrived (up to ROSTERSYNC_WINDOW, waiting 20 ms for more) and answers them
in reverse order. LOG gets "start PID", "recv RUN:ITEM TYPE ID" for each
line read and "ans RUN:ITEM TYPE ID ok|fail" for each answer. For ids listed
in a file of CTLDIR it misbehaves when it reads the item:
  fail     answers {"ok": false, "error": "the directory refused ID"}
  die      exits with status 9 (only once: CTLDIR/died marks it)
  hang     stops answering and sleeps (only once: CTLDIR/hung)
  garbage  writes a line that is not JSON (only once: CTLDIR/garbled)
  stranger answers for an item that is not in flight (once: CTLDIR/strange)
  dieall   exits at once on every start, before answering anything
With CTLDIR/leave, each start first starts a process that keeps its
stdout and stderr open until CTLDIR/release exists (60 s at most), its pid
appended to CTLDIR/left.
It records its environment's names in CTLDIR/env.
"""
import json
import os
import select
import sys
import time

from left_behind import leave

log, ctl = sys.argv[1], sys.argv[2]
window = int(os.environ.get("ROSTERSYNC_WINDOW", "1"))


def listed(name, eid):
    try:
        with open(os.path.join(ctl, name)) as f:
            return eid in f.read().split()
    except FileNotFoundError:
        return False


def once(mark):
    path = os.path.join(ctl, mark)
    if os.path.exists(path):
        return False
    open(path, "w").close()
    return True


def note(text):
    with open(log, "a") as f:
        f.write(text + "\n")


with open(os.path.join(ctl, "env"), "w") as f:
    f.write(" ".join(sorted(os.environ)) + "\n")
note("start %d" % os.getpid())
if os.path.exists(os.path.join(ctl, "leave")):
    leave(ctl)
if os.path.exists(os.path.join(ctl, "dieall")):
    sys.exit(5)
out = sys.stdout
fd = sys.stdin.fileno()
got = b""
pending = []
eof = False


def next_line(timeout):
    """A whole line, b"" at the end, or None when none came in time."""
    global got
    while b"\n" not in got:
        if not select.select([fd], [], [], timeout)[0]:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return b""
        got += chunk
    line, got = got.split(b"\n", 1)
    return line


while not eof or pending:
    while not eof and len(pending) < window:
        line = next_line(0.02 if pending else 30)
        if line is None:
            break
        if not line:
            eof = True
            break
        item = json.loads(line)
        eid = item.get("employee_id") or item.get("team") or ""
        tag = "%d:%d %s %s" % (item["run"], item["item"], item["type"], eid)
        note("recv " + tag)
        if listed("die", eid) and once("died"):
            sys.exit(9)
        if listed("hang", eid) and once("hung"):
            time.sleep(3600)
        if listed("garbage", eid) and once("garbled"):
            out.write("this is not an answer\n")
            out.flush()
        if listed("stranger", eid) and once("strange"):
            out.write(json.dumps({"run": item["run"], "item": 999999,
                                  "ok": True}) + "\n")
            out.flush()
        pending.append((item, eid, tag))
    for item, eid, tag in reversed(pending):
        if listed("fail", eid):
            ans = {"run": item["run"], "item": item["item"], "ok": False,
                   "error": "the directory refused %s" % eid}
            note("ans %s fail" % tag)
        else:
            ans = {"run": item["run"], "item": item["item"], "ok": True,
                   "response": {"id": eid, "type": item["type"]}}
            note("ans %s ok" % tag)
        out.write(json.dumps(ans) + "\n")
    out.flush()
    pending = []
