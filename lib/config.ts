// The one place that reads process.env. Every value is parsed and checked here, so a bad value
// stops start-up with one line naming the variable instead of failing later somewhere deep.

export class ConfigError extends Error {
  readonly variable: string
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`)
    this.name = 'ConfigError'
    this.variable = variable
  }
}

export type NodeEnv = 'development' | 'test' | 'production'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export type AuthConfig =
  | { kind: 'hs256'; secret: Uint8Array; issuer?: string; audience?: string }
  | { kind: 'jwks'; jwksUrl: URL; issuer: string; audience: string }

export interface Config {
  nodeEnv: NodeEnv
  port: number
  /** Owner connection: migrations and the pg-boss schema. */
  databaseUrl: string
  /** Runtime connection of `web` and `worker`: the application role (no ownership, NOBYPASSRLS). */
  appDatabaseUrl: string
  appDbUser: string
  appDbPassword: string
  /**
   * Connection of the `worker` process and of `npm run backfill`: the worker role, the one login
   * that may act as SYSTEM or across tenants (a member of SYSTEM_ROLE). Undefined in production
   * when neither WORKER_DATABASE_URL nor WORKER_DB_PASSWORD is set; loadConfig(env, { worker: true })
   * then refuses to start.
   */
  workerDatabaseUrl: string | undefined
  dbPoolMax: number
  auth: AuthConfig
  smtpUrl?: string
  mailFrom: string
  publicBaseUrl: string
  logLevel: LogLevel
  emailStripPlusTag: boolean
  idempotencyTtlHours: number
  outboxRetentionDays: number
  allowUnauthenticatedPublisher: boolean
  shutdownTimeoutMs: number
  /** The worker has no API; it serves /metrics on this port (0: not at all). */
  workerMetricsPort: number
  /**
   * Believe X-Forwarded-Proto/-Host/-For (set only behind a proxy that overwrites them). Off, a
   * client's own X-Forwarded-Proto: https cannot make a plain-HTTP request look secure.
   */
  trustProxy: boolean
  /** Node's http server: time for a request's headers, and for the whole request (headers and body). */
  httpHeadersTimeoutMs: number
  httpRequestTimeoutMs: number
  /** Open SSE streams this web process holds at most (503 beyond), and per user (429 beyond). */
  sseMaxStreams: number
  sseMaxStreamsPerUser: number
}

/** A well-known secret so that `npm start` and `npm run token` work out of the box; refused in production. */
export const DEVELOPMENT_JWT_SECRET = 'freshplan-development-secret-not-for-production-use'

type Env = Record<string, string | undefined>

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = text(env, name) ?? fallback
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${value}")`)
  }
  return value as T
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!/^-?\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`)
  }
  return value
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new ConfigError(name, `must be true or false (got "${raw}")`)
}

function url(env: Env, name: string, protocols: readonly string[]): URL | undefined {
  const raw = text(env, name)
  if (raw === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(name, 'is not a valid URL')
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')} (got "${parsed.protocol}")`)
  }
  return parsed
}

const POSTGRES_PROTOCOLS = ['postgres:', 'postgresql:']

/** The application role's name; migrations create it, the runtime logs in as it. */
export function appRoleName(env: Env = process.env): string {
  const name = text(env, 'APP_DB_USER') ?? 'freshplan_app'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new ConfigError('APP_DB_USER', 'must be a lower-case SQL identifier')
  return name
}

/**
 * The NOLOGIN role whose members may claim the SYSTEM role and the all-tenants marker '*' in their
 * RLS context (migrations/V0008). Only the worker role is granted it; the application role never.
 */
export const SYSTEM_ROLE = 'freshplan_system'

/** The worker's login role; migrations create it as a member of the application role and of SYSTEM_ROLE. */
export function workerRoleName(env: Env = process.env): string {
  const name = text(env, 'WORKER_DB_USER') ?? 'freshplan_worker'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new ConfigError('WORKER_DB_USER', 'must be a lower-case SQL identifier')
  if (name === appRoleName(env) || name === SYSTEM_ROLE) throw new ConfigError('WORKER_DB_USER', 'must differ from APP_DB_USER and from ' + SYSTEM_ROLE)
  return name
}

export function workerRolePassword(env: Env = process.env): string {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'test', 'production'], 'development')
  const password = text(env, 'WORKER_DB_PASSWORD')
  if (password === undefined && nodeEnv === 'production') throw new ConfigError('WORKER_DB_PASSWORD', 'is required in production')
  return password ?? 'freshplan_worker'
}

export function appRolePassword(env: Env = process.env): string {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'test', 'production'], 'development')
  const password = text(env, 'APP_DB_PASSWORD')
  if (password === undefined && nodeEnv === 'production') throw new ConfigError('APP_DB_PASSWORD', 'is required in production')
  return password ?? 'freshplan_app'
}

/** DATABASE_URL with the application role's credentials, unless APP_DATABASE_URL says otherwise. */
function deriveAppUrl(ownerUrl: URL, user: string, password: string): string {
  const derived = new URL(ownerUrl.href)
  derived.username = encodeURIComponent(user)
  derived.password = encodeURIComponent(password)
  return derived.href
}

