// The leads.import job in slices: each job works batches for about a second here (the slice is
// 0.8 × SHUTDOWN_TIMEOUT_MS), queues its continuation and completes with its progress as output —
// what the queue board shows while an import runs.
import test from 'ava'
import { inTransaction } from '../../lib/db.ts'
import { IMPORT_QUEUE } from '../../lib/queues.ts'
import { importJob } from '../../jobs/imports.ts'
import { createImport, findImport } from '../../models/imports.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { waitFor } from '../helpers/wait.ts'

const ROWS = 3000
let stack: Stack

test.before(async () => {
  stack = await startStack({ web: false, worker: true, jobs: [importJob], schedules: [], services: [], env: { SHUTDOWN_TIMEOUT_MS: '1250' } })
})
test.after.always(() => stack?.stop())

test('an import runs in slices that hand over to their continuation, each reporting its progress as job output', async (t) => {
  t.timeout(110_000)
  const lines = ['Company,Email,City']
  for (let i = 1; i <= ROWS; i++) lines.push(`Slice ${i},slice.${i}@example.example,Town ${i % 7}`)
  const ctx = { tenantId: 'default', userId: 'u1', role: 'SALES', territories: ['DE'] } as const
  const imp = await inTransaction(stack.deps.knex, ctx, (tx) =>
    createImport(stack.deps, tx, { file: Buffer.from(lines.join('\n')), filename: 'slices.csv', contentType: 'text/csv', fileType: 'CSV', options: { dryRun: false, source: 'SONSTIGES' } }),
  )
  const current = () => inTransaction(stack.deps.knex, ctx, (tx) => findImport(tx, imp.id))
  t.true(await waitFor(async () => (await current())!.status === 'COMPLETED', 100_000, 200), JSON.stringify(await current()))
  t.like(await current(), { processed: ROWS, created: ROWS, total: ROWS, failed: 0 })
  t.is((await stack.owner.raw(`select count(*)::int as n from import_batches`)).rows[0].n, ROWS / 500)

  const jobs = (await stack.deps.boss.findJobs<object>(IMPORT_QUEUE.name, { key: imp.id })).filter((job) => job.state === 'completed')
  t.true(jobs.length >= 2, `more than one slice: ${jobs.length}`)
  const outputs = jobs.map((job) => job.output as { status: string; processed: number; sliceProcessed: number; progress: number })
  t.is(outputs.reduce((sum, output) => sum + output.sliceProcessed, 0), ROWS, 'the slices together imported every row once')
  t.true(outputs.some((output) => output.status === 'RUNNING' && output.progress > 0 && output.progress < 1), 'a slice reported progress mid-way')
  t.true(outputs.some((output) => output.status === 'COMPLETED' && output.progress === 1))
  t.is((await stack.owner.raw(`select count(*)::int as n from leads`)).rows[0].n, ROWS)
})
