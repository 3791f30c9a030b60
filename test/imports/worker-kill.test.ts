// An import survives a dead worker: a `worker` process working `leads.import` is SIGKILLed mid-way;
// its job's heartbeat lapses, supervision hands it to a second worker process, which resumes from
// the batches that have not committed (import_batches). Every row becomes exactly one lead (an audit
// trigger counts the inserts that committed).
import test from 'ava'
import { inTransaction } from '../../lib/db.ts'
import { IMPORT_QUEUE } from '../../lib/queues.ts'
import { createImport } from '../../models/imports.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { spawnService, type ServiceProcess } from '../helpers/processes.ts'
import { waitFor } from '../helpers/wait.ts'

const ROWS = 2_000
let stack: Stack
const workers: ServiceProcess[] = []

test.before(async () => {
  stack = await startStack({ web: false })
  await stack.owner.raw(`
    create table import_audit (company_name text not null);
    create function import_audit_write() returns trigger language plpgsql as $$
    begin
      insert into import_audit (company_name) values (new.company_name);
      return new;
    end $$;
    create trigger leads_import_audit after insert on leads for each row execute function import_audit_write();
  `)
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

const progress = async () => (await stack.owner.raw(`select status, processed, created, total, (select count(*)::int from import_batches) as batches from imports`)).rows[0] as { status: string; processed: number; created: number; total: number }

test('SIGKILL of the worker running an import: another worker finishes it, every row exactly once', async (t) => {
  t.timeout(115_000)
  const lines = ['Firma;E-Mail;Ort']
  for (let i = 1; i <= ROWS; i++) lines.push(`Firma ${i};kontakt.${i}@example.example;Ort ${i % 50}`)
  const ctx = { tenantId: 'default', userId: 'u1', role: 'SALES', territories: ['DE'] } as const
  const imp = await inTransaction(stack.deps.knex, ctx, (tx) =>
    createImport(stack.deps, tx, { file: Buffer.from(lines.join('\n')), filename: 'kill.csv', contentType: 'text/csv', fileType: 'CSV', options: { dryRun: false, source: 'SONSTIGES' } }),
  )
  const first = startWorkerProcess()
  const started = Date.now()
  t.true(await waitFor(async () => ((await progress())?.processed ?? 0) >= 500, 60_000, 10), `the first worker imports:\n${first.output()}`)
  t.log(`first worker: ${JSON.stringify(await progress())} after ${Date.now() - started} ms`)
  first.child.kill('SIGKILL')
  await first.exited
  const atKill = await progress()
  t.true(atKill.processed < ROWS, 'killed mid-way')
  t.is(atKill.status, 'RUNNING')

  const second = startWorkerProcess()
  t.true(await waitFor(async () => (await progress()).status !== 'RUNNING', 90_000, 200), `the second worker finishes it (killed at ${JSON.stringify(atKill)}, now ${JSON.stringify(await progress())}):\n${second.output()}`)
  t.like(await progress(), { status: 'COMPLETED', processed: ROWS, created: ROWS, total: ROWS, batches: ROWS / 500 })
  const audit = await stack.owner.raw(`select count(*)::int as inserts, count(distinct company_name)::int as rows from import_audit`)
  t.deepEqual(audit.rows[0], { inserts: ROWS, rows: ROWS }, 'every row inserted exactly once')
  t.is((await stack.owner.raw(`select count(*)::int as n from leads`)).rows[0].n, ROWS)

  const jobs = await stack.deps.boss.findJobs<object>(IMPORT_QUEUE.name, { key: imp.id })
  t.true(jobs.some((job) => job.retryCount >= 1 && job.state === 'completed'), `a retried attempt completed: ${JSON.stringify(jobs.map((j) => [j.state, j.retryCount]))}`)
  t.is((jobs.at(-1)!.output as { status: string }).status, 'COMPLETED')
  t.log(`killed at ${atKill.processed} of ${ROWS}`)
})
