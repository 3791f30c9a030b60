// One JSON Schema per payload of the import resources (§14); registered with ajv in
// server/validation.ts and published by server/openapi.ts.
import { IMPORT_FIELDS, MAX_IMPORT_COLUMNS } from '../../models/import-file.ts'
import { IMPORT_STATUSES } from '../../models/imports.ts'
import { LEAD_SOURCES } from '../../models/lead-rules.ts'

/** The text fields of the multipart form besides `file`, after parsing (`mapping` is JSON text on the wire). */
export const importOptionsSchema = {
  $id: 'ImportOptions',
  type: 'object',
  additionalProperties: false,
  properties: {
    dryRun: { type: 'boolean', description: 'validate and report without writing (default false)' },
    source: { enum: LEAD_SOURCES, description: 'source of every imported lead (default SONSTIGES); MESSE and TELEFON need a first-contact column (Erstkontakt)' },
    ownerUserId: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9._@:|-]+$', description: 'owner of rows without an owner column value; MANAGER/ADMIN only for someone else (default: the importing user)' },
    mapping: {
      type: 'object',
      description: 'a header of the file → the lead field it fills, or null to ignore the column; other columns are matched by their (German or English) names',
      maxProperties: MAX_IMPORT_COLUMNS,
      propertyNames: { minLength: 1, maxLength: 255 },
      additionalProperties: { enum: [...IMPORT_FIELDS, null] },
    },
  },
} as const

const timestamp = { type: 'string', format: 'date-time' } as const
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const
const count = { type: 'integer', minimum: 0 } as const

export const importUploadSchema = {
  $id: 'ImportUpload',
  type: 'object',
  required: ['file'],
  properties: {
    file: { type: 'string', format: 'binary', description: 'CSV (UTF-8 with or without BOM, or Windows-1252; `,` or `;`) or XLSX (first sheet); at most 10 MB' },
    dryRun: { type: 'string', enum: ['true', 'false'] },
    source: { enum: LEAD_SOURCES },
    ownerUserId: { type: 'string' },
    mapping: { type: 'string', description: 'JSON object, see ImportOptions.mapping' },
  },
} as const

export const importSchema = {
  $id: 'Import',
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { enum: IMPORT_STATUSES },
    dryRun: { type: 'boolean' },
    source: { enum: LEAD_SOURCES },
    ownerUserId: { type: ['string', 'null'] },
    mapping: { type: ['object', 'null'] },
    filename: { type: ['string', 'null'] },
    fileType: { enum: ['CSV', 'XLSX', null] },
    fileSize: count,
    total: { type: ['integer', 'null'], description: 'data rows of the file; null until a worker has read it' },
    processed: count,
    created: { ...count, description: 'leads created (in a dry run: that would have been created)' },
    duplicates: { ...count, description: 'rows skipped as hard duplicates (409 duplicate-lead), each listed in the errors' },
    failed: { ...count, description: 'rows not imported because they are invalid, each listed in the errors' },
    progress: { type: ['number', 'null'], minimum: 0, maximum: 1 },
    failureReason: { type: ['string', 'null'], description: 'why a FAILED import could not be read; nothing of it was written' },
    createdBy: { type: 'string' },
    createdAt: timestamp,
    startedAt: nullableTimestamp,
    updatedAt: timestamp,
    finishedAt: nullableTimestamp,
  },
} as const

export const importErrorSchema = {
  $id: 'ImportError',
  type: 'object',
  properties: {
    row: { type: 'integer', minimum: 1, description: 'the row number a spreadsheet shows (header = 1)' },
    column: { type: ['string', 'null'], description: 'the header of the column at fault; null for the row as a whole' },
    message: { type: 'string' },
    duplicateOf: { type: ['string', 'null'], format: 'uuid', description: 'for a duplicate: the live lead holding the e-mail, if visible to you' },
  },
} as const

/** For ajv and OpenAPI; ImportUpload (multipart, `format: binary`) is published by openapi.ts only. */
export const importSchemas = [importOptionsSchema, importSchema, importErrorSchema]
