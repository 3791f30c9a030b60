// The one place that reads process.env. Every value is parsed and checked here, so a bad value
// stops start-up with one line naming the variable instead of failing later somewhere deep.
import { cleanEnv, EnvError, makeValidator, str, type CleanedEnv } from 'envalid'

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

// Each variable's parser is an envalid validator; a failing one throws EnvError with what is wrong,
// and the reporter turns the first into a ConfigError naming the variable. Rules that span several
// variables (production requirements, OIDC's three settings) follow in loadConfig.
const integer = (min: number, max: number) =>
  makeValidator<number>((raw) => {
    const value = Number(raw)
    if (!/^-?\d+$/.test(raw) || value < min || value > max) throw new EnvError(`must be an integer from ${min} to ${max} (got "${raw}")`)
    return value
  })

const oneOf = <T extends string>(allowed: readonly T[]) =>
  makeValidator<T>((raw) => {
    if (!(allowed as readonly string[]).includes(raw)) throw new EnvError(`must be one of ${allowed.join(', ')} (got "${raw}")`)
    return raw as T
  })

const flag = makeValidator<boolean>((raw) => {
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new EnvError(`must be true or false (got "${raw}")`)
})

const urlOf = (protocols: readonly string[]) =>
  makeValidator<string>((raw) => {
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw new EnvError('is not a valid URL')
    }
    if (!protocols.includes(parsed.protocol)) throw new EnvError(`must use ${protocols.join(' or ')} (got "${parsed.protocol}")`)
    return parsed.href
  })

const secret = makeValidator<string>((raw) => {
  if (raw.length < 32) throw new EnvError('must be at least 32 characters')
  return raw
})

const roleName = makeValidator<string>((raw) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) throw new EnvError('must be a lower-case SQL identifier')
  return raw
})

const POSTGRES_PROTOCOLS = ['postgres:', 'postgresql:']
const NODE_ENVS = ['development', 'test', 'production'] as const
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const optional = { default: undefined }

/** Every variable, in the order problems are reported. */
const SPECS = {
  NODE_ENV: oneOf(NODE_ENVS)({ default: 'development' }),
  APP_DATABASE_URL: urlOf(POSTGRES_PROTOCOLS)(optional),
  DATABASE_URL: urlOf(POSTGRES_PROTOCOLS)(optional),
  APP_DB_USER: roleName({ default: 'freshplan_app' }),
  APP_DB_PASSWORD: str(optional),
  WORKER_DATABASE_URL: urlOf(POSTGRES_PROTOCOLS)(optional),
  WORKER_DB_USER: roleName({ default: 'freshplan_worker' }),
  WORKER_DB_PASSWORD: str(optional),
  PORT: integer(0, 65535)({ default: 3000 }),
  SMTP_URL: urlOf(['smtp:', 'smtps:'])(optional),
  SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER: flag({ default: false }),
  PUBLIC_BASE_URL: urlOf(['http:', 'https:'])(optional),
  DB_POOL_MAX: integer(1, 1000)({ default: 10 }),
  AUTH_JWKS_URL: urlOf(['https:', 'http:'])(optional),
  AUTH_ISSUER: str(optional),
  AUTH_AUDIENCE: str(optional),
  AUTH_JWT_SECRET: secret(optional),
  MAIL_FROM: str({ default: 'FreshPlan <noreply@freshplan.example>' }),
  LOG_LEVEL: oneOf(LOG_LEVELS)({ default: 'info' }),
  EMAIL_STRIP_PLUS_TAG: flag({ default: false }),
  IDEMPOTENCY_TTL_HOURS: integer(1, 24 * 365)({ default: 24 }),
  OUTBOX_RETENTION_DAYS: integer(1, 3650)({ default: 7 }),
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000)({ default: 25_000 }),
  WORKER_METRICS_PORT: integer(0, 65535)({ default: 9464 }),
  TRUST_PROXY: flag({ default: false }),
  HTTP_HEADERS_TIMEOUT_MS: integer(1000, 300_000)({ default: 10_000 }),
  HTTP_REQUEST_TIMEOUT_MS: integer(1000, 600_000)({ default: 30_000 }),
  SSE_MAX_STREAMS: integer(1, 100_000)({ default: 1000 }),
  SSE_MAX_STREAMS_PER_USER: integer(1, 1000)({ default: 5 }),
}

