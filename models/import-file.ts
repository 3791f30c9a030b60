// §14 lead-list import: reading an uploaded file into rows, and a row into the body POST /api/leads
// takes. Plain functions, no database: the job (jobs/imports.ts) stores nothing but what these
// return. Parsing is done by libraries (csv-parse, iconv-lite, exceljs, yauzl); this module only
// decides which one and bounds what they may cost.
import { Readable } from 'node:stream'
import { parse as parseCsv } from 'csv-parse/sync'
import iconv from 'iconv-lite'
import ExcelJS from 'exceljs'
import yauzl from 'yauzl'
import { BUSINESS_TYPES, KITCHEN_SIZES } from './lead-rules.ts'

/** The largest upload (§14); the web edge answers 413 beyond it. */
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024
/** Data rows per file: 10 MB of CSV is about 100,000 typical rows. */
export const MAX_IMPORT_ROWS = 200_000
export const MAX_IMPORT_COLUMNS = 200
/** One cell's text; the longest lead field (notes) takes 10,000 characters. */
export const MAX_CELL_CHARS = 20_000
/** XLSX (zip) limits, checked on the central directory and again while inflating (zip bombs). */
export const MAX_ZIP_ENTRIES = 1_000
export const MAX_ZIP_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
export const MAX_ZIP_RATIO = 200

export type ImportFileType = 'CSV' | 'XLSX'

/** Why a file cannot be imported at all: becomes the import's failure reason (or a 4xx at upload). */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ImportFileError'
  }
}

export interface SheetRow {
  /** The row number a spreadsheet program shows (the header is row 1). */
  row: number
  cells: string[]
}

export interface ParsedFile {
  type: ImportFileType
  /** CSV only. */
  encoding?: 'UTF-8' | 'UTF-8-BOM' | 'WINDOWS-1252'
  delimiter?: ',' | ';'
  header: string[]
  /** Data rows that have at least one non-blank cell, in file order. */
  rows: SheetRow[]
}

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04])
const OLE_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0]) // .xls, .doc
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf])

/** CSV or XLSX by content (zip magic), never by file name or declared type; anything else is refused. */
export function detectFileType(buffer: Buffer): ImportFileType {
  if (buffer.length === 0) throw new ImportFileError('The file is empty.')
  if (buffer.subarray(0, 4).equals(ZIP_MAGIC)) return 'XLSX'
  if (buffer.subarray(0, 4).equals(OLE_MAGIC)) throw new ImportFileError('Old Excel files (.xls) are not supported; save the sheet as .xlsx or CSV.')
  if ((buffer[0] === 0xff && buffer[1] === 0xfe) || (buffer[0] === 0xfe && buffer[1] === 0xff)) {
    throw new ImportFileError('UTF-16 text is not supported; save the file as CSV (UTF-8) or CSV (Windows-1252).')
  }
  // Text has no NUL and next to no other C0 controls; images, PDFs, executables and archives do.
  const head = buffer.subarray(0, 64 * 1024)
  let controls = 0
  for (const byte of head) {
    if (byte === 0) throw new ImportFileError('The file is neither CSV nor XLSX.')
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) controls++
  }
  if (controls > 0) throw new ImportFileError('The file is neither CSV nor XLSX.')
  return 'CSV'
}

/** UTF-8 (with or without BOM) when the bytes are valid UTF-8, else Windows-1252 (Excel's "CSV" on German Windows). */
export function decodeText(buffer: Buffer): { text: string; encoding: NonNullable<ParsedFile['encoding']> } {
  if (buffer.subarray(0, 3).equals(UTF8_BOM)) {
    return { text: new TextDecoder('utf-8', { fatal: false }).decode(buffer.subarray(3)), encoding: 'UTF-8-BOM' }
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(buffer), encoding: 'UTF-8' }
  } catch {
    return { text: iconv.decode(buffer, 'win1252'), encoding: 'WINDOWS-1252' }
  }
}

/** `;` (Excel in German locales) or `,`: whichever occurs more often in the header line, outside quotes. */
export function detectDelimiter(text: string): ',' | ';' {
  let commas = 0
  let semicolons = 0
  let quoted = false
  for (const char of text) {
    if (char === '"') quoted = !quoted
    else if (!quoted && (char === '\n' || char === '\r')) break
    else if (!quoted && char === ',') commas++
    else if (!quoted && char === ';') semicolons++
  }
  return semicolons > commas ? ';' : ','
}

function isBlankRow(cells: readonly string[]): boolean {
  return cells.every((cell) => cell.trim() === '')
}

