// Each test file gets its own database, cloned from a migrated template (a clone takes well under a
// second; migrating from scratch takes several). The template's name carries a hash of everything
// that shapes the schema, so a changed migration builds a new template instead of reusing a stale one.
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { listMigrationFiles, migrateDatabase, MIGRATIONS_DIR } from '../../lib/migrate.ts'

export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const APP_ROLE = 'freshplan_app'
export const APP_PASSWORD = 'freshplan_app'
/** The worker's login role (V0008): the only one that may act as SYSTEM or across tenants. */
export const WORKER_ROLE = 'freshplan_worker'
export const WORKER_PASSWORD = 'freshplan_worker'

export interface TestDatabase {
  name: string
  /** Owner (superuser) connection: set-up and checks only. */
  ownerUrl: string
  /** The application role: what `web` and `worker` use. */
  appUrl: string
  /** The worker role: what `worker` uses. */
  workerUrl: string
  drop(): Promise<void>
}

export function urlFor(database: string, credentials?: { user: string; password: string }): string {
  const url = new URL(SERVER_URL)
  url.pathname = `/${database}`
  if (credentials) {
    url.username = credentials.user
    url.password = credentials.password
  }
  return url.href
}

/** A raw session on `url` for the length of `work` (set-up, statements the application never sends). */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * Whether pg-boss has run its once-a-day maintenance on every queue of `ownerUrl`'s database — which
 * a worker does right after it starts: until then an idle worker is still busy starting.
 */
export async function everyQueueMaintained(ownerUrl: string): Promise<boolean> {
  return withClient(ownerUrl, async (client) => (await client.query('select 1 from pgboss.queue where maintain_on is null')).rowCount === 0)
}

function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(SERVER_URL, work)
}

async function schemaHash(): Promise<string> {
  const hash = createHash('sha256')
  for (const file of await listMigrationFiles()) hash.update(file.name).update(await readFile(path.join(MIGRATIONS_DIR, file.name)))
  hash.update(await readFile(new URL('../../lib/migrate.ts', import.meta.url)))
  hash.update(await readFile(new URL(import.meta.url)))
  hash.update(await readFile(new URL('../../node_modules/pg-boss/package.json', import.meta.url)))
  return hash.digest('hex').slice(0, 12)
}

async function ensureTemplate(): Promise<string> {
  const template = `fp_tpl_${await schemaHash()}`
  await withAdmin(async (admin) => {
    await admin.query(`select pg_advisory_lock(hashtext('freshplan-test-template'))`)
    try {
      const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [template])
      if (rowCount) return
      const building = `${template}_building`
      await admin.query(`drop database if exists ${building} with (force)`)
      await admin.query(`create database ${building}`)
      // Tests bring their own data: the template has the production schema without the sample leads.
      await migrateDatabase({ databaseUrl: urlFor(building), appRole: APP_ROLE, includeDevRange: false })
      await admin.query(`alter database ${building} rename to ${template}`)
    } finally {
      await admin.query(`select pg_advisory_unlock(hashtext('freshplan-test-template'))`)
    }
  })
  return template
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const template = await ensureTemplate()
  const name = `fp_test_${randomBytes(6).toString('hex')}`
  await withAdmin(async (admin) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`create database ${name} template ${template}`)
        return
      } catch (error) {
        // 55006: the template is briefly in use by another clone; wait and try again.
        if ((error as { code?: string }).code !== '55006' || attempt > 50) throw error
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200))
      }
    }
  })
  return {
    name,
    ownerUrl: urlFor(name),
    appUrl: urlFor(name, { user: APP_ROLE, password: APP_PASSWORD }),
    workerUrl: urlFor(name, { user: WORKER_ROLE, password: WORKER_PASSWORD }),
    drop: () => withAdmin(async (admin) => void (await admin.query(`drop database if exists ${name} with (force)`))),
  }
}
