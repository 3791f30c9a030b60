// The leads.backfill job in slices: each job works for a while, queues its continuation and reports
// its progress as output; a worker's graceful shutdown lets the slice end instead of failing it.
import test from 'ava'
import { createLogger } from '../../lib/logger.ts'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { startBoss } from '../../lib/boss.ts'
import { startWorker } from '../../jobs/worker.ts'
import { backfillJob, sliceMs } from '../../jobs/backfill.ts'
import { BACKFILL_QUEUE } from '../../lib/queues.ts'
import { findBackfill, startNormalizationBackfill, type Backfill } from '../../models/backfills.ts'
import { NORMALIZATION_VERSION } from '../../models/normalization.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

const LEADS = 12_000
// A drain time of 1.25 s makes slices of 1 s: the first worker's slice ends at its deadline while
// the worker drains, and queues the continuation the second worker picks up.
const SHUTDOWN_TIMEOUT_MS = 1250

let stack: Stack

test.before(async () => {
  stack = await startStack({ web: false, env: { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) } })
  await stack.owner.raw(
    `insert into leads (tenant_id, territory, company_name, email, country_code, stage, owner_user_id, created_by, normalization_version)
     select 'default', 'DE', 'Firma ' || g, 'lead.' || g || '@example.de', 'DE', 'VORMERKUNG', 'u1', 'import', 0 from generate_series(1, ?::int) g`,
    [LEADS],
  )
})
test.after.always(() => stack?.stop())

async function startWorkerProcess() {
  // A worker of its own, like a separate `worker` process: its own pg-boss, stopped on its own.
  const boss = await startBoss({ connectionString: stack.config.appDatabaseUrl, logger: createLogger(stack.config, 'test'), role: 'worker' })
  await startWorker({ ...stack.deps, boss }, [backfillJob], [], [])
  return boss
}

async function current(id: string): Promise<Backfill> {
  return (await inTransaction(stack.deps.knex, systemContext('default'), (tx) => findBackfill(tx, id)))!
}

test('slices hand over to their continuation; a graceful stop ends a slice, it does not fail it', async (t) => {
  t.timeout(90_000)
  t.is(sliceMs(stack.config), 1000)
  const { backfill } = await inTransaction(stack.deps.knex, systemContext('default'), (tx) => startNormalizationBackfill(stack.deps, tx, { createdBy: 'test', batchSize: 200 }))

  const first = await startWorkerProcess()
  while ((await current(backfill.id)).processed < 2000) await new Promise((resolve) => setTimeout(resolve, 20))
  await first.stop({ graceful: true, close: true, timeout: SHUTDOWN_TIMEOUT_MS })
  const afterStop = await current(backfill.id)
  t.is(afterStop.status, 'RUNNING')
  const stopped = await stack.deps.boss.findJobs<object>(BACKFILL_QUEUE.name, { key: backfill.id })
  t.deepEqual(stopped.map((job) => job.state).filter((state) => state !== 'completed'), ['created'], 'only the queued continuation is left, nothing failed')
  t.true(stopped.every((job) => job.retryCount === 0), 'no attempt was failed and retried')

  const second = await startWorkerProcess()
  const until = Date.now() + 60_000
  let done = afterStop
  while (done.status === 'RUNNING' && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    done = await current(backfill.id)
  }
  await second.stop({ graceful: true, close: true, timeout: SHUTDOWN_TIMEOUT_MS })
  t.like(done, { status: 'COMPLETED', processed: LEADS, total: LEADS, failed: 0 })

  const jobs = await stack.deps.boss.findJobs<object>(BACKFILL_QUEUE.name, { key: backfill.id })
  const outputs = jobs.map((job) => job.output as { status: string; processed: number })
  t.true(jobs.length >= 2, `the backfill ran in several slices (${jobs.length})`)
  t.true(jobs.every((job) => job.state === 'completed'))
  t.deepEqual(outputs.map((o) => o.processed), [...outputs.map((o) => o.processed)].sort((a, b) => a - b), 'each slice reports the progress it reached')
  t.deepEqual(outputs.map((o) => o.status), [...outputs.slice(0, -1).map(() => 'RUNNING'), 'COMPLETED'])
  const stale = await stack.owner.raw(`select count(*)::int as n from leads where normalization_version <> ?`, [NORMALIZATION_VERSION])
  t.is(stale.rows[0].n, 0)
})
