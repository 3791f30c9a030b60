import type { Middleware } from 'koa'
import getRawBody, { type RawBodyError } from 'raw-body'
import { problems } from '../../models/errors.ts'

export const MAX_BODY_BYTES = 1024 * 1024
/** Deeper JSON is refused before parsing: the recursive walks after it (trim, validation, idempotency fingerprint) would overflow the stack. */
export const MAX_JSON_DEPTH = 64
const JSON_TYPES = ['application/json', 'application/merge-patch+json']

/**
 * Reads a JSON body for POST/PUT/PATCH into ctx.state.body: over 1 MB → 413 (raw-body refuses a
 * declared length over the limit before reading and stops reading at the limit), a body that does
 * not match its Content-Length → 400, compressed or not JSON → 415, unparseable, invalid UTF-8 or
 * nested deeper than MAX_JSON_DEPTH → 400. An empty body is `undefined`.
 * multipart/form-data is left unread for the route that takes it (routes/imports.ts).
 */
export function jsonBody(limit = MAX_BODY_BYTES): Middleware {
  return async (ctx, next) => {
    if (!['POST', 'PUT', 'PATCH'].includes(ctx.method)) return next()
    // Uploads (POST /api/imports) are read by their route, with their own limit.
    if (ctx.request.is('multipart/form-data')) return next()
    let raw: Buffer
    try {
      raw = await getRawBody(ctx.req, { length: ctx.get('Content-Length') || null, limit })
    } catch (error) {
      const status = (error as RawBodyError).status
      if (status === 413) {
        ctx.set('Connection', 'close')
        throw problems.payloadTooLarge(limit)
      }
      if (status === 400) throw problems.malformedJson(`The body could not be read: ${(error as Error).message}.`)
      throw error
    }
    if (raw.length === 0) {
      ctx.state.body = undefined
      return next()
    }
    const type = ctx.request.type
    if (!JSON_TYPES.includes(type)) throw problems.unsupportedMediaType(`Send ${JSON_TYPES.join(' or ')}, not "${type || 'no content type'}".`)
    const coding = ctx.get('Content-Encoding').trim().toLowerCase()
    if (coding !== '' && coding !== 'identity') throw problems.unsupportedMediaType(`Send the body uncompressed, not in "${coding}".`)
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw)
    } catch {
      throw problems.malformedJson('The body is not valid UTF-8.')
    }
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) throw problems.malformedJson(`The body is nested deeper than ${MAX_JSON_DEPTH} levels.`)
    try {
      ctx.state.body = JSON.parse(text)
    } catch (error) {
      throw problems.malformedJson(`The body is not valid JSON: ${(error as Error).message}`)
    }
    return next()
  }
}

/** True when the JSON text opens more than `limit` arrays/objects at once (brackets inside strings do not count). */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}
