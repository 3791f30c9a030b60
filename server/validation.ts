import { problems } from '../models/errors.ts'
import { leadSchemas } from '../models/lead-schemas.ts'
import { mergeSchemas } from './schemas/merges.ts'
import { backfillSchemas } from './schemas/backfills.ts'
import { eventSchemas } from './schemas/events.ts'
import { importSchemas } from './schemas/imports.ts'
import { protectionSchemas } from './schemas/protection.ts'
import { reviewSchemas } from './schemas/reviews.ts'
import { createAjv, fieldErrors, nulPointer, trimStrings, validator } from '../models/validation.ts'
import type { ErrorObject } from 'ajv/dist/2020.js'

// Bodies are validated exactly as written (no coercion); query strings are text by nature, so their
// validator coerces "50" → 50 and "true" → true (models/validation.ts createAjv).
const schemas = [...leadSchemas, ...eventSchemas, ...backfillSchemas, ...mergeSchemas, ...protectionSchemas, ...reviewSchemas, ...importSchemas]
const bodyAjv = createAjv(false, schemas)
const queryAjv = createAjv(true, schemas)

function toProblem(errors: ErrorObject[] | null | undefined, prefix: string) {
  return problems.validation(fieldErrors(errors, prefix))
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
  const properties = (validate.schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {}
  const notDigits = Object.entries(value).filter(([k, v]) => Object.hasOwn(properties, k) && properties[k]!.type === 'integer' && !/^-?\d{1,16}$/.test(String(v)))
  if (notDigits.length > 0) throw problems.validation(notDigits.map(([k]) => ({ pointer: `/query/${k}`, message: 'must be an integer in decimal digits' })))
  if (!validate(value)) throw toProblem(validate.errors, '/query')
  return value as T
}
