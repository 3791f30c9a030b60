// `npm run bench [-- --smoke] [-- --only=create,read] [-- --cpu-prof]`: loads the service in its own
// process from this one (autocannon), pairs every speed figure with a baseline measured in the same
// run, prints the table and writes bench/results/latest.json. Not part of `npm test`.
import path from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createTestDatabase, SERVER_URL, type TestDatabase } from '../test/helpers/database.ts'
import { startBareServer, startService, ROOT } from './lib/processes.ts'
import { machine, renderTable, writeReport, type Report } from './lib/report.ts'
import type { BenchContext, Figure } from './lib/types.ts'
import { SCENARIOS } from './scenarios/index.ts'

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
  },
})
const smoke = values.smoke
const resultsDir = path.join(ROOT, 'bench', 'results')
const databases: TestDatabase[] = []
const started = performance.now()

const ctx: BenchContext = {
  smoke,
  durations: smoke
    ? { saturation: { amount: 300 }, fixedRate: { amount: 150 }, warmup: { amount: 100 } }
    : { saturation: { duration: 10 }, fixedRate: { duration: 10 }, warmup: { duration: 3 } },
  connections: 16,
  rateConnections: 4,
  scaleSizes: smoke ? { small: 1_000, large: 20_000 } : { small: 10_000, large: 1_000_000 },
  readRows: smoke ? 1_000 : 10_000,
  cpuProfileDir: values['cpu-prof'] ? path.join(resultsDir, 'profiles') : undefined,
  async freshDatabase() {
    const db = await createTestDatabase()
    databases.push(db)
    return db
  },
  startService: (db) => startService(db, { cpuProfileDir: ctx.cpuProfileDir }),
  startBare: (db, context) => startBareServer(db, context),
  log: (message) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`),
}

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: SERVER_URL })
  await client.connect()
  try {
    return ((await client.query<{ v: string }>(`select split_part(version(), ' on ', 1) as v`)).rows[0]!.v)
  } finally {
    await client.end()
  }
}

const only = values.only?.split(',').map((s) => s.trim().toLowerCase())
const figures: Figure[] = []
const errors: Report['errors'] = []
try {
  for (const scenario of SCENARIOS) {
    if (only && !only.includes(scenario.name)) continue
    try {
      figures.push(...(await scenario.run(ctx)))
    } catch (error) {
      ctx.log(`${scenario.name} failed: ${(error as Error).stack}`)
      errors.push({ scenario: scenario.name, message: (error as Error).message })
    }
  }
} finally {
  for (const db of databases) await db.drop().catch((error: Error) => ctx.log(`could not drop ${db.name}: ${error.message}`))
}

const report: Report = {
  date: new Date().toISOString(),
  mode: smoke ? 'smoke' : 'full',
  machine: machine(await postgresVersion()),
  seconds: (performance.now() - started) / 1000,
  figures,
  errors,
}
console.log(renderTable(report))
const file = await writeReport(report, resultsDir)
console.log(`\nwritten to ${path.relative(process.cwd(), file)}`)
if (errors.length > 0) process.exitCode = 1
