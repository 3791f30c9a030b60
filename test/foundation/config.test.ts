import test from 'ava'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { ConfigError, loadConfig } from '../../lib/config.ts'

const root = path.resolve(import.meta.dirname, '../..')
const base = { DATABASE_URL: 'postgres://owner:pw@db.example:5432/leads' }

test('defaults give a working development configuration', (t) => {
  const config = loadConfig(base)
  t.is(config.nodeEnv, 'development')
  t.is(config.port, 3000)
  t.is(config.auth.kind, 'hs256')
  t.is(config.idempotencyTtlHours, 24)
  t.is(config.outboxRetentionDays, 7)
  t.is(config.appDatabaseUrl, 'postgres://freshplan_app:freshplan_app@db.example:5432/leads')
})

test('proxy headers are not trusted unless TRUST_PROXY says so; timeouts and stream bounds have defaults (issue 14)', (t) => {
  const config = loadConfig(base)
  t.false(config.trustProxy)
  t.true(loadConfig({ ...base, TRUST_PROXY: 'true' }).trustProxy)
  t.like(config, { httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 30_000, sseMaxStreams: 1000, sseMaxStreamsPerUser: 5 })
})

test('the application role URL is derived from DATABASE_URL unless APP_DATABASE_URL is given', (t) => {
  t.is(loadConfig({ ...base, APP_DB_USER: 'leads_rt', APP_DB_PASSWORD: 'p@ss' }).appDatabaseUrl, 'postgres://leads_rt:p%40ss@db.example:5432/leads')
  t.is(loadConfig({ ...base, APP_DATABASE_URL: 'postgres://x:y@other/z' }).appDatabaseUrl, 'postgres://x:y@other/z')
  // A web/worker deployment may carry the application role's URL alone.
  const runtimeOnly = loadConfig({ APP_DATABASE_URL: 'postgres://app:pw@db/leads', NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://mail', PUBLIC_BASE_URL: 'https://leads.example' })
  t.is(runtimeOnly.appDatabaseUrl, 'postgres://app:pw@db/leads')
})

test('the worker role URL is derived like the application role\'s; a worker in production needs it configured', (t) => {
  t.is(loadConfig(base).workerDatabaseUrl, 'postgres://freshplan_worker:freshplan_worker@db.example:5432/leads')
  t.is(loadConfig({ ...base, WORKER_DB_USER: 'leads_jobs', WORKER_DB_PASSWORD: 'p@ss' }).workerDatabaseUrl, 'postgres://leads_jobs:p%40ss@db.example:5432/leads')
  t.is(loadConfig({ ...base, WORKER_DATABASE_URL: 'postgres://w:y@other/z' }).workerDatabaseUrl, 'postgres://w:y@other/z')
  const production = { APP_DATABASE_URL: 'postgres://app:pw@db/leads', NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://mail', PUBLIC_BASE_URL: 'https://leads.example' }
  // A web process carries no worker credentials; a worker refuses to start without them.
  t.is(loadConfig(production).workerDatabaseUrl, undefined)
  t.is(t.throws(() => loadConfig(production, { worker: true }), { instanceOf: ConfigError })?.variable, 'WORKER_DATABASE_URL')
  t.is(loadConfig({ ...production, WORKER_DB_PASSWORD: 'w' }, { worker: true }).workerDatabaseUrl, 'postgres://freshplan_worker:w@db/leads')
  t.is(t.throws(() => loadConfig({ ...base, WORKER_DB_USER: 'freshplan_app' }), { instanceOf: ConfigError })?.variable, 'WORKER_DB_USER')
})

const bad: [Record<string, string | undefined>, string][] = [
  [{ DATABASE_URL: undefined }, 'DATABASE_URL'],
  [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL'],
  [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
  [{ PORT: 'eighty' }, 'PORT'],
  [{ PORT: '70000' }, 'PORT'],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
  [{ AUTH_JWT_SECRET: 'short' }, 'AUTH_JWT_SECRET'],
  [{ AUTH_JWKS_URL: 'https://sso.example/certs' }, 'AUTH_ISSUER'],
  [{ AUTH_JWKS_URL: 'https://sso.example/certs', AUTH_ISSUER: 'https://sso.example' }, 'AUTH_AUDIENCE'],
  [{ SMTP_URL: 'http://mail' }, 'SMTP_URL'],
  [{ EMAIL_STRIP_PLUS_TAG: 'yes' }, 'EMAIL_STRIP_PLUS_TAG'],
  [{ IDEMPOTENCY_TTL_HOURS: '0' }, 'IDEMPOTENCY_TTL_HOURS'],
  [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
  [{ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }, 'HTTP_HEADERS_TIMEOUT_MS'],
  [{ SSE_MAX_STREAMS_PER_USER: '0' }, 'SSE_MAX_STREAMS_PER_USER'],
  [{ NODE_ENV: 'production', SMTP_URL: 'smtp://m', APP_DB_PASSWORD: 'x' }, 'AUTH_JWKS_URL'],
  [{ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), APP_DB_PASSWORD: 'x' }, 'SMTP_URL'],
  [{ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://m' }, 'APP_DB_PASSWORD'],
  [{ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://m', APP_DB_PASSWORD: 'x', SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER: 'true' }, 'SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER'],
  // Issue 14 point 13: links in mails must not point to localhost in production.
  [{ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://m', APP_DB_PASSWORD: 'x' }, 'PUBLIC_BASE_URL'],
  [{ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://m', APP_DB_PASSWORD: 'x', PUBLIC_BASE_URL: 'ftp://leads.example' }, 'PUBLIC_BASE_URL'],
]

test('production with every required variable, PUBLIC_BASE_URL included, loads; development keeps the localhost default', (t) => {
  const production = loadConfig({ ...base, NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://m', APP_DB_PASSWORD: 'x', PUBLIC_BASE_URL: 'https://leads.example/' })
  t.is(production.publicBaseUrl, 'https://leads.example')
  t.is(loadConfig({ ...base, PORT: '8080' }).publicBaseUrl, 'http://localhost:8080')
})

test('server/web.ts in production without PUBLIC_BASE_URL exits 78 with one line naming it', (t) => {
  const result = spawnSync(process.execPath, [path.join(root, 'server/web.ts')], {
    env: { PATH: process.env.PATH, NODE_ENV: 'production', DATABASE_URL: 'postgres://localhost/x', APP_DB_PASSWORD: 'x', AUTH_JWT_SECRET: 'x'.repeat(40), SMTP_URL: 'smtp://mail' },
    encoding: 'utf8',
    timeout: 20_000,
  })
  t.is(result.status, 78, result.stderr)
  const lines = result.stderr.trim().split('\n')
  t.is(lines.length, 1, result.stderr)
  t.regex(lines[0]!, /^Invalid configuration: PUBLIC_BASE_URL is required in production/)
})

for (const [override, variable] of bad) {
  test(`bad config ${JSON.stringify(override)} names ${variable}`, (t) => {
    const error = t.throws(() => loadConfig({ ...base, ...override }), { instanceOf: ConfigError })
    t.is(error?.variable, variable)
  })
}

for (const entry of ['server/web.ts', 'jobs/worker.ts', 'scripts/migrate.ts']) {
  test(`${entry} with bad config exits non-zero with one line naming the variable`, (t) => {
    const result = spawnSync(process.execPath, [path.join(root, entry)], {
      env: { PATH: process.env.PATH, DATABASE_URL: 'postgres://localhost/x', PORT: 'eighty' },
      encoding: 'utf8',
      timeout: 20_000,
    })
    t.not(result.status, 0)
    const lines = result.stderr.trim().split('\n')
    t.is(lines.length, 1, result.stderr)
    t.regex(lines[0]!, /^Invalid configuration: PORT /)
  })
}
