import test from 'ava'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { DEV_RANGE_START, listMigrationFiles } from '../../lib/migrate.ts'

const root = path.resolve(import.meta.dirname, '../..')

test('migration files are numbered V0001__ style, without gaps or duplicates', async (t) => {
  const production = (await listMigrationFiles()).filter((f) => f.number < DEV_RANGE_START)
  t.true(production.length > 0)
  t.deepEqual(production.map((f) => f.number), production.map((_, i) => i + 1))
})

test('npm run migration:next prints the next free number in each range', async (t) => {
  const files = await listMigrationFiles()
  const production = files.filter((f) => f.number < DEV_RANGE_START).length
  const next = execFileSync(process.execPath, [path.join(root, 'scripts/migration-next.ts')], { encoding: 'utf8' }).trim()
  t.is(next, `V${String(production + 1).padStart(4, '0')}__`)
  const dev = execFileSync(process.execPath, [path.join(root, 'scripts/migration-next.ts'), '--dev'], { encoding: 'utf8' }).trim()
  t.regex(dev, /^V1\d{4}__$/)
})
