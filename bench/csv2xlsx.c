/*
 * csv2xlsx: the XLSX twin of a bench export, for `make bench` (the daily
 * run from a spreadsheet). A producer of our own, so that a million rows
 * take seconds, not LibreOffice's minutes: libcsv reads the CSV and
 * libxlsxwriter writes it in constant-memory mode, as an HR system that
 * uses it would: inline strings, and a column named start_date or
 * end_date as date cells under the format yyyy-mm-dd (which rostersync
 * reads back as the same text). Every other cell is the CSV's text; an
 * empty field is no cell.
 *
 * usage: csv2xlsx IN.csv OUT.xlsx
 *
 * Exit 0, or 1 with a message (a row past the sheet's 1,048,576, a CSV
 * that libcsv cannot read, a write that failed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <xlsxwriter.h>

#define C2X_MAXCOL	256		/* columns kept of the header */
#define C2X_MAXROW	1048576		/* rows in a sheet, the header too */
#define C2X_BLOCK	(256 * 1024)	/* bytes read at a time */
#define C2X_MINYEAR	1901		/* earlier dates stay text */

struct c2x {
	lxw_worksheet	*ws;
	lxw_format	*date;
	int		 datecol[C2X_MAXCOL];	/* start_date, end_date */
	lxw_row_t	 row;
	lxw_col_t	 col;
	int		 failed;
};

/* Is s (n bytes) a date YYYY-MM-DD a date cell can hold? */
static int
as_date(const char *s, size_t n, lxw_datetime *dt)
{
	char	 tmp[16];

	if (n != 10)
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(dt, 0, sizeof(*dt));
	return sscanf(tmp, "%4d-%2d-%2d", &dt->year, &dt->month,
	    &dt->day) == 3 && dt->year >= C2X_MINYEAR && dt->month >= 1 &&
	    dt->month <= 12 && dt->day >= 1 && dt->day <= 31;
}

static void
on_field(void *p, size_t n, void *arg)
{
	struct c2x	*c = arg;
	lxw_datetime	 dt;
	char		*s = p;
	lxw_error	 e;

	if (!c->failed && c->row >= C2X_MAXROW) {
		fprintf(stderr, "csv2xlsx: more than %d rows: a sheet holds "
		    "no more\n", C2X_MAXROW);
		c->failed = 1;
	}
	if (c->failed || n == 0 || c->col >= C2X_MAXCOL) {
		c->col++;
		return;
	}
	if (c->row == 0)
		c->datecol[c->col] = strcmp(s, "start_date") == 0 ||
		    strcmp(s, "end_date") == 0;
	if (c->row > 0 && c->datecol[c->col] && as_date(s, n, &dt))
		e = worksheet_write_datetime(c->ws, c->row, c->col, &dt,
		    c->date);
	else
		e = worksheet_write_string(c->ws, c->row, c->col, s, NULL);
	if (e != LXW_NO_ERROR) {
		fprintf(stderr, "csv2xlsx: row %u: %s\n", c->row + 1,
		    lxw_strerror(e));
		c->failed = 1;
	}
	c->col++;
}

static void
on_row(int term, void *arg)
{
	struct c2x	*c = arg;

	(void)term;
	c->col = 0;
	c->row++;
}

int
main(int argc, char **argv)
{
	lxw_workbook_options	 opt = { .constant_memory = LXW_TRUE };
	lxw_workbook		*wb;
	struct csv_parser	 p;
	struct c2x		 c = { 0 };
	FILE			*in;
	char			*blk;
	size_t			 n;

	if (argc != 3) {
		fprintf(stderr, "usage: csv2xlsx IN.csv OUT.xlsx\n");
		return 2;
	}
	if ((in = fopen(argv[1], "rb")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	if ((wb = workbook_new_opt(argv[2], &opt)) == NULL) {
		fprintf(stderr, "csv2xlsx: cannot create %s\n", argv[2]);
		return 1;
	}
	c.ws = workbook_add_worksheet(wb, "Export");
	c.date = workbook_add_format(wb);
	format_set_num_format(c.date, "yyyy-mm-dd");
	if (csv_init(&p, CSV_APPEND_NULL) != 0 || (blk = malloc(C2X_BLOCK)) ==
	    NULL) {
		fprintf(stderr, "csv2xlsx: out of memory\n");
		return 1;
	}
	while (!c.failed && (n = fread(blk, 1, C2X_BLOCK, in)) > 0)
		if (csv_parse(&p, blk, n, on_field, on_row, &c) != n) {
			fprintf(stderr, "csv2xlsx: %s: %s\n", argv[1],
			    csv_strerror(csv_error(&p)));
			c.failed = 1;
		}
	if (!c.failed && ferror(in)) {
		perror(argv[1]);
		c.failed = 1;
	}
	if (!c.failed)
		csv_fini(&p, on_field, on_row, &c);
	csv_free(&p);
	free(blk);
	fclose(in);
	if (workbook_close(wb) != LXW_NO_ERROR) {
		fprintf(stderr, "csv2xlsx: cannot write %s\n", argv[2]);
		return 1;
	}
	return c.failed;
}
