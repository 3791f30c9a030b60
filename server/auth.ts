import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { Middleware } from 'koa'
import type { AuthConfig } from '../lib/config.ts'
import type { SecurityContext } from '../lib/db.ts'
import { ALL_TENANTS, SYSTEM_USER_ID, TERRITORIES, UNSET_CONTEXT_MARKER, USER_ROLES, type Role, type Territory } from '../lib/tenancy.ts'
import { problems } from '../models/errors.ts'

/** The caller, as its verified token says. */
export interface Principal {
  id: string
  name: string
  role: Exclude<Role, 'SYSTEM'>
  territories: Territory[]
  tenantId: string
  /**
   * PLATFORM_OPERATOR in the token's roles: runs the platform, not a tenant. Only the queue board
   * reads it (every queue and job, tenant-less ones and adding jobs); the API treats the caller by
   * `role` and `tenantId` alone.
   */
  platformOperator: boolean
  /** When the token expires (epoch ms): long-lived responses (the SSE stream) end then. */
  expiresAt: number
}

/** The role claim that makes a user a platform operator (see Principal.platformOperator). */
export const PLATFORM_OPERATOR_ROLE = 'PLATFORM_OPERATOR'

export const ACCESS_TOKEN_COOKIE = 'fp_access_token'
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']

export type TokenVerifier = (token: string) => Promise<Principal>

class InvalidToken extends Error {}

/** The longest a token may live (exp − iat, and exp − now): access tokens are short-lived; a day is generous. */
export const MAX_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60
const CLOCK_TOLERANCE_SECONDS = 5

/** HS256 with a shared secret (development, tests) or an OIDC issuer's JWKS (production). */
export function createTokenVerifier(auth: AuthConfig): TokenVerifier {
  const key: Uint8Array | JWTVerifyGetKey = auth.kind === 'hs256' ? auth.secret : createRemoteJWKSet(auth.jwksUrl)
  const options = {
    algorithms: auth.kind === 'hs256' ? ['HS256'] : ASYMMETRIC_ALGORITHMS,
    issuer: auth.issuer,
    audience: auth.audience,
    requiredClaims: ['sub', 'exp'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  }
  // Verifying a signature is the largest single cost of a small request (the benchmark's profile:
  // 16 % of a GET). A token that verified once is trusted again until it expires, for at most a
  // minute, from a bounded map (oldest entry evicted first). A token that failed is never cached.
  const verified = new Map<string, { principal: Principal; until: number }>()
  return async (token) => {
    const now = Date.now()
    const hit = verified.get(token)
    if (hit && hit.until > now) return hit.principal
    if (hit) verified.delete(token)
    const { payload } = await jwtVerify(token, key as Uint8Array, options)
    checkLifetime(payload, now / 1000)
    const principal = Object.freeze(principalFrom(payload))
    if (verified.size >= VERIFIED_TOKEN_CACHE_SIZE) verified.delete(verified.keys().next().value!)
    verified.set(token, { principal, until: Math.min(now + VERIFIED_TOKEN_TTL_MS, payload.exp! * 1000) })
    return principal
  }
}

const VERIFIED_TOKEN_CACHE_SIZE = 10_000
const VERIFIED_TOKEN_TTL_MS = 60_000

/**
 * jose checks exp and nbf; this refuses what jose accepts but no identity provider issues: a token
 * issued in the future, or one that lives longer than MAX_TOKEN_LIFETIME_SECONDS (exp in 9999).
 * `iat` stays optional (jose does not require it); without it, exp alone must be within the limit.
 */
export function checkLifetime(payload: JWTPayload, nowSeconds: number): void {
  const { exp, iat } = payload
  if (typeof exp !== 'number' || exp - nowSeconds > MAX_TOKEN_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) throw new InvalidToken('exp')
  if (iat === undefined) return
  if (typeof iat !== 'number' || !Number.isFinite(iat) || iat > nowSeconds + CLOCK_TOLERANCE_SECONDS || exp - iat > MAX_TOKEN_LIFETIME_SECONDS) throw new InvalidToken('iat')
}

/** Markers the database or the jobs use for themselves; a token naming one would act as them. */
const RESERVED_IDS: readonly string[] = [SYSTEM_USER_ID, UNSET_CONTEXT_MARKER, ALL_TENANTS]
// C0/C1 control characters: NUL cannot be stored at all (PostgreSQL error 22021), the others have no place in an id.
const CONTROL_CHARACTER = /\p{Cc}/u

/** Reads the claims of §2; anything malformed makes the whole token invalid rather than half-trusted. */
export function principalFrom(payload: JWTPayload): Principal {
  const sub = payload.sub
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255 || sub !== sub.trim() || CONTROL_CHARACTER.test(sub)) throw new InvalidToken('sub')
  if (RESERVED_IDS.includes(sub.toLowerCase())) throw new InvalidToken('sub')
  const realmAccess = payload.realm_access as { roles?: unknown } | undefined
  const roles = stringArray(payload.roles ?? realmAccess?.roles, 'roles')
  const role = USER_ROLES.find((r) => roles.includes(r))
  if (!role) throw new InvalidToken('roles')
  const territories = stringArray(payload.territories, 'territories')
  if (!territories.every((t) => (TERRITORIES as readonly string[]).includes(t))) throw new InvalidToken('territories')
  const tenant = payload.tenant ?? 'default'
  if (typeof tenant !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(tenant) || RESERVED_IDS.includes(tenant)) throw new InvalidToken('tenant')
  const name = typeof payload.name === 'string' && !CONTROL_CHARACTER.test(payload.name) ? payload.name : sub
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new InvalidToken('exp')
  return {
    id: sub,
    name,
    role,
    territories: [...new Set(territories)] as Territory[],
    tenantId: tenant,
    platformOperator: roles.includes(PLATFORM_OPERATOR_ROLE),
    expiresAt: payload.exp * 1000,
  }
}

