#!/usr/bin/env python3
"""XLSX test helper for test_load_xlsx (python3 stdlib only).

usage:
  xlsx_helper.py handmade DIR     write the hand-made fixtures (inline
                                  strings, prefixed namespaces, error cells,
                                  the 1904 date system, dates as ISO text,
                                  line ends and formulas) into DIR
  xlsx_helper.py hostile DIR GOOD write the hostile files into DIR; GOOD is a
                                  valid XLSX to corrupt and truncate
  xlsx_helper.py csvdump IN OUT   write IN (a CSV) in the canonical row form
                                  test_load_xlsx --dump prints

Canonical row form: one line per non-blank row, "ROW<TAB>f1<TAB>f2...",
trailing empty fields dropped, and backslash, TAB, LF, CR written as
\\\\, \\t, \\n, \\r.
"""
import csv
import struct
import sys
import zipfile

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKGREL = "http://schemas.openxmlformats.org/package/2006/relationships"
RT = RELNS + "/"
XMLDECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

CONTENT_TYPES = (XMLDECL +
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml"'
    ' ContentType="application/xml"/></Types>')


def rels(*items):
    out = [XMLDECL, '<Relationships xmlns="%s">' % PKGREL]
    for rid, typ, target in items:
        out.append('<Relationship Id="%s" Type="%s%s" Target="%s"/>' %
                   (rid, RT, typ, target))
    out.append('</Relationships>')
    return "".join(out)