function checkShape(header: string[], rows: SheetRow[]): void {
  if (header.length === 0 || isBlankRow(header)) throw new ImportFileError('The file has no header row.')
  if (rows.length === 0) throw new ImportFileError('The file has a header but no data rows.')
}

function parseCsvText(text: string): { header: string[]; rows: SheetRow[]; delimiter: ',' | ';' } {
  const delimiter = detectDelimiter(text)
  let records: { record: string[]; info: { lines: number; records: number; empty_lines: number } }[]
  try {
    records = parseCsv(text, {
      delimiter,
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: MAX_CELL_CHARS * 4,
      info: true,
      // Past the limit the file is refused; parsing one more record tells that it is too long.
      to: MAX_IMPORT_ROWS + 2,
    }) as unknown as typeof records
  } catch (error) {
    throw new ImportFileError(`The CSV file cannot be read: ${(error as Error).message}`)
  }
  if (records.length === 0) throw new ImportFileError('The file is empty.')
  if (records.length > MAX_IMPORT_ROWS + 1) throw new ImportFileError(`The file has more than ${MAX_IMPORT_ROWS} data rows.`)
  const [first, ...rest] = records
  const header = first!.record.map((cell) => cell.trim())
  // A spreadsheet shows a CSV record (its quoted line breaks included) as one row and keeps empty lines.
  const rows = rest
    .map(({ record, info }) => ({ row: info.records + info.empty_lines, cells: record }))
    .filter(({ cells }) => !isBlankRow(cells))
  return { header, rows, delimiter }
}

export function parseCsvFile(buffer: Buffer): ParsedFile {
  const { text, encoding } = decodeText(buffer)
  const { header, rows, delimiter } = parseCsvText(text)
  checkShape(header, rows)
  checkColumns(header)
  return { type: 'CSV', encoding, delimiter, header, rows }
}

function checkColumns(header: string[]): void {
  if (header.length > MAX_IMPORT_COLUMNS) throw new ImportFileError(`The file has more than ${MAX_IMPORT_COLUMNS} columns.`)
}

/**
 * Zip-bomb guard, before exceljs sees the file: the central directory may list at most
 * MAX_ZIP_ENTRIES entries of at most MAX_ZIP_UNCOMPRESSED_BYTES together, none inflating more than
 * MAX_ZIP_RATIO-fold; then every entry is inflated and counted (yauzl checks that each inflates to
 * exactly its declared size, so a lying directory fails here too). Also tells a workbook from other
 * zip files (.docx, .odt, .jar).
 */
export async function checkZip(buffer: Buffer): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false }, (error, zipfile) => (error ? reject(error) : resolve(zipfile)))
  }).catch((error: Error) => {
    throw new ImportFileError(`The file looks like XLSX but is not a readable zip archive: ${error.message}`)
  })
  try {
    if (zip.entryCount > MAX_ZIP_ENTRIES) throw new ImportFileError(`The XLSX file has more than ${MAX_ZIP_ENTRIES} parts; it is refused as a possible zip bomb.`)
    let declared = 0
    let inflated = 0
    let workbook = false
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => {
        zip.close()
        reject(error instanceof ImportFileError ? error : new ImportFileError(`The XLSX file cannot be read: ${(error as Error).message}`))
      }
      zip.on('error', fail)
      zip.on('end', () => resolve())
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName === 'xl/workbook.xml') workbook = true
        declared += entry.uncompressedSize
        const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1)
        if (declared > MAX_ZIP_UNCOMPRESSED_BYTES || (ratio > MAX_ZIP_RATIO && entry.uncompressedSize > 1024 * 1024)) {
          fail(new ImportFileError('The XLSX file unpacks to far more than its size; it is refused as a possible zip bomb.'))
          return
        }
        if (entry.fileName.endsWith('/')) {
          zip.readEntry()
          return
        }
        zip.openReadStream(entry, (error, stream) => {
          if (error) return fail(error)
          stream.on('data', (chunk: Buffer) => {
            inflated += chunk.length
            if (inflated > MAX_ZIP_UNCOMPRESSED_BYTES) {
              stream.destroy()
              fail(new ImportFileError('The XLSX file unpacks to far more than its size; it is refused as a possible zip bomb.'))
            }
          })
          stream.on('error', fail)
          stream.on('end', () => zip.readEntry())
        })
      })
      zip.readEntry()
    })
    if (!workbook) throw new ImportFileError('The zip file is not an Excel workbook (XLSX).')
  } finally {
    zip.close()
  }
}

