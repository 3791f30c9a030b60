import test from 'ava'
import type { PgBoss } from 'pg-boss'
import { PgBossAdapter, CANCELLED_REASON, NotSupportedByPgBoss, JobStateConflict, BOARD_STATUSES } from '../../server/queue-board/index.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { waitFor } from '../helpers/wait.ts'

// Queues without a worker hold jobs in the state a test puts them in; WORKED has a real worker.
const STATES = 'board.states'
const PAGES = 'board.pages'
const DETAIL = 'board.detail'
const CLEAN = 'board.clean'
const EDIT = 'board.edit'
const WORKED = 'board.worked'
let stack: Stack
let boss: PgBoss
let repaired = false

test.before(async () => {
  stack = await startStack({
    web: false,
    worker: true,
    queues: [STATES, PAGES, DETAIL, CLEAN, EDIT, WORKED].map((name) => ({ name, retryLimit: 0 })),
    jobs: [
      {
        queue: WORKED,
        work: { pollingIntervalSeconds: 0.5 },
        handle: async (_deps, jobs) => {
          if (jobs.some((job) => (job.data as { failUntilRepaired?: boolean }).failUntilRepaired) && !repaired) throw new Error('not repaired yet')
          return { handled: true }
        },
      },
    ],
  })
  boss = stack.deps.boss
})
test.after.always(() => stack?.stop())

const stateOf = async (queue: string, id: string) => (await boss.findJobs(queue, { id }))[0]?.state
const ids = (jobs: { id?: unknown }[]) => jobs.map((job) => String(job.id))

/** Fetches one job (it becomes active) and settles it as asked. */
async function settle(queue: string, how: 'keep-active' | 'complete' | 'fail', output?: object): Promise<string> {
  const [job] = await boss.fetch(queue)
  if (!job) throw new Error(`nothing to fetch on ${queue}`)
  if (how === 'complete') await boss.complete(queue, job.id, output)
  if (how === 'fail') await boss.fail(queue, job.id, output)
  return job.id
}

test.serial('counts per status are pg-boss getQueueStats/getQueue counts, and every job is counted once', async (t) => {
  // Sent one at a time so each fetch takes the job just sent (fetch takes the oldest ready job).
  await boss.send(STATES, { n: 'failed' })
  await settle(STATES, 'fail', new Error('boom'))
  await boss.send(STATES, { n: 'completed' })
  await settle(STATES, 'complete', { ok: true })
  await boss.send(STATES, { n: 'active' })
  await settle(STATES, 'keep-active')
  const cancelled = (await boss.send(STATES, { n: 'cancelled' }))!
  await boss.cancel(STATES, cancelled)
  await boss.send(STATES, { n: 'waiting-1' })
  await boss.send(STATES, { n: 'waiting-2' })
  await boss.send(STATES, { n: 'delayed' }, { startAfter: 3600 })
  await boss.flow([
    { ref: 'parent', name: STATES, data: { n: 'flow-first' } },
    { ref: 'child', name: STATES, data: { n: 'blocked' }, dependsOn: ['parent'] },
  ])
  const created = 9

  const counts = await new PgBossAdapter(boss, STATES).getJobCounts()
  const [stats] = await boss.getQueueStats(STATES, { force: true })
  const queue = await boss.getQueue(STATES)
  t.is(counts.waiting, stats.readyCount)
  t.is(counts.delayed, stats.deferredCount)
  t.is(counts['waiting-children'], queue!.blockedCount)
  t.is(counts.active, stats.activeCount)
  t.is(counts.failed, stats.failedCount)
  t.is((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts['waiting-children'] ?? 0), stats.queuedCount)
  t.deepEqual(counts, { active: 1, waiting: 3, 'waiting-children': 1, delayed: 1, completed: 1, failed: 1, paused: 1, prioritized: 0 })
  t.is(BOARD_STATUSES.reduce((sum, status) => sum + (counts[status] ?? 0), 0), created)
})

