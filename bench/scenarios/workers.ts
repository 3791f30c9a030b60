// Workers (§6): follow-up jobs per second through the real worker process, against pg-boss alone.
//
// Method: a fresh database per run. N leads (2,000; smoke 200) are inserted as the owner, REGISTERED,
// with an e-mail address and e-mail consent, so every T+3 follow-up does the full work (lock the
// lead, render and queue the mail in email_outbox, sent-at mark, activity, followup_sent event).
// Their follow-up.t3 jobs are inserted as the application role through pg-boss `insert`, due now,
// with the production singletonKey `<leadId>:T3` and data {leadId, tenantId}, *before* the worker
// starts, so the queue is full when the first job is fetched. Then `node jobs/worker.ts` starts as
// production starts it (SMTP_URL unset: the email.send jobs it also runs write the mail to the log,
// which LOG_LEVEL=warn discards). Throughput = N ÷ (last completed_on − first started_on) of the
// follow-up.t3 jobs in pgboss.job, i.e. worker start-up is not counted.
// Baseline, same run: bench/queue-worker.ts in its own process, pg-boss started the same way (startBoss,
// role worker, app role, pool 10) working a queue with the follow-up queues' options and the same
// work settings (jobs/worker.ts startWorker: batchSize 1, fetch again after every job) with a handler
// that does nothing; same N jobs, inserted the same way; measured the same way.
import pg from 'pg'
import type { TestDatabase } from '../../test/helpers/database.ts'
import { loadConfig } from '../../lib/config.ts'
import { createLogger } from '../../lib/logger.ts'
import { startBoss } from '../../lib/boss.ts'
import { FOLLOW_UP_QUEUES, FOLLOW_UP_T3_QUEUE } from '../../lib/queues.ts'
import { followUpSingletonKey } from '../../models/follow-ups.ts'
import { TEST_JWT_SECRET } from '../../test/helpers/stack.ts'
import { startQueueWorker, startWorkerProcess, type RunningProcess } from '../lib/processes.ts'
import type { BenchContext, Figure, Scenario } from '../lib/types.ts'

const NOOP_QUEUE = 'bench.noop' // bench/queue-worker.ts

export interface QueueRun {
  jobs: number
  completed: number
  failed: number
  seconds: number
  jobsPerSecond: number
  /** Milliseconds a job was active (completed_on − started_on). */
  active: { p50: number; p95: number }
}

async function insertLeads(db: TestDatabase, count: number): Promise<{ id: string; tenant_id: string }[]> {
  const client = new pg.Client({ connectionString: db.ownerUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ id: string; tenant_id: string }>(
      `insert into leads (territory, country_code, company_name, contact_name, email, email_consent, city, source, status, stage, owner_user_id, created_by)
       select 'DE', 'DE', 'Bench Worker ' || n, 'Contact ' || n, 'worker' || n || '@bench.example', true, 'Berlin', 'WEB_FORMULAR', 'REGISTERED', 'VORMERKUNG',
              'bench-sales', 'bench-sales'
         from generate_series(1, $1::int) n
       returning id, tenant_id`,
      [count],
    )
    return rows
  } finally {
    await client.end()
  }
}

/** Creates the queues (as the worker would) and inserts one due job per lead, as the app role. */
async function enqueueJobs(db: TestDatabase, queue: string, leads: { id: string; tenant_id: string }[]): Promise<void> {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, AUTH_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' })
  const logger = createLogger(config, 'bench')
  const queues = queue === NOOP_QUEUE ? [{ ...FOLLOW_UP_QUEUES[FOLLOW_UP_T3_QUEUE]!, name: NOOP_QUEUE }] : undefined
  const boss = await startBoss({ connectionString: config.appDatabaseUrl, logger, role: 'web', queues })
  try {
    for (let i = 0; i < leads.length; i += 500) {
      const chunk = leads.slice(i, i + 500)
      await boss.insert(queue, chunk.map((lead) => ({ data: { leadId: lead.id, tenantId: lead.tenant_id }, singletonKey: followUpSingletonKey(lead.id, 'T3') })))
    }
  } finally {
    await boss.stop({ graceful: false, close: true })
  }
}

