/*
 * libFuzzer target: the XLSX reader, load_xlsx() on a temporary file.
 *
 * An input starting with "PK" is the file itself (ZIP, deflate, CRCs:
 * mutations mostly test libzip and the archive checks). Any other input
 * is the XML of the parts, separated by NUL bytes, in this order:
 *
 *   xl/worksheets/sheet1.xml, xl/sharedStrings.xml, xl/styles.xml,
 *   xl/workbook.xml, xl/_rels/workbook.xml.rels, _rels/.rels
 *
 * and is stored (not compressed) in a package whose missing or empty
 * parts are the minimal ones below, so that mutations reach the XML
 * state machines, the cell references, numbers, dates and strings.
 */
#include <zip.h>

#include "fuzz.h"

#define FUZZ_XLSX_PARTS	6

static const char *const fuzz_xlsx_name[FUZZ_XLSX_PARTS] = {
	"xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/styles.xml",
	"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels",
};

#define FUZZ_NS	"http://schemas.openxmlformats.org/"
static const char *const fuzz_xlsx_default[FUZZ_XLSX_PARTS] = {
	"<worksheet xmlns=\"" FUZZ_NS "spreadsheetml/2006/main\"><sheetData>"
	"<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c></row>"
	"<row r=\"2\"><c r=\"A2\"><v>1</v></c></row></sheetData></worksheet>",
	"<sst xmlns=\"" FUZZ_NS "spreadsheetml/2006/main\"><si><t>id</t></si>"
	"</sst>",
	"<styleSheet xmlns=\"" FUZZ_NS "spreadsheetml/2006/main\"><cellXfs>"
	"<xf numFmtId=\"0\"/><xf numFmtId=\"14\"/></cellXfs></styleSheet>",
	"<workbook xmlns=\"" FUZZ_NS "spreadsheetml/2006/main\" xmlns:r=\""
	FUZZ_NS "officeDocument/2006/relationships\"><sheets><sheet "
	"name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
	"<Relationships xmlns=\"" FUZZ_NS "package/2006/relationships\">"
	"<Relationship Id=\"rId1\" Type=\"" FUZZ_NS "officeDocument/2006/"
	"relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
	"<Relationship Id=\"rId2\" Type=\"" FUZZ_NS "officeDocument/2006/"
	"relationships/sharedStrings\" Target=\"sharedStrings.xml\"/>"
	"<Relationship Id=\"rId3\" Type=\"" FUZZ_NS "officeDocument/2006/"
	"relationships/styles\" Target=\"styles.xml\"/></Relationships>",
	"<Relationships xmlns=\"" FUZZ_NS "package/2006/relationships\">"
	"<Relationship Id=\"rId1\" Type=\"" FUZZ_NS "officeDocument/2006/"
	"relationships/officeDocument\" Target=\"xl/workbook.xml\"/>"
	"</Relationships>",
};

static int
fuzz_xlsx_row(void *arg, const struct rawrow *r)
{
	unsigned	*h = arg;
	size_t		 i;

	if (r->nf > MAX_COLUMNS)
		abort();
	for (i = 0; i < r->nf; i++) {
		if (r->f[i][r->len[i]] != '\0')	/* NUL-terminated at len */
			abort();
		*h += fuzz_touch(r->f[i], r->len[i]) + r->ff[i];
	}
	return 0;
}

/* The parts of a structured input, stored in a package at path. */
static int
fuzz_xlsx_package(const char *path, const uint8_t *data, size_t size)
{
	zip_t		*za;
	zip_source_t	*src;
	zip_int64_t	 idx;
	const uint8_t	*p = data, *end = data + size, *z;
	size_t		 i, n;
	int		 err;

	if ((za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err)) == NULL)
		return -1;
	for (i = 0; i < FUZZ_XLSX_PARTS; i++) {
		const void	*part;

		z = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		n = p < end ? (size_t)((z ? z : end) - p) : 0;
		part = p;
		if (n == 0) {
			part = fuzz_xlsx_default[i];
			n = strlen(fuzz_xlsx_default[i]);
		}
		p = z ? z + 1 : end;
		if ((src = zip_source_buffer(za, part, n, 0)) == NULL ||
		    (idx = zip_file_add(za, fuzz_xlsx_name[i], src,
		    ZIP_FL_OVERWRITE)) < 0) {
			zip_source_free(src);
			zip_discard(za);
			return -1;
		}
		zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
	}
	if (zip_close(za) == -1) {
		zip_discard(za);
		return -1;
	}
	return 0;
}

/*
 * Read it three times: as it is (the sheet through the tokenizer, expat
 * taking over where it stops), with the sheet parsed on a thread of its
 * own whatever its size, and with the sheet through expat alone. The outcome must be the same:
 * the same rows, or the same error. Then list its worksheets, as a load
 * failure does.
 */
static int
fuzz_xlsx_one(const uint8_t *data, size_t size)
{
	static struct fuzzfile	 f;
	struct xlsx_book	 b;
	const char		*path;
	char			 ea[MAX_ERRMSG], eb[MAX_ERRMSG];
	unsigned		 ha = 0, hb = 0, hc = 0;
	size_t			 min = xlsx_thread_min;
	int			 ra, rb, rc;

	if (size >= 2 && memcmp(data, "PK", 2) == 0)
		path = fuzz_write(&f, ".xlsx", data, size);
	else if (fuzz_xlsx_package(path = fuzz_write(&f, ".xlsx", NULL, 0),
	    data, size) == -1)
		return 0;
	ra = load_xlsx(path, NULL, fuzz_xlsx_row, &ha, ea, sizeof(ea));
	xlsx_thread_min = 1;
	rb = load_xlsx(path, NULL, fuzz_xlsx_row, &hb, eb, sizeof(eb));
	xlsx_thread_min = min;
	if (ra != rb || (ra == -1 ? strcmp(ea, eb) != 0 : ha != hb))
		abort();
	xlsx_fast_sheet = 0;
	rc = load_xlsx(path, NULL, fuzz_xlsx_row, &hc, eb, sizeof(eb));
	xlsx_fast_sheet = 1;
	if (ra != rc || (ra == -1 ? strcmp(ea, eb) != 0 : ha != hc))
		abort();
	if (xlsx_book_sheets(path, "Data", &b, ea, sizeof(ea)) == 0 &&
	    (b.read > b.n || (b.n > 0 && b.name[b.n - 1] == NULL)))
		abort();
	xlsx_book_free(&b);
	return 0;
}

#ifndef FUZZ_REPLAY
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_xlsx_one(data, size);
}
#endif
