import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { problems, type FieldError } from '../models/errors.ts'
import { leadSchemas } from './schemas/leads.ts'
import { mergeSchemas } from './schemas/merges.ts'
import { backfillSchemas } from './schemas/backfills.ts'
import { eventSchemas } from './schemas/events.ts'
import { protectionSchemas } from './schemas/protection.ts'

// Bodies are validated exactly as written (no coercion); query strings are text by nature, so their
// validator coerces "50" → 50 and "true" → true.
function createAjv(coerceTypes: boolean): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes, allowUnionTypes: true, schemas: [...leadSchemas, ...eventSchemas, ...backfillSchemas, ...mergeSchemas, ...protectionSchemas] })
  addFormats.default(ajv)
  return ajv
}

const bodyAjv = createAjv(false)
const queryAjv = createAjv(true)

function validator(ajv: Ajv2020, id: string): ValidateFunction {
  const validate = ajv.getSchema(id)
  if (!validate) throw new Error(`no schema with $id ${id}`)
  return validate
}

function fieldError(error: ErrorObject, prefix: string): FieldError {
  const at = prefix + error.instancePath
  switch (error.keyword) {
    case 'additionalProperties':
      return { pointer: `${at}/${(error.params as { additionalProperty: string }).additionalProperty}`, message: 'is not a known field' }
    case 'required':
      return { pointer: `${at}/${(error.params as { missingProperty: string }).missingProperty}`, message: 'is required' }
    case 'pattern':
      return { pointer: at, message: error.schemaPath.includes('countryCode') ? 'must be an ISO 3166 alpha-2 code' : (error.params as { pattern: string }).pattern.startsWith('^(?!') ? 'must not contain HTML' : `must match ${(error.params as { pattern: string }).pattern}` }
    case 'enum':
      return { pointer: at, message: `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.filter((v) => v !== null).join(', ')}` }
    default:
      return { pointer: at, message: error.message ?? 'is invalid' }
  }
}

function toProblem(errors: ErrorObject[] | null | undefined, prefix: string) {
  const seen = new Set<string>()
  const fieldErrors = (errors ?? []).map((e) => fieldError(e, prefix)).filter((e) => {
    const key = `${e.pointer} ${e.message}`
    return seen.has(key) ? false : (seen.add(key), true)
  })
  return problems.validation(fieldErrors)
}

/** Trims every string, deeply (§3: input strings are trimmed), on a copy. */
export function trimStrings(value: unknown): unknown {
  if (typeof value === 'string') return value.trim()
  if (Array.isArray(value)) return value.map(trimStrings)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, trimStrings(v)]))
  }
  return value
}

/** JSON Pointer of the first string or key holding U+0000, which PostgreSQL text cannot store (error 22021 → 500). */
export function nulPointer(value: unknown, at = ''): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? at : undefined
  if (value === null || typeof value !== 'object') return undefined
  for (const [key, item] of Object.entries(value)) {
    const here = `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
    if (key.includes('\u0000')) return here
    const found = nulPointer(item, here)
    if (found !== undefined) return found
  }
  return undefined
}

function rejectNul(value: unknown, prefix: string): void {
  const pointer = nulPointer(value, prefix)
  if (pointer !== undefined) throw problems.validation([{ pointer, message: 'must not contain NUL characters' }])
}

/** The body, trimmed and valid against the schema with that $id, or a 400 problem with pointers. */
export function validBody<T>(schemaId: string, body: unknown): T {
  if (body === undefined) throw problems.validation([{ pointer: '', message: 'a JSON body is required' }])
  const value = trimStrings(body)
  rejectNul(value, '')
  const validate = validator(bodyAjv, schemaId)
  if (!validate(value)) throw toProblem(validate.errors, '')
  return value as T
}

/** The query string as a typed object; a parameter given twice is an error, not an array. */
export function validQuery<T>(schemaId: string, query: Record<string, string | string[] | undefined>): T {
  const repeated = Object.entries(query).filter(([, v]) => Array.isArray(v))
  if (repeated.length > 0) throw problems.validation(repeated.map(([k]) => ({ pointer: `/query/${k}`, message: 'must be given once' })))
  const value = trimStrings({ ...query }) as Record<string, unknown>
  rejectNul(value, '/query')
  const validate = validator(queryAjv, schemaId)
  if (!validate(value)) throw toProblem(validate.errors, '/query')
  return value as T
}
