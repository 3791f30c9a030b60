// ajv over the payload schemas: the core of request validation (server/validation.ts turns its
// findings into 400 problems) and of import rows (models/imports.ts reports them per row), so a
// row of an import is judged exactly like the body of POST /api/leads.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { fullFormats } from 'ajv-formats/dist/formats.js'
import { leadSchemas } from './lead-schemas.ts'

import type { FieldError } from './errors.ts'

/** A finding of the schema: JSON Pointer (RFC 6901) into the validated value, with the caller's prefix. */
export type FieldFinding = FieldError

const rfc3339DateTime = (fullFormats['date-time'] as { validate: (value: string) => boolean }).validate

/**
 * RFC 3339 date-time that JavaScript can also represent: RFC 3339 allows a leap second
 * (`23:59:60Z`), which `new Date()` turns into Invalid Date, so the database would get garbage.
 * A leap second is refused as invalid input instead (400), like 30 February.
 */
export function isDateTime(value: string): boolean {
  return rfc3339DateTime(value) && Number.isFinite(Date.parse(value))
}

/**
 * Bodies are validated exactly as written (no coercion); query strings are text by nature and
 * coerced ("50" → 50). `strictNumbers` refuses NaN and ±Infinity as numbers (a body's 1e400 parses
 * as Infinity); ajv's coercion of "Infinity" or "1e400" then skips the numeric keywords, so the
 * edge admits only plain decimal digits for integer query parameters before ajv sees them.
 */
export function createAjv(coerceTypes: boolean, schemas: object[]): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictNumbers: true, coerceTypes, allowUnionTypes: true, schemas })
  addFormats.default(ajv)
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime })
  ajv.addKeyword({ keyword: JSON_LIMITS_KEYWORD, type: 'object', schemaType: 'object', errors: true, validate: validateJsonLimits })
  return ajv
}

/** `x-jsonLimits: {maxBytes, maxDepth, maxKeys}`: bounds of a free-form JSON value (an OpenAPI extension keyword). */
const JSON_LIMITS_KEYWORD = 'x-jsonLimits'
interface JsonLimits {
  maxBytes: number
  maxDepth: number
  maxKeys: number
}

/** The first limit `value` breaks, as a message; undefined when within all of them. */
export function jsonLimitBroken(value: unknown, limits: JsonLimits): string | undefined {
  let keys = 0
  const depthOf = (node: unknown, depth: number): number => {
    if (node === null || typeof node !== 'object') return depth - 1
    if (depth > limits.maxDepth) return depth // deep enough to refuse; do not descend further
    const children = Array.isArray(node) ? node : Object.values(node)
    if (!Array.isArray(node)) keys += children.length
    return children.reduce<number>((deepest, child) => Math.max(deepest, depthOf(child, depth + 1)), depth)
  }
  if (depthOf(value, 1) > limits.maxDepth) return `must be nested at most ${limits.maxDepth} levels deep`
  if (keys > limits.maxKeys) return `must have at most ${limits.maxKeys} keys in all`
  if (Buffer.byteLength(JSON.stringify(value), 'utf8') > limits.maxBytes) return `must be at most ${limits.maxBytes} bytes as JSON`
  return undefined
}

function validateJsonLimits(this: unknown, limits: JsonLimits, data: unknown): boolean {
  const message = jsonLimitBroken(data, limits)
  if (message === undefined) return true
  ;(validateJsonLimits as unknown as { errors: Partial<ErrorObject>[] }).errors = [{ keyword: JSON_LIMITS_KEYWORD, message, params: { limits } }]
  return false
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