test.serial('each status lists exactly the jobs it counts; a cancelled job is listed under paused with its reason', async (t) => {
  const adapter = new PgBossAdapter(boss, STATES)
  const all = await boss.findJobs(STATES)
  const counts = await adapter.getJobCounts()
  const seen = new Set<string>()
  for (const status of BOARD_STATUSES) {
    const listed = await adapter.getJobs([status])
    t.is(listed.length, counts[status] ?? 0, status)
    for (const job of listed) {
      t.is(await job.getState(), status)
      t.false(seen.has(String(job.toJSON().id)))
      seen.add(String(job.toJSON().id))
    }
  }
  t.is(seen.size, all.length)
  const [paused] = await adapter.getJobs(['paused'])
  t.is((await boss.findJobs(STATES, { id: String(paused!.toJSON().id) }))[0]?.state, 'cancelled')
  t.is(paused!.toJSON().failedReason, CANCELLED_REASON)
  t.is(paused!.toJSON().opts.pgBossState, 'cancelled')
})

test('a delayed job carries its delay in opts too, so the board shows its run time, not "delay changed" (issue 14.14)', async (t) => {
  const queue = 'board.delay'
  await boss.createQueue(queue)
  const adapter = new PgBossAdapter(boss, queue)
  const id = (await boss.send(queue, { lead: 'L-delayed' }, { startAfter: 3 * 86_400 }))!
  const [row] = await boss.findJobs(queue, { id })
  const json = (await adapter.getJob(id))!.toJSON()
  const runAt = row!.startAfter.getTime()
  t.is(json.delay, runAt - json.timestamp)
  // bull-board's timeline: "will run at" = timestamp + (opts.delay || delay); "delay changed" when they differ.
  t.is(json.opts.delay, json.delay)
  t.is(json.timestamp + (json.opts.delay as number), runAt)
  // A job that is not delayed has neither.
  const now = (await adapter.getJob((await boss.send(queue, { lead: 'L-now' }))!))!.toJSON()
  t.is(now.delay, undefined)
  t.is(now.opts.delay, undefined)
})

test('a scope limits counts, lists, single jobs and bulk actions to jobs whose data matches; add and edit need "all"', async (t) => {
  const queue = 'board.scoped'
  await boss.createQueue(queue)
  const mine = (await boss.send(queue, { tenantId: 'acme', territory: 'DE' }, { startAfter: 3600 }))!
  const theirs = (await boss.send(queue, { tenantId: 'default', territory: 'DE' }, { startAfter: 3600 }))!
  const otherTerritory = (await boss.send(queue, { tenantId: 'acme', territory: 'CH' }, { startAfter: 3600 }))!
  const scoped = new PgBossAdapter(boss, queue, { scope: () => ({ data: { tenantId: ['acme'], territory: ['DE'] } }) })
  t.like(await scoped.getJobCounts(), { delayed: 1 })
  t.deepEqual(ids((await scoped.getJobs(['delayed'])).map((job) => job.toJSON())), [mine])
  t.is(await scoped.getJob(theirs), null)
  t.is(await scoped.getJob(otherTerritory), null)
  await scoped.promoteAll()
  await scoped.clean('delayed', 0)
  t.is((await boss.findJobs(queue, { id: theirs }))[0]?.state, 'created')
  t.true((await boss.findJobs(queue, { id: theirs }))[0]!.startAfter.getTime() > Date.now() + 60_000, 'not promoted')
  t.truthy((await boss.findJobs(queue, { id: otherTerritory }))[0], 'not cleaned')
  const refused = await t.throwsAsync(scoped.addJob('x', { tenantId: 'acme', territory: 'DE' }, {}))
  t.is((refused as { statusCode?: number }).statusCode, 403)
  t.deepEqual(await scoped.getJobSchedulers(), [])
  t.is(await scoped.getWorkers(), null)
  t.is(await scoped.getDatastoreStats(), null)
  const none = new PgBossAdapter(boss, queue, { scope: () => 'none' })
  t.deepEqual(await none.getJobs(['delayed', 'waiting']), [])
  t.like(await none.getJobCounts(), { delayed: 0, waiting: 0 })
})

