#!/usr/bin/env python3
"""genexport.py - synthetic HR export generator for the rostersync tests.

Python 3 standard library only.  Output depends only on the arguments (the
same --seed always gives byte-identical files).

Base export (a whole directory on "day 1"):
    genexport.py --rows 10000 --seed 1 -o day1.csv

Next-day export derived from a previous one, plus the expected diff:
    genexport.py --mutate day1.csv --seed 2 --truth day2.json -o day2.csv

Header (always exactly, in this order):
    employee_id,email,first_name,last_name,display_name,department,title,
    manager_id,location,employment_status,start_date,cost_center

Shape of a base export:
  * employee_id is "E" + 7 digits, numbered from E0000001 (the root, whose
    manager_id is empty).  Every other row's manager_id names an employee
    with a smaller id, so the reporting graph is a tree; a manager has
    5-10 direct reports and some mid-level employees are individual
    contributors.
  * About 10% of the people have non-ASCII names (Latin accents, Cyrillic,
    Greek, Chinese, Japanese, Korean).  Emails are unique, lower-case ASCII
    "first.last.N@example.com" (N = the numeric part of the id).
  * Some display_name, department, title and location values contain commas
    and double quotes, so the file needs RFC 4180 quoting.
  * employment_status is mostly Active, else On Leave, Part-Time or
    Contractor (never Terminated in a base export).

Mutation (rates are fractions of the previous row count, rounded):
  --update-rate 0.01     1 or 2 of title/department/location changed
  --delete-rate 0.005    leaf rows (no reports) removed
  --hire-rate 0.005      new employees with fresh ids, leaves of the tree
  --manager-rate 0.005   manager_id re-pointed to a surviving, non-terminated
                         employee with a smaller id (still a tree)
  --terminate-rate 0.0   employment_status set to Terminated on surviving
                         leaf rows
  The deleted, updated, re-pointed and terminated sets are disjoint; rows
  already Terminated in the input are never updated, re-pointed, terminated
  again or chosen as anybody's new manager (they may be deleted).  Output
  rows are shuffled.

--truth FILE (JSON) describes what the generator did, counted per
employee_id between the input and the output:
  prev_rows, next_rows
  creates, deletes            ids only in the output / only in the input
  updates                     rows with >=1 changed field other than manager_id
  manager_changes             rows whose manager_id changed
  changed_rows                rows with any changed field
  field_changes               changed (id, field) cells, manager_id included
  field_changes_by_column     the same per column (non-zero columns only)
  terminations                rows whose status became Terminated; they are
                              NOT counted in updates/changed_rows/field_changes
In base mode the truth is the diff against an empty export (all creates).

Dialect options (applied when writing, in both modes):
  --delimiter {",", ";", tab, "|"}   field separator
  --bom            UTF-8 byte order mark
  --crlf           CRLF line endings
  --quote-all      quote every field
  --utf16 {le,be}  UTF-16 with a byte order mark instead of UTF-8
  --sep-line       Excel's "sep=X" first line
  --trailing-blank one extra empty line at the end
The --mutate input may itself use any of these dialects (detected).

Fault options:
  --drop-fraction F   drop round(F * rows) rows: in base mode any rows (manager
                      references may then dangle), in mutate mode untouched
                      carried-over rows (counted as deletes in the truth)
  --truncate-bytes N  cut the written file after N bytes (the truth still
                      describes the uncut export)
"""
import argparse
import bisect
import csv
import datetime
import io
import itertools
import json
import random
import sys
import unicodedata

HEADER = ["employee_id", "email", "first_name", "last_name", "display_name",
          "department", "title", "manager_id", "location",
          "employment_status", "start_date", "cost_center"]
(C_ID, C_EMAIL, C_FIRST, C_LAST, C_DISPLAY, C_DEPT, C_TITLE, C_MGR, C_LOC,
 C_STATUS, C_START, C_CC) = range(len(HEADER))