def write_zip(path, parts, method=zipfile.ZIP_DEFLATED):
    """Write parts (name -> str or bytes) with fixed timestamps."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            if isinstance(data, str):
                data = data.encode("utf-8")
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = method
            z.writestr(zi, data)


def workbook(sheets, pr=""):
    """sheets: (name, rid, state or None)."""
    s = "".join('<sheet name="%s" sheetId="%d"%s r:id="%s"/>' %
                (n, i + 1, ' state="%s"' % st if st else "", rid)
                for i, (n, rid, st) in enumerate(sheets))
    return (XMLDECL + '<workbook xmlns="%s" xmlns:r="%s">%s<sheets>%s'
            '</sheets></workbook>' % (MAIN, RELNS, pr, s))


def sheet_xml(rows_xml):
    return (XMLDECL + '<worksheet xmlns="%s"><sheetData>%s</sheetData>'
            '</worksheet>' % (MAIN, rows_xml))


def minimal(sheet, extra=None, sst=None):
    """A one-sheet package around the sheet XML (str or bytes)."""
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": rels(("rId1", "officeDocument", "xl/workbook.xml")),
        "xl/workbook.xml": workbook([("Sheet1", "rId1", None)]),
        "xl/_rels/workbook.xml.rels": rels(
            ("rId1", "worksheet", "worksheets/sheet1.xml"),
            ("rId2", "sharedStrings", "sharedStrings.xml")),
        "xl/sharedStrings.xml": sst or (XMLDECL +
            '<sst xmlns="%s"><si><t>id</t></si></sst>' % MAIN),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if extra:
        parts.update(extra)
    return parts


def istr(ref, text):
    return '<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, text)


# ------------------------------------------------------------- hand-made

def handmade_inline(path):
    """Prefixed namespaces, an unusual workbook name and absolute targets,
    inline strings with rich and phonetic runs, cells and rows without r,
    booleans, errors, a formula's cached string, custom date formats."""
    x = 'xmlns:x="%s" xmlns:r="%s"' % (MAIN, RELNS)
    book = (XMLDECL + '<x:workbook %s><x:workbookPr date1904="false"/>'
            '<x:sheets><x:sheet name="Data" sheetId="1" r:id="rId7"/>'
            '</x:sheets></x:workbook>' % x)
    styles = (XMLDECL + '<x:styleSheet xmlns:x="%s"><x:numFmts count="5">'
              '<x:numFmt numFmtId="164" formatCode="[h]:mm:ss"/>'
              '<x:numFmt numFmtId="165" formatCode="&quot;Day &quot;d'
              '&quot; of &quot;mmmm yyyy"/>'
              '<x:numFmt numFmtId="166" formatCode="[Red][&lt;0]#,##0;'
              '[Blue]0"/>'
              '<x:numFmt numFmtId="167" formatCode="#,##0.00 &quot;days'
              '&quot;"/>'
              '<x:numFmt numFmtId="168" formatCode="mm:ss"/>'
              '</x:numFmts>'
              '<x:cellStyleXfs count="1"><x:xf numFmtId="14"/>'
              '</x:cellStyleXfs>'
              '<x:cellXfs count="7"><x:xf numFmtId="0"/>'
              '<x:xf numFmtId="164"/><x:xf numFmtId="165"/>'
              '<x:xf numFmtId="166"/><x:xf numFmtId="167"/>'
              '<x:xf numFmtId="14"/><x:xf numFmtId="168"/></x:cellXfs>'
              '<x:dxfs count="1"><x:dxf><x:numFmt numFmtId="164" '
              'formatCode="General"/></x:dxf></x:dxfs>'
              '</x:styleSheet>' % MAIN)
    header = "".join(
        '<x:c t="inlineStr"><x:is><x:t>%s</x:t></x:is></x:c>' % h
        for h in ("id", "name", "when", "elapsed", "flag", "err", "calc",
                  "amount", "mmss"))
    row2 = ('<x:c><x:v>1001</x:v></x:c>'
            '<x:c t="inlineStr"><x:is><x:r><x:rPr><x:b/></x:rPr>'
            '<x:t>Zo\u00eb</x:t></x:r><x:r><x:t xml:space="preserve"> '
            '\u00d8deg\u00e5rd</x:t></x:r><x:rPh sb="0" eb="1"><x:t>'
            '\u30be\u30a8</x:t></x:rPh><x:phoneticPr fontId="1"/></x:is>'
            '</x:c>'
            '<x:c s="2"><x:v>37742</x:v></x:c>'
            '<x:c s="1"><x:v>0.5</x:v></x:c>'
            '<x:c t="b"><x:v>1</x:v></x:c>'
            '<x:c t="e"><x:f>NA()</x:f><x:v>#N/A</x:v></x:c>'
            '<x:c t="str"><x:f>A2*2&amp;""</x:f><x:v>2002</x:v></x:c>'
            '<x:c s="3"><x:v>1234.5</x:v></x:c>'
            '<x:c s="6"><x:v>0.0625</x:v></x:c>')
    row4 = ('<x:c r="A4" t="inlineStr"><x:is><x:t xml:space="preserve">'
            '  spaced  </x:t></x:is></x:c>'
            '<x:c r="C4" s="4"><x:v>2.5</x:v></x:c>'
            '<x:c t="inlineStr"><x:is><x:t>after C4</x:t></x:is></x:c>')
    row5 = ('<x:c r="B5" t="e"><x:v>#DIV/0!</x:v></x:c>'
            '<x:c r="E5" t="b"><x:v>0</x:v></x:c>'
            '<x:c r="H5"><x:v>1.5E3</x:v></x:c>'
            '<x:c r="I5" s="5"/>')
    row6 = "".join('<x:c><x:v>%s</x:v></x:c>' % v for v in (
        "0.30000000000000004", "1.0", "-0", "1E-3", "123456789012345678",
        "12345678901234567890123", "abc", "0x1A", " 5"))
    row7 = "".join('<x:c t="%s"><x:%s>%s</x:%s></x:c>' % (
        t, "is><x:t" if t == "inlineStr" else "v", v,
        "t></x:is" if t == "inlineStr" else "v") for t, v in (
        ("inlineStr", "line1_x000D_\nline2"), ("inlineStr", "a_x005F_x0041_b"),
        ("inlineStr", "_xD83D__xDE00_"), ("inlineStr", "_x0000_"),
        ("str", "_xd800_x_x00e9_")))
    sheet = (XMLDECL + '<x:worksheet %s><x:dimension ref="A1:I7"/>'
             '<x:sheetViews><x:sheetView workbookViewId="0"/></x:sheetViews>'
             '<x:sheetData><x:row r="1">%s</x:row><x:row>%s</x:row>'
             '<x:row r="4">%s</x:row><x:row>%s</x:row><x:row>%s</x:row>'
             '<x:row>%s</x:row></x:sheetData><x:mergeCells count="0"/>'
             '</x:worksheet>' % (x, header, row2, row4, row5, row6, row7))
    write_zip(path, {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": rels(("rId1", "officeDocument", "/xl/book.xml")),
        "xl/book.xml": book,
        "xl/_rels/book.xml.rels": rels(
            ("rId7", "worksheet", "/xl/worksheets/data.xml"),
            ("rId8", "styles", "styles.xml")),
        "xl/styles.xml": styles,
        "xl/worksheets/data.xml": sheet,
    })


