/*
 * The CSV report: the full report (summary, every change, every issue) as
 * one RFC 4180 table with a header row, UTF-8 with a byte-order mark so
 * Excel shows accents, CRLF line ends. A value a spreadsheet would take
 * for a formula is prefixed with a quote.
 */
#include <string.h>

#include "rostersync.h"

static const char *const columns[] = {
	"Section", "Type", "Employee ID", "Email", "Name", "Field",
	"Old value", "New value", "Status", "Row", "Message", "Suggested fix",
};
#define NCOLS	(sizeof(columns) / sizeof(columns[0]))

static void
put_cell(FILE *fp, const char *s)
{
	size_t		 n = strlen(s);
	int		 quote = strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' ||
			    (n > 0 && s[n - 1] == ' ');
	const char	*q;

	if (cell_is_formula(s)) {
		quote = 1;
		fputs("\"'", fp);
	} else if (quote)
		fputc('"', fp);
	while ((q = strchr(s, '"')) != NULL) {	/* "" for each quote */
		fwrite(s, 1, (size_t)(q - s) + 1, fp);
		fputc('"', fp);
		s = q + 1;
	}
	fputs(s, fp);
	if (quote)
		fputc('"', fp);
}

static void
put_row(FILE *fp, const char *const *v)
{
	size_t	 i;

	for (i = 0; i < NCOLS; i++) {
		if (i > 0)
			fputc(',', fp);
		put_cell(fp, v[i] ? v[i] : "");
	}
	fputs("\r\n", fp);
}

static void
on_summary(void *arg, const char *label, const char *value)
{
	const char *v[NCOLS] = { "Summary", NULL, NULL, NULL, NULL, label,
	    NULL, value };

	put_row(arg, v);
}

static int
on_item(void *arg, const struct itemview *it)
{
	const char *v[NCOLS] = { "Change", itemtype_label(it->type), it->key,
	    it->email, it->type == IT_TEAM_CREATE ||
	    it->type == IT_TEAM_DELETE ? it->team : it->name, it->field,
	    it->old, it->new, itemstatus_slug(it->status), NULL, it->error };

	if (it->field == NULL)
		v[6] = v[7] = NULL;
	put_row(arg, v);
	return 0;
}

static int
on_issue(void *arg, const struct issueview *is)
{
	char		 row[24];
	const char	*v[NCOLS] = { "Issue", issuetype_label(is->type),
	    is->key, is->email, is->name, is->field, NULL, NULL, NULL, row,
	    is->message, is->fix };

	snprintf(row, sizeof(row), "%lld", is->row);
	put_row(arg, v);
	return 0;
}

/* The byte-order mark, the header row and the summary. */
void
report_csv_head(const struct run *r, FILE *fp)
{
	fputs("\xef\xbb\xbf", fp);
	put_row(fp, columns);
	report_summary(r, on_summary, fp);
}

/* Every change, then every issue. */
int
report_csv_rows(const struct reportsrc *src, FILE *fp)
{
	if (src->items(src->arg, on_item, fp) == -1 ||
	    src->issues(src->arg, on_issue, fp) == -1)
		return -1;
	return ferror(fp) ? -1 : 0;
}

int
report_csv(struct store *st, const struct run *r, FILE *fp)
{
	struct storesrc	 ss;
	struct reportsrc src;

	report_store_src(st, r->id, &ss, &src);
	report_csv_head(r, fp);
	return report_csv_rows(&src, fp);
}
