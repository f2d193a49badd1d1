#!/usr/bin/env python3
"""The producer fixtures, part 1 (run by tests/producers/make.sh).

usage: make.py OUT SCRATCH

Writes into OUT (fixtures/xlsx/):
  producers_day1.csv, producers_day2.csv  an export and its next day, the
      text every XLSX twin must read as: ids of seven digits with leading
      zeros, dates as YYYY-MM-DD, notes over two lines (LF)
  openpyxl_day{1,2}.xlsx     openpyxl, normal mode: ids as numbers with
      the format 0000000, dates as numbers with a date format, cost
      centres as plain numbers, notes with CR LF, inline strings
  openpyxl_wo_day{1,2}.xlsx  openpyxl, write-only mode, dates as ISO
      text (t="d", iso_dates)
  openpyxl_pad.xlsx          numbers under padding formats: negative,
      big, rounded, and the formats that are not padding
  openpyxl_second_sheet.xlsx the day-1 data on the second sheet, after
      a sheet of notes
  openpyxl_formulas.xlsx     the day-1 data with the email column made
      of formulas openpyxl never calculates (<f> and an empty <v>)
and into SCRATCH the rows as JSON (rows.json) and TSV (day1.tsv,
day2.tsv) for make.js and make_lxw.c.
"""
import csv
import datetime
import json
import os
import random
import sys
import unicodedata

import openpyxl
from openpyxl.cell import WriteOnlyCell

HEADER = ["employee_id", "email", "first_name", "last_name", "display_name",
          "manager_id", "department", "title", "location", "start_date",
          "cost_center", "note"]
FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eva", "François", "Grete", "Hiro",
         "Ingrid", "José", "Kai", "Łukasz", "Maya", "Nils", "Zoë", "Ørjan"]
LAST = ["Lee", "Müller", "Ødegård", "Sato", "García", "Smith", "Novák",
        "Dubois", "Rossi", "Berg", "Kowalski", "Nakamura"]
DEPTS = ["Engineering", "Sales", "Finance", "People"]
TITLES = ["Engineer", "Senior Engineer", "Account Executive", "Analyst",
          "Recruiter", "Lead"]
PLACES = ["Zürich", "Berlin", "東京", "Paris", "Oslo"]
ROWS = 40


def ascii_of(name):
    return unicodedata.normalize("NFKD", name).encode(
        "ascii", "ignore").decode().lower()


def day1():
    rnd = random.Random(19)
    rows = []
    for i in range(ROWS):
        eid = "%07d" % (3300 + i * 7 if i % 5 else 120000 + i)
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        mgr = "" if i == 0 else rows[rnd.randrange(0, min(i, 5))][0]
        d = datetime.date(2010, 1, 4) + datetime.timedelta(
            days=rnd.randrange(0, 4500))
        note = ("first line\nsecond line %d" % i) if i % 4 == 0 else (
            "one line" if i % 3 == 0 else "")
        rows.append([eid, "%s.%s%d@example.com" % (
            ascii_of(first), ascii_of(last), i), first, last,
            "%s %s" % (first, last), mgr, DEPTS[i % len(DEPTS)],
            TITLES[i % len(TITLES)], PLACES[i % len(PLACES)], d.isoformat(),
            str(4700 + i % 9), note])
    return rows


def day2(rows):
    """A title, a note, a date and a manager changed; one leaves, one
    joins (with a leading-zero id and a two-line note)."""
    out = [list(r) for r in rows]
    out[3][7] = "Lead"
    out[8][11] = "first line\nsecond line changed"
    out[12][9] = "2015-06-01"
    out[15][5] = out[2][0]
    del out[20]
    out.append(["0009901", "new.hire@example.com", "Noor", "Haddad",
                "Noor Haddad", out[0][0], "Sales", "Analyst", "Oslo",
                "2024-02-29", "4711", "starts Monday\nbadge pending"])
    return out


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(rows)


def typed(row):
    """The values as a spreadsheet holds them: numbers, dates, text with
    CR LF line ends."""
    out = []
    for name, v in zip(HEADER, row):
        if v == "":
            out.append(None)
        elif name in ("employee_id", "manager_id", "cost_center"):
            out.append(int(v))
        elif name == "start_date":
            out.append(datetime.date.fromisoformat(v))
        else:
            out.append(v.replace("\n", "\r\n"))
    return out


