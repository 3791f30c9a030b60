// `npm start`: everything for local use in one command. Without DATABASE_URL it starts an embedded
// PostgreSQL (data under .data/), migrates it, then runs the `web` and `worker` processes and stops
// all of them, database included, on SIGTERM or Ctrl-C: web and worker drain first, then the
// database stops (it runs outside the terminal's process group, so Ctrl-C does not cut it short).
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { loadConfigOrExit } from '../lib/config.ts'
import { migrateDatabase } from '../lib/migrate.ts'
import { startDetachedEmbeddedPostgres, type EmbeddedServer } from '../lib/embedded-postgres.ts'

const root = path.resolve(import.meta.dirname, '..')
const env = { ...process.env }
let embedded: EmbeddedServer | undefined

if (!env.DATABASE_URL) {
  const dataDir = path.resolve(env.FRESHPLAN_DATA_DIR ?? path.join(root, '.data'), 'postgres')
  const port = Number(env.EMBEDDED_PG_PORT ?? 54329)
  console.log(`No DATABASE_URL: starting embedded PostgreSQL in ${dataDir} on port ${port}`)
  embedded = await startDetachedEmbeddedPostgres({ dataDir, port })
  await createDatabaseIfMissing(embedded.url, 'freshplan')
  env.DATABASE_URL = embedded.url.replace(/\/postgres$/, '/freshplan')
}

const config = loadConfigOrExit(env)
await migrateDatabase({
  databaseUrl: config.databaseUrl,
  appRole: config.appDbUser,
  includeDevRange: config.nodeEnv !== 'production',
  log: (line) => console.log(line),
})

const children: ChildProcess[] = ['server/web.ts', 'jobs/worker.ts'].map((entry) =>
  spawn(process.execPath, [path.join(root, entry)], { env, stdio: 'inherit' }),
)
console.log(startBanner(config.port, config.databaseUrl, embedded !== undefined))

let stopping = false
async function stopAll(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => {})
  stopping = true
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
        }),
    ),
  )
  if (embedded) await embedded.stop()
  process.exit(code)
}
for (const child of children) {
  child.once('exit', (code) => {
    if (!stopping) {
      console.error(`a child process exited (code ${code}); stopping everything`)
      void stopAll(1)
    }
  })
}
process.on('SIGTERM', () => void stopAll(0))
process.on('SIGINT', () => void stopAll(0))

async function createDatabaseIfMissing(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name])
    if (rowCount === 0) await client.query(`create database ${name}`)
  } finally {
    await client.end()
  }
}

/**
 * What to paste into another shell. `npm run -s`: without -s, npm prints its banner to stdout and
 * $(…) would capture it with the token. The embedded database's URL is local and its password the
 * package default, so it is printed as it is, for `npm run backfill`; any other URL is redacted.
 */
function startBanner(port: number, databaseUrl: string, local: boolean): string {
  const base = `http://localhost:${port}`
  return `
freshplan-leads is starting on ${base}   (Ctrl-C stops it)
  database:  ${local ? databaseUrl : redact(databaseUrl)}
  health:    curl ${base}/health/ready
  token:     TOKEN=$(npm run -s token -- --user u1 --role SALES --territory DE)
  then:      curl -H "Authorization: Bearer $TOKEN" ${base}/api/leads
  backfill:  ${local ? `DATABASE_URL='${databaseUrl}' ` : ''}npm run backfill
`
}

function redact(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.href
}
