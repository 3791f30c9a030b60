// What browsers need from the edge besides authentication: pages that cannot be framed, and state
// changes that a cookie authenticates only when they come from our own pages (CSRF).
import { createHash } from 'node:crypto'
import type { Context, Middleware } from 'koa'
import type { Config } from '../../lib/config.ts'
import { ACCESS_TOKEN_COOKIE } from '../auth.ts'
import { DomainError } from '../../models/errors.ts'

/** For every response: no framing (clickjacking), no sniffing, no URL (?next=…) in a Referer to another site. */
export const BASE_CSP = "frame-ancestors 'none'; base-uri 'self'; object-src 'none'; form-action 'self'"

export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set({
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': BASE_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
    })
    await next()
  }
}

/**
 * The policy of a page of ours whose only script is the inline one given: nothing else runs, and
 * it talks to its own origin only.
 */
export function pageCsp(inlineScript: string): string {
  const hash = createHash('sha256').update(inlineScript).digest('base64')
  return `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; ${BASE_CSP}`
}

/** Answers with one of our HTML pages: never cached (it may show a user's data), under its own CSP. */
export function sendPage(ctx: Context, html: string, csp: string, status = 200): void {
  ctx.status = status
  ctx.type = 'text/html'
  ctx.set('Cache-Control', 'no-store')
  ctx.set('Content-Security-Policy', csp)
  ctx.body = html
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

function sameOrigin(ctx: Context, origin: string, publicOrigin: string): boolean {
  // Not ctx.origin: koa 3 returns the Origin header there.
  return origin === `${ctx.protocol}://${ctx.host}` || origin === publicOrigin
}

/** The session's own endpoints: a login or logout posted from another site is refused too (login CSRF). */
const SESSION_PATHS = new Set(['/login', '/logout'])

/**
 * CSRF: a state change (anything but GET/HEAD/OPTIONS) that the session cookie would authenticate
 * (cookie sent, no Authorization header) must name our origin in `Origin` (every browser sends it
 * on such requests; without it only `Sec-Fetch-Site: same-origin` passes). A login or logout with a
 * foreign Origin is refused as well. Our origin is the request's own (scheme and Host as
 * TRUST_PROXY lets us read them) or PUBLIC_BASE_URL's. Bearer requests carry no ambient authority.
 */
export function sameOriginStateChanges(config: Pick<Config, 'publicBaseUrl'>): Middleware {
  const publicOrigin = new URL(config.publicBaseUrl).origin
  return async (ctx, next) => {
    if (SAFE_METHODS.has(ctx.method) || ctx.get('Authorization')) return next()
    const origin = ctx.get('Origin')
    const cookie = ctx.cookies.get(ACCESS_TOKEN_COOKIE) !== undefined
    if (!cookie && !SESSION_PATHS.has(ctx.path)) return next()
    const allowed = origin ? sameOrigin(ctx, origin, publicOrigin) : !cookie || ctx.get('Sec-Fetch-Site') === 'same-origin'
    if (!allowed) {
      throw new DomainError({
        status: 403,
        type: 'cross-origin-request',
        title: 'Forbidden',
        detail: origin
          ? `A request from ${origin.slice(0, 200)} cannot change anything with this site's session cookie.`
          : 'A request authenticated by the session cookie must come from this site (Origin header).',
      })
    }
    await next()
  }
}
