#!/usr/bin/python3
"""The trivial apply hook of the bench: applies nothing, answers at once.

In exec mode (one process per item) it reads the item and exits 0; in
stream mode (ROSTERSYNC_HOOK_MODE=stream) it answers every line it reads.
The bench compares the two modes' time per item.
"""
import json
import os
import sys

if os.environ.get("ROSTERSYNC_HOOK_MODE") == "stream":
    for line in sys.stdin:
        item = json.loads(line)
        print(json.dumps({"run": item["run"], "item": item["item"],
                          "ok": True, "response": {}}), flush=True)
else:
    json.load(sys.stdin)
    print("{}")
