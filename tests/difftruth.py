#!/usr/bin/env python3
"""difftruth.py - count the differences between two HR exports.

    difftruth.py PREV.csv NEXT.csv [--compare TRUTH.json]

Python 3 standard library only, and deliberately independent of
genexport.py: it knows nothing about how the files were made and only
compares them, keyed by employee_id.  It prints JSON with the same counts as
genexport.py's --truth file:

  prev_rows, next_rows        data rows in each file
  creates                     ids only in NEXT
  deletes                     ids only in PREV
  terminations                ids in both whose employment_status became
                              "Terminated" (a sync treats them as deletions;
                              they are counted nowhere else)
  updates                     other ids in both with >=1 changed field
                              besides manager_id
  manager_changes             other ids in both whose manager_id changed
  changed_rows                other ids in both with any changed field
  field_changes               changed (id, column) cells, manager_id included
  field_changes_by_column     per column, non-zero columns only

Both files may use any of the dialects the loader accepts: UTF-8 with or
without BOM, UTF-16 LE/BE with BOM, an Excel "sep=X" first line, delimiter
',', ';', TAB or '|', LF or CRLF, blank lines.  The two headers must name the
same columns (order may differ).  A malformed row, a duplicate or missing
employee_id is an error (exit status 2).

With --compare TRUTH.json the keys of TRUTH.json that are also counted here
are compared (other keys, e.g. prev_file or seed, are ignored; a missing key
is not checked); mismatches are listed on stderr and the exit status is 1.
"""
import codecs
import csv
import io
import json
import sys

KEY = "employee_id"
MANAGER = "manager_id"
STATUS = "employment_status"
TERMINATED = "Terminated"
COUNT_KEYS = ["prev_rows", "next_rows", "creates", "deletes", "updates",
              "manager_changes", "changed_rows", "field_changes",
              "field_changes_by_column", "terminations"]


class ExportError(Exception):
    pass


def open_text(path):
    """Text stream of `path` with the byte order mark (if any) consumed."""
    raw = open(path, "rb")
    lead = raw.peek(3)[:3] if hasattr(raw, "peek") else b""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"),
                     (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if lead.startswith(bom):
            raw.read(len(bom))
            return io.TextIOWrapper(raw, encoding=enc, newline="")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def records(path):
    """Yield the header, then (line_number, fields) for every data row."""
    stream = open_text(path)
    with stream:
        first = stream.readline()
        stripped = first.rstrip("\r\n")
        pending = []
        if stripped[:4].lower() == "sep=" and len(stripped) == 5:
            delimiter = stripped[4]
        else:
            counts = {d: stripped.count(d) for d in (",", ";", "\t", "|")}
            delimiter = sorted(counts, key=lambda d: -counts[d])[0]
            pending.append(first)

        def lines():
            yield from pending
            yield from stream

        reader = csv.reader(lines(), delimiter=delimiter, quotechar='"',
                            doublequote=True, strict=True)
        header = None
        for fields in reader:
            if not fields or fields == [""]:
                continue
            if header is None:
                header = fields
                if KEY not in header:
                    raise ExportError("%s: no %s column" % (path, KEY))
                if len(set(header)) != len(header):
                    raise ExportError("%s: duplicate column names" % path)
                yield header
                continue
            if len(fields) != len(header):
                raise ExportError("%s: record ending on line %d has %d "
                                  "fields, header has %d"
                                  % (path, reader.line_num, len(fields),
                                     len(header)))
            yield reader.line_num, fields
        if header is None:
            raise ExportError("%s: no header" % path)


SEP = "\x1f"   # unit separator: joins a stored row into one string


def pack(values):
    """One previous row, kept compactly (one string unless SEP occurs)."""
    joined = SEP.join(values)
    if joined.count(SEP) == len(values) - 1:
        return joined
    return tuple(values)


def unpack(stored):
    return stored.split(SEP) if isinstance(stored, str) else list(stored)


def diff(prev_path, next_path):
    prev = {}
    it = records(prev_path)
    columns = next(it)
    key_i = columns.index(KEY)
    for line, fields in it:
        key = fields[key_i]
        if not key:
            raise ExportError("%s:%d: empty %s" % (prev_path, line, KEY))
        if key in prev:
            raise ExportError("%s:%d: duplicate %s %s"
                              % (prev_path, line, KEY, key))
        prev[key] = pack(fields)

    it = records(next_path)
    next_header = next(it)
    if sorted(next_header) != sorted(columns):
        raise ExportError("the two headers differ: %r vs %r"
                          % (columns, next_header))
    # position in a NEXT row of each column, in PREV's column order
    where = [next_header.index(c) for c in columns]
    nkey_i = next_header.index(KEY)
    status_i = columns.index(STATUS) if STATUS in columns else None
    manager_i = columns.index(MANAGER) if MANAGER in columns else None

    per_column = [0] * len(columns)
    n = dict.fromkeys(COUNT_KEYS, 0)
    n["prev_rows"] = len(prev)
    seen = set()
    for line, fields in it:
        key = fields[nkey_i]
        if not key:
            raise ExportError("%s:%d: empty %s" % (next_path, line, KEY))
        if key in seen:
            raise ExportError("%s:%d: duplicate %s %s"
                              % (next_path, line, KEY, key))
        seen.add(key)
        n["next_rows"] += 1
        old = prev.pop(key, None)
        if old is None:
            n["creates"] += 1
            continue
        new = [fields[i] for i in where]
        if pack(new) == old:
            continue                       # identical row
        old = unpack(old)
        if (status_i is not None and new[status_i] == TERMINATED
                and old[status_i] != TERMINATED):
            n["terminations"] += 1
            continue
        changed = [i for i in range(len(columns)) if new[i] != old[i]]
        n["changed_rows"] += 1
        n["field_changes"] += len(changed)
        for i in changed:
            per_column[i] += 1
        if manager_i in changed:
            n["manager_changes"] += 1
        if any(i != manager_i for i in changed):
            n["updates"] += 1
    n["deletes"] = len(prev)          # whatever was never matched
    n["field_changes_by_column"] = {c: v for c, v in zip(columns, per_column)
                                    if v}
    return n


def compare(counted, truth):
    """List of human-readable mismatches between our counts and `truth`."""
    problems = []
    for k in COUNT_KEYS:
        if k not in truth:
            continue
        want, got = truth[k], counted[k]
        if k == "field_changes_by_column":
            want = {c: v for c, v in (want or {}).items() if v}
        if want != got:
            problems.append("%s: truth %s, files %s"
                            % (k, json.dumps(want, sort_keys=True),
                               json.dumps(got, sort_keys=True)))
    return problems


def main(argv):
    args = list(argv)
    truth_path = None
    if "--compare" in args:
        i = args.index("--compare")
        if i + 1 >= len(args):
            sys.exit("--compare needs a file")
        truth_path = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or any(a.startswith("-") for a in args):
        sys.stderr.write("usage: difftruth.py PREV.csv NEXT.csv "
                         "[--compare TRUTH.json]\n")
        return 2
    try:
        counted = diff(args[0], args[1])
    except (ExportError, csv.Error, UnicodeDecodeError, OSError) as e:
        sys.stderr.write("difftruth: %s\n" % e)
        return 2
    json.dump(counted, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if truth_path:
        with open(truth_path, encoding="utf-8") as f:
            truth = json.load(f)
        problems = compare(counted, truth)
        for p in problems:
            sys.stderr.write("difftruth: mismatch %s\n" % p)
        if problems:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
