/*
 * Write the libxlsxwriter fixtures of test_load_xlsx into a directory:
 *
 *   ids_dates.xlsx	ids stored as numbers, dates in several formats,
 *			numbers that must print without exponent
 *   sheets.xlsx	a hidden first sheet, then "Staff" and "Contractors"
 *   rich_unicode.xlsx	rich text, accents, CJK, emoji, booleans, formulas
 *			with cached string and number results
 *   sparse.xlsx	the header on row 2, sparse cells and row gaps
 *
 * usage: mkxlsx DIR (run by tests/make_xlsx_fixtures.sh)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xlsxwriter.h>

static const char *dir;

static lxw_workbook *
book_new(const char *name)
{
	static lxw_doc_properties props;
	lxw_workbook	*wb;
	char		 path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((wb = workbook_new(path)) == NULL) {
		fprintf(stderr, "mkxlsx: cannot create %s\n", path);
		exit(1);
	}
	props.title = "rostersync test fixture";
	props.created = 1704067200;	/* 2024-01-01, for stable output */
	workbook_set_properties(wb, &props);
	return wb;
}

static void
book_close(lxw_workbook *wb)
{
	lxw_error	 e = workbook_close(wb);

	if (e != LXW_NO_ERROR) {
		fprintf(stderr, "mkxlsx: %s\n", lxw_strerror(e));
		exit(1);
	}
}

static lxw_format *
fmt_num(lxw_workbook *wb, const char *code)
{
	lxw_format	*f = workbook_add_format(wb);

	format_set_num_format(f, code);
	return f;
}

static void
strings(lxw_worksheet *ws, int row, const char *const *v)
{
	int	 c;

	for (c = 0; v[c] != NULL; c++)
		worksheet_write_string(ws, row, c, v[c], NULL);
}

static void
ids_dates(void)
{
	static const char *const head[] = { "employee_id", "badge",
	    "start_date", "start_dmy", "last_login", "shift_start", "amount",
	    "ratio", "big_id", "quoted_d", "red_date", NULL };
	lxw_workbook	*wb = book_new("ids_dates.xlsx");
	lxw_worksheet	*ws = workbook_add_worksheet(wb, "Staff");
	lxw_format	*f14 = workbook_add_format(wb);
	lxw_format	*dmy = fmt_num(wb, "dd/mm/yyyy");
	lxw_format	*stamp = fmt_num(wb, "yyyy-mm-dd hh:mm");
	lxw_format	*hm = workbook_add_format(wb);
	lxw_format	*quoted = fmt_num(wb, "\"d\"0");
	lxw_format	*red = fmt_num(wb, "[Red]yyyy-mm-dd");
	lxw_format	*two = fmt_num(wb, "0.00");
	lxw_datetime	 d1 = { 2003, 5, 1, 0, 0, 0 };
	lxw_datetime	 d2 = { 2020, 12, 31, 0, 0, 0 };
	lxw_datetime	 t1 = { 2021, 3, 4, 5, 6, 7 };
	lxw_datetime	 d3 = { 9999, 12, 31, 0, 0, 0 };
	lxw_datetime	 d4 = { 1904, 2, 29, 0, 0, 0 };
	lxw_datetime	 t2 = { 2024, 2, 29, 0, 0, 0 };

	format_set_num_format_index(f14, 14);
	format_set_num_format_index(hm, 20);
	strings(ws, 0, head);
	/* row 2 */
	worksheet_write_number(ws, 1, 0, 1001, NULL);
	worksheet_write_number(ws, 1, 1, 20000001, NULL);
	worksheet_write_datetime(ws, 1, 2, &d1, f14);
	worksheet_write_datetime(ws, 1, 3, &d2, dmy);
	worksheet_write_datetime(ws, 1, 4, &t1, stamp);
	worksheet_write_number(ws, 1, 5, 0.75, hm);
	worksheet_write_number(ws, 1, 6, 52000.5, NULL);
	worksheet_write_number(ws, 1, 7, 0.1, NULL);
	worksheet_write_number(ws, 1, 8, 123456789012345.0, NULL);
	worksheet_write_number(ws, 1, 9, 7, quoted);
	worksheet_write_number(ws, 1, 10, 45000, red);
	/* row 3: the 1900 system's first days and Lotus' 1900-02-29 */
	worksheet_write_number(ws, 2, 0, 1002, NULL);
	worksheet_write_number(ws, 2, 1, 20000002, NULL);
	worksheet_write_number(ws, 2, 2, 1, f14);
	worksheet_write_number(ws, 2, 3, 59, dmy);
	worksheet_write_number(ws, 2, 4, 60, stamp);
	worksheet_write_number(ws, 2, 5, 61, f14);
	worksheet_write_number(ws, 2, 6, 1e20, NULL);
	worksheet_write_number(ws, 2, 7, 0.1 + 0.2, NULL);
	worksheet_write_number(ws, 2, 8, 999999999999999.0, NULL);
	worksheet_write_number(ws, 2, 9, 12.5, two);
	worksheet_write_number(ws, 2, 10, -0.5, NULL);
	/* row 4 */
	worksheet_write_number(ws, 3, 0, 1003, NULL);
	worksheet_write_number(ws, 3, 1, 20000003, NULL);
	worksheet_write_datetime(ws, 3, 2, &d3, f14);
	worksheet_write_datetime(ws, 3, 3, &d4, dmy);
	worksheet_write_datetime(ws, 3, 4, &t2, stamp);
	worksheet_write_number(ws, 3, 6, 1e-10, NULL);
	worksheet_write_number(ws, 3, 7, 1234567.891, NULL);
	worksheet_write_number(ws, 3, 8, 1e15, NULL);
	worksheet_write_number(ws, 3, 9, -42, NULL);
	worksheet_write_number(ws, 3, 10, 3.14159, NULL);
	book_close(wb);
}

