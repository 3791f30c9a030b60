// §14 parsing and column mapping, on files the tests write themselves (CSV in both encodings and
// separators, with BOM and quoted line breaks; XLSX written with exceljs; bad files).
import test, { type ExecutionContext } from 'ava'
import { Readable } from 'node:stream'
import ExcelJS from 'exceljs'
import iconv from 'iconv-lite'
import yazl from 'yazl'
import {
  ImportFileError, MAX_IMPORT_BYTES, mapColumns, parseImportFile, rowError, rowToLeadInput, type ParsedFile,
} from '../../models/import-file.ts'
import { validateLeadCreate } from '../../models/validation.ts'

const HEADER_DE = ['Firma', 'Ansprechpartner', 'E-Mail', 'Telefon', 'Straße', 'PLZ', 'Ort', 'Land', 'Branche', 'Notizen']
const ROWS = [
  ['Bäckerei Müller GmbH', 'Jürgen Groß', 'jg@mueller.de', '+49 30 1234567', 'Hauptstraße 1', '10115', 'Berlin', 'Deutschland', 'Restaurant', 'Mag "frische" Ware;\nruft zurück'],
  ['Café Zürich AG', 'Renée Dubois', 'rd@cafe.ch', '044 123 45 67', 'Bahnhofstrasse 2', '8001', 'Zürich', 'Schweiz', 'Hotel', ''],
]

function csv(rows: string[][], delimiter: ',' | ';'): string {
  const quote = (cell: string) => (/[",;\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)
  return rows.map((row) => row.map(quote).join(delimiter)).join('\r\n') + '\r\n'
}

async function xlsx(rows: (string | number | Date | null)[][], options: { sheets?: number } = {}): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook()
  const sheet = workbook.addWorksheet('Leads')
  for (const row of rows) sheet.addRow(row)
  for (let i = 1; i < (options.sheets ?? 1); i++) workbook.addWorksheet(`Other ${i}`).addRow(['Firma']).commit?.()
  return Buffer.from(await workbook.xlsx.writeBuffer())
}

async function zip(entries: { name: string; data: Buffer | (() => Readable); size?: number }[]): Promise<Buffer> {
  const file = new yazl.ZipFile()
  for (const entry of entries) {
    if (Buffer.isBuffer(entry.data)) file.addBuffer(entry.data, entry.name)
    else file.addReadStream(entry.data(), entry.name, { size: entry.size })
  }
  file.end()
  const chunks: Buffer[] = []
  for await (const chunk of file.outputStream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function assertRows(t: ExecutionContext, parsed: ParsedFile) {
  t.deepEqual(parsed.header, HEADER_DE)
  t.deepEqual(parsed.rows.map((r) => r.cells), ROWS)
  t.deepEqual(parsed.rows.map((r) => r.row), [2, 3])
}

test('CSV: UTF-8 with comma, UTF-8 with BOM and semicolon, Windows-1252 with semicolon; quoted line breaks and quotes', async (t) => {
  const utf8 = await parseImportFile(Buffer.from(csv([HEADER_DE, ...ROWS], ',')))
  t.like(utf8, { type: 'CSV', encoding: 'UTF-8', delimiter: ',' })
  assertRows(t, utf8)

  const bom = await parseImportFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv([HEADER_DE, ...ROWS], ';'))]))
  t.like(bom, { encoding: 'UTF-8-BOM', delimiter: ';' })
  assertRows(t, bom)

  const cp1252 = iconv.encode(csv([HEADER_DE, ...ROWS], ';'), 'win1252')
  t.not(cp1252.indexOf(Buffer.from('ü', 'latin1')), -1, 'the test file really is single-byte')
  const win = await parseImportFile(cp1252)
  t.like(win, { encoding: 'WINDOWS-1252', delimiter: ';' })
  assertRows(t, win)

  // Windows-1252 only characters (€ 0x80, „ 0x84, “ 0x93)
  const euro = await parseImportFile(iconv.encode('Firma;Notizen\nA;„Preis“ 5 €\n', 'win1252'))
  t.is(euro.rows[0]!.cells[1], '„Preis“ 5 €')
})