def handmade_1904(path):
    """The 1904 date system, with shared strings."""
    sst = (XMLDECL + '<sst xmlns="%s" count="5" uniqueCount="5">'
           '<si><t>id</t></si><si><t>start</t></si><si><t>stamp</t></si>'
           '<si><t>note</t></si><si><t>tab_x0009_here</t></si>'
           '</sst>' % MAIN)
    styles = (XMLDECL + '<styleSheet xmlns="%s"><numFmts count="1">'
              '<numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd\\ hh:mm"/>'
              '</numFmts><cellXfs count="3"><xf numFmtId="0"/>'
              '<xf numFmtId="14" applyNumberFormat="1"/>'
              '<xf numFmtId="164" applyNumberFormat="1"/></cellXfs>'
              '</styleSheet>' % MAIN)
    rows = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1'
            '</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v>'
            '</c></row>'
            '<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="1"><v>36280</v>'
            '</c><c r="C2" s="2"><v>36280.5</v></c><c r="D2" t="s"><v>4</v>'
            '</c></row>'
            '<row r="3"><c r="A3"><v>2</v></c><c r="B3" s="1"><v>0</v></c>'
            '<c r="C3" s="2"><v>0.25</v></c></row>')
    write_zip(path, {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": rels(("rId1", "officeDocument", "xl/workbook.xml")),
        "xl/workbook.xml": workbook([("Dates", "rId1", None)],
                                    '<workbookPr date1904="1"/>'),
        "xl/_rels/workbook.xml.rels": rels(
            ("rId1", "worksheet", "worksheets/sheet1.xml"),
            ("rId2", "styles", "styles.xml"),
            ("rId3", "sharedStrings", "sharedStrings.xml")),
        "xl/styles.xml": styles,
        "xl/sharedStrings.xml": sst,
        "xl/worksheets/sheet1.xml": sheet_xml(rows),
    })


# Date cells as ISO 8601 text (t="d"): the text, then the cell without a
# style, with a date style (14), a date-time style (22), a time style (20).
DATES_TEXT = ["2021-02-03T00:00:00.000Z", "2021-02-03", "2021-02-03T00:00:00",
              "2021-02-03T10:30:00.000Z", "2021-02-03T10:30",
              "2021-02-03T23:30:00-05:00", "2021-02-03T10:30:00+0130",
              "2021-02-03T23:59:59.600", "1899-12-30T10:30:00", "2024-02-29",
              "0001-01-01", "9999-12-31T23:59:59",
              # not dates: flagged as errors, never taken as text
              "garbage", "2021-02-30", "2023-02-29", "2021-13-01",
              "2021-02-03 10:30:00", "20210203", "2021-02-03T24:00:00",
              "2021-02-03T10:30:00+05:", "2021-02-03Z0", " 2021-02-03",
              "9999-12-31T23:30:00-01:00"]