/** Waits until every job of `queue` is completed (or failed, or the deadline passed) and measures. */
async function measureQueue(db: TestDatabase, queue: string, jobs: number, windowMs: number): Promise<QueueRun> {
  const client = new pg.Client({ connectionString: db.ownerUrl })
  await client.connect()
  try {
    let deadline = Date.now() + windowMs + 30_000
    let windowSet = false
    for (;;) {
      const { rows } = await client.query<{ done: number; created: number; started: number }>(
        `select count(*) filter (where state in ('completed', 'failed'))::int as done, count(*)::int as created,
                count(*) filter (where started_on is not null)::int as started from pgboss.job where name = $1`,
        [queue],
      )
      if (rows[0]!.created !== jobs) throw new Error(`${queue}: ${rows[0]!.created} jobs in pgboss.job, expected ${jobs}`)
      if (!windowSet && rows[0]!.started > 0) {
        deadline = Date.now() + windowMs
        windowSet = true
      }
      if (rows[0]!.done >= jobs || Date.now() > deadline) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const { rows } = await client.query(
      `select count(*) filter (where state = 'completed')::int as completed,
              count(*) filter (where state = 'failed')::int as failed,
              extract(epoch from max(completed_on) - min(started_on))::float8 as seconds,
              percentile_cont(0.5) within group (order by extract(epoch from completed_on - started_on) * 1000)::float8 as p50,
              percentile_cont(0.95) within group (order by extract(epoch from completed_on - started_on) * 1000)::float8 as p95
         from pgboss.job where name = $1`,
      [queue],
    )
    const r = rows[0]
    return {
      jobs, completed: r.completed, failed: r.failed, seconds: Math.round(r.seconds * 1000) / 1000,
      jobsPerSecond: Math.round((r.completed / r.seconds) * 10) / 10,
      active: { p50: Math.round(r.p50 * 10) / 10, p95: Math.round(r.p95 * 10) / 10 },
    }
  } finally {
    await client.end()
  }
}

async function run(ctx: BenchContext, queue: string, jobs: number, windowMs: number, start: (db: TestDatabase) => Promise<RunningProcess>): Promise<{ run: QueueRun; db: TestDatabase }> {
  const db = await ctx.freshDatabase()
  const leads = await insertLeads(db, jobs)
  await enqueueJobs(db, queue, leads)
  const service = await start(db)
  try {
    return { run: await measureQueue(db, queue, jobs, windowMs), db }
  } finally {
    await service.stop()
  }
}

const NOOP = 'bench.noop'

export const workersScenario: Scenario = {
  name: 'workers',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const jobs = ctx.smoke ? 200 : 2_000
    const window = ctx.smoke ? 10_000 : 30_000
    const figures: Figure[] = []
    const describe = (r: QueueRun) => `${r.completed} of ${r.jobs} in ${r.seconds} s, job active p50/p95 ${r.active.p50}/${r.active.p95} ms, ${r.failed} failed`

    // 1. Production settings: the real worker process as deployed.
    ctx.log(`workers: ${jobs} follow-up.t3 jobs queued, \`node jobs/worker.ts\` (production work settings), ${window / 1000} s window`)
    const prod = await run(ctx, FOLLOW_UP_T3_QUEUE, jobs, window, startWorkerProcess)
    ctx.log(`workers: ${prod.run.jobsPerSecond} jobs/s; baseline no-op handler, same settings`)
    const prodBase = await run(ctx, NOOP, jobs, window, (db) => startQueueWorker(db, 'noop'))
    ctx.log(`workers: baseline ${prodBase.run.jobsPerSecond} jobs/s`)
    figures.push({
      scenario: 'Workers', figure: 'follow-up jobs (T+3)/s, `node jobs/worker.ts`, production settings, vs no-op pg-boss', value: prod.run.jobsPerSecond, unit: 'jobs/s',
      baseline: prodBase.run.jobsPerSecond, ratio: prod.run.jobsPerSecond / prodBase.run.jobsPerSecond, verdict: 'INFO',
      method: `${jobs} leads (owner insert, REGISTERED, e-mail + consent) and their follow-up.t3 jobs (pg-boss insert as the app role, due now, singletonKey <leadId>:T3, data {leadId, tenantId}) queued before ` +
        `\`node jobs/worker.ts\` started (SMTP_URL unset: mails go to the log); jobs/s = completed ÷ (last completed_on − first started_on) in pgboss.job, over a ${window / 1000} s window from the first start: ${describe(prod.run)}. ` +
        `Baseline: bench/queue-worker.ts (own process, startBoss as the worker, queue with the follow-up options, worked by jobs/worker.ts startWorker) with a no-op handler, same jobs, same window: ${describe(prodBase.run)}. ` +
        `Both work with jobs/worker.ts's settings: batchSize 1, a worker fetches again at once after every job and waits only after an empty fetch (one ready-queues poll per process every 2 s wakes it), so a backlog drains at the handler's pace rather than one job per polling interval`,
      details: { worker: prod.run, baseline: prodBase.run },
    })

    return figures
  },
}