NCOLS = len(HEADER)
TERMINATED = "Terminated"

# ---------------------------------------------------------------- vocabulary
GIVEN_ASCII = (
    "Olivia Liam Emma Noah Ava Ethan Sophia Mason Isabella Logan Mia Lucas "
    "Harper Jackson Evelyn Aiden Abigail Elijah Ella Grayson Scarlett Caleb "
    "Grace Owen Chloe Wyatt Victoria Carter Riley Julian Aria Levi Nora "
    "Gabriel Lily Isaac Hannah Nathan Layla Ryan Zoe Hunter Stella Adrian "
    "Leah Aaron Audrey Connor Claire Dylan Savannah Ian Naomi Miles Ruth "
    "Rahul Deepa Kwame Amara Tariq Leila Mateo Camila Kofi Sanjay Meera "
    "Dmitri Katya Sven Freya Marco Giulia Declan Siobhan Tomas Ines").split()
FAMILY_ASCII = (
    "Reed Carter Brooks Foster Hughes Price Bennett Wood Barnes Ross "
    "Henderson Coleman Jenkins Perry Powell Long Patterson Butler Simmons "
    "Bryant Alexander Russell Griffin Hayes Myers Ford Hamilton Graham "
    "Sullivan Wallace West Cole Stone Jordan Fisher Harrison Gibson Mcdonald "
    "Cruz Marshall Ortiz Gomez Murray Freeman Wells Webb Simpson Stevens "
    "Tucker Porter Hunter Hicks Crawford Boyd Mason Morales Kennedy Warren "
    "Dixon Ramos Reyes Burns Gordon Shaw Holmes Rice Robertson Hunt Black "
    "Daniels Palmer Mills Nichols Grant Knight Ferguson Rose Mehta Iyer "
    "Okafor Mensah Haddad Costa Bianchi Lindqvist Kaur Tanaka").split()
FAMILY_ASCII += ["O'Connor", "O'Sullivan", "D'Souza", "Smith-Jones",
                 "Van der Berg", "McAllister", "St. Clair"]
NICKNAMES = ["Chris", "Sandy", "Max", "Teddy", "Pat", "Nikki", "Gus",
             "Frankie", "Robin", "Charlie", "Jay", "Ziggy"]

# Latin script with diacritics; e-mail romanisation by stripping accents.
GIVEN_ACCENTED = ["Inès", "Jérôme", "Hélène", "Agnès", "Małgorzata", "Tomáš",
                  "Jiří", "Ádám", "Gökhan", "Dóra", "Ségolène", "Øystein",
                  "Radosław", "Raphaël", "Noémie", "Çağla", "Úna", "Oisín",
                  "Åsa", "Mikuláš", "Thảo", "Huỳnh", "Eliška", "Jesús"]
FAMILY_ACCENTED = ["Lefèvre", "Ibáñez", "Kovačević", "Schröder", "Wójcik",
                   "Dvořáková", "Jørgensen", "Sáenz", "Güneş", "Höglund",
                   "Çakır", "Fernández", "Mäkinen", "Łuczak", "Ó Briain",
                   "Đặng", "Pétursdóttir", "Strauß", "Žukauskas", "Bălan"]
# Other scripts: (native, romanised) pairs.
CYRILLIC_GIVEN = [("Алексей", "aleksei"), ("Наталья", "natalya"),
                  ("Дмитрий", "dmitry"), ("Ольга", "olga"),
                  ("Сергей", "sergei"), ("Екатерина", "ekaterina"),
                  ("Юлия", "yulia"), ("Андрей", "andrei")]
CYRILLIC_FAMILY = [("Смирнов", "smirnov"), ("Кузнецова", "kuznetsova"),
                   ("Попов", "popov"), ("Соколова", "sokolova"),
                   ("Волков", "volkov"), ("Лебедева", "lebedeva"),
                   ("Шевченко", "shevchenko")]
