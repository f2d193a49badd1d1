#!/usr/bin/env python3
"""Check the query plans rostersync wrote with ROSTERSYNC_PLANS=FILE.

plans.py FILE: FILE holds "SQL text" lines, each followed by the
"PLAN detail" lines of its EXPLAIN QUERY PLAN (store.c). Every SCAN must
be of a table no bigger than the number of syncs (the counts tables), of
a CTE or subquery already read through indexes, or of a constant row; a
SCAN of any other table (users, items, changes, runs, issues...) is
reported with its statement, and the exit status is 1. Prints one line
per statement: "ok" or "SCAN" and its first words.
"""
import re
import sys

# Tables whose full scan is fine: one row per sync (dircount), per sync
# and email page (dirpages), per sync whose directory was written (syncs).
SMALL = {
    "dircount": "one row per sync",
    "dirpages": "one row per sync and email page",
    "syncs": "one row per sync",
}
KEYWORDS = {"where", "on", "join", "left", "inner", "cross", "natural",
            "using", "group", "order", "limit", "union", "indexed", "set",
            "values", "as", "select", "and", "or", "not", "exists"}


def aliases(sql):
    """alias -> table of a statement, and the names of its CTEs."""
    amap = {}
    for m in re.finditer(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?",
                         sql, re.I):
        table, alias = m.group(1), m.group(2)
        amap[table] = table
        if alias and alias.lower() not in KEYWORDS:
            amap[alias] = table
    ctes = set(re.findall(r"(?:\bWITH(?:\s+RECURSIVE)?|,)\s*(\w+)\s*"
                          r"(?:\([^)]*\))?\s+AS\s+(?:MATERIALIZED\s+)?\(",
                          sql, re.I))
    return amap, ctes


def check(sql, plan):
    """The SCANs of a statement's plan that are not fine."""
    amap, ctes = aliases(sql)
    bad = []
    for line in plan:
        m = re.match(r"SCAN (\w+)", line)
        if not m or line.startswith("SCAN CONSTANT ROW"):
            continue
        name = m.group(1)
        table = amap.get(name, name)
        if name in ctes and table == name:
            continue
        if table in SMALL:
            continue
        bad.append("%s (table %s)" % (line, table))
    return bad


def main():
    stmts = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("SQL "):
                stmts.append((line[4:], []))
            elif line.startswith("PLAN ") and stmts:
                stmts[-1][1].append(line[5:])
    if not stmts:
        print("no statement in", sys.argv[1])
        return 1
    failed = 0
    for sql, plan in stmts:
        bad = check(sql, plan)
        words = " ".join(sql.split()[:8])
        if bad:
            failed = 1
            print("SCAN", words, "|", "; ".join(bad))
        else:
            print("ok", words)
    return failed


if __name__ == "__main__":
    sys.exit(main())
