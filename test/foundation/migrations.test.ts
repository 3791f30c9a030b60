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