def fmt_of(name):
    return {"employee_id": "0000000", "manager_id": "0000000",
            "start_date": "yyyy-mm-dd"}.get(name)


def fixed(wb):
    when = datetime.datetime(2024, 1, 1)
    wb.properties.created = wb.properties.modified = when
    wb.properties.creator = "rostersync tests/producers"


def put_rows(ws, rows, email_formula=False):
    ws.append(HEADER)
    for r, row in enumerate(rows, start=2):
        ws.append(typed(row))
        for c, name in enumerate(HEADER, start=1):
            if fmt_of(name) and ws.cell(row=r, column=c).value is not None:
                ws.cell(row=r, column=c).number_format = fmt_of(name)
        if email_formula:
            ws.cell(row=r, column=2).value = (
                '=LOWER(C%d)&"."&LOWER(D%d)&"@example.com"' % (r, r))


def openpyxl_normal(path, rows):
    wb = openpyxl.Workbook()
    fixed(wb)
    ws = wb.active
    ws.title = "Staff"
    put_rows(ws, rows)
    wb.save(path)


def openpyxl_write_only(path, rows):
    wb = openpyxl.Workbook(write_only=True, iso_dates=True)
    fixed(wb)
    ws = wb.create_sheet("Staff")
    ws.append(HEADER)
    for row in rows:
        cells = []
        for name, v in zip(HEADER, typed(row)):
            c = WriteOnlyCell(ws, value=v)
            if fmt_of(name) and v is not None:
                c.number_format = fmt_of(name)
            cells.append(c)
        ws.append(cells)
    wb.save(path)


def openpyxl_second_sheet(path, rows):
    wb = openpyxl.Workbook()
    fixed(wb)
    notes = wb.active
    notes.title = "Read me"
    notes.append(["HR export, generated every night"])
    notes.append(["Questions: hr@example.com"])
    put_rows(wb.create_sheet("Staff"), rows)
    old = wb.create_sheet("Old staff")
    old.append(["id", "name"])
    old.append([1, "Someone"])
    wb.save(path)


def openpyxl_formulas(path, rows):
    wb = openpyxl.Workbook()
    fixed(wb)
    ws = wb.active
    ws.title = "Staff"
    put_rows(ws, rows, email_formula=True)
    wb.save(path)


PAD_VALUES = [3311, -3311, 123456789, 0.4, -0.4, 2.5, -2.5, 3.14159, 2.675,
              9999999.5, 12345678901234567890, 1234567890123456, 1e21,
              1e100, 0]
PAD_FORMATS = ["0000000", "00000", "000.00", "0", "#,##0", "0000000;-0"]


def openpyxl_pad(path):
    """One row per value, one column per format: "0" is a built-in
    format, "#,##0" and the two-section one are not padding."""
    wb = openpyxl.Workbook()
    fixed(wb)
    ws = wb.active
    ws.append(PAD_FORMATS)
    for v in PAD_VALUES:
        ws.append([v] * len(PAD_FORMATS))
        for c, f in enumerate(PAD_FORMATS, start=1):
            ws.cell(row=ws.max_row, column=c).number_format = f
    wb.save(path)


def tsv_field(v):
    return (v.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n"))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out, scratch = sys.argv[1], sys.argv[2]
    d1 = day1()
    d2 = day2(d1)
    days = {"day1": d1, "day2": d2}
    for name, rows in days.items():
        write_csv(os.path.join(out, "producers_%s.csv" % name), rows)
        openpyxl_normal(os.path.join(out, "openpyxl_%s.xlsx" % name), rows)
        openpyxl_write_only(os.path.join(out, "openpyxl_wo_%s.xlsx" % name),
                            rows)
        with open(os.path.join(scratch, name + ".tsv"), "w",
                  encoding="utf-8") as f:
            for row in [HEADER] + rows:
                f.write("\t".join(map(tsv_field, row)) + "\n")
    openpyxl_pad(os.path.join(out, "openpyxl_pad.xlsx"))
    openpyxl_second_sheet(os.path.join(out, "openpyxl_second_sheet.xlsx"), d1)
    openpyxl_formulas(os.path.join(out, "openpyxl_formulas.xlsx"), d1)
    with open(os.path.join(scratch, "rows.json"), "w") as f:
        json.dump({"header": HEADER, "days": days}, f)


if __name__ == "__main__":
    main()