test('pages of a status cover every job exactly once, newest first, and end empty', async (t) => {
  const sent: string[] = []
  for (let i = 0; i < 23; i++) sent.push((await boss.send(PAGES, { i }))!)
  for (let i = 0; i < 4; i++) await boss.send(PAGES, { i, later: true }, { startAfter: 3600 })
  const adapter = new PgBossAdapter(boss, PAGES)
  const pageSize = 5
  const paged: string[] = []
  for (let start = 0; start < 40; start += pageSize) paged.push(...ids((await adapter.getJobs(['waiting'], start, start + pageSize - 1)).map((job) => job.toJSON())))
  t.is(paged.length, 23)
  t.is(new Set(paged).size, 23)
  t.deepEqual([...paged].sort(), [...sent].sort())
  t.deepEqual(paged, [...sent].reverse(), 'newest first')
  t.deepEqual(await adapter.getJobs(['waiting'], 100, 104), [])
  // Several statuses at once (the board's "latest") page the same way over their union.
  const union: string[] = []
  for (let start = 0; start < 27; start += 4) union.push(...ids((await adapter.getJobs(['waiting', 'delayed'], start, start + 3)).map((job) => job.toJSON())))
  t.is(new Set(union).size, 27)
  t.is(union.length, 27)
})

test('job detail carries data, output and the error pg-boss kept in output', async (t) => {
  const adapter = new PgBossAdapter(boss, DETAIL)
  await boss.send(DETAIL, { lead: 'L-1' })
  const completedId = await settle(DETAIL, 'complete', { mailed: 'anna@example.test' })
  await boss.send(DETAIL, { lead: 'L-2' })
  const failedId = await settle(DETAIL, 'fail', new Error('SMTP said no'))

  const completed = (await adapter.getJob(completedId))!.toJSON()
  t.deepEqual(completed.data, { lead: 'L-1' })
  t.deepEqual(completed.returnvalue, { mailed: 'anna@example.test' })
  t.is(completed.failedReason, '')
  t.is(completed.attemptsMade, 1)
  t.true(typeof completed.finishedOn === 'number' && completed.finishedOn >= completed.timestamp)

  const failed = (await adapter.getJob(failedId))!.toJSON()
  t.deepEqual(failed.data, { lead: 'L-2' })
  t.is(failed.failedReason, 'SMTP said no')
  t.regex(failed.stacktrace![0]!, /Error: SMTP said no/)
  t.is(failed.returnvalue, null)

  t.is(await adapter.getJob('00000000-0000-4000-8000-000000000000'), null)
  t.is(await adapter.getJob('not-a-uuid'), null)
  t.is(await new PgBossAdapter(boss, STATES).getJob(completedId), null, 'a job is only found on its own queue')
})

test.serial('retry makes a failed job runnable in pg-boss and a worker then completes it', async (t) => {
  const id = (await boss.send(WORKED, { failUntilRepaired: true }))!
  t.true(await waitFor(async () => (await stateOf(WORKED, id)) === 'failed', 10_000))
  const adapter = new PgBossAdapter(boss, WORKED)
  const job = (await adapter.getJob(id))!
  t.is(await job.getState(), 'failed')
  t.is(job.toJSON().failedReason, 'not repaired yet')
  repaired = true
  await job.retry('failed')
  t.true(await waitFor(async () => (await stateOf(WORKED, id)) === 'completed', 10_000))
  // Retrying again is refused: the job is not failed any more.
  const error = await t.throwsAsync(job.retry('failed'), { instanceOf: JobStateConflict })
  t.is(error?.statusCode, 409)
  await t.throwsAsync((await adapter.getJob(id))!.retry('completed'), { instanceOf: NotSupportedByPgBoss })
})

test.serial('promote makes a delayed job runnable now and a worker then completes it; promoteAll does all', async (t) => {
  const adapter = new PgBossAdapter(boss, WORKED)
  const id = (await boss.send(WORKED, { when: 'later' }, { startAfter: 3600 }))!
  const job = (await adapter.getJob(id))!
  t.is(await job.getState(), 'delayed')
  t.true(job.toJSON().delay! > 3_500_000)
  await job.promote()
  t.true(await waitFor(async () => (await stateOf(WORKED, id)) === 'completed', 10_000))

  const later = [(await boss.send(WORKED, { n: 1 }, { startAfter: 3600 }))!, (await boss.send(WORKED, { n: 2 }, { startAfter: 7200 }))!]
  t.is((await adapter.getJobCounts()).delayed, 2)
  await adapter.promoteAll()
  t.true(await waitFor(async () => (await Promise.all(later.map((each) => stateOf(WORKED, each)))).every((state) => state === 'completed'), 10_000))
  t.is((await adapter.getJobCounts()).delayed, 0)
})

