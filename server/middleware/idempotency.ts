import { createHash } from 'node:crypto'
import type { Middleware } from 'koa'
import { inTransaction, type Tx } from '../../lib/db.ts'
import type { Deps } from '../../lib/deps.ts'
import { DomainError, problems } from '../../models/errors.ts'
import { keyStatements, storeResponse } from '../../models/idempotency-keys.ts'

const PRINTABLE_KEY = /^[\x20-\x7e]{1,255}$/
const REPLAYED_HEADERS = ['location', 'etag', 'content-type'] as const

/** JSON with object keys sorted at every depth, so `{a,b}` and `{b,a}` fingerprint the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method}\n${path}\n${canonicalJson(body ?? null)}`).digest('hex')
}

/** The response body as the bytes that go on the wire (Koa would serialize an object the same way). */
function bodyBytes(body: unknown): Buffer | null {
  if (body === undefined || body === null) return null
  if (Buffer.isBuffer(body)) return body
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  return Buffer.from(JSON.stringify(body), 'utf8')
}

/**
 * Idempotency-Key for POST and PATCH (§4). The request runs in a transaction opened here, which the
 * handler's `transact` joins, so the stored response commits with the request's writes or not at all.
 * A transaction-scoped advisory lock on (tenant, user, key) tells a retry that the first request is
 * still running (409 + Retry-After) without waiting for it.
 */
export function idempotency(deps: Pick<Deps, 'knex' | 'config' | 'clock'>): Middleware {
  return async (ctx, next) => {
    const key = ctx.get('Idempotency-Key')
    if (!key || !['POST', 'PATCH'].includes(ctx.method) || !ctx.state.auth) return next()
    if (!PRINTABLE_KEY.test(key)) {
      throw problems.validation([{ pointer: '/headers/idempotency-key', message: 'must be 1–255 printable ASCII characters' }], 'Invalid Idempotency-Key.')
    }
    const fingerprint = requestFingerprint(ctx.method, ctx.path, ctx.state.body)
    const auth = ctx.state.auth
    const keyState = keyStatements(auth, auth.userId, key, deps.clock.now())
    await inTransaction(deps.knex, auth, async (tx: Tx, begun) => {
      const { locked, stored } = keyState.read(begun)
      if (!locked) {
        throw new DomainError({ status: 409, type: 'idempotency-key-in-use', title: 'Request in progress', detail: 'A request with this Idempotency-Key is still running; retry shortly.', headers: { 'Retry-After': '1' } })
      }
      if (stored) {
        if (stored.fingerprint !== fingerprint) {
          throw new DomainError({ status: 422, type: 'idempotency-key-reused', title: 'Idempotency-Key reused', detail: 'This Idempotency-Key was used for a different request.' })
        }
        ctx.status = stored.statusCode
        ctx.set(stored.headers)
        ctx.set('Idempotent-Replayed', 'true')
        if (stored.body !== null) ctx.body = stored.body
        return
      }
      ctx.state.tx = tx
      await next()
      // Only completed requests are remembered; a failure rolled back above and may be retried.
      if (ctx.status >= 200 && ctx.status < 300) {
        // Serialize here and send these very bytes, so the stored body is what the client received.
        const body = bodyBytes(ctx.body)
        if (body !== null) {
          const status = ctx.status
          ctx.body = body // Koa keeps the Content-Type (JSON) the object gave the response
          ctx.status = status
        }
        const headers = Object.fromEntries(REPLAYED_HEADERS.filter((h) => ctx.response.get(h)).map((h) => [h, ctx.response.get(h)]))
        const expiresAt = new Date(deps.clock.now().getTime() + deps.config.idempotencyTtlHours * 3_600_000)
        storeResponse(tx, auth.userId, key, { fingerprint, statusCode: ctx.status, headers, body }, expiresAt)
      }
    }, keyState.statements)
  }
}
