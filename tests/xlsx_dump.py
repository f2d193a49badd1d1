#!/usr/bin/python3
"""Dump an XLSX file as a real reader (openpyxl) sees it, for test_report_xlsx.

usage: xlsx_dump.py FILE             every cell and the sheet settings
       xlsx_dump.py --count FILE SHEET   rows of one sheet and its last row

One record per line, fields separated by TAB. Values are escaped: backslash,
TAB, LF and CR as \\\\ \\t \\n \\r, other control characters as \\xHH.

  SHEET name
  META  sheet key value     freeze, autofilter, max_row, max_col, bold
                            (1 if every header cell is bold), formulas
                            (cells of type f), width.A ..., numfmt.B2 ...,
                            orientation, fit_to_page (1 or 0), fit_width,
                            fit_height, print_title_rows ("$1:$1"), wrap.G2
                            (1 for a data cell whose text wraps)
  CELL  sheet row col type value
        type: s string, n number, d date-time ("YYYY-MM-DD HH:MM:SS",
        rounded to the second), b bool, e error, f formula, - empty
  COUNT sheet rows          (--count) rows including the header
  LAST  sheet v1 v2 ...     (--count) the values of the last row

Strings are shown as Excel shows them: the _xHHHH_ escapes of the file
format are decoded (openpyxl leaves them in inline strings).
"""

import datetime
import sys

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.escape import unescape


def esc(v):
    out = []
    for ch in v:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def value_of(v):
    """Type letter and text of a cell value."""
    if v is None:
        return "-", ""
    if isinstance(v, bool):
        return "b", "1" if v else "0"
    if isinstance(v, datetime.datetime):
        v = v + datetime.timedelta(microseconds=500000)
        return "d", v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, (int, float)):
        return "n", repr(v)
    return "s", unescape(str(v))


def emit(*fields):
    sys.stdout.write("\t".join(esc(str(f)) for f in fields) + "\n")


def dump(path):
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        name = ws.title
        emit("SHEET", name)
        emit("META", name, "freeze", ws.freeze_panes or "")
        emit("META", name, "autofilter", ws.auto_filter.ref or "")
        emit("META", name, "max_row", ws.max_row)
        emit("META", name, "max_col", ws.max_column)
        bold = all(ws.cell(1, c).font.b for c in range(1, ws.max_column + 1))
        emit("META", name, "bold", 1 if bold else 0)
        # How it prints: ws.page_setup and the print titles.
        ps = ws.page_setup
        emit("META", name, "orientation", ps.orientation or "")
        emit("META", name, "fit_to_page",
             1 if ws.sheet_properties.pageSetUpPr is not None and
             ws.sheet_properties.pageSetUpPr.fitToPage else 0)
        # fitToWidth and fitToHeight are 1 when the file leaves them out
        emit("META", name, "fit_width",
             1 if ps.fitToWidth is None else ps.fitToWidth)
        emit("META", name, "fit_height",
             1 if ps.fitToHeight is None else ps.fitToHeight)
        emit("META", name, "print_title_rows", ws.print_title_rows or "")
        formulas = 0
        for c in range(1, ws.max_column + 1):
            letter = get_column_letter(c)
            dim = ws.column_dimensions.get(letter)
            emit("META", name, "width." + letter,
                 dim.width if dim is not None and dim.customWidth else 0)
        for row in ws.iter_rows(min_row=1, max_row=ws.max_row,
                                max_col=ws.max_column):
            for cell in row:
                if cell.data_type == "f":
                    formulas += 1
                    t, v = "f", str(cell.value)
                elif cell.data_type == "e":
                    t, v = "e", str(cell.value)
                else:
                    t, v = value_of(cell.value)
                if t == "d":
                    emit("META", name, "numfmt." + cell.coordinate,
                         cell.number_format)
                if t != "-" and cell.row > 1 and cell.alignment.wrap_text:
                    emit("META", name, "wrap." + cell.coordinate, 1)
                emit("CELL", name, cell.row, cell.column, t, v)
        emit("META", name, "formulas", formulas)


def count(path, sheet):
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb[sheet]
    n = 0
    last = ()
    for row in ws.iter_rows(values_only=True):
        n += 1
        last = row
    emit("COUNT", sheet, n)
    emit("LAST", sheet, *(value_of(v)[1] for v in last))
    wb.close()


def main():
    if len(sys.argv) == 2:
        dump(sys.argv[1])
    elif len(sys.argv) == 4 and sys.argv[1] == "--count":
        count(sys.argv[2], sys.argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