function loadAuth(env: Env, nodeEnv: NodeEnv): AuthConfig {
  const jwksUrl = url(env, 'AUTH_JWKS_URL', ['https:', 'http:'])
  const issuer = text(env, 'AUTH_ISSUER')
  const audience = text(env, 'AUTH_AUDIENCE')
  if (jwksUrl) {
    if (!issuer) throw new ConfigError('AUTH_ISSUER', 'is required with AUTH_JWKS_URL')
    if (!audience) throw new ConfigError('AUTH_AUDIENCE', 'is required with AUTH_JWKS_URL')
    return { kind: 'jwks', jwksUrl, issuer, audience }
  }
  const secret = text(env, 'AUTH_JWT_SECRET')
  if (secret === undefined && nodeEnv === 'production') {
    throw new ConfigError('AUTH_JWKS_URL', 'or AUTH_JWT_SECRET is required in production')
  }
  if (secret !== undefined && secret.length < 32) throw new ConfigError('AUTH_JWT_SECRET', 'must be at least 32 characters')
  if (secret === DEVELOPMENT_JWT_SECRET && nodeEnv === 'production') {
    throw new ConfigError('AUTH_JWT_SECRET', 'must not be the development secret in production')
  }
  return { kind: 'hs256', secret: new TextEncoder().encode(secret ?? DEVELOPMENT_JWT_SECRET), issuer, audience }
}

export interface LoadOptions {
  /** The process acts as the worker role (worker, backfill CLI): its connection must be configured. */
  worker?: boolean
}

export function loadConfig(env: Env = process.env, options: LoadOptions = {}): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'test', 'production'] as const, 'development')
  // web and worker need only the application role's URL; migrations need the owner's. A runtime
  // deployment may therefore set APP_DATABASE_URL alone.
  const explicitAppUrl = url(env, 'APP_DATABASE_URL', POSTGRES_PROTOCOLS)
  const databaseUrl = url(env, 'DATABASE_URL', POSTGRES_PROTOCOLS) ?? explicitAppUrl
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'is required (postgres://owner:password@host:5432/database)')
  const appDbUser = appRoleName(env)
  const appDbPassword = explicitAppUrl ? '' : appRolePassword(env)
  const appDatabaseUrl = explicitAppUrl?.href ?? deriveAppUrl(databaseUrl, appDbUser, appDbPassword)
  // Derived like the application role's URL; in production only from an explicit password, so a
  // web process, which must not hold it, is not forced to carry one.
  const explicitWorkerUrl = url(env, 'WORKER_DATABASE_URL', POSTGRES_PROTOCOLS)
  const workerDbUser = workerRoleName(env)
  const workerDbPassword = text(env, 'WORKER_DB_PASSWORD') ?? (nodeEnv === 'production' ? undefined : workerRolePassword(env))
  const workerDatabaseUrl = explicitWorkerUrl?.href ?? (workerDbPassword === undefined ? undefined : deriveAppUrl(databaseUrl, workerDbUser, workerDbPassword))
  const port = integer(env, 'PORT', 3000, 0, 65535)
  const smtpUrl = url(env, 'SMTP_URL', ['smtp:', 'smtps:'])
  if (!smtpUrl && nodeEnv === 'production') throw new ConfigError('SMTP_URL', 'is required in production')
  const allowUnauthenticatedPublisher = bool(env, 'SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER', false)
  if (allowUnauthenticatedPublisher && nodeEnv === 'production') {
    throw new ConfigError('SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER', 'must not be true in production')
  }
  if (options.worker && workerDatabaseUrl === undefined) throw new ConfigError('WORKER_DATABASE_URL', 'or WORKER_DB_PASSWORD is required in production')
  const publicBaseUrl = url(env, 'PUBLIC_BASE_URL', ['http:', 'https:'])?.href.replace(/\/$/, '') ?? `http://localhost:${port}`
  return {
    nodeEnv,
    port,
    databaseUrl: databaseUrl.href,
    appDatabaseUrl,
    appDbUser,
    appDbPassword,
    workerDatabaseUrl,
    dbPoolMax: integer(env, 'DB_POOL_MAX', 10, 1, 1000),
    auth: loadAuth(env, nodeEnv),
    smtpUrl: smtpUrl?.href,
    mailFrom: text(env, 'MAIL_FROM') ?? 'FreshPlan <noreply@freshplan.example>',
    publicBaseUrl,
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    emailStripPlusTag: bool(env, 'EMAIL_STRIP_PLUS_TAG', false),
    idempotencyTtlHours: integer(env, 'IDEMPOTENCY_TTL_HOURS', 24, 1, 24 * 365),
    outboxRetentionDays: integer(env, 'OUTBOX_RETENTION_DAYS', 7, 1, 3650),
    allowUnauthenticatedPublisher,
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 25_000, 0, 600_000),
    workerMetricsPort: integer(env, 'WORKER_METRICS_PORT', 9464, 0, 65535),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    ...httpTimeouts(env),
    sseMaxStreams: integer(env, 'SSE_MAX_STREAMS', 1000, 1, 100_000),
    sseMaxStreamsPerUser: integer(env, 'SSE_MAX_STREAMS_PER_USER', 5, 1, 1000),
  }
}

function httpTimeouts(env: Env): Pick<Config, 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs'> {
  const httpHeadersTimeoutMs = integer(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 1000, 300_000)
  const httpRequestTimeoutMs = integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000)
  // Node requires the headers' timeout not to exceed the whole request's.
  if (httpHeadersTimeoutMs > httpRequestTimeoutMs) throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${httpRequestTimeoutMs})`)
  return { httpHeadersTimeoutMs, httpRequestTimeoutMs }
}

/**
 * For entry points: load the configuration or exit with one line naming the variable.
 * Other errors are not caught here; they are bugs and deserve their stack.
 */
export function loadConfigOrExit(env: Env = process.env, options: LoadOptions = {}): Config {
  try {
    return loadConfig(env, options)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw error
  }
}
