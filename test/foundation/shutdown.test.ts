import test from 'ava'
import { Router } from '@koa/router'
import { startStack, type Stack } from '../helpers/stack.ts'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { enqueue } from '../../lib/boss.ts'

const QUEUE = 'test.slow'
let stack: Stack
let finishedJobs = 0
const slow = new Router()
slow.get('/test/slow', async (ctx) => {
  await new Promise((resolve) => setTimeout(resolve, 800))
  ctx.body = { done: true }
})

test.before(async () => {
  stack = await startStack({
    worker: true,
    routers: [slow],
    queues: [{ name: QUEUE }],
    jobs: [
      {
        queue: QUEUE,
        work: { pollingIntervalSeconds: 0.5 },
        handle: async () => {
          await new Promise((resolve) => setTimeout(resolve, 1500))
          finishedJobs++
        },
      },
    ],
  })
})
test.after.always(() => stack?.stop())

test('SIGTERM-style drain: in-flight requests and jobs finish, new connections are refused', async (t) => {
  const jobId = await inTransaction(stack.deps.knex, systemContext('default'), (tx) => enqueue(stack.deps.boss, tx, QUEUE, {}))
  // Wait until the job is running.
  for (let i = 0; i < 100; i++) {
    const [job] = await stack.deps.boss.findJobs(QUEUE, { id: jobId! })
    if (job?.state === 'active') break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const inFlight = fetch(`${stack.baseUrl}/test/slow`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const baseUrl = stack.baseUrl
  const stopped = stack.stop()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const response = await inFlight
  t.is(response.status, 200)
  t.deepEqual(await response.json(), { done: true })
  await t.throwsAsync(fetch(`${baseUrl}/health/live`))
  await stopped
  t.is(finishedJobs, 1)
})
