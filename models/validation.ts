// ajv over the payload schemas: the core of request validation (server/validation.ts turns its
// findings into 400 problems) and of import rows (models/imports.ts reports them per row), so a
// row of an import is judged exactly like the body of POST /api/leads.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { leadSchemas } from './lead-schemas.ts'

import type { FieldError } from './errors.ts'

/** A finding of the schema: JSON Pointer (RFC 6901) into the validated value, with the caller's prefix. */
export type FieldFinding = FieldError

/** Bodies are validated exactly as written (no coercion); query strings are text by nature and coerced. */
export function createAjv(coerceTypes: boolean, schemas: object[]): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes, allowUnionTypes: true, schemas })
  addFormats.default(ajv)
  return ajv
}

export function validator(ajv: Ajv2020, id: string): ValidateFunction {
  const validate = ajv.getSchema(id)
  if (!validate) throw new Error(`no schema with $id ${id}`)
  return validate
}

function fieldError(error: ErrorObject, prefix: string): FieldFinding {
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

/** ajv's errors as pointer + message, each once. */
export function fieldErrors(errors: ErrorObject[] | null | undefined, prefix: string): FieldFinding[] {
  const seen = new Set<string>()
  return (errors ?? []).map((e) => fieldError(e, prefix)).filter((e) => {
    const key = `${e.pointer} ${e.message}`
    return seen.has(key) ? false : (seen.add(key), true)
  })
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

const leadAjv = createAjv(false, leadSchemas)
const leadCreate = validator(leadAjv, 'LeadCreate')

/**
 * What POST /api/leads's body validation would say about this value (already trimmed): no findings
 * means createLead may take it. The same schema and messages as server/validation.ts validBody.
 */
export function validateLeadCreate(value: unknown): FieldFinding[] {
  const nul = nulPointer(value)
  if (nul !== undefined) return [{ pointer: nul, message: 'must not contain NUL characters' }]
  return leadCreate(value) ? [] : fieldErrors(leadCreate.errors, '')
}