function stringArray(value: unknown, claim: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new InvalidToken(claim)
  return value
}

export function securityContext(principal: Principal): SecurityContext {
  return { tenantId: principal.tenantId, userId: principal.id, role: principal.role, territories: principal.territories }
}

function tokenFrom(authorization: string, cookie: string | undefined, query: unknown): string | undefined {
  const bearer = /^Bearer ([A-Za-z0-9\-_.~+/]+=*)$/i.exec(authorization)
  if (bearer) return bearer[1]
  if (authorization) return '' // some other scheme or garbage: invalid, not anonymous
  if (cookie) return cookie
  return typeof query === 'string' ? query : undefined
}

/**
 * Verifies the caller's token and puts `ctx.state.user` (Principal) and `ctx.state.auth`
 * (SecurityContext for the transaction helper). Tokens come from the Authorization header, the
 * HttpOnly cookie the board login sets, or — only where `allowQueryToken`, i.e. for EventSource,
 * which cannot send headers — an `access_token` query parameter.
 */
export function authenticate(verify: TokenVerifier, options: { allowQueryToken?: boolean } = {}): Middleware {
  return async (ctx, next) => {
    const token = tokenFrom(ctx.get('Authorization'), ctx.cookies.get(ACCESS_TOKEN_COOKIE), options.allowQueryToken ? ctx.query.access_token : undefined)
    if (token === undefined) throw problems.unauthorized()
    let principal: Principal
    try {
      principal = await verify(token)
    } catch {
      throw problems.unauthorized('The bearer token is invalid or expired.')
    }
    ctx.state.user = principal
    ctx.state.auth = securityContext(principal)
    await next()
  }
}

/** 403 unless the authenticated caller has one of the roles. */
export function requireRole(...roles: Principal['role'][]): Middleware {
  return async (ctx, next) => {
    const user = ctx.state.user
    if (!user) throw problems.unauthorized()
    if (!roles.includes(user.role)) throw problems.forbidden(`This needs one of the roles ${roles.join(', ')}.`)
    await next()
  }
}