GREEK_GIVEN = [("Γιώργος", "giorgos"), ("Ελένη", "eleni"),
               ("Νίκος", "nikos"), ("Δήμητρα", "dimitra"),
               ("Κώστας", "kostas"), ("Σοφία", "sofia")]
GREEK_FAMILY = [("Παπαδάκης", "papadakis"), ("Γεωργίου", "georgiou"),
                ("Οικονόμου", "oikonomou"), ("Βλάχου", "vlachou"),
                ("Αντωνίου", "antoniou")]
CHINESE_GIVEN = [("伟", "wei"), ("芳", "fang"), ("磊", "lei"), ("静", "jing"),
                 ("明", "ming"), ("秀英", "xiuying"), ("建国", "jianguo")]
CHINESE_FAMILY = [("王", "wang"), ("李", "li"), ("张", "zhang"),
                  ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
                  ("欧阳", "ouyang")]
JAPANESE_GIVEN = [("翔太", "shota"), ("美咲", "misaki"), ("健一", "kenichi"),
                  ("さくら", "sakura"), ("大輔", "daisuke"), ("陽菜", "hina")]
JAPANESE_FAMILY = [("鈴木", "suzuki"), ("高橋", "takahashi"),
                   ("田中", "tanaka"), ("渡辺", "watanabe"),
                   ("伊藤", "ito"), ("小林", "kobayashi")]
KOREAN_GIVEN = [("서연", "seoyeon"), ("지훈", "jihoon"), ("민서", "minseo"),
                ("도윤", "doyun"), ("하은", "haeun")]
KOREAN_FAMILY = [("박", "park"), ("이", "lee"), ("최", "choi"),
                 ("정", "jung"), ("강", "kang")]

# (weight, given list, family list, family-name-first without a space?)
SCRIPTS = [(4, CYRILLIC_GIVEN, CYRILLIC_FAMILY, False),
           (2, GREEK_GIVEN, GREEK_FAMILY, False),
           (3, CHINESE_GIVEN, CHINESE_FAMILY, True),
           (2, JAPANESE_GIVEN, JAPANESE_FAMILY, True),
           (2, KOREAN_GIVEN, KOREAN_FAMILY, True)]
SCRIPT_PICK = [s for s in SCRIPTS for _ in range(s[0])]

DEPARTMENTS = ["Engineering", "Infrastructure", "Mobile", "Data Platform",
               "Analytics", "Finance", "Treasury", "Payroll", "Legal",
               "People Operations", "Talent Acquisition", "Brand Marketing",
               "Growth Marketing", "Customer Success", "Support",
               "Field Operations", "Warehouse", "Corporate IT",
               "Information Security", "Purchasing", "Product Management",
               "User Research", "Sales, North America", "Sales, Europe",
               "Sales, Asia-Pacific", "People, Culture & Talent",
               "Research & Development", "Legal \"Special Projects\"",
               "Quality", "Internal Audit"]
TITLES = ["Backend Engineer", "Frontend Engineer", "Senior Backend Engineer",
          "Site Reliability Engineer", "Engineering Lead",
          "Manager, Engineering", "Director, Infrastructure",
          "VP, Product", "Business Analyst", "Machine Learning Engineer",
          "Payroll Specialist", "Controller", "Tax Manager",
          "Paralegal", "General Counsel", "People Partner",
          "Talent Sourcer", "Content Strategist", "Support Agent",
          "Support Lead, Tier 3", "Warehouse Associate", "Shift Supervisor",
          "Systems Administrator", "Security Engineer", "Category Buyer",
          "Product Owner", "UX Researcher", "Account Manager",
          "Sales Development Rep", "Director, Sales Operations",
          "QA Analyst", "Auditor", "Executive Assistant",
          "Head of \"Moonshots\"", "\"Interim\" Program Manager",
          "Engineer III", "Specialist I", "Apprentice"]