/** A cell as the text a user sees: numbers as typed, dates as ISO dates, rich text and links as their text. */
export function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return value.toISOString().endsWith('T00:00:00.000Z') ? value.toISOString().slice(0, 10) : value.toISOString()
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((part) => part.text).join('')
    if ('hyperlink' in value) return typeof value.text === 'string' ? value.text : cellText(value.text as ExcelJS.CellValue)
    if ('formula' in value || 'sharedFormula' in value) return cellText((value as { result?: ExcelJS.CellValue }).result ?? null)
    if ('error' in value) return ''
  }
  return String(value)
}

/** The first worksheet of a workbook, streamed (exceljs WorkbookReader) and cut off at the row limit. */
export async function parseXlsxFile(buffer: Buffer): Promise<ParsedFile> {
  await checkZip(buffer)
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from([buffer]), {
    worksheets: 'emit',
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'cache', // dates are numbers with a date style; without styles they would read as numbers
    entries: 'ignore',
  })
  let header: string[] | undefined
  const rows: SheetRow[] = []
  try {
    for await (const worksheet of reader) {
      for await (const row of worksheet) {
        const values = row.values as ExcelJS.CellValue[] // 1-based: index 0 is empty
        const cells: string[] = []
        for (let column = 1; column < values.length; column++) {
          if (column > MAX_IMPORT_COLUMNS) throw new ImportFileError(`The file has more than ${MAX_IMPORT_COLUMNS} columns.`)
          const text = cellText(values[column] ?? null)
          if (text.length > MAX_CELL_CHARS) throw new ImportFileError(`Row ${row.number} has a cell longer than ${MAX_CELL_CHARS} characters.`)
          cells.push(text)
        }
        if (header === undefined) {
          if (isBlankRow(cells)) continue
          header = cells.map((cell) => cell.trim())
          continue
        }
        if (isBlankRow(cells)) continue
        if (rows.length >= MAX_IMPORT_ROWS) throw new ImportFileError(`The file has more than ${MAX_IMPORT_ROWS} data rows.`)
        rows.push({ row: row.number, cells })
      }
      break // the first sheet only (§14)
    }
  } catch (error) {
    if (error instanceof ImportFileError) throw error
    throw new ImportFileError(`The XLSX file cannot be read: ${(error as Error).message}`)
  }
  if (header === undefined) throw new ImportFileError('The workbook\'s first sheet is empty.')
  checkShape(header, rows)
  return { type: 'XLSX', header, rows }
}

export async function parseImportFile(buffer: Buffer): Promise<ParsedFile> {
  if (buffer.length > MAX_IMPORT_BYTES) throw new ImportFileError(`The file is larger than ${MAX_IMPORT_BYTES} bytes.`)
  return detectFileType(buffer) === 'XLSX' ? parseXlsxFile(buffer) : parseCsvFile(buffer)
}

// ---------------------------------------------------------------------------------------------
// Columns → lead fields

/** The fields a column can fill: those of LeadCreate (models/lead-schemas.ts) plus `firstContact`. */
export const IMPORT_FIELDS = [
  'companyName', 'contactName', 'email', 'phone', 'website', 'street', 'postalCode', 'city', 'countryCode',
  'sourceCampaign', 'businessType', 'kitchenSize', 'employeeCount', 'estimatedVolume', 'emailConsent', 'notes',
  'ownerUserId',
  // The summary of a FIRST_CONTACT_DOCUMENTED activity: sources MESSE and TELEFON require one (§3).
  'firstContact',
] as const
export type ImportField = (typeof IMPORT_FIELDS)[number]

