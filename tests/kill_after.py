#!/usr/bin/python3
"""A stream hook that dies mid-run. usage: kill_after.py N MARK PROGRAM ARGS...

Runs PROGRAM (a stream hook such as rostersync-ldap), passing it every line
rostersync writes and passing back its answers. The first time (MARK does
not exist yet; it is made), once N answers went back it kills PROGRAM with
SIGKILL, as a crash would, and exits 9 itself: the lines PROGRAM had taken
and not answered are lost with it. Later starts pass everything through.
"""
import os
import select
import signal
import subprocess
import sys

n, mark, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
armed = not os.path.exists(mark)
if armed:
    open(mark, "w").close()
child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)
fin, fout = sys.stdin.fileno(), child.stdout.fileno()
answered, rbuf, open_in = 0, b"", True
while True:
    fds = [fout] + ([fin] if open_in else [])
    for fd in select.select(fds, [], [], 60)[0]:
        data = os.read(fd, 65536)
        if fd == fin:
            if data:
                child.stdin.write(data)
            else:
                child.stdin.close()
                open_in = False
            continue
        if not data:
            sys.exit(child.wait())
        rbuf += data
        while b"\n" in rbuf:
            line, rbuf = rbuf.split(b"\n", 1)
            os.write(1, line + b"\n")
            answered += 1
            if armed and answered >= n:
                child.send_signal(signal.SIGKILL)
                child.wait()
                sys.exit(9)
