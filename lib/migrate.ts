import { readdir } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import path from 'node:path'
import { PgBoss } from 'pg-boss'
import type { Knex } from 'knex'
import { createKnex } from './db.ts'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url))
const MIGRATION_FILE = /^V(\d{4,5})__[a-z0-9_]+\.ts$/
/** V10000 and above is the development/test-data range; production skips it. */
export const DEV_RANGE_START = 10_000

export interface MigrationFile {
  name: string
  number: number
}

export async function listMigrationFiles(): Promise<MigrationFile[]> {
  const files = await readdir(MIGRATIONS_DIR)
  return files
    .map((name) => ({ name, match: MIGRATION_FILE.exec(name) }))
    .filter((f): f is { name: string; match: RegExpExecArray } => f.match !== null)
    .map((f) => ({ name: f.name, number: Number(f.match[1]) }))
    .sort((a, b) => a.number - b.number)
}

/** Knex migration source: numbered files in migrations/, ordered by number, dev range optional. */
class NumberedMigrationSource implements Knex.MigrationSource<MigrationFile> {
  readonly #includeDevRange: boolean
  readonly #upTo: number
  constructor(includeDevRange: boolean, upTo = Infinity) {
    this.#includeDevRange = includeDevRange
    this.#upTo = upTo
  }
  async getMigrations(): Promise<MigrationFile[]> {
    const files = await listMigrationFiles()
    return files.filter((f) => (this.#includeDevRange || f.number < DEV_RANGE_START) && f.number <= this.#upTo)
  }
  getMigrationName(migration: MigrationFile): string {
    return migration.name
  }
  async getMigration(migration: MigrationFile): Promise<Knex.Migration> {
    return import(pathToFileURL(path.join(MIGRATIONS_DIR, migration.name)).href)
  }
}

export interface MigrateOptions {
  /** Owner connection string. */
  databaseUrl: string
  appRole: string
  includeDevRange: boolean
  /** Stop after this migration number: tests that need a database as an older release left it. */
  upTo?: number
  log?: (line: string) => void
}

/**
 * Brings a database to the code's schema, as its owner: knex migrations (which also create the
 * application role), then pg-boss's own schema, then the application role's rights on it.
 */
export async function migrateDatabase(options: MigrateOptions): Promise<void> {
  const log = options.log ?? (() => {})
  const knex = createKnex(options.databaseUrl, { poolMax: 2, applicationName: 'freshplan-migrate' })
  try {
    const [, applied] = await knex.migrate.latest({ migrationSource: new NumberedMigrationSource(options.includeDevRange, options.upTo) })
    for (const name of applied as string[]) log(`migrated ${name}`)
    await migratePgBoss(options.databaseUrl)
    await grantPgBoss(knex, options.appRole)
    log('pg-boss schema ready')
  } finally {
    await knex.destroy()
  }
}

async function migratePgBoss(databaseUrl: string): Promise<void> {
  const boss = new PgBoss({ connectionString: databaseUrl, max: 2, migrate: true, schedule: false, supervise: false })
  boss.on('error', () => {})
  await boss.start()
  await boss.stop({ graceful: false, close: true })
}

/**
 * pg-boss runs its statements inside our transactions with our role, so the app role needs rights on
 * its tables: exactly what pg-boss's runtime (started with `migrate: false`) does, nothing of what
 * only its migrations do. Run on every deploy after pg-boss's migration, it first takes back whatever
 * an older release granted (CREATE on the schema, rights on every table, default privileges), so a
 * table a future pg-boss adds is the owner's alone until it is listed here.
 *
 * Never: `bam` (pg-boss runs its rows as SQL when the owner migrates), `version` except the three
 * claim timestamps the scheduler, the flow resolver and the monitor move, `queue_stats` writes
 * (persistQueueStats is off), TRUNCATE, DELETE of queues, CREATE on the schema. pg-boss's functions
 * are SECURITY INVOKER, so executing them never exceeds these rights (job_table_run_async would write
 * `bam`, and is refused). Queues are created (create_queue inserts a row) and updated at start-up.
 * Details: docs/decisions.md, "Least privilege".
 */
export const PGBOSS_RUNTIME_GRANTS: Readonly<Record<string, string>> = {
  job: 'select, insert, update, delete',
  job_common: 'select, insert, update, delete',
  job_dependency: 'select, insert, update, delete',
  queue: 'select, insert, update',
  schedule: 'select, insert, update, delete',
  subscription: 'select, insert, delete',
  instance: 'select, insert, update, delete',
  warning: 'select, insert, delete',
  queue_stats: 'select',
  version: 'select, update (cron_on, flow_on, monitor_backoff_on)',
}

async function grantPgBoss(knex: Knex, appRole: string): Promise<void> {
  const role = knex.client.wrapIdentifier(appRole) as string
  // Partitioned queues have a table of their own that pg-boss's statements name directly.
  const { rows: partitions } = await knex.raw<{ rows: { name: string }[] }>(`
    select c.relname as name from pg_inherits i
      join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent join pg_namespace n on n.oid = p.relnamespace
     where n.nspname = 'pgboss' and p.relname = 'job' and c.relname <> 'job_common'`)
  const grants = Object.entries(PGBOSS_RUNTIME_GRANTS).concat(partitions.map((p) => [p.name, PGBOSS_RUNTIME_GRANTS.job!]))
  await knex.transaction(async (trx) => {
    await trx.raw(`
      revoke create on schema pgboss from ${role};
      revoke all on all tables in schema pgboss from ${role};
      revoke all on all sequences in schema pgboss from ${role};
      revoke all on all functions in schema pgboss from ${role};
      alter default privileges in schema pgboss revoke all on tables from ${role};
      alter default privileges in schema pgboss revoke all on sequences from ${role};
      alter default privileges in schema pgboss revoke all on functions from ${role};
      grant usage on schema pgboss to ${role};
    `)
    // A table-level REVOKE takes the column grants too; pg-boss's functions stay executable (PUBLIC).
    for (const [table, privileges] of grants) {
      await trx.raw(`grant ${privileges} on pgboss.${knex.client.wrapIdentifier(table) as string} to ${role}`)
    }
  })
}

/**
 * For migrations that run outside a transaction: builds an index without locking writes. A failed
 * concurrent build leaves an INVALID index behind; it is dropped first so a rerun starts clean.
 * `definition` is everything after the name, e.g. `on leads (tenant_id, status)`.
 */
export async function createIndexConcurrently(knex: Knex, name: string, definition: string, options: { unique?: boolean } = {}): Promise<void> {
  await knex.raw(`
    do $$ begin
      if exists (select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = '${name}' and not i.indisvalid) then
        drop index ${name};
      end if;
    end $$`)
  await knex.raw(`create ${options.unique ? 'unique ' : ''}index concurrently if not exists ${name} ${definition}`)
}
