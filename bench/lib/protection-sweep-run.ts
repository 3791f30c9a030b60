// The §10 protection sweep measured end to end (bench/protection-sweep.ts standalone, and the
// harness's protection-sweep scenario): a fresh database gets N leads inserted with generate_series as
// the owner, protected (REGISTERED/ACTIVE/REMINDER/GRACE_PERIOD) with their dates stored, a tenth of
// them with their next transition due and no job (what the sweep exists for), 1 % with a stopped
// clock, 2 % QUALIFIED; then sweepProtection runs as the worker runs it (application role, SYSTEM
// context across tenants, keyset batches, one pg-boss insert per kind and batch). No worker drains
// the jobs: the figure is the sweep's own. Checked: one waiting job per due lead, none for the others.
import os from 'node:os'
import { createTestDatabase } from '../../test/helpers/database.ts'
import { testConfig } from '../../test/helpers/stack.ts'
import { createKnex } from '../../lib/db.ts'
import { createLogger } from '../../lib/logger.ts'
import { ManualClock } from '../../lib/clock.ts'
import { releaseResources, startBoss } from '../../lib/boss.ts'
import { PROTECTION_QUEUE_OF } from '../../lib/queues.ts'
import { sweepProtection } from '../../models/lead-protection.ts'

export interface ProtectionSweepRun {
  leads: number
  due: number
  enqueued: number
  jobsWaiting: number
  seconds: number
  /** Due leads found and given a job, per second. */
  dueLeadsPerSecond: number
  /** The whole table per second of sweep (what "a sweep over N leads" takes). */
  leadsPerSecond: number
  seedSeconds: number
  batchSize: number
  cores: number
  correct: boolean
}

const NOW = new Date('2031-06-02T08:00:00.000Z')

export async function measureProtectionSweep(options: { leads: number; batchSize?: number; keep?: boolean; log: (line: string) => void }): Promise<ProtectionSweepRun> {
  const { leads: leadCount, log } = options
  const batchSize = options.batchSize ?? 1000
  const db = await createTestDatabase()
  const config = testConfig(db, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' })
  const owner = createKnex(db.ownerUrl, { poolMax: 2 })
  try {
    log(`database ${db.name}; ${os.cpus().length} cores; inserting ${leadCount.toLocaleString('en')} protected leads, a tenth due …`)
    let started = performance.now()
    // g % 10 = 0: next transition due (in the past of the sweep's clock), the rest within the next 60 days.
    // g % 100 = 1: clock stopped (never due); g % 50 = 2: QUALIFIED (not protected). Two tenants, both territories.
    await owner.raw(
      `insert into leads (tenant_id, territory, company_name, country_code, status, stage, owner_user_id, created_by,
                          registered_at, created_at, updated_at, protection_start_at, protection_until, progress_deadline,
                          protection_next_kind, protection_next_at, clock_stop_status, clock_stopped_at, stop_reason)
       select case when g % 3 = 0 then 'tenant-b' else 'default' end, case when g % 10 = 3 then 'CH' else 'DE' end,
              'Firma ' || g, case when g % 10 = 3 then 'CH' else 'DE' end,
              case when g % 50 = 2 then 'QUALIFIED' when g % 4 = 0 then 'ACTIVE' else 'REGISTERED' end, 'VORMERKUNG',
              'u' || (g % 100), 'seed', reg, reg, reg, reg, reg + interval '6 months', reg + interval '60 days',
              'REMINDER', reg + interval '53 days',
              case when g % 100 = 1 then 'STOPPED' end, case when g % 100 = 1 then reg end, case when g % 100 = 1 then 'Kunde im Umbau' end
         from generate_series(1, ?::int) g,
              lateral (select ?::timestamptz - interval '53 days' + case when g % 10 = 0 then - (g % 1000) * interval '1 minute'
                                                                         else (1 + g % 86400) * interval '1 minute' end as reg) r`,
      [leadCount, NOW.toISOString()],
    )
    await owner.raw('vacuum analyze leads')
    const seedSeconds = (performance.now() - started) / 1000
    const [{ expected }] = (await owner.raw(
      `select count(*)::int as expected from leads where status in ('REGISTERED','ACTIVE','REMINDER','GRACE_PERIOD') and clock_stopped_at is null and protection_next_at <= ?`, [NOW.toISOString()])).rows
    log(`inserted in ${seedSeconds.toFixed(1)} s; ${expected.toLocaleString('en')} due`)

    const logger = createLogger(config, 'bench')
    // As the worker runs it: the worker role, which may act as SYSTEM across tenants (V0008).
    const knex = createKnex(config.workerDatabaseUrl!, { poolMax: config.dbPoolMax })
    // Sends only (role web): no worker takes the jobs, so the sweep is measured alone.
    const boss = await startBoss({ connectionString: config.workerDatabaseUrl!, logger, role: 'web' })
    const deps = { config, knex, boss, logger, clock: new ManualClock(NOW) }
    started = performance.now()
    const result = await sweepProtection(deps, { batchSize })
    const seconds = (performance.now() - started) / 1000
    const [{ jobs }] = (await owner.raw(`select count(*)::int as jobs from pgboss.job where name = any(?) and state = 'created'`, [Object.values(PROTECTION_QUEUE_OF)])).rows
    log(`swept ${leadCount.toLocaleString('en')} leads in ${seconds.toFixed(1)} s: ${result.due.toLocaleString('en')} due, ${result.enqueued.toLocaleString('en')} jobs`)
    await releaseResources({ config, knex, boss })
    return {
      leads: leadCount, due: result.due, enqueued: result.enqueued, jobsWaiting: jobs, seconds,
      dueLeadsPerSecond: Math.round(result.due / seconds), leadsPerSecond: Math.round(leadCount / seconds), seedSeconds, batchSize, cores: os.cpus().length,
      correct: result.due === expected && result.enqueued === expected && jobs === expected,
    }
  } finally {
    await owner.destroy()
    if (options.keep) log(`kept database ${db.name}`)
    else await db.drop()
  }
}