test('CSV: row numbers as a spreadsheet shows them, blank lines kept in the count but not imported', async (t) => {
  const parsed = await parseImportFile(Buffer.from('Firma,Notizen\n"A","two\nlines"\n\n;;\nB,x\n,\n'))
  t.deepEqual(parsed.rows.map((r) => [r.row, r.cells[0]]), [[2, 'A'], [4, ';;'], [5, 'B']])
})

test('XLSX written by exceljs: the first sheet, typed cells as text, row numbers of the sheet', async (t) => {
  const file = await xlsx([HEADER_DE, ...ROWS, [], ['Zahlen AG', null, null, 4930123, null, 12345]], { sheets: 2 })
  const parsed = await parseImportFile(file)
  t.is(parsed.type, 'XLSX')
  t.deepEqual(parsed.header, HEADER_DE)
  t.deepEqual(parsed.rows[0]!.cells, ROWS[0])
  t.is(parsed.rows[1]!.cells[0], 'Café Zürich AG')
  t.deepEqual(parsed.rows.map((r) => r.row), [2, 3, 5])
  t.is(parsed.rows[2]!.cells[3], '4930123')
  t.is(parsed.rows[2]!.cells[5], '12345')
})

const refused = async (t: ExecutionContext, file: Buffer, message: RegExp) => {
  const error = await t.throwsAsync(parseImportFile(file), { instanceOf: ImportFileError })
  t.regex(error!.message, message)
}

test('bad files are refused with a reason: not CSV/XLSX, .xls, UTF-16, other zip, 0 rows, header only, too large', async (t) => {
  await refused(t, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), /neither CSV nor XLSX/)
  await refused(t, Buffer.from('%PDF-1.4\n\x01\x02\x03 binary'), /neither CSV nor XLSX/)
  await refused(t, Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), /\.xls/)
  await refused(t, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Firma\nA\n', 'utf16le')]), /UTF-16/)
  await refused(t, await zip([{ name: 'word/document.xml', data: Buffer.from('<w/>') }]), /not an Excel workbook/)
  await refused(t, Buffer.from('PK\x03\x04garbage'), /not a readable zip/)
  await refused(t, Buffer.alloc(0), /empty/)
  await refused(t, Buffer.from('\r\n\r\n'), /empty|no header/)
  await refused(t, Buffer.from('Firma;E-Mail\r\n'), /header but no data rows/)
  await refused(t, Buffer.from('Firma;E-Mail\r\n;\r\n\r\n'), /header but no data rows/)
  await refused(t, await xlsx([['Firma', 'E-Mail']]), /header but no data rows/)
  await refused(t, await xlsx([]), /empty/)
  const big = Buffer.alloc(11 * 1024 * 1024, 'a')
  t.true(big.length > MAX_IMPORT_BYTES)
  await refused(t, big, /larger than/)
})

test('zip bomb: a workbook part that inflates to gigabytes is refused before exceljs reads it', async (t) => {
  const good = await xlsx([HEADER_DE, ...ROWS])
  // 300 MB of zeros in a few hundred kilobytes, beside a valid workbook.
  const zeros = Buffer.alloc(1024 * 1024)
  const size = 300 * 1024 * 1024
  const bomb = await zip([
    { name: 'xl/workbook.xml', data: Buffer.from('<workbook/>') },
    { name: 'xl/worksheets/sheet1.xml', size, data: () => Readable.from((function* () { for (let i = 0; i < 300; i++) yield zeros })()) },
  ])
  t.true(bomb.length < good.length * 200)
  await refused(t, bomb, /zip bomb/)
  // Many parts
  await refused(t, await zip([{ name: 'xl/workbook.xml', data: Buffer.from('<w/>') }, ...Array.from({ length: 1001 }, (_, i) => ({ name: `x/${i}`, data: Buffer.from('x') }))]), /zip bomb/)
})

