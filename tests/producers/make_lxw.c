/*
 * The producer fixtures, part 3 (run by tests/producers/make.sh):
 * libxlsxwriter's twins of the export pair, in constant-memory mode
 * (inline strings), ids as numbers with the format 0000000, dates as
 * date cells, notes with CR LF.
 *
 * usage: make_lxw SCRATCH OUT	reads SCRATCH/day{1,2}.tsv (make.py),
 *				writes OUT/lxw_day{1,2}.xlsx
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xlsxwriter.h>

#define MAXCOL	32
#define MAXLINE	4096

/* Undo make.py's TSV escapes (\\, \t, \n) in place; LF becomes CR LF. */
static void
unescape(const char *in, char *out)
{
	for (; *in != '\0'; in++) {
		if (*in != '\\' || in[1] == '\0') {
			*out++ = *in;
			continue;
		}
		in++;
		if (*in == 'n') {
			*out++ = '\r';
			*out++ = '\n';
		} else
			*out++ = *in == 't' ? '\t' : *in;
	}
	*out = '\0';
}

static void
put(lxw_worksheet *ws, lxw_format *pad, lxw_format *date, int r, int c,
    const char *name, const char *v)
{
	char		 buf[2 * MAXLINE];
	lxw_datetime	 dt = { 0 };

	if (*v == '\0')
		return;
	if (r > 0 && (strcmp(name, "employee_id") == 0 ||
	    strcmp(name, "manager_id") == 0))
		worksheet_write_number(ws, r, c, atof(v), pad);
	else if (r > 0 && strcmp(name, "cost_center") == 0)
		worksheet_write_number(ws, r, c, atof(v), NULL);
	else if (r > 0 && strcmp(name, "start_date") == 0 &&
	    sscanf(v, "%d-%d-%d", &dt.year, &dt.month, &dt.day) == 3)
		worksheet_write_datetime(ws, r, c, &dt, date);
	else {
		unescape(v, buf);
		worksheet_write_string(ws, r, c, buf, NULL);
	}
}

static int
twin(const char *tsv, const char *xlsx)
{
	lxw_workbook_options	 opt = { .constant_memory = LXW_TRUE };
	lxw_workbook		*wb;
	lxw_worksheet		*ws;
	lxw_format		*pad, *date;
	FILE			*fp;
	char			 line[MAXLINE], *f[MAXCOL], *s;
	char			 head[MAXCOL][64];
	int			 r, c, nf;

	if ((fp = fopen(tsv, "r")) == NULL) {
		perror(tsv);
		return -1;
	}
	wb = workbook_new_opt(xlsx, &opt);
	ws = workbook_add_worksheet(wb, "Staff");
	pad = workbook_add_format(wb);
	format_set_num_format(pad, "0000000");
	date = workbook_add_format(wb);
	format_set_num_format(date, "yyyy-mm-dd");
	for (r = 0; fgets(line, sizeof(line), fp) != NULL; r++) {
		line[strcspn(line, "\n")] = '\0';
		for (nf = 0, s = line; nf < MAXCOL &&
		    (f[nf] = strsep(&s, "\t")) != NULL; nf++)
			;
		for (c = 0; c < nf; c++) {
			if (r == 0)
				snprintf(head[c], sizeof(head[c]), "%s", f[c]);
			put(ws, pad, date, r, c, head[c], f[c]);
		}
	}
	fclose(fp);
	return workbook_close(wb) == LXW_NO_ERROR ? 0 : -1;
}

int
main(int argc, char **argv)
{
	char	 in[4096], out[4096];
	int	 d;

	if (argc != 3) {
		fprintf(stderr, "usage: make_lxw SCRATCH OUT\n");
		return 2;
	}
	for (d = 1; d <= 2; d++) {
		snprintf(in, sizeof(in), "%s/day%d.tsv", argv[1], d);
		snprintf(out, sizeof(out), "%s/lxw_day%d.xlsx", argv[2], d);
		if (twin(in, out) == -1)
			return 1;
	}
	return 0;
}