static void
sheets(void)
{
	static const char *const h1[] = { "secret", NULL };
	static const char *const h2[] = { "employee_id", "name", NULL };
	static const char *const h3[] = { "contractor_id", "name", NULL };
	lxw_workbook	*wb = book_new("sheets.xlsx");
	lxw_worksheet	*hid = workbook_add_worksheet(wb, "Secret");
	lxw_worksheet	*staff = workbook_add_worksheet(wb, "Staff");
	lxw_worksheet	*con = workbook_add_worksheet(wb, "Contractors");

	strings(hid, 0, h1);
	worksheet_write_string(hid, 1, 0, "hidden row", NULL);
	strings(staff, 0, h2);
	worksheet_write_number(staff, 1, 0, 2001, NULL);
	worksheet_write_string(staff, 1, 1, "Ann", NULL);
	strings(con, 0, h3);
	worksheet_write_number(con, 1, 0, 3001, NULL);
	worksheet_write_string(con, 1, 1, "Bob", NULL);
	worksheet_activate(staff);
	worksheet_set_first_sheet(staff);
	worksheet_hide(hid);
	book_close(wb);
}

static void
rich_unicode(void)
{
	static const char *const head[] = { "name", "city", "note", "active",
	    "greeting", "sum", NULL };
	lxw_workbook		*wb = book_new("rich_unicode.xlsx");
	lxw_worksheet		*ws = workbook_add_worksheet(wb, "People");
	lxw_format		*bold = workbook_add_format(wb);
	lxw_format		*ital = workbook_add_format(wb);
	lxw_rich_string_tuple	 r1 = { bold, "Jos\xc3\xa9 " };
	lxw_rich_string_tuple	 r2 = { ital, "M\xc3\xbcller" };
	lxw_rich_string_tuple	*rich1[] = { &r1, &r2, NULL };
	lxw_rich_string_tuple	 r3 = { NULL, " a" };
	lxw_rich_string_tuple	 r4 = { bold, "b" };
	lxw_rich_string_tuple	 r5 = { NULL, "c " };
	lxw_rich_string_tuple	*rich2[] = { &r3, &r4, &r5, NULL };

	format_set_bold(bold);
	format_set_italic(ital);
	strings(ws, 0, head);
	worksheet_write_rich_string(ws, 1, 0, rich1, NULL);
	worksheet_write_string(ws, 1, 1, "Z\xc3\xbcrich", NULL);
	worksheet_write_string(ws, 1, 2, "\xf0\x9f\x98\x80 emoji", NULL);
	worksheet_write_boolean(ws, 1, 3, 1, NULL);
	worksheet_write_formula_str(ws, 1, 4, "=A2&\"!\"", NULL,
	    "Jos\xc3\xa9 M\xc3\xbcller!");
	worksheet_write_formula_num(ws, 1, 5, "=1+2", NULL, 3);
	worksheet_write_string(ws, 2, 0, "\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa"
	    "\xe9\x83\x8e", NULL);
	worksheet_write_string(ws, 2, 1, "\xe6\x9d\xb1\xe4\xba\xac", NULL);
	worksheet_write_string(ws, 2, 2, "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8"
	    "\xd8\xa7", NULL);
	worksheet_write_boolean(ws, 2, 3, 0, NULL);
	worksheet_write_formula_str(ws, 2, 4, "=\"\"", NULL, "");
	worksheet_write_formula_num(ws, 2, 5, "=5/2", NULL, 2.5);
	worksheet_write_rich_string(ws, 3, 0, rich2, NULL);
	book_close(wb);
}

static void
sparse(void)
{
	lxw_workbook	*wb = book_new("sparse.xlsx");
	lxw_worksheet	*ws = workbook_add_worksheet(wb, "Sparse");
	lxw_format	*fill = workbook_add_format(wb);

	format_set_bg_color(fill, LXW_COLOR_YELLOW);
	worksheet_write_blank(ws, 0, 0, fill);		/* row 1: blank */
	worksheet_write_string(ws, 1, 0, "id", NULL);	/* header: row 2 */
	worksheet_write_string(ws, 1, 1, "name", NULL);
	worksheet_write_string(ws, 1, 3, "email", NULL);
	worksheet_write_number(ws, 2, 0, 1, NULL);
	worksheet_write_string(ws, 2, 3, "a@example.com", NULL);
	worksheet_write_string(ws, 4, 1, "Only name", NULL);
	worksheet_write_number(ws, 6, 0, 3, NULL);
	worksheet_write_string(ws, 6, 4, "extra", NULL);
	worksheet_write_blank(ws, 8, 1, fill);		/* row 9: blank */
	worksheet_write_blank(ws, 8, 2, fill);
	worksheet_write_number(ws, 999, 0, 4, NULL);
	worksheet_write_string(ws, 999, 2, "c", NULL);
	book_close(wb);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkxlsx DIR\n");
		return 2;
	}
	dir = argv[1];
	ids_dates();
	sheets();
	rich_unicode();
	sparse();
	return 0;
}
