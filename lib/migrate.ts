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

/** pg-boss runs its statements inside our transactions with our role, so the app role needs these. */
async function grantPgBoss(knex: Knex, appRole: string): Promise<void> {
  const role = knex.client.wrapIdentifier(appRole) as string
  await knex.raw(`
    grant usage, create on schema pgboss to ${role};
    grant select, insert, update, delete on all tables in schema pgboss to ${role};
    grant usage, select, update on all sequences in schema pgboss to ${role};
    grant execute on all functions in schema pgboss to ${role};
    alter default privileges in schema pgboss grant select, insert, update, delete on tables to ${role};
    alter default privileges in schema pgboss grant usage, select, update on sequences to ${role};
    alter default privileges in schema pgboss grant execute on functions to ${role};
  `)
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
