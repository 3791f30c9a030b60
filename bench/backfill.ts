// Benchmark of the §5 normalization backfill (not a test; `node bench/backfill.ts [--leads N]
// [--batch-size N] [--keep]`). A fresh database (cloned from the migrated test template) gets N
// leads inserted with generate_series as the owner at normalization_version 0, as rows from before
// the normalized columns existed; then the backfill runs as it does in production: started like
// POST /api/admin/backfills does, worked by a pg-boss worker as the application role under RLS.
// Reports leads/s from the backfill's start to COMPLETED. Target: ≥ 5,000 leads/s on 2 cores.
import { parseArgs } from 'node:util'
import os from 'node:os'
import { createTestDatabase } from '../test/helpers/database.ts'
import { testConfig } from '../test/helpers/stack.ts'
import { createKnex, inTransaction, systemContext } from '../lib/db.ts'
import { createLogger } from '../lib/logger.ts'
import { systemClock } from '../lib/clock.ts'
import { releaseResources, startBoss } from '../jobs/boss.ts'
import { startWorker } from '../jobs/worker.ts'
import { backfillJob } from '../jobs/backfill.ts'
import { findBackfill, startNormalizationBackfill, type Backfill } from '../models/backfills.ts'
import { normalizeLead } from '../models/normalization.ts'

const { values: args } = parseArgs({
  options: {
    leads: { type: 'string', default: '1000000' },
    'batch-size': { type: 'string', default: '2000' },
    keep: { type: 'boolean', default: false },
  },
})
const leadCount = Number(args.leads)
const batchSize = Number(args['batch-size'])

const db = await createTestDatabase()
// Production's drain time, which sets the job's slice length (jobs/backfill.ts sliceMs).
const config = testConfig(db, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', SHUTDOWN_TIMEOUT_MS: '25000' })
const owner = createKnex(db.ownerUrl, { poolMax: 2 })
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`)

try {
  log(`database ${db.name}; ${os.cpus().length} cores; inserting ${leadCount.toLocaleString('en')} leads at normalization_version 0 …`)
  let started = performance.now()
  // Raw values the way users typed them, created over the last year in insertion order: mixed case and blanks in e-mails, national and international
  // phones of DE and CH, legal forms. Every 50th e-mail repeats another's address (a duplicate for the
  // unique index), every 200th lead is soft-deleted, every 97th phone is not a number.
  await owner.raw(
    `insert into leads (tenant_id, territory, company_name, contact_name, email, phone, city, country_code, status, stage,
                        owner_user_id, created_by, deleted_at, created_at, registered_at, updated_at, normalization_version)
     select 'default', case when g % 10 = 0 then 'CH' else 'DE' end,
            case g % 5 when 0 then 'Café Müller ' || g || ' GmbH' when 1 then 'Großküche Süd ' || g || ' AG'
                       when 2 then 'Verein ' || g || ' e.V.' when 3 then '  Hotel  Alpen ' || g || '  ' else 'Firma ' || g || ' GmbH & Co. KG' end,
            'Kontakt ' || g,
            case when g % 50 = 0 then ' Dup.' || (g / 100) || '@Example.COM ' when g % 13 = 0 then null else 'User.' || g || '@Example.com' end,
            case when g % 97 = 0 then 'abc' when g % 10 = 0 then '044 668 ' || lpad((g % 100)::text, 2, '0') || ' ' || lpad((g % 89)::text, 2, '0')
                 else '030 ' || (1000000 + g % 8999999) end,
            'Stadt ' || (g % 1000),
            case when g % 10 = 0 then 'CH' else 'DE' end,
            case when g % 200 = 0 then 'DELETED' else 'REGISTERED' end, 'VORMERKUNG',
            'u' || (g % 100), 'seed', case when g % 200 = 0 then now() end,
            now() - (?::int - g) * interval '30 seconds', now() - (?::int - g) * interval '30 seconds', now() - (?::int - g) * interval '30 seconds', 0
       from generate_series(1, ?::int) g`,
    [leadCount, leadCount, leadCount, leadCount],
  )
  await owner.raw('analyze leads')
  log(`inserted in ${((performance.now() - started) / 1000).toFixed(1)} s`)

  const logger = createLogger(config, 'bench')
  const knex = createKnex(config.appDatabaseUrl, { poolMax: config.dbPoolMax })
  const boss = await startBoss({ connectionString: config.appDatabaseUrl, logger, role: 'worker' })
  const deps = { config, knex, boss, logger, clock: systemClock }
  await startWorker(deps, [backfillJob], [], [])

  started = performance.now()
  const ctx = systemContext('default')
  const { backfill } = await inTransaction(knex, ctx, (tx) => startNormalizationBackfill(deps, tx, { createdBy: 'bench', batchSize }))
  let current: Backfill = backfill
  while (current.status === 'RUNNING') {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    current = (await inTransaction(knex, ctx, (tx) => findBackfill(tx, backfill.id)))!
    const seconds = (performance.now() - started) / 1000
    log(`${current.processed.toLocaleString('en')} / ${current.total?.toLocaleString('en') ?? '?'} · ${Math.round(current.processed / seconds).toLocaleString('en')} leads/s`)
  }
  const seconds = (performance.now() - started) / 1000
  const rate = Math.round(current.processed / seconds)

  // The result must be right, not only fast: nothing stale but the failures, and a sample equal to normalizeLead.
  const [{ stale }] = (await owner.raw(`select count(*)::int as stale from leads where normalization_version = 0`)).rows
  const sample = (await owner.raw(`select email, company_name, phone, country_code, email_normalized, name_normalized, phone_e164 from leads tablesample bernoulli (0.1) where deleted_at is null`)).rows as Record<string, string | null>[]
  const collided = new Set((await owner.raw(`select lead_id from backfill_collisions`)).rows.map((r: { lead_id: string }) => r.lead_id))
  const wrong = sample.filter((row) => {
    const { columns } = normalizeLead({ email: row.email, companyName: row.company_name!, phone: row.phone, countryCode: row.country_code! })
    return columns.nameNormalized !== row.name_normalized || columns.phoneE164 !== row.phone_e164 || (row.email_normalized !== null && columns.emailNormalized !== row.email_normalized)
  })
  log(`status ${current.status}: ${current.processed.toLocaleString('en')} leads in ${seconds.toFixed(1)} s = ${rate.toLocaleString('en')} leads/s (batch size ${batchSize})`)
  log(`duplicates found ${current.duplicatesFound.toLocaleString('en')} (collision rows ${collided.size}), failed ${current.failed}, still stale ${stale}, sample of ${sample.length} checked: ${wrong.length} wrong`)
  console.log(JSON.stringify({ scenario: 'backfill', leads: leadCount, batchSize, seconds: Number(seconds.toFixed(2)), leadsPerSecond: rate, status: current.status, duplicatesFound: current.duplicatesFound, failed: current.failed, cores: os.cpus().length }))
  await releaseResources({ config, knex, boss })
  if (current.status !== 'COMPLETED' || stale !== current.failed || wrong.length > 0) process.exitCode = 1
} finally {
  await owner.destroy()
  if (args.keep) log(`kept database ${db.name}`)
  else await db.drop()
}