LOCATIONS = ["Portland, OR", "Denver, CO", "Atlanta, GA", "Raleigh, NC",
             "Minneapolis, MN", "Pittsburgh, PA", "Montréal, QC",
             "Vancouver, BC", "Edinburgh, UK", "Amsterdam, NL",
             "Köln, DE", "Genève, CH", "Lyon, FR", "Wrocław, PL",
             "Curitiba, BR", "Bogotá, CO", "Hyderabad, IN", "Seoul, KR",
             "Osaka, JP", "Melbourne, AU", "Auckland, NZ", "Remote",
             "HQ \"Tower 2\", Dallas, TX", "Dublin"]
STATUS_PICK = (["Active"] * 85 + ["On Leave"] * 5 + ["Part-Time"] * 5
               + ["Contractor"] * 5)

BASE_START = datetime.date(1995, 1, 1).toordinal()
BASE_SPAN = datetime.date(2024, 12, 31).toordinal() - BASE_START + 1
HIRE_START = datetime.date(2025, 1, 6).toordinal()  # new hires start here+
HIRE_SPAN = 90

_NON_DECOMPOSING = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l",
                                  "ß": "ss", "đ": "d", "Đ": "d", "ı": "i",
                                  "æ": "ae", "Æ": "ae", "þ": "th", "œ": "oe"})


def _email_part(name):
    """Lower-case ASCII letters/digits for the e-mail local part."""
    s = unicodedata.normalize("NFKD", name.translate(_NON_DECOMPOSING))
    s = "".join(ch for ch in s.lower() if ch.isascii() and ch.isalnum())
    return s or "x"


# Pre-computed (native, romanised) pairs for every Latin-script name.
def _pairs(names):
    return [(n, _email_part(n)) for n in names]


GIVEN_ASCII_P = _pairs(GIVEN_ASCII)
FAMILY_ASCII_P = _pairs(FAMILY_ASCII)
GIVEN_ACCENTED_P = _pairs(GIVEN_ACCENTED)
FAMILY_ACCENTED_P = _pairs(FAMILY_ACCENTED)


def fmt_id(num):
    return "E%07d" % num


def parse_id(eid):
    if len(eid) < 2 or eid[0] != "E" or not eid[1:].isdigit():
        raise ValueError("bad employee_id %r" % eid)
    return int(eid[1:])


# ---------------------------------------------------------------- people
def new_person(rng, num, manager, start_ord, start_span):
    """One export row (a list in HEADER order)."""
    roll = rng.random()
    cjk_order = False
    if roll < 0.05:                        # accented Latin-script name
        g = rng.choice(GIVEN_ACCENTED_P if rng.random() < 0.6
                       else GIVEN_ASCII_P)
        f = rng.choice(FAMILY_ACCENTED_P)
    elif roll < 0.10:                      # another script entirely
        _, glist, flist, cjk_order = rng.choice(SCRIPT_PICK)
        g = rng.choice(glist)
        f = rng.choice(flist)
    else:
        g = rng.choice(GIVEN_ASCII_P)
        f = rng.choice(FAMILY_ASCII_P)
    given, family = g[0], f[0]

    style = rng.random()
    if cjk_order:
        display = family + given
    elif style < 0.06:
        display = family + ", " + given                  # comma
    elif style < 0.09:
        display = '%s "%s" %s' % (given, rng.choice(NICKNAMES), family)
    elif style < 0.10:
        display = "%s %s, %s" % (given, family, rng.choice(("Jr.", "PhD",
                                                            "III")))
    else:
        display = given + " " + family
    start = datetime.date.fromordinal(start_ord + rng.randrange(start_span))
    return [fmt_id(num),
            "%s.%s.%d@example.com" % (g[1], f[1], num),
            given, family, display,
            rng.choice(DEPARTMENTS), rng.choice(TITLES), manager,
            rng.choice(LOCATIONS), rng.choice(STATUS_PICK),
            start.isoformat(), "CC-%04d" % rng.randint(1000, 9999)]


