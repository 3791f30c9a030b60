import test from 'ava'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { DEV_RANGE_START, listMigrationFiles } from '../../lib/migrate.ts'

const root = path.resolve(import.meta.dirname, '../..')

test('migration files are numbered V0001__ style, each number once', async (t) => {
  const files = await listMigrationFiles()
  t.true(files.length > 0)
  t.is(new Set(files.map((f) => f.number)).size, files.length)
  t.true(files.every((f) => /^V\d{4,5}__[a-z0-9_]+\.ts$/.test(f.name)))
})

test('npm run migration:next prints the next free number in each range', async (t) => {
  const files = await listMigrationFiles()
  const highest = Math.max(...files.filter((f) => f.number < DEV_RANGE_START).map((f) => f.number))
  const next = execFileSync(process.execPath, [path.join(root, 'scripts/migration-next.ts')], { encoding: 'utf8' }).trim()
  t.is(next, `V${String(highest + 1).padStart(4, '0')}__`)
  const dev = execFileSync(process.execPath, [path.join(root, 'scripts/migration-next.ts'), '--dev'], { encoding: 'utf8' }).trim()
  t.regex(dev, /^V1\d{4}__$/)
})

test('production skips the development/test-data range; development applies it', async (t) => {
  const { createKnex } = await import('../../lib/db.ts')
  const { migrateDatabase } = await import('../../lib/migrate.ts')
  const { SERVER_URL, urlFor, APP_ROLE } = await import('../helpers/database.ts')
  const pg = (await import('pg')).default
  const admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  const names = [`fp_prod_${Date.now()}`, `fp_dev_${Date.now()}`]
  try {
    for (const name of names) await admin.query(`create database ${name}`)
    await migrateDatabase({ databaseUrl: urlFor(names[0]!), appRole: APP_ROLE, includeDevRange: false })
    await migrateDatabase({ databaseUrl: urlFor(names[1]!), appRole: APP_ROLE, includeDevRange: true })
    const applied = async (name: string) => {
      const knex = createKnex(urlFor(name))
      try {
        const rows = await knex('knex_migrations').pluck('name')
        const seeded = (await knex.raw(`select count(*)::int as n from leads where created_by = 'seed'`)).rows[0].n
        return { rows: rows as string[], seeded }
      } finally {
        await knex.destroy()
      }
    }
    const production = await applied(names[0]!)
    const development = await applied(names[1]!)
    t.false(production.rows.some((n) => n.startsWith('V1')))
    t.is(production.seeded, 0)
    t.true(development.rows.includes('V10001__development_sample_leads.ts'))
    t.true(development.seeded > 0)
    // Migrating again is a no-op.
    await migrateDatabase({ databaseUrl: urlFor(names[0]!), appRole: APP_ROLE, includeDevRange: false })
    t.deepEqual((await applied(names[0]!)).rows, production.rows)
  } finally {
    for (const name of names) await admin.query(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
})