/** The variables of `specs`, parsed; a blank value counts as unset. Throws ConfigError for the first problem. */
function parseEnv<S extends Partial<typeof SPECS>>(env: Env, specs: S): CleanedEnv<S> {
  const present: Record<string, string> = {}
  for (const name of Object.keys(specs)) {
    const value = env[name]?.trim()
    if (value !== undefined && value !== '') present[name] = value
  }
  return cleanEnv(present, specs, {
    reporter: ({ errors }) => {
      const [first] = Object.entries(errors)
      if (first) throw new ConfigError(first[0], (first[1] as Error).message)
    },
  })
}

/** The application role's name; migrations create it, the runtime logs in as it. */
export function appRoleName(env: Env = process.env): string {
  return parseEnv(env, { APP_DB_USER: SPECS.APP_DB_USER }).APP_DB_USER
}

export function appRolePassword(env: Env = process.env): string {
  const { NODE_ENV, APP_DB_PASSWORD } = parseEnv(env, { NODE_ENV: SPECS.NODE_ENV, APP_DB_PASSWORD: SPECS.APP_DB_PASSWORD })
  if (APP_DB_PASSWORD === undefined && NODE_ENV === 'production') throw new ConfigError('APP_DB_PASSWORD', 'is required in production')
  return APP_DB_PASSWORD ?? 'freshplan_app'
}

/**
 * The NOLOGIN role whose members may claim the SYSTEM role and the all-tenants marker '*' in their
 * RLS context (migrations/V0008). Only the worker role is granted it; the application role never.
 */
export const SYSTEM_ROLE = 'freshplan_system'

/** The worker's login role; migrations create it as a member of the application role and of SYSTEM_ROLE. */
export function workerRoleName(env: Env = process.env): string {
  const name = parseEnv(env, { WORKER_DB_USER: SPECS.WORKER_DB_USER }).WORKER_DB_USER
  if (name === appRoleName(env) || name === SYSTEM_ROLE) throw new ConfigError('WORKER_DB_USER', 'must differ from APP_DB_USER and from ' + SYSTEM_ROLE)
  return name
}

export function workerRolePassword(env: Env = process.env): string {
  const { NODE_ENV, WORKER_DB_PASSWORD } = parseEnv(env, { NODE_ENV: SPECS.NODE_ENV, WORKER_DB_PASSWORD: SPECS.WORKER_DB_PASSWORD })
  if (WORKER_DB_PASSWORD === undefined && NODE_ENV === 'production') throw new ConfigError('WORKER_DB_PASSWORD', 'is required in production')
  return WORKER_DB_PASSWORD ?? 'freshplan_worker'
}

/** DATABASE_URL with the application role's credentials, unless APP_DATABASE_URL says otherwise. */
function deriveAppUrl(ownerUrl: URL, user: string, password: string): string {
  const derived = new URL(ownerUrl.href)
  derived.username = encodeURIComponent(user)
  derived.password = encodeURIComponent(password)
  return derived.href
}

type Parsed = CleanedEnv<typeof SPECS>