def base_rows(rng, count):
    """Yield `count` rows forming a tree, in id order.

    Managers are handed out breadth first: the current manager takes the
    next 5-10 employees, then the next employee in id order becomes the
    current manager -- except that some are passed over and stay individual
    contributors.  The manager's id is always smaller than the report's."""
    boss, slots = 1, rng.randint(5, 10)
    for num in range(1, count + 1):
        if num == 1:
            yield new_person(rng, num, "", BASE_START, BASE_SPAN)
            continue
        yield new_person(rng, num, fmt_id(boss), BASE_START, BASE_SPAN)
        slots -= 1
        if slots == 0:
            boss += 1
            while boss < num and rng.random() < 0.25:
                boss += 1                  # an individual contributor
            slots = rng.randint(5, 10)


# ---------------------------------------------------------------- reading
def read_export(path):
    """Return (header, rows) of an export in any of the supported dialects."""
    with open(path, "rb") as fb:
        head = fb.read(4)
    if head[:2] == b"\xff\xfe":
        enc, skip = "utf-16-le", 2
    elif head[:2] == b"\xfe\xff":
        enc, skip = "utf-16-be", 2
    elif head[:3] == b"\xef\xbb\xbf":
        enc, skip = "utf-8", 3
    else:
        enc, skip = "utf-8", 0
    fb = open(path, "rb")
    fb.seek(skip)
    text = io.TextIOWrapper(fb, encoding=enc, newline="")
    with text:
        first = text.readline()
        bare = first.rstrip("\r\n")
        if bare.startswith("sep=") and len(bare) == 5:
            delim = bare[4]
            lines = text
        else:
            delim = max(",;\t|", key=bare.count)
            lines = itertools.chain([first], text)
        rd = csv.reader(lines, delimiter=delim, strict=True)
        header = next(rd, None)
        if header is None:
            raise SystemExit("%s: empty file" % path)
        intern = sys.intern
        rows = []
        for rec in rd:
            if not rec:
                continue                   # blank line
            if len(rec) != len(header):
                raise SystemExit("%s:%d: %d fields, expected %d"
                                 % (path, rd.line_num, len(rec), len(header)))
            # many values repeat: share the string objects to save memory
            for c in (C_FIRST, C_LAST, C_DISPLAY, C_DEPT, C_TITLE, C_MGR,
                      C_LOC, C_STATUS, C_START, C_CC):
                rec[c] = intern(rec[c])
            rows.append(rec)
    return header, rows


