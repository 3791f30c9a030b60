// The §5 normalization backfill measured end to end (bench/backfill.ts standalone, and the
// harness's backfill scenario): a fresh database (cloned from the migrated test template) gets N
// leads inserted with generate_series as the owner at normalization_version 0, as rows from before
// the normalized columns existed; then the backfill runs as it does in production: started like
// POST /api/admin/backfills does, worked by a pg-boss worker as the application role under RLS.
// leads/s = processed ÷ time from the start to COMPLETED; the result is checked, not only timed.
import os from 'node:os'
import { createTestDatabase } from '../../test/helpers/database.ts'
import { testConfig } from '../../test/helpers/stack.ts'
import { createKnex, inTransaction, systemContext } from '../../lib/db.ts'
import { createLogger } from '../../lib/logger.ts'
import { systemClock } from '../../lib/clock.ts'
import { releaseResources, startBoss } from '../../lib/boss.ts'
import { startWorker } from '../../jobs/worker.ts'
import { backfillJob } from '../../jobs/backfill.ts'
import { findBackfill, startNormalizationBackfill, type Backfill } from '../../models/backfills.ts'
import { normalizeLead } from '../../models/normalization.ts'

export interface BackfillRun {
  leads: number
  batchSize: number
  seconds: number
  leadsPerSecond: number
  seedSeconds: number
  status: Backfill['status']
  duplicatesFound: number
  failed: number
  stale: number
  sampled: number
  wrong: number
  cores: number
  /** COMPLETED, nothing stale but the failures, and the sample equal to normalizeLead. */
  correct: boolean
}

export async function measureBackfill(options: { leads: number; batchSize: number; keep?: boolean; log: (line: string) => void }): Promise<BackfillRun> {
  const { leads: leadCount, batchSize, log } = options
  const db = await createTestDatabase()
  // Production's drain time, which sets the job's slice length (jobs/backfill.ts sliceMs).
  const config = testConfig(db, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', SHUTDOWN_TIMEOUT_MS: '25000' })
  const owner = createKnex(db.ownerUrl, { poolMax: 2 })

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
    const seedSeconds = (performance.now() - started) / 1000
    log(`inserted in ${seedSeconds.toFixed(1)} s`)

    const logger = createLogger(config, 'bench')
    const knex = createKnex(config.workerDatabaseUrl!, { poolMax: config.dbPoolMax })
    const boss = await startBoss({ connectionString: config.workerDatabaseUrl!, logger, role: 'worker' })
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
    await releaseResources({ config, knex, boss })
    return {
      leads: leadCount, batchSize, seconds, leadsPerSecond: rate, seedSeconds, status: current.status, duplicatesFound: current.duplicatesFound, failed: current.failed,
      stale, sampled: sample.length, wrong: wrong.length, cores: os.cpus().length, correct: current.status === 'COMPLETED' && stale === current.failed && wrong.length === 0,
    }
  } finally {
    await owner.destroy()
    if (options.keep) log(`kept database ${db.name}`)
    else await db.drop()
  }
}
