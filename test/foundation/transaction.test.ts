import test from 'ava'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { enqueue } from '../../lib/boss.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

const QUEUE = 'test.transactional'
const handled: string[] = []
let stack: Stack

test.before(async () => {
  stack = await startStack({
    web: false,
    worker: true,
    queues: [{ name: QUEUE }],
    jobs: [{ queue: QUEUE, work: { pollingIntervalSeconds: 0.5 }, handle: async (_deps, jobs) => void handled.push(...jobs.map((j) => (j.data as { tag: string }).tag)) }],
  })
})
test.after.always(() => stack?.stop())

async function waitFor(predicate: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await predicate()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return predicate()
}

test.serial('a job enqueued in a transaction that rolls back never exists and never runs', async (t) => {
  await t.throwsAsync(
    inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
      await enqueue(stack.deps.boss, tx, QUEUE, { tag: 'rolled-back' })
      throw new Error('abort')
    }),
    { message: 'abort' },
  )
  const jobs = await stack.deps.boss.findJobs(QUEUE, { data: { tag: 'rolled-back' } })
  t.deepEqual(jobs, [])
  // A committed job sent afterwards runs; by then the rolled-back one would have run too.
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) => enqueue(stack.deps.boss, tx, QUEUE, { tag: 'marker' }))
  t.true(await waitFor(() => handled.includes('marker'), 10_000))
  t.false(handled.includes('rolled-back'))
})

test.serial('a job enqueued in a transaction that commits runs exactly once', async (t) => {
  const id = await inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
    await tx.trx.raw('select 1')
    return enqueue(stack.deps.boss, tx, QUEUE, { tag: 'committed' })
  })
  t.truthy(id)
  t.true(await waitFor(async () => (await stack.deps.boss.findJobs(QUEUE, { id: id! }))[0]?.state === 'completed', 10_000))
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.is(handled.filter((tag) => tag === 'committed').length, 1)
})

test.serial('a send to a queue that was never created fails loudly', async (t) => {
  await t.throwsAsync(
    inTransaction(stack.deps.knex, systemContext('default'), (tx) => enqueue(stack.deps.boss, tx, 'no.such.queue', { tag: 'x' })),
    { message: /does not exist/ },
  )
})

test.serial('the RLS context set by the helper is visible inside the transaction only', async (t) => {
  const ctx = { tenantId: 'acme', userId: 'u7', role: 'MANAGER' as const, territories: ['DE', 'CH'] as const }
  const inside = await inTransaction(stack.deps.knex, ctx, async (tx) => {
    const { rows } = await tx.trx.raw('select app_tenant() as tenant, app_user() as "user", app_role() as role, app_territories() as territories')
    return rows[0]
  })
  t.deepEqual(inside, { tenant: 'acme', user: 'u7', role: 'MANAGER', territories: ['DE', 'CH'] })
  const { rows } = await stack.deps.knex.raw('select app_tenant() as tenant, app_territories() as territories')
  t.deepEqual(rows[0], { tenant: '-', territories: [] })
})
