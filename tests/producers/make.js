// The producer fixtures, part 2 (run by tests/producers/make.sh, with
// NODE_PATH naming a scratch directory's node_modules: exceljs, xlsx).
//
// usage: node make.js OUT SCRATCH
//
// Reads SCRATCH/rows.json (make.py) and writes into OUT (fixtures/xlsx/):
//   exceljs_day{1,2}.xlsx   exceljs: shared strings, ids as numbers with
//                           the format 0000000, dates as numbers with a
//                           date format, notes with CR LF
//   exceljs_formulas.xlsx   day 1 with the email column made of formulas
//                           without a result (<f> and no <v>)
//   exceljs_ids_plain.xlsx  day 1 with the ids typed as plain numbers (no
//                           format: 0003311 is 3311)
//   sheetjs_day{1,2}.xlsx   SheetJS (npm xlsx) with cellDates: dates as
//                           ISO text (t="d", "...T00:00:00.000Z"), strings
//                           as t="str", notes with "_x000d_"
//   sheetjs_sst_day1.xlsx   the same with shared strings (bookSST)
'use strict';
const fs = require('fs');
const path = require('path');
const ExcelJS = require('exceljs');
const XLSX = require('xlsx');

const [out, scratch] = process.argv.slice(2);
if (!out || !scratch) {
	console.error('usage: node make.js OUT SCRATCH');
	process.exit(2);
}
const spec = JSON.parse(fs.readFileSync(path.join(scratch, 'rows.json')));
const header = spec.header;
const padded = new Set(['employee_id', 'manager_id']);
const numeric = new Set(['employee_id', 'manager_id', 'cost_center']);
const FIXED = new Date(Date.UTC(2024, 0, 1));

// A CSV value as a spreadsheet holds it: a number, a date (UTC midnight),
// text with CR LF line ends, or null.
function typed(name, v) {
	if (v === '')
		return null;
	if (numeric.has(name))
		return Number(v);
	if (name === 'start_date') {
		const [y, m, d] = v.split('-').map(Number);
		return new Date(Date.UTC(y, m - 1, d));
	}
	return v.replace(/\n/g, '\r\n');
}

async function exceljsBook(file, rows, opt) {
	const wb = new ExcelJS.Workbook();
	wb.creator = 'rostersync tests/producers';
	wb.created = wb.modified = FIXED;
	const ws = wb.addWorksheet('Staff');
	ws.addRow(header);
	rows.forEach((row, i) => {
		const r = ws.addRow(row.map((v, c) => typed(header[c], v)));
		header.forEach((name, c) => {
			const cell = r.getCell(c + 1);
			if (cell.value === null)
				return;
			if (padded.has(name) && !opt.plainIds)
				cell.numFmt = '0000000';
			if (name === 'start_date')
				cell.numFmt = 'yyyy-mm-dd';
			if (name === 'email' && opt.emailFormula)
				cell.value = { formula: `LOWER(C${i + 2})&"."&` +
				    `LOWER(D${i + 2})&"@example.com"` };
		});
	});
	await wb.xlsx.writeFile(path.join(out, file));
}

function sheetjsBook(file, rows, opt) {
	const aoa = [header].concat(rows.map(row =>
	    row.map((v, c) => typed(header[c], v))));
	const ws = XLSX.utils.aoa_to_sheet(aoa, { cellDates: true });
	rows.forEach((row, i) => header.forEach((name, c) => {
		const cell = ws[XLSX.utils.encode_cell({ r: i + 1, c })];
		if (cell === undefined)
			return;
		if (padded.has(name))
			cell.z = '0000000';
		if (name === 'start_date')
			cell.z = 'yyyy-mm-dd';
	}));
	const wb = XLSX.utils.book_new();
	XLSX.utils.book_append_sheet(wb, ws, 'Staff');
	wb.Props = { Author: 'rostersync tests/producers', CreatedDate: FIXED };
	XLSX.writeFile(wb, path.join(out, file), { cellDates: true,
	    bookSST: !!opt.sst, compression: true });
}

(async () => {
	for (const day of ['day1', 'day2']) {
		const rows = spec.days[day];
		await exceljsBook(`exceljs_${day}.xlsx`, rows, {});
		sheetjsBook(`sheetjs_${day}.xlsx`, rows, {});
	}
	const d1 = spec.days.day1;
	await exceljsBook('exceljs_formulas.xlsx', d1, { emailFormula: true });
	await exceljsBook('exceljs_ids_plain.xlsx', d1, { plainIds: true });
	sheetjsBook('sheetjs_sst_day1.xlsx', d1, { sst: true });
})().catch(e => {
	console.error(e);
	process.exit(1);
});