def handmade_dates(path):
    """t="d" cells in four styles, and a numeric twin of one date."""
    styles = (XMLDECL + '<styleSheet xmlns="%s"><cellXfs count="4">'
              '<xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="22"/>'
              '<xf numFmtId="20"/></cellXfs></styleSheet>' % MAIN)
    rows = ['<row r="1">%s</row>' % "".join(
        istr("%s1" % c, h) for c, h in zip("ABCDE", ("text", "none", "date",
                                                     "datetime", "time")))]
    for i, v in enumerate(DATES_TEXT, start=2):
        rows.append('<row r="%d">%s%s</row>' % (i, istr("A%d" % i, v), "".join(
            '<c r="%s%d" t="d"%s><v>%s</v></c>' % (
                c, i, ' s="%d"' % s if s else "", v)
            for c, s in zip("BCDE", (0, 1, 2, 3)))))
    n = len(DATES_TEXT) + 2
    rows.append('<row r="%d">%s<c r="B%d"><v>44230.4375</v></c><c r="C%d" '
                's="1"><v>44230.4375</v></c><c r="D%d" s="2"><v>44230.4375'
                '</v></c><c r="E%d" s="3"><v>44230.4375</v></c></row>' % (
                    n, istr("A%d" % n, "serial"), n, n, n, n))
    parts = minimal(sheet_xml("".join(rows)), extra={"xl/styles.xml": styles})
    parts["xl/_rels/workbook.xml.rels"] = rels(
        ("rId1", "worksheet", "worksheets/sheet1.xml"),
        ("rId2", "sharedStrings", "sharedStrings.xml"),
        ("rId3", "styles", "styles.xml"))
    write_zip(path, parts)


def handmade_lines(path):
    """Line ends in shared, inline and formula strings ("_x000D_",
    "&#13;", an escaped "_x005F_"), and formulas with and without a
    calculated value."""
    sst = (XMLDECL + '<sst xmlns="%s"><si><t>id</t></si>'
           '<si><t>a_x000D_\nb</t></si><si><t>a_x000D_b</t></si>'
           '<si><r><t>run_x000D_</t></r><r><t>\nnext</t></r></si>'
           '<si><t>keep_x005F_x000D_as text</t></si>'
           '<si><t>two_x000D__x000D_\nends&#13;</t></si></sst>' % MAIN)
    row2 = ('<row r="2">%s%s%s%s%s</row>' % (
        '<c r="A2" t="s"><v>1</v></c>', '<c r="B2" t="s"><v>2</v></c>',
        '<c r="C2" t="s"><v>3</v></c>', '<c r="D2" t="s"><v>4</v></c>',
        '<c r="E2" t="s"><v>5</v></c>'))
    row3 = ('<row r="3">%s%s%s</row>' % (
        istr("A3", "in&#13;\nline"), istr("B3", "lone&#13;cr"),
        '<c r="C3" t="str"><f>A3</f><v>f_x000d_\nstr</v></c>'))
    row4 = ('<row r="4"><c r="A4"><f>1+1</f></c>'
            '<c r="B4"><f>1+1</f><v></v></c>'
            '<c r="C4" t="str"><f>""</f><v></v></c>'
            '<c r="D4" t="b"><f>TRUE()</f></c>'
            '<c r="E4"><f>1+2</f><v>3</v></c>'
            '<c r="F4" t="str"><f>A1</f></c></row>')
    write_zip(path, minimal(sheet_xml(
        '<row r="1">%s</row>' % istr("A1", "head") + row2 + row3 + row4),
        sst=sst))


def handmade(d):
    handmade_inline(d + "/inline.xlsx")
    handmade_1904(d + "/date1904.xlsx")
    handmade_dates(d + "/dates_text.xlsx")
    handmade_lines(d + "/lines.xlsx")


# --------------------------------------------------------------- hostile

