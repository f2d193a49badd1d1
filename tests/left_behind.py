"""What a careless hook does: leave a process behind holding its output.

leave(ctl) forks a child that keeps the hook's stdout and stderr open until
the test makes ctl/release (60 s at most), and appends its pid to ctl/left.
Used by tests/hook.py (exec mode) and tests/stream_hook.py (stream mode).
"""
import os
import time


def leave(ctl):
    pid = os.fork()
    if pid == 0:
        for _ in range(600):
            if os.path.exists(os.path.join(ctl, "release")):
                break
            time.sleep(0.1)
        os._exit(0)
    with open(os.path.join(ctl, "left"), "a") as f:
        f.write("%d\n" % pid)
