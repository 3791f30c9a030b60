// The job path of a backfill survives a dead worker: a `worker` process working `leads.backfill` is
// SIGKILLed mid-way; its job's heartbeat lapses, supervision hands it to a second worker process,
// which resumes from the stored position. Every lead is written exactly once (audit trigger).
import test from 'ava'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { BACKFILL_QUEUE } from '../../lib/queues.ts'
import { startNormalizationBackfill } from '../../models/backfills.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { spawnService, type ServiceProcess } from '../helpers/processes.ts'
import { waitFor } from '../helpers/wait.ts'

const LEADS = 30_000
const BATCH_SIZE = 250
let stack: Stack
const workers: ServiceProcess[] = []

test.before(async () => {
  stack = await startStack({ web: false })
  await stack.owner.raw(`
    create table backfill_audit (lead_id uuid not null);
    create function backfill_audit_write() returns trigger language plpgsql as $$
    begin
      insert into backfill_audit (lead_id) values (new.id);
      return new;
    end $$;
    create trigger leads_backfill_audit after update of normalization_version on leads
      for each row when (old.normalization_version is distinct from new.normalization_version) execute function backfill_audit_write();
  `)
  await stack.owner.raw(
    `insert into leads (tenant_id, territory, company_name, email, country_code, stage, owner_user_id, created_by, created_at, normalization_version)
     select 'default', 'DE', 'Firma ' || g, 'Lead.' || g || '@Example.DE', 'DE', 'VORMERKUNG', 'u1', 'import', now() - interval '1 day' + g * interval '1 ms', 0
       from generate_series(1, ?::int) g`,
    [LEADS],
  )
})
test.after.always(async () => {
  for (const worker of workers) worker.child.kill('SIGKILL')
  await stack?.stop()
})

const startWorkerProcess = () => {
  const worker = spawnService('jobs/worker.ts', { DATABASE_URL: stack.db.ownerUrl, APP_DATABASE_URL: stack.db.appUrl })
  workers.push(worker)
  return worker
}

const progress = async () => (await stack.owner.raw(`select status, processed, total from backfills`)).rows[0] as { status: string; processed: number; total: number }

test('SIGKILL of the worker running a backfill: another worker takes the job over and finishes it, every lead once', async (t) => {
  t.timeout(110_000)
  const { backfill } = await inTransaction(stack.deps.knex, systemContext('default'), (tx) => startNormalizationBackfill(stack.deps, tx, { createdBy: 'test', batchSize: BATCH_SIZE }))
  const first = startWorkerProcess()
  t.true(await waitFor(async () => (await progress()).processed >= 4 * BATCH_SIZE, 30_000, 10), `the first worker backfills:\n${first.output()}`)
  first.child.kill('SIGKILL')
  await first.exited
  const atKill = await progress()
  t.true(atKill.processed < LEADS, 'killed mid-way')

  const second = startWorkerProcess()
  t.true(await waitFor(async () => (await progress()).status !== 'RUNNING', 90_000, 200), `the second worker finishes it:\n${second.output()}`)
  t.like(await progress(), { status: 'COMPLETED', processed: LEADS, total: LEADS })
  const audit = await stack.owner.raw(`select count(*)::int as writes, count(distinct lead_id)::int as leads from backfill_audit`)
  t.deepEqual(audit.rows[0], { writes: LEADS, leads: LEADS }, 'every lead written exactly once')

  // The dead worker's attempt was failed by supervision (heartbeat) and retried, not lost.
  const jobs = await stack.deps.boss.findJobs<object>(BACKFILL_QUEUE.name, { key: backfill.id })
  t.true(jobs.some((job) => job.retryCount >= 1 && job.state === 'completed'), `a retried attempt completed: ${JSON.stringify(jobs.map((j) => [j.state, j.retryCount]))}`)
  t.is((jobs.at(-1)!.output as { status: string }).status, 'COMPLETED')
  t.log(`killed at ${atKill.processed} of ${LEADS}`)
})