def patch_size(path, name, size):
    """Make the declared uncompressed size of one entry lie."""
    data = bytearray(open(path, "rb").read())
    name = name.encode()
    for sig, nameoff, lenoff, sizeoff in ((b"PK\x03\x04", 30, 26, 22),
                                          (b"PK\x01\x02", 46, 28, 24)):
        i = data.find(sig)
        while i >= 0:
            n = struct.unpack_from("<H", data, i + lenoff)[0]
            if data[i + nameoff:i + nameoff + n] == name:
                struct.pack_into("<I", data, i + sizeoff, size)
                break
            i = data.find(sig, i + 4)
    open(path, "wb").write(data)


def hostile_bomb(d):
    """300 MB of spaces inside the sheet XML (about 300 KB deflated)."""
    head = sheet_xml("<row r=\"1\">%s</row>" % istr("A1", "id"))
    head = head.replace("</worksheet>", "").encode()
    with zipfile.ZipFile(d + "/bomb.xlsx", "w") as z:
        for name, data in minimal("").items():
            if name != "xl/worksheets/sheet1.xml":
                z.writestr(name, data, zipfile.ZIP_DEFLATED)
        zi = zipfile.ZipInfo("xl/worksheets/sheet1.xml",
                             date_time=(2024, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        with z.open(zi, "w") as f:
            f.write(head)
            block = b" " * (1 << 20)
            for _ in range(300):
                f.write(block)
            f.write(b"</worksheet>")
    # the same bomb declaring a modest size: caught while inflating
    body = head + b" " * (50 << 20) + b"</worksheet>"
    write_zip(d + "/bomb_lie.xlsx", minimal(body))
    patch_size(d + "/bomb_lie.xlsx", "xl/worksheets/sheet1.xml", 100000)


def hostile_xml(d):
    w = lambda name, sheet, **kw: write_zip(d + "/" + name,
                                            minimal(sheet, **kw))
    ok_row = '<row r="1">%s%s</row>' % (istr("A1", "id"), istr("B1", "name"))
    w("malformed.xlsx", XMLDECL + '<worksheet xmlns="%s">\n<sheetData>\n'
      '<row r="1"><c r="A1"><v>1</v></row>\n</sheetData></worksheet>' % MAIN)
    lol = ('<!DOCTYPE lolz [<!ENTITY lol "lol">' +
           "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1) if i
                   else "&lol;") * 10) for i in range(1, 10)) + ']>')
    w("doctype.xlsx", XMLDECL + lol + sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    ).replace(XMLDECL, ""))
    w("doctype_sst.xlsx", sheet_xml(ok_row), sst=XMLDECL +
      '<!DOCTYPE sst SYSTEM "file:///etc/passwd"><sst xmlns="%s"><si><t>x'
      '</t></si></sst>' % MAIN)
    w("wide_header.xlsx", sheet_xml('<row r="1">%s%s</row>' % (
        istr("A1", "id"), istr("AMK1", "col1025"))))
    w("wide_data.xlsx", sheet_xml(ok_row + '<row r="2"><c r="A2"><v>1</v>'
      '</c><c r="AMJ2"><v>1024</v></c><c r="AMK2"><v>1025</v></c></row>'))
    w("beyond_xfd.xlsx", sheet_xml(ok_row + '<row r="2"><c r="XFE2"><v>1'
      '</v></c></row>'))
    w("bad_sst.xlsx", sheet_xml('<row r="1"><c r="A1" t="s"><v>7</v></c>'
      '</row>'))
    w("row_order.xlsx", sheet_xml(ok_row + '<row r="3"><c r="A3"><v>1</v>'
      '</c></row><row r="2"><c r="A2"><v>2</v></c></row>'))
    w("cell_order.xlsx", sheet_xml(ok_row + '<row r="2"><c r="B2"><v>1'
      '</v></c><c r="A2"><v>2</v></c></row>'))
    euro = "\u20ac" * 25000                   # 75000 bytes of UTF-8
    w("long_cell.xlsx", sheet_xml(ok_row + '<row r="2">%s<c r="B2" t="s">'
      '<v>0</v></c></row>' % istr("A2", euro)), sst=XMLDECL + '<sst xmlns="%s"><si><t>%s</t></si>'
      '</sst>' % (MAIN, "x" * 70000))
    write_zip(d + "/huge_cell.xlsx", minimal(sheet_xml(
        ok_row + '<row r="2">%s</row>' % istr("A2", "y" * (17 << 20)))),
        method=zipfile.ZIP_STORED)
    write_zip(d + "/long_token.xlsx", minimal(sheet_xml(
        '<row r="1" junk="%s">%s</row>' % ("z" * (2 << 20),
                                          istr("A1", "id")))),
        method=zipfile.ZIP_STORED)
    rows = "".join('<row r="%d"/>' % i for i in range(1, 1048577))
    w("empty_rows.xlsx", sheet_xml(rows))
    w("row_beyond.xlsx", sheet_xml(ok_row + '<row r="1048577"><c r="A1048577">'
      '<v>1</v></c></row>'))