# ---------------------------------------------------------------- mutation
def mutate(args, rng):
    header, prev = read_export(args.mutate)
    if header != HEADER:
        raise SystemExit("%s: unexpected header %r" % (args.mutate, header))
    by_num = {}
    for rec in prev:
        num = parse_id(rec[C_ID])
        if num in by_num:
            raise SystemExit("%s: duplicate %s" % (args.mutate, rec[C_ID]))
        by_num[num] = rec
    nums = sorted(by_num)
    nprev = len(nums)

    has_reports = set()
    for rec in prev:
        if rec[C_MGR]:
            has_reports.add(parse_id(rec[C_MGR]))
    roots = {n for n in nums if not by_num[n][C_MGR]}
    was_terminated = {n for n in nums if by_num[n][C_STATUS] == TERMINATED}

    def quota(rate):
        return int(round(nprev * rate))

    # 1. deletions: leaves (nobody reports to them), never a root
    leaves = [n for n in nums if n not in has_reports and n not in roots]
    deleted = set(rng.sample(leaves, min(quota(args.delete_rate),
                                         len(leaves))))
    # 2. terminations: surviving leaves that are not terminated already
    pool = [n for n in leaves if n not in deleted and n not in was_terminated]
    terminated = rng.sample(pool, min(quota(args.terminate_rate), len(pool)))
    term_set = set(terminated)
    # rows that may be touched further / serve as managers
    busy = deleted | term_set | was_terminated
    live = [n for n in nums if n not in busy]   # sorted by id
    # 3. updates
    updated = rng.sample(live, min(quota(args.update_rate), len(live)))
    busy.update(updated)
    # 4. manager changes: the new manager survives, is not terminated and
    #    has a smaller id (so the graph stays a tree).  Prefer people who
    #    already manage someone, like a real reorg.
    managers = [n for n in live if n in has_reports]      # sorted
    eligible = [n for n in live if n not in busy and n not in roots]
    rng.shuffle(eligible)
    want_mgr = quota(args.manager_rate)
    repointed = {}
    for n in eligible:
        if len(repointed) >= want_mgr:
            break
        cur = by_num[n][C_MGR]
        cur_num = parse_id(cur) if cur else None
        choice = None
        k = bisect.bisect_left(managers, n)
        for _ in range(8):
            if k == 0:
                break
            m = managers[rng.randrange(k)]
            if m != cur_num:
                choice = m
                break
        if choice is None:                 # any smaller live id will do
            k = bisect.bisect_left(live, n)
            if k > 1 or (k == 1 and live[0] != cur_num):
                while True:
                    m = live[rng.randrange(k)]
                    if m != cur_num:
                        choice = m
                        break
        if choice is not None:
            repointed[n] = choice

    # apply the changes
    field_counts = {c: 0 for c in HEADER}
    updatable = (C_TITLE, C_DEPT, C_LOC)
    vocab = {C_TITLE: TITLES, C_DEPT: DEPARTMENTS, C_LOC: LOCATIONS}
    for n in updated:
        rec = by_num[n]
        ncols = 2 if rng.random() < 0.3 else 1
        for c in rng.sample(updatable, ncols):
            old = rec[c]
            new = rng.choice(vocab[c])
            while new == old:
                new = rng.choice(vocab[c])
            rec[c] = new
            field_counts[HEADER[c]] += 1
    for n, m in repointed.items():
        by_num[n][C_MGR] = fmt_id(m)
        field_counts["manager_id"] += 1
    for n in terminated:
        by_num[n][C_STATUS] = TERMINATED

    # fault: drop untouched carried-over rows
    dropped = set()
    if args.drop_fraction:
        drng = random.Random("drop/%d" % args.seed)
        untouched = [n for n in nums
                     if n not in busy and n not in repointed]
        dropped = set(drng.sample(untouched,
                                  min(int(round(nprev * args.drop_fraction)),
                                      len(untouched))))

    # 5. new hires: fresh ids, reporting to a current manager
    out = [by_num[n] for n in nums if n not in deleted and n not in dropped]
    top = nums[-1] if nums else 0
    boss_pool = managers or live
    hires = quota(args.hire_rate)
    for i in range(hires):
        boss = fmt_id(rng.choice(boss_pool)) if boss_pool else ""
        out.append(new_person(rng, top + 1 + i, boss, HIRE_START, HIRE_SPAN))
    rng.shuffle(out)

    fields = sum(field_counts.values())
    truth = {
        "prev_file": args.mutate,
        "seed": args.seed,
        "prev_rows": nprev,
        "next_rows": len(out),
        "creates": hires,
        "deletes": len(deleted) + len(dropped),
        "updates": len(updated),
        "manager_changes": len(repointed),
        "changed_rows": len(updated) + len(repointed),
        "field_changes": fields,
        "field_changes_by_column": {c: v for c, v in field_counts.items()
                                    if v},
        "terminations": len(terminated),
    }
    if dropped:
        truth["dropped"] = len(dropped)
    return out, truth


