#!/usr/bin/env python3
"""make_bad.py - the corpus of bad inputs of tests/t_bad.sh (fixtures/bad/).

usage:
  make_bad.py small DIR   the small files (committed in fixtures/bad/)
  make_bad.py big DIR     the big ones, made at test time (10 MB field,
                          100,000 columns, zip bomb, 1,048,576 rows ...)

Python 3 standard library only; the output depends on nothing but this
file. Every file is a "day 2" for the same ten people of day1.csv; the
files that must end in row issues are good2.csv (day 1 with E2's title
changed) with one row damaged, so the directory after them must equal the
directory after good2.csv. fixtures/bad/README lists every file and its
expected outcome.
"""
import os
import sys
import zipfile

HEADER = ["employee_id", "email", "first_name", "last_name", "department",
          "title", "manager_id"]


def people(changed=True):
    rows = []
    for i in range(1, 11):
        title = "Lead" if changed and i == 2 else "Dev"
        rows.append(["E%d" % i, "u%d@example.org" % i, "First%d" % i,
                     "Last%d" % i, "Eng", title, "" if i == 1 else "E1"])
    return rows


def csv_bytes(rows, header=HEADER, delim=","):
    def field(v):
        if any(c in v for c in (delim, '"', "\n", "\r")):
            return '"%s"' % v.replace('"', '""')
        return v
    lines = [delim.join(map(field, r)) for r in [header] + rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def with_row5(line):
    """good2.csv with the line of E5 (row 6) replaced by bytes line."""
    lines = csv_bytes(people()).split(b"\n")
    lines[5] = line
    return b"\n".join(lines)


# ---------------------------------------------------------------- XLSX

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKGREL = "http://schemas.openxmlformats.org/package/2006/relationships"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def xlsx_parts():
    rel = ('<Relationship Id="%s" Type="' + RELNS + '/%s" Target="%s"/>')
    return {
        "[Content_Types].xml": DECL + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="'
            'application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '</Types>'),
        "_rels/.rels": DECL + '<Relationships xmlns="%s">%s</Relationships>'
        % (PKGREL, rel % ("rId1", "officeDocument", "xl/workbook.xml")),
        "xl/workbook.xml": DECL + (
            '<workbook xmlns="%s" xmlns:r="%s"><sheets><sheet name="Staff" '
            'sheetId="1" r:id="rId1"/></sheets></workbook>' % (MAIN, RELNS)),
        "xl/_rels/workbook.xml.rels": DECL + (
            '<Relationships xmlns="%s">%s</Relationships>'
            % (PKGREL, rel % ("rId1", "worksheet", "worksheets/sheet1.xml"))),
    }


def col(i):
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xrow(n, cells):
    """cells: list of values (str) or ("f", formula, cached-or-None)."""
    out = []
    for i, v in enumerate(cells):
        ref = "%s%d" % (col(i), n)
        if isinstance(v, tuple):
            cached = ("<v>%s</v>" % esc(v[2])) if v[2] is not None else ""
            out.append('<c r="%s" t="str"><f>%s</f>%s</c>'
                       % (ref, esc(v[1]), cached))
        elif v != "":
            out.append('<c r="%s" t="inlineStr"><is><t>%s</t></is></c>'
                       % (ref, esc(v)))
    return '<row r="%d">%s</row>' % (n, "".join(out))


def sheet_head():
    return (DECL + '<worksheet xmlns="%s"><sheetData>' % MAIN).encode()


SHEET_TAIL = b"</sheetData></worksheet>"


def write_xlsx(path, sheet_chunks):
    """sheet_chunks: an iterable of bytes, streamed into the sheet part."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in xlsx_parts().items():
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
        zi = zipfile.ZipInfo("xl/worksheets/sheet1.xml",
                             date_time=(2024, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        if isinstance(sheet_chunks, list) and len(sheet_chunks) < 8:
            z.writestr(zi, b"".join(sheet_chunks))
            return
        with z.open(zi, "w") as f:
            for c in sheet_chunks:
                f.write(c)


def rows_xml(rows, first=1):
    return "".join(xrow(first + i, r) for i, r in enumerate(rows)).encode()


# --------------------------------------------------------------- small

def small(d):
    put(d, "day1.csv", csv_bytes(people(changed=False)))
    put(d, "good2.csv", csv_bytes(people()))
    # Latin-1 in a value, and in the header.
    put(d, "utf8_invalid_row.csv",
        with_row5(b"E5,u5@example.org,Jos\xe9,Last5,Eng,Dev,E1"))
    put(d, "utf8_invalid_header.csv",
        csv_bytes(people()).replace(b"department", b"d\xe9partement", 1))
    # UTF-16 without its byte-order mark: NUL bytes everywhere.
    put(d, "utf16le_nobom.csv", csv_bytes(people()).decode().encode(
        "utf-16-le"))
    put(d, "nul_byte.csv",
        with_row5(b"E5,u5@example.org,First5,Last5,Eng,D\x00ev,E1"))
    # The last row opens a quote that never closes.
    put(d, "unterminated_quote.csv", csv_bytes(people()) +
        b'E11,u11@example.org,First11,"Last11,Eng,Dev,E1\n')
    # E5's row and a new one written with semicolons.
    put(d, "mixed_delimiters.csv",
        with_row5(b"E5;u5@example.org;First5;Last5;Eng;Dev;E1") +
        b"E11;u11@example.org;First11;Last11;Eng;Dev;E1\n")
    put(d, "duplicate_headers.csv", csv_bytes(
        [r + [r[1]] for r in people()], header=HEADER + ["email"]))
    put(d, "header_only.csv", csv_bytes([]))
    put(d, "bom_only.csv", b"\xef\xbb\xbf")
    put(d, "empty.csv", b"")
    put(d, "blank_lines.csv", b"\r\n \n\t\n\n")
    # Excel's "sep=" line: right (loads), and lying about the delimiter.
    put(d, "sep_semicolon.csv", b"sep=;\r\n" + csv_bytes(people(), delim=";")
        .replace(b"\n", b"\r\n"))
    put(d, "sep_wrong.csv", b"sep=;\n" + csv_bytes(people()))
    # More values than the header has columns, on E5's row.
    put(d, "extra_values.csv",
        with_row5(b"E5,u5@example.org,First5,Last5,Eng,Dev,E1,surplus"))
    # The export cut in the middle of its last row.
    data = csv_bytes(people())
    put(d, "truncated.csv", data[:data.rindex(b"E10") + 12])
    # Formulas as text in the id column of a CSV: every id, and two new
    # people among the ten (their ids are text; reports neutralise them).
    put(d, "formula_ids.csv", csv_bytes(
        [['=CONCAT("E",ROW()-1)'] + r[1:] for r in people()]))
    put(d, "formula_ids_some.csv", csv_bytes(people() + [
        ["=1+1", "u11@example.org", "F11", "L11", "Eng", "Dev", "E1"],
        ['=HYPERLINK("http://x.example/","E12")', "u12@example.org",
         "F12", "L12", "Eng", "Dev", "E1"]]))
    # A ZIP that is not a workbook.
    with zipfile.ZipFile(os.path.join(d, "not_xlsx.zip"), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for name, text in (("notes.txt", "not a workbook\n"),
                           ("data.csv", csv_bytes(people()).decode())):
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, text)
    # The id column as formulas: never calculated (no cached value), and
    # calculated (Excel saves the value beside the formula).
    rows = [HEADER] + [[("f", 'CONCAT("E",ROW()-1)', None)] + r[1:]
                       for r in people()]
    write_xlsx(os.path.join(d, "formula_ids_nocache.xlsx"),
               [sheet_head(), rows_xml(rows), SHEET_TAIL])
    rows = [HEADER] + [[("f", 'CONCAT("E",ROW()-1)', r[0])] + r[1:]
                       for r in people()]
    write_xlsx(os.path.join(d, "formula_ids_cached.xlsx"),
               [sheet_head(), rows_xml(rows), SHEET_TAIL])
    # A spreadsheet error value in E5's title.
    rows = [HEADER] + people()
    sheet = rows_xml(rows).replace(
        b'<c r="F6" t="inlineStr"><is><t>Dev</t></is></c>',
        b'<c r="F6" t="e"><f>VLOOKUP(A6,X:Y,2,0)</f><v>#N/A</v></c>')
    write_xlsx(os.path.join(d, "cell_error.xlsx",),
               [sheet_head(), sheet, SHEET_TAIL])


# ----------------------------------------------------------------- big

def big(d):
    # One field of 10 MB (kept up to 64 KiB, the row skipped) and one of
    # 17 MB (past the hard limit: the file fails).
    put(d, "field_10mb.csv",
        with_row5(b"E5,u5@example.org,First5,Last5,Eng,\"" +
                  b"x" * (10 << 20) + b"\",E1"))
    put(d, "field_17mb.csv",
        with_row5(b"E5,u5@example.org,First5,Last5,Eng,\"" +
                  b"x" * (17 << 20) + b"\",E1"))
    # 100,000 columns: in the header (fails), on E5's row (a row issue).
    put(d, "columns_100k.csv", csv_bytes(
        [r + ["v"] * (100000 - len(r)) for r in people()],
        header=HEADER + ["c%d" % i for i in range(100000 - len(HEADER))]))
    put(d, "columns_100k_row.csv", with_row5(
        b"E5,u5@example.org,First5,Last5,Eng,Dev,E1" + b",v" * 99993))
    # A zip bomb: 400 MB of spaces in the sheet, about 400 KB deflated.
    block = b" " * (1 << 20)
    write_xlsx(os.path.join(d, "zip_bomb.xlsx"),
               [sheet_head(), rows_xml([HEADER] + people())] +
               [block] * 400 + [SHEET_TAIL])
    # 1,048,576 empty rows (Excel's last row): nothing else, and the
    # ten people then empty rows to the end of the sheet.
    def empty_rows(first):
        step = 65536
        for s in range(first, 1048577, step):
            yield "".join('<row r="%d"/>' % n for n in
                          range(s, min(s + step, 1048577))).encode()
    write_xlsx(os.path.join(d, "empty_rows_1m.xlsx"),
               [sheet_head()] + list(empty_rows(1)) + [SHEET_TAIL])
    write_xlsx(os.path.join(d, "people_then_1m_empty_rows.xlsx"),
               [sheet_head(), rows_xml([HEADER] + people())] +
               list(empty_rows(12)) + [SHEET_TAIL])


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("small", "big"):
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    (small if sys.argv[1] == "small" else big)(sys.argv[2])


if __name__ == "__main__":
    main()
