/*
 * The plain-text run log: what the run did, step by step, with counts and
 * timings. The lines were captured while the run went (log_tee) and kept
 * in the database; a run that died before that gets a log made from its
 * record, saying so.
 */
#include <stdlib.h>
#include <string.h>

#include "rostersync.h"

/* A line of the summary, its value as the log lines are (text_safe()):
 * a file name or an error naming a header cell is the export's text. */
static void
on_pair(void *arg, const char *label, const char *value)
{
	struct buf	 b = { 0 };

	if (value[0] == '\0')
		return;
	text_safe(&b, value, 0);
	fprintf(arg, "  %-32s %s\n", label, b.p);
	buf_free(&b);
}

int
report_log(struct store *st, const struct run *r, FILE *fp)
{
	char	*text = store_runlog_get(st, r->id);

	fprintf(fp, "rostersync %s run log: run %lld of sync %s\n\n",
	    RS_VERSION, r->id, r->sync);
	if (text != NULL && text[0] != '\0')
		fputs(text, fp);
	else
		fprintf(fp, "(no step log was kept: the process ended before "
		    "the run finished; this log is made from the run's record)"
		    "\n");
	free(text);
	fprintf(fp, "\nSummary\n");
	report_summary(r, on_pair, fp);
	return ferror(fp) ? -1 : 0;
}