/** Header names, compared after headerKey(): lower case, umlauts spelled out, ß → ss, no spaces or punctuation. */
const HEADER_ALIASES: Record<ImportField, readonly string[]> = {
  companyName: ['firma', 'company', 'companyname', 'unternehmen', 'firmenname', 'betrieb', 'organisation', 'organization'],
  contactName: ['ansprechpartner', 'kontakt', 'contact', 'contactname', 'kontaktperson', 'contactperson'],
  email: ['email', 'emailadresse', 'mail', 'emailaddress'],
  phone: ['telefon', 'phone', 'tel', 'telefonnummer', 'phonenumber', 'telephone'],
  website: ['website', 'webseite', 'homepage', 'url', 'internet', 'web'],
  street: ['strasse', 'street', 'adresse', 'address', 'anschrift', 'strasseundhausnummer'],
  postalCode: ['plz', 'postleitzahl', 'postalcode', 'zip', 'zipcode', 'postcode'],
  city: ['ort', 'stadt', 'city', 'town'],
  countryCode: ['land', 'country', 'countrycode', 'laendercode'],
  sourceCampaign: ['kampagne', 'campaign', 'sourcecampaign'],
  businessType: ['branche', 'businesstype', 'industry'],
  kitchenSize: ['kuechengroesse', 'kitchensize'],
  employeeCount: ['mitarbeiter', 'mitarbeiterzahl', 'anzahlmitarbeiter', 'employees', 'employeecount'],
  estimatedVolume: ['volumen', 'geschaetztesvolumen', 'estimatedvolume'],
  emailConsent: ['einwilligung', 'emaileinwilligung', 'emailconsent', 'consent'],
  notes: ['notizen', 'notiz', 'notes', 'note', 'bemerkung', 'bemerkungen', 'kommentar', 'comments'],
  ownerUserId: ['besitzer', 'owner', 'verantwortlich', 'betreuer', 'owneruserid'],
  firstContact: ['erstkontakt', 'firstcontact', 'gespraechsnotiz'],
}

export function headerKey(header: string): string {
  return header
    .toLowerCase()
    .replaceAll('ä', 'ae').replaceAll('ö', 'oe').replaceAll('ü', 'ue').replaceAll('ß', 'ss')
    .normalize('NFKD')
    .replace(/[^a-z0-9]/g, '')
}

const FIELD_BY_HEADER = new Map(Object.entries(HEADER_ALIASES).flatMap(([field, aliases]) => aliases.map((alias) => [alias, field as ImportField])))

/** `mapping` of an import: a header of the file → a field, or null to ignore that column. */
export type ImportMapping = Record<string, ImportField | null>

export interface ColumnMap {
  /** Per file column: the field it fills, or null (ignored). */
  fields: (ImportField | null)[]
  header: string[]
}

/**
 * Which column fills which field: an explicit `mapping` wins, every other column is matched by its
 * name. A file whose columns cannot make a lead (no company column, two columns for one field, a
 * mapping naming a column the file lacks) is refused as a whole.
 */
export function mapColumns(header: string[], mapping: ImportMapping = {}): ColumnMap {
  const known = new Set(header)
  const missing = Object.keys(mapping).filter((name) => !known.has(name))
  if (missing.length > 0) throw new ImportFileError(`The mapping names columns the file does not have: ${missing.join(', ')}.`)
  const fields = header.map((name) => (Object.hasOwn(mapping, name) ? mapping[name]! : (FIELD_BY_HEADER.get(headerKey(name)) ?? null)))
  const seen = new Map<ImportField, string>()
  fields.forEach((field, index) => {
    if (field === null) return
    const other = seen.get(field)
    if (other !== undefined) throw new ImportFileError(`The columns "${other}" and "${header[index]}" both map to ${field}; say which one to use in mapping.`)
    seen.set(field, header[index]!)
  })
  if (!seen.has('companyName')) throw new ImportFileError('No column for the company name (Firma, Company, Unternehmen); name one in mapping.')
  return { fields, header }
}

export function columnOf(map: ColumnMap, field: string): string | null {
  const index = map.fields.indexOf(field as ImportField)
  return index < 0 ? null : map.header[index]!
}

// Values as people type them → the API's values. A value that matches nothing is passed on as
// typed, so the schema rejects it with its own message (and the row's error names the column).

function key(value: string): string {
  return headerKey(value)
}

const COUNTRIES: Record<string, string> = {
  deutschland: 'DE', germany: 'DE', bundesrepublikdeutschland: 'DE',
  schweiz: 'CH', switzerland: 'CH', suisse: 'CH', svizzera: 'CH',
  oesterreich: 'AT', austria: 'AT', liechtenstein: 'LI', frankreich: 'FR', france: 'FR', italien: 'IT', italy: 'IT',
  niederlande: 'NL', netherlands: 'NL', belgien: 'BE', belgium: 'BE', luxemburg: 'LU', luxembourg: 'LU',
}

const BUSINESS_TYPE_WORDS: Record<string, string> = {
  kantine: 'KANTINE', canteen: 'KANTINE', grosshandel: 'GROSSHANDEL', wholesale: 'GROSSHANDEL',
  lebensmitteleinzelhandel: 'LEH', einzelhandel: 'LEH', retail: 'LEH', bildung: 'BILDUNG', education: 'BILDUNG',
  gesundheit: 'GESUNDHEIT', gesundheitswesen: 'GESUNDHEIT', healthcare: 'GESUNDHEIT', health: 'GESUNDHEIT',
  sonstiges: 'SONSTIGES', other: 'SONSTIGES', gastronomie: 'RESTAURANT',
}