def hostile_parts(d):
    parts = minimal(sheet_xml(""))
    del parts["xl/worksheets/sheet1.xml"]
    write_zip(d + "/missing_sheet.xlsx", parts)
    parts = minimal(sheet_xml(""))
    del parts["xl/workbook.xml"]
    write_zip(d + "/missing_book.xlsx", parts)
    parts = minimal(sheet_xml(""))
    parts["xl/_rels/workbook.xml.rels"] = rels(
        ("rId1", "worksheet", "../../../etc/passwd"))
    write_zip(d + "/escape.xlsx", parts)
    parts = minimal(sheet_xml(""))
    parts["xl/workbook.xml"] = workbook([("Sheet1", "rId1", "hidden")])
    write_zip(d + "/all_hidden.xlsx", parts)


def hostile_zip(d, good):
    data = open(good, "rb").read()
    open(d + "/truncated.xlsx", "wb").write(data[:len(data) // 2])
    open(d + "/notzip.xlsx", "w").write("employee_id,email\n1,a@b\n")
    cd = data.rfind(b"PK\x01\x02")          # last central directory entry
    bad = bytearray(data)
    bad[cd:cd + 40] = b"\xff" * 40
    open(d + "/corrupt_cd.xlsx", "wb").write(bad)
    # flip bytes inside the deflated sheet data: zlib or CRC error
    bad = bytearray(data)
    z = zipfile.ZipFile(good)
    info = z.getinfo("xl/worksheets/sheet1.xml")
    n = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + n[0] + n[1]
    for i in range(start + 20, start + min(info.compress_size, 400), 7):
        bad[i] ^= 0x5a
    open(d + "/corrupt_data.xlsx", "wb").write(bad)


BIG_SST = 160000    # strings: 5.6 MB of table


def big_sst(bad_at=None):
    """The big table: string i is "v%06d-" + i's last digit ten times."""
    si = ['<si><t>v%06d-%s</t></si>' % (i, str(i % 10) * 10)
          for i in range(BIG_SST)]
    if bad_at is not None:
        si[bad_at] = si[bad_at].replace("</si>", "</sx>")
    return (XMLDECL + '<sst xmlns="%s" count="%d" uniqueCount="%d">' %
            (MAIN, BIG_SST, BIG_SST) + "\n".join(si) + "</sst>")


def sref(ref, i):
    return '<c r="%s" t="s"><v>%d</v></c>' % (ref, i)


def hostile_big_sst(d):
    """Big tables, broken or not: the header needs the table's last
    string; row r > 1 has strings r - 2 and r - 2 + 80000."""
    head = '<row r="1">%s%s</row>' % (sref("A1", BIG_SST - 1),
                                       istr("B1", "second"))
    rows = ['<row r="%d">%s%s</row>' % (r, sref("A%d" % r, r - 2),
            sref("B%d" % r, r - 2 + 80000)) for r in range(2, 50002)]
    body = "".join(rows)
    w = lambda name, sheet, sst: write_zip(d + "/" + name,
                                           minimal(sheet, sst=sst))
    good = big_sst()
    w("big_sst.xlsx", sheet_xml(head + body), good)
    # the sheet needs only the first strings; the table breaks at its end
    w("big_sst_late.xlsx", sheet_xml('<row r="1">%s</row>' %
      sref("A1", 3)), big_sst(bad_at=BIG_SST - 2))
    # the table breaks before a string the sheet needs
    w("big_sst_early.xlsx", sheet_xml(head), big_sst(bad_at=5))
    w("big_sst_range.xlsx", sheet_xml("".join(rows[:20]) +
      '<row r="60000">%s</row>' % sref("A60000", BIG_SST)), good)
    w("big_sst_sheet_bad.xlsx", sheet_xml("".join(rows[:5]) +
      '<row r="9">%s</row><row r="3">%s</row>' % (sref("A9", 7),
                                                  sref("A3", 1))), good)


def tok_rows(first, last):
    """Rows first..last of two inline strings, one a line each."""
    return "".join('<row r="%d">%s%s</row>\n' % (r, istr("A%d" % r, "r%d" % r),
                   istr("B%d" % r, "v%d" % r)) for r in range(first, last + 1))


def tok_sheet(middle, head=XMLDECL, after=4, tail=""):
    """Rows 1-3 in the shapes the tokenizer takes, then middle (bytes or
    str), then rows after...after+1, then tail after the root."""
    if isinstance(middle, str):
        middle = middle.encode("utf-8")
    start = (head + '<worksheet xmlns="%s">\n<sheetData>\n' % MAIN +
             tok_rows(1, 3)).encode("utf-8")
    end = (tok_rows(after, after + 1) + "</sheetData>\n</worksheet>" +
           tail).encode("utf-8")
    return start + middle + end


def hostile_tokenizer(d):
    """What the sheet's tokenizer (xmltok.c) leaves to expat, at the start
    and after rows it has given: each must read as expat alone reads it,
    rows or error (test_load_xlsx reads every file both ways)."""
    w = lambda name, sheet: write_zip(d + "/" + name, minimal(sheet))
    r4 = lambda cell: '<row r="4">%s</row>\n' % cell
    # well-formed: expat takes over, the rows go on
    w("tok_comment.xlsx", tok_sheet("<!-- a note -->\n", after=4))
    w("tok_pi.xlsx", tok_sheet('<?mso-application progid="x"?>', after=4))
    w("tok_cdata.xlsx", tok_sheet(r4('<c r="A4" t="inlineStr"><is><t>'
      '<![CDATA[a<b & c]]></t></is></c>'), after=5))
    w("tok_prefix.xlsx", tok_sheet('<x:row xmlns:x="%s" r="4">%s</x:row>' %
      (MAIN, istr("A4", "p")), after=5))
    w("tok_deep.xlsx", tok_sheet("<deep>" * 70 + "</deep>" * 70, after=4))
    w("tok_long_name.xlsx", tok_sheet("<%s/>" % ("n" * 100), after=4))
    w("tok_name_utf8.xlsx", tok_sheet("<\u00e9t\u00e9/>", after=4))
    w("tok_many_attrs.xlsx", tok_sheet('<row r="4" %s>%s</row>' % (
      " ".join('a%d="%d"' % (i, i) for i in range(40)), istr("A4", "m")),
      after=5))
    w("tok_bom.xlsx", b"\xef\xbb\xbf" + tok_sheet(""))
    w("tok_latin1.xlsx", tok_sheet(r4(istr("A4", "caf\u00e9")), head=
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n', after=5).decode(
      "utf-8").encode("latin-1"))
    w("tok_utf16.xlsx", b"\xff\xfe" + tok_sheet("", head=
      '<?xml version="1.0" encoding="UTF-16"?>').decode(
      "utf-8").encode("utf-16-le"))
    w("tok_ws_tail.xlsx", tok_sheet("", tail="\n\r\n \t"))
    # an empty element just before: expat puts its end where it ends
    w("tok_empty_before.xlsx", tok_sheet('<row r="4"><c r="A4"><v>1</v>'
      '</c><c r="B4"/><!-- x --><c r="C4"><v>3</v></c></row>', after=5))
    w("tok_empty_root.xlsx", XMLDECL + '<worksheet xmlns="%s"/><more/>' %
      MAIN)
    # taken by the tokenizer itself: the same rows as expat's
    w("tok_refs.xlsx", tok_sheet(r4(istr("A4", "&lt;&gt;&amp;&quot;&apos;"
      "&#65;&#x42;&#x1F600;&#13;&#10;x") + istr("B4", "caf\u00e9 \u6771"
      "\u4eac")), after=5))
    w("tok_crlf.xlsx", tok_sheet(r4(istr("A4", "a\r\nb\rc\nd")), after=5))
    w("tok_attr_ws.xlsx", tok_sheet('<row\r\n r = "4"\tspans="1:2&#9;'
      'x\r\ny" ht=\'1\r2\'\n>%s</row >' % istr("A4", "w"), after=5))
    # not well-formed: expat's error, with its line
    w("tok_mismatch.xlsx", tok_sheet('<row r="4"><c r="A4"><v>1</v></row>',
      after=5))
    w("tok_dup_attr.xlsx", tok_sheet('<row r="4" r="4"/>', after=5))
    w("tok_no_space.xlsx", tok_sheet('<row r="4"spans="1:1"/>', after=5))
    w("tok_entity.xlsx", tok_sheet(r4(istr("A4", "a&nbsp;b")), after=5))
    w("tok_charref_nul.xlsx", tok_sheet(r4(istr("A4", "&#0;")), after=5))
    w("tok_surrogate_ref.xlsx", tok_sheet(r4(istr("A4", "&#xD800;")),
      after=5))
    w("tok_bad_utf8.xlsx", tok_sheet(r4(istr("A4", "x")).encode().replace(
      b">x<", b">\xff<"), after=5))
    w("tok_fffe.xlsx", tok_sheet(r4(istr("A4", "\ufffe")), after=5))
    w("tok_ctrl.xlsx", tok_sheet(r4(istr("A4", "a\x01b")), after=5))
    w("tok_cdata_end.xlsx", tok_sheet(r4(istr("A4", "a]]>b")), after=5))
    w("tok_lt_attr.xlsx", tok_sheet('<row r="4<"/>', after=5))
    w("tok_junk_after.xlsx", tok_sheet("", tail="<again/>"))
    w("tok_truncated.xlsx", tok_sheet("", after=4)[:-40])
    # a token past XLSX_MAX_TOKEN after rows the tokenizer gave
    w("tok_late_token.xlsx", tok_sheet(tok_rows(4, 3000) +
      '<row r="3001" junk="%s"/>' % ("z" * (2 << 20)), after=3002))


def hostile(d, good):
    hostile_zip(d, good)
    hostile_xml(d)
    hostile_parts(d)
    hostile_bomb(d)
    hostile_big_sst(d)
    hostile_tokenizer(d)


# --------------------------------------------------------------- csvdump

def esc(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


def csvdump(src, dst):
    with open(src, newline="", encoding="utf-8") as f, \
            open(dst, "w", encoding="utf-8", newline="\n") as out:
        for i, row in enumerate(csv.reader(f)):
            while row and row[-1] == "":
                row.pop()
            if row:
                out.write("%d\t%s\n" % (i + 1, "\t".join(map(esc, row))))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "handmade":
        handmade(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "hostile":
        hostile(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "csvdump":
        csvdump(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
