#!/usr/bin/env python3
"""walpages.py DB WAL - the pages the last transaction in WAL wrote, by B-tree.

WAL is a copy of DB's write-ahead log taken before anything checkpointed
it (rostersync killed by ROSTERSYNC_FAULT=run.committed).  Its frames are
read as SQLite's file format defines them (a 32-byte header, then frames
of a 24-byte header and a page, valid while their salts are the
header's); the last transaction is the frames after the last commit
frame but one, up to the last.  Each page is named by DB's dbstat (the
table or index it belongs to, "(leaf)", "(internal)" or "(overflow)";
"(free)" for one on the free list).  Prints "NAME (KIND) COUNT" lines,
sorted, and exits 1 when the WAL holds no committed transaction.
"""
import sqlite3
import struct
import sys


def last_transaction(path):
    with open(path, "rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return []
        size = struct.unpack(">I", head[8:12])[0]
        salts = head[16:24]
        frames, commits = [], []
        while True:
            fh = f.read(24)
            if len(fh) < 24 or fh[8:16] != salts:
                break
            if len(f.read(size)) < size:
                break
            page, commit = struct.unpack(">II", fh[:8])
            frames.append(page)
            if commit:
                commits.append(len(frames))
    if not commits:
        return []
    start = commits[-2] if len(commits) > 1 else 0
    return frames[start:commits[-1]]


def main():
    pages = last_transaction(sys.argv[2])
    if not pages:
        print("no committed transaction in %s" % sys.argv[2],
              file=sys.stderr)
        return 1
    con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    owner = {p: "%s (%s)" % (n, t) for n, p, t in
             con.execute("SELECT name, pageno, pagetype FROM dbstat")}
    counts = {}
    for p in set(pages):
        k = owner.get(p, "(free)")
        counts[k] = counts.get(k, 0) + 1
    for k in sorted(counts):
        print(k, counts[k])
    return 0


if __name__ == "__main__":
    sys.exit(main())