const KITCHEN_SIZE_WORDS: Record<string, string> = {
  klein: 'KLEIN', small: 'KLEIN', mittel: 'MITTEL', medium: 'MITTEL', gross: 'GROSS', large: 'GROSS',
  sehrgross: 'SEHR_GROSS', verylarge: 'SEHR_GROSS',
}

function enumValue(values: readonly string[], words: Record<string, string>, value: string): string {
  const k = key(value)
  return values.find((v) => key(v) === k) ?? words[k] ?? value
}

const TRUE_WORDS = new Set(['ja', 'j', 'yes', 'y', 'true', 'wahr', '1', 'x'])
const FALSE_WORDS = new Set(['nein', 'n', 'no', 'false', 'falsch', '0'])

function booleanValue(value: string): boolean | string {
  const k = value.trim().toLowerCase()
  return TRUE_WORDS.has(k) ? true : FALSE_WORDS.has(k) ? false : value
}

function integerValue(value: string): number | string {
  const plain = value.replace(/[\s.']/g, '')
  return /^\d+$/.test(plain) && Number.isSafeInteger(Number(plain)) ? Number(plain) : value
}

/** 1234.5, 1234,5, 1.234,50 (German), 1,234.50 (English) or 1'234.50 (Swiss). */
function numberValue(value: string): number | string {
  const plain = value.replace(/[\s'€]|EUR|CHF/g, '')
  let normalized: string | undefined
  if (/^\d+([.,]\d+)?$/.test(plain)) normalized = plain.replace(',', '.')
  else if (/^\d{1,3}(\.\d{3})+(,\d+)?$/.test(plain)) normalized = plain.replaceAll('.', '').replace(',', '.')
  else if (/^\d{1,3}(,\d{3})+(\.\d+)?$/.test(plain)) normalized = plain.replaceAll(',', '')
  return normalized === undefined ? value : Number(normalized)
}

function fieldValue(field: ImportField, raw: string): unknown {
  switch (field) {
    case 'countryCode':
      return COUNTRIES[key(raw)] ?? raw
    case 'businessType':
      return enumValue(BUSINESS_TYPES, BUSINESS_TYPE_WORDS, raw)
    case 'kitchenSize':
      return enumValue(KITCHEN_SIZES, KITCHEN_SIZE_WORDS, raw)
    case 'employeeCount':
      return integerValue(raw)
    case 'estimatedVolume':
      return numberValue(raw)
    case 'emailConsent':
      return booleanValue(raw)
    default:
      return raw
  }
}

export interface RowDefaults {
  /** `source` of the request (default SONSTIGES, §14). */
  source: string
  /** `ownerUserId` of the request; a row's owner column wins over it. Absent: the importing user. */
  ownerUserId?: string
}

/**
 * A row as the body POST /api/leads takes (LeadCreate). Blank cells are left out, as a form would
 * leave them out; surrounding white space goes (the API trims as well).
 */
export function rowToLeadInput(map: ColumnMap, cells: readonly string[], defaults: RowDefaults): Record<string, unknown> {
  const input: Record<string, unknown> = { source: defaults.source }
  if (defaults.ownerUserId !== undefined) input.ownerUserId = defaults.ownerUserId
  map.fields.forEach((field, index) => {
    if (field === null) return
    const raw = (cells[index] ?? '').trim()
    if (raw === '') return
    if (field === 'firstContact') input.activities = [{ type: 'FIRST_CONTACT_DOCUMENTED', summary: raw }]
    else input[field] = fieldValue(field, raw)
  })
  return input
}

export interface RowError {
  row: number
  /** The file's header of the column at fault; null when the problem is the row as a whole. */
  column: string | null
  message: string
}

/** A field error of the lead schema or of createLead (JSON pointer into LeadCreate) as the column it came from. */
export function rowError(map: ColumnMap, row: number, error: { pointer: string; message: string }): RowError {
  const field = error.pointer.split('/')[1] ?? ''
  const column = field === 'activities' ? columnOf(map, 'firstContact') : columnOf(map, field)
  // A field no column fills (e.g. companyName missing in this row is a blank cell of its column).
  return { row, column, message: column === null && field !== '' ? `${field} ${error.message}` : error.message }
}