# ---------------------------------------------------------------- writing
class _Capped(io.RawIOBase):
    """Binary sink that silently discards everything after `limit` bytes."""

    def __init__(self, raw, limit):
        self.raw, self.left = raw, limit

    def writable(self):
        return True

    def write(self, b):
        n = len(b)
        if self.left is None:
            self.raw.write(b)
        elif self.left > 0:
            self.raw.write(bytes(b[:self.left]))
            self.left = max(0, self.left - n)
        return n

    def flush(self):
        self.raw.flush()


def write_export(args, rows):
    """Write the header and rows (an iterable) in the requested dialect."""
    delim = {"tab": "\t"}.get(args.delimiter, args.delimiter)
    eol = "\r\n" if args.crlf else "\n"
    enc = {"le": "utf-16-le", "be": "utf-16-be"}.get(args.utf16, "utf-8")
    if args.output:
        sink = open(args.output, "wb")
    else:
        sink = open(sys.stdout.fileno(), "wb", closefd=False)
    capped = _Capped(sink, args.truncate_bytes)
    text = io.TextIOWrapper(io.BufferedWriter(capped, 1 << 20),
                            encoding=enc, newline="")
    try:
        if args.bom or args.utf16:
            text.write("\ufeff")
        if args.sep_line:
            text.write("sep=" + delim + eol)
        w = csv.writer(text, delimiter=delim, lineterminator=eol,
                       quoting=csv.QUOTE_ALL if args.quote_all
                       else csv.QUOTE_MINIMAL)
        w.writerow(HEADER)
        w.writerows(rows)
        if args.trailing_blank:
            text.write(eol)
        text.flush()
    finally:
        text.close()
        sink.close()


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1000,
                    help="base export size (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mutate", metavar="PREV.csv",
                    help="derive the next-day export from PREV.csv")
    ap.add_argument("--truth", metavar="TRUTH.json")
    ap.add_argument("-o", "--output", metavar="FILE",
                    help="default: standard output")
    for name, default in (("update", 0.01), ("delete", 0.005),
                          ("hire", 0.005), ("manager", 0.005),
                          ("terminate", 0.0)):
        ap.add_argument("--%s-rate" % name, type=float, default=default,
                        metavar="F", help="default %g" % default)
    ap.add_argument("--delimiter", default=",",
                    choices=[",", ";", "tab", "\t", "|"])
    ap.add_argument("--bom", action="store_true")
    ap.add_argument("--crlf", action="store_true")
    ap.add_argument("--quote-all", action="store_true")
    ap.add_argument("--utf16", choices=["le", "be"])
    ap.add_argument("--sep-line", action="store_true")
    ap.add_argument("--trailing-blank", action="store_true")
    ap.add_argument("--drop-fraction", type=float, default=0.0, metavar="F")
    ap.add_argument("--truncate-bytes", type=int, metavar="N")
    args = ap.parse_args()
    if args.rows < 0:
        ap.error("--rows must be >= 0")
    if not 0.0 <= args.drop_fraction <= 1.0:
        ap.error("--drop-fraction must be within [0, 1]")
    if args.truncate_bytes is not None and args.truncate_bytes < 0:
        ap.error("--truncate-bytes must be >= 0")

    rng = random.Random(args.seed)
    if args.mutate:
        rows, truth = mutate(args, rng)
    else:
        rows = base_rows(rng, args.rows)
        kept = args.rows
        if args.drop_fraction:
            k = int(round(args.rows * args.drop_fraction))
            gone = set(random.Random("drop/%d" % args.seed)
                       .sample(range(args.rows), k))
            rows = (r for i, r in enumerate(rows) if i not in gone)
            kept -= k
        truth = {"prev_file": None, "seed": args.seed,
                 "prev_rows": 0, "next_rows": kept, "creates": kept,
                 "deletes": 0, "updates": 0, "manager_changes": 0,
                 "changed_rows": 0, "field_changes": 0,
                 "field_changes_by_column": {}, "terminations": 0}
    write_export(args, rows)
    if args.truth:
        with open(args.truth, "w", encoding="utf-8") as f:
            json.dump(truth, f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
