#!/usr/bin/python3
"""A journal socket of the test's own, for t_journal.sh.

usage: journal.py SOCKET OUT -- COMMAND [ARG...]

Binds a datagram socket at SOCKET (the path systemd-journald listens on,
/run/systemd/journal/socket, inside a private mount namespace), runs
COMMAND with its standard error to OUT.stderr and JOURNAL_STREAM naming
that file's device and inode (as systemd does for a unit whose standard
error is the journal), and decodes every datagram COMMAND sends in the
journal's native protocol: "KEY=value\\n", or "KEY\\n" with a 64-bit
little-endian length and the value. Each entry is one JSON object per
line in OUT. Exits with COMMAND's status. Every wait is bounded.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

MAX_DATAGRAM = 1 << 20
RUN_SECONDS = 120


def decode(data):
    """One native-protocol datagram as a dict of field -> value."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


def drain(sock, out):
    while True:
        try:
            data = sock.recv(MAX_DATAGRAM)
        except BlockingIOError:
            return
        out.write(json.dumps(decode(data)) + "\n")


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.stderr.write(__doc__)
        sys.exit(2)
    path, out_path, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    with open(out_path + ".stderr", "wb") as err, \
            open(out_path, "w") as out:
        st = os.fstat(err.fileno())
        env = dict(os.environ,
                   JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        proc = subprocess.Popen(cmd, stderr=err, env=env)
        deadline = time.monotonic() + RUN_SECONDS
        while proc.poll() is None and time.monotonic() < deadline:
            drain(sock, out)
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        rc = proc.wait()
        drain(sock, out)
    sock.close()
    os.unlink(path)
    sys.exit(rc)


if __name__ == "__main__":
    main()