function loadAuth(env: Parsed): AuthConfig {
  const { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience, AUTH_JWT_SECRET: secret, NODE_ENV: nodeEnv } = env
  if (jwksUrl) {
    if (!issuer) throw new ConfigError('AUTH_ISSUER', 'is required with AUTH_JWKS_URL')
    if (!audience) throw new ConfigError('AUTH_AUDIENCE', 'is required with AUTH_JWKS_URL')
    return { kind: 'jwks', jwksUrl: new URL(jwksUrl), issuer, audience }
  }
  if (secret === undefined && nodeEnv === 'production') {
    throw new ConfigError('AUTH_JWKS_URL', 'or AUTH_JWT_SECRET is required in production')
  }
  if (secret === DEVELOPMENT_JWT_SECRET && nodeEnv === 'production') {
    throw new ConfigError('AUTH_JWT_SECRET', 'must not be the development secret in production')
  }
  return { kind: 'hs256', secret: new TextEncoder().encode(secret ?? DEVELOPMENT_JWT_SECRET), issuer, audience }
}

export interface LoadOptions {
  /** The process acts as the worker role (worker, backfill CLI): its connection must be configured. */
  worker?: boolean
}

export function loadConfig(raw: Env = process.env, options: LoadOptions = {}): Config {
  const env = parseEnv(raw, SPECS)
  const nodeEnv = env.NODE_ENV
  // web and worker need only the application role's URL; migrations need the owner's. A runtime
  // deployment may therefore set APP_DATABASE_URL alone.
  const explicitAppUrl = env.APP_DATABASE_URL
  const databaseUrl = env.DATABASE_URL ?? explicitAppUrl
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'is required (postgres://owner:password@host:5432/database)')
  const appDbUser = env.APP_DB_USER
  const appDbPassword = explicitAppUrl ? '' : appRolePassword(raw)
  const appDatabaseUrl = explicitAppUrl ?? deriveAppUrl(new URL(databaseUrl), appDbUser, appDbPassword)
  // Derived like the application role's URL; in production only from an explicit password, so a
  // web process, which must not hold it, is not forced to carry one.
  const workerDbUser = workerRoleName(raw)
  const workerDbPassword = env.WORKER_DB_PASSWORD ?? (nodeEnv === 'production' ? undefined : workerRolePassword(raw))
  const workerDatabaseUrl = env.WORKER_DATABASE_URL ?? (workerDbPassword === undefined ? undefined : deriveAppUrl(new URL(databaseUrl), workerDbUser, workerDbPassword))
  if (options.worker && workerDatabaseUrl === undefined) throw new ConfigError('WORKER_DATABASE_URL', 'or WORKER_DB_PASSWORD is required in production')
  const port = env.PORT
  if (!env.SMTP_URL && nodeEnv === 'production') throw new ConfigError('SMTP_URL', 'is required in production')
  if (env.SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER && nodeEnv === 'production') {
    throw new ConfigError('SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER', 'must not be true in production')
  }
  // Node requires the headers' timeout not to exceed the whole request's.
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS})`)
  }
  const auth = loadAuth(env)
  // Links in mails point here; a production default of localhost would mail links nobody can open.
  if (!env.PUBLIC_BASE_URL && nodeEnv === 'production') throw new ConfigError('PUBLIC_BASE_URL', 'is required in production (the https:// address users open)')
  return {
    nodeEnv,
    port,
    databaseUrl,
    appDatabaseUrl,
    appDbUser,
    appDbPassword,
    workerDatabaseUrl,
    dbPoolMax: env.DB_POOL_MAX,
    auth,
    smtpUrl: env.SMTP_URL,
    mailFrom: env.MAIL_FROM,
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/$/, '') ?? `http://localhost:${port}`,
    logLevel: env.LOG_LEVEL,
    emailStripPlusTag: env.EMAIL_STRIP_PLUS_TAG,
    idempotencyTtlHours: env.IDEMPOTENCY_TTL_HOURS,
    outboxRetentionDays: env.OUTBOX_RETENTION_DAYS,
    allowUnauthenticatedPublisher: env.SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    workerMetricsPort: env.WORKER_METRICS_PORT,
    trustProxy: env.TRUST_PROXY,
    httpHeadersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
    httpRequestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
    sseMaxStreams: env.SSE_MAX_STREAMS,
    sseMaxStreamsPerUser: env.SSE_MAX_STREAMS_PER_USER,
  }
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