test.serial('clean deletes the completed or failed jobs past the grace time, one job can be removed, a running one cannot', async (t) => {
  const adapter = new PgBossAdapter(boss, CLEAN)
  for (let i = 0; i < 3; i++) {
    await boss.send(CLEAN, { i })
    await settle(CLEAN, 'complete')
  }
  for (let i = 0; i < 2; i++) {
    await boss.send(CLEAN, { i })
    await settle(CLEAN, 'fail', new Error('no'))
  }
  await boss.send(CLEAN, { running: true })
  const running = await settle(CLEAN, 'keep-active')
  const waiting = (await boss.send(CLEAN, { waiting: true }))!

  await adapter.clean('completed', 60 * 60 * 1000)
  t.like(await adapter.getJobCounts(), { completed: 3, failed: 2 }, 'nothing is older than the grace time')
  await adapter.clean('completed', 0)
  t.like(await adapter.getJobCounts(), { completed: 0, failed: 2, active: 1, waiting: 1 })
  await adapter.clean('failed', 0)
  t.like(await adapter.getJobCounts(), { completed: 0, failed: 0, active: 1, waiting: 1 })
  t.deepEqual((await boss.findJobs(CLEAN)).map((job) => job.id).sort(), [running, waiting].sort())

  await (await adapter.getJob(waiting))!.remove()
  t.deepEqual(await boss.findJobs(CLEAN, { id: waiting }), [])
  await t.throwsAsync((await adapter.getJob(running))!.remove(), { instanceOf: JobStateConflict })
  await t.throwsAsync(adapter.clean('active', 0), { instanceOf: NotSupportedByPgBoss })
  t.is(await stateOf(CLEAN, running), 'active')
})

test('data of a job that has not started can be edited; a finished one cannot', async (t) => {
  const adapter = new PgBossAdapter(boss, EDIT)
  const id = (await boss.send(EDIT, { lead: 'old' }, { startAfter: 3600 }))!
  await (await adapter.getJob(id))!.updateData({ lead: 'new' })
  t.deepEqual((await boss.findJobs(EDIT, { id }))[0]?.data, { lead: 'new' })
  await (await adapter.getJob(id))!.changeDelay(2 * 3600 * 1000)
  const startAfter = (await boss.findJobs(EDIT, { id }))[0]!.startAfter.getTime()
  t.true(Math.abs(startAfter - (Date.now() + 2 * 3600 * 1000)) < 60_000)

  const added = await adapter.addJob('ignored', { lead: 'added' }, { delay: 60_000, attempts: 3 })
  t.is(await added.getState(), 'delayed')
  t.like((await boss.findJobs(EDIT, { id: String(added.toJSON().id) }))[0], { data: { lead: 'added' }, retryLimit: 2 })

  await boss.send(EDIT, { lead: 'done' })
  await boss.update(EDIT, undefined, { id, startAfter: 7200 }) // keep the first job out of the fetch below
  const doneId = await settle(EDIT, 'complete')
  await t.throwsAsync((await adapter.getJob(doneId))!.updateData({ lead: 'changed' }), { instanceOf: NotSupportedByPgBoss })
})

test('queue pause, obliterate and concurrency are reported as not supported, with a 405', async (t) => {
  const adapter = new PgBossAdapter(boss, EDIT)
  t.false(await adapter.isPaused())
  const error = await t.throwsAsync(adapter.pause(), { instanceOf: NotSupportedByPgBoss })
  t.is(error?.statusCode, 405)
  t.regex(error!.message, /cannot be paused/)
  await t.throwsAsync(adapter.obliterate(), { instanceOf: NotSupportedByPgBoss })
  await t.throwsAsync(adapter.setGlobalConcurrency(), { instanceOf: NotSupportedByPgBoss })
  t.deepEqual(await adapter.getJobLogs(), [])
})
