// How a worker process finds its jobs (issue 16, lib/queues.ts READY_QUEUES_POLL_MS): one statement
// every 2 s for all queues wakes the workers of queues with a ready job, a worker fetches again at
// once after a job, and each queue's own poll is only a one-minute backstop — so an idle worker
// sends no statement more often than once a second, and due jobs still start within seconds.
import test from 'ava'
import type { Job } from 'pg-boss'
import { startStack, type Stack } from '../helpers/stack.ts'
import { sleep, waitUntil } from '../helpers/events.ts'
import { everyQueueMaintained } from '../helpers/database.ts'
import { READY_QUEUES_POLL_MS } from '../../lib/queues.ts'

const QUEUE = 'test.ready-queues'
const handled: { tag: string; at: number }[] = []
let jobsStack: Stack
let idleStack: Stack
let started: number

/** Every statement a stack's process sends (pg-boss's pool and the worker's knex), by text. */
function countStatements(stack: Stack): { counts: Map<string, number>; stop(): void } {
  const counts = new Map<string, number>()
  const add = (sql: string) => counts.set(sql, (counts.get(sql) ?? 0) + 1)
  const db = stack.deps.boss.getDb()
  const executeSql = db.executeSql.bind(db)
  db.executeSql = (sql: string, values?: unknown[]) => {
    add(sql)
    return executeSql(sql, values)
  }
  const onQuery = (query: { sql: string }) => add(query.sql)
  stack.deps.knex.on('query', onQuery)
  return {
    counts,
    stop: () => {
      db.executeSql = executeSql
      stack.deps.knex.off('query', onQuery)
    },
  }
}

const isFetch = (sql: string) => /WITH\s+next\s+AS/.test(sql) && /pgboss\.job/.test(sql)

test.before(async () => {
  ;[jobsStack, idleStack] = await Promise.all([
    startStack({
      web: false,
      worker: true,
      queues: [{ name: QUEUE, notify: false }],
      jobs: [{ queue: QUEUE, handle: async (_deps, jobs: Job<{ tag: string }>[]) => void handled.push(...jobs.map((j) => ({ tag: j.data.tag, at: performance.now() }))) }],
      schedules: [],
      services: [],
    }),
    startStack({ web: false, worker: true }), // every queue, schedule and service of the worker process
  ])
  started = performance.now()
})
test.after.always(async () => {
  await jobsStack?.stop()
  await idleStack?.stop()
})

test.serial('an idle worker process sends no statement more often than once a second, and no per-queue fetch', async (t) => {
  await sleep(Math.max(0, 3000 - (performance.now() - started))) // past start-up's first fetch of every queue
  // pg-boss's daily maintenance of every queue runs right after start-up: once a day is not the rate in question.
  t.true(await waitUntil(() => everyQueueMaintained(idleStack.db.ownerUrl), 30_000, 200), 'pg-boss maintained every queue once after start-up')
  await sleep(1000)
  const counting = countStatements(idleStack)
  await sleep(8000)
  counting.stop()
  const counts = [...counting.counts]
  const total = counts.reduce((sum, [, n]) => sum + n, 0)
  t.log(`${total} statements in 8 s; most frequent: ${counts.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([sql, n]) => `${n}× ${sql.replace(/\s+/g, ' ').slice(0, 60)}`).join(' | ')}`)
  for (const [sql, n] of counts) t.true(n <= 8, `${n}× in 8 s: ${sql.slice(0, 200)}`)
  // pg-boss's own schedule worker (__pgboss__send-it, its poll every 5 s) is not one of ours.
  const fetched = counts.filter(([sql]) => isFetch(sql)).map(([sql]) => /j\.name = '([^']+)'/.exec(sql)?.[1] ?? sql)
  t.deepEqual(fetched.filter((name) => !name.startsWith('__pgboss__')), [], 'the queues fetch only when the ready-queues poll wakes them (nothing is due)')
  t.true(counts.some(([sql, n]) => /from unnest\(\$1::text\[\]\) as q\(name\)/.test(sql) && n >= 3), 'the ready-queues poll ran every 2 s')
})

test.serial('a job due now on a queue without NOTIFY starts within the ready-queues poll, not the queue\'s one-minute poll', async (t) => {
  await sleep(Math.max(0, 3000 - (performance.now() - started)))
  const sent = performance.now()
  await jobsStack.deps.boss.send(QUEUE, { tag: 'due-now' })
  t.true(await waitUntil(() => handled.some((h) => h.tag === 'due-now'), 10_000, 20))
  const ms = handled.find((h) => h.tag === 'due-now')!.at - sent
  t.log(`handled ${Math.round(ms)} ms after it was sent`)
  t.true(ms < READY_QUEUES_POLL_MS + 2000, `handled ${Math.round(ms)} ms after it was sent`)
})

test.serial('a deferred job starts within the ready-queues poll of its start time', async (t) => {
  const sent = performance.now()
  await jobsStack.deps.boss.send(QUEUE, { tag: 'deferred' }, { startAfter: 3 })
  t.true(await waitUntil(() => handled.some((h) => h.tag === 'deferred'), 15_000, 20))
  const ms = handled.find((h) => h.tag === 'deferred')!.at - sent
  t.log(`handled ${Math.round(ms)} ms after it was sent with startAfter 3 s`)
  t.true(ms >= 2900 && ms < 3000 + READY_QUEUES_POLL_MS + 2000, `handled after ${Math.round(ms)} ms`)
})

test.serial('a backlog drains at the handler\'s pace: a worker fetches again at once after a job', async (t) => {
  const tags = Array.from({ length: 30 }, (_, i) => `backlog-${i}`)
  await jobsStack.deps.boss.insert(QUEUE, tags.map((tag) => ({ data: { tag } })))
  t.true(await waitUntil(() => tags.every((tag) => handled.some((h) => h.tag === tag)), 20_000, 20))
  const times = handled.filter((h) => tags.includes(h.tag)).map((h) => h.at)
  const spread = Math.max(...times) - Math.min(...times)
  t.log(`30 jobs (batchSize 1) handled within ${Math.round(spread)} ms of each other`)
  // One job per ready-queues poll would take 58 s; one per backstop poll, half an hour.
  t.true(spread < 5000, `30 jobs took ${Math.round(spread)} ms`)
})