test('headers in German and English map to lead fields; mapping overrides and ignores; conflicts refuse the file', (t) => {
  const de = mapColumns(['Firma', 'Ansprechpartner', 'E-Mail', 'Telefon', 'Straße', 'Postleitzahl', 'Stadt', 'Land', 'Website', 'Branche', 'Notizen', 'Besitzer', 'Interne Nr.'])
  t.deepEqual(de.fields, ['companyName', 'contactName', 'email', 'phone', 'street', 'postalCode', 'city', 'countryCode', 'website', 'businessType', 'notes', 'ownerUserId', null])
  const en = mapColumns(['Company', 'Contact', 'Email', 'Phone', 'Street', 'Postal code', 'City', 'Country', 'Website', 'Business type', 'Notes', 'Owner', 'Kampagne'])
  t.deepEqual(en.fields, ['companyName', 'contactName', 'email', 'phone', 'street', 'postalCode', 'city', 'countryCode', 'website', 'businessType', 'notes', 'ownerUserId', 'sourceCampaign'])
  t.throws(() => mapColumns(['Company', 'Postal code', 'ZIP']), { instanceOf: ImportFileError, message: /"Postal code" and "ZIP" both map to postalCode/ })
  t.deepEqual(mapColumns(['Company', 'Postal code', 'ZIP'], { ZIP: null }).fields, ['companyName', 'postalCode', null])
  t.deepEqual(mapColumns(['Kunde', 'Mail'], { Kunde: 'companyName' }).fields, ['companyName', 'email'])
  t.throws(() => mapColumns(['Kunde', 'Mail']), { message: /No column for the company name/ })
  t.throws(() => mapColumns(['Firma'], { Kunde: 'companyName' }), { message: /mapping names columns the file does not have: Kunde/ })
})

test('a row becomes the POST /api/leads body; values as people type them; errors name row and column', (t) => {
  const map = mapColumns(['Firma', 'E-Mail', 'Land', 'Branche', 'Küchengröße', 'Mitarbeiter', 'Volumen', 'Einwilligung', 'Erstkontakt', 'PLZ'])
  const input = rowToLeadInput(map, ['  Kantine Nord ', 'a@b.de', 'Schweiz', 'Großhandel', 'sehr groß', '1.200', '1.234,50', 'ja', 'Am Stand 4', ''], { source: 'MESSE' })
  t.deepEqual(input, {
    source: 'MESSE', companyName: 'Kantine Nord', email: 'a@b.de', countryCode: 'CH', businessType: 'GROSSHANDEL', kitchenSize: 'SEHR_GROSS',
    employeeCount: 1200, estimatedVolume: 1234.5, emailConsent: true, activities: [{ type: 'FIRST_CONTACT_DOCUMENTED', summary: 'Am Stand 4' }],
  })
  t.deepEqual(validateLeadCreate(input), [])

  const bad = rowToLeadInput(map, ['', 'not-an-email', 'Mars', 'Bäckerei', '', 'viele', '', 'vielleicht', '', '<b>1</b>'], { source: 'SONSTIGES', ownerUserId: 'u1' })
  const errors = validateLeadCreate(bad).map((error) => rowError(map, 7, error))
  t.deepEqual(errors.map((e) => e.column).sort(), ['Branche', 'E-Mail', 'Einwilligung', 'Firma', 'Land', 'Mitarbeiter', 'PLZ'].sort())
  t.true(errors.every((e) => e.row === 7 && e.message.length > 0))
  t.like(errors.find((e) => e.column === 'Land'), { message: 'must be an ISO 3166 alpha-2 code' })
  t.like(errors.find((e) => e.column === 'Firma'), { message: 'is required' })
  t.like(errors.find((e) => e.column === 'PLZ'), { message: 'must not contain HTML' })
})
