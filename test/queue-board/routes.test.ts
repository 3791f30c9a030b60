import test from 'ava'
import type { Middleware } from 'koa'
import { queueBoard } from '../../server/routes/queue-board.ts'
import { problems } from '../../models/errors.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

const QUEUE = 'board.http'
const LATE = 'board.http.late'
// Stands in for the real ADMIN check (server/auth.ts): lets a request in only with the header,
// and records what it saw so the test can tell it ran before the board.
const authorized: string[] = []
const adminHeader: Middleware = async (ctx, next) => {
  if (ctx.get('X-Test-Admin') !== 'yes') throw problems.forbidden('Admins only.')
  authorized.push(ctx.path)
  await next()
}
const ADMIN = { 'X-Test-Admin': 'yes' }
let stack: Stack

test.before(async () => {
  stack = await startStack({
    queues: [{ name: QUEUE }],
    // The header stands in for a platform operator: every queue and job is in scope.
    app: async (deps) => ({ queueBoard: await queueBoard({ boss: deps.boss, authorize: adminHeader, scopeOf: () => () => 'all' }) }),
  })
})
test.after.always(() => stack?.stop())

interface BoardQueue {
  name: string
  counts: Record<string, number>
  jobs: { id: string; data: unknown; failedReason?: string }[]
  statuses: string[]
  isPaused: boolean
}
async function listQueues(query = ''): Promise<BoardQueue[]> {
  const response = await fetch(`${stack.baseUrl}/admin/queues/api/queues${query}`, { headers: ADMIN })
  if (response.status !== 200) throw new Error(`board answered ${response.status}`)
  return ((await response.json()) as { queues: BoardQueue[] }).queues
}

test.serial('without the authorization the board answers nothing: page, API and static files are refused', async (t) => {
  for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png']) {
    const response = await fetch(`${stack.baseUrl}${path}`)
    t.is(response.status, 403, path)
    t.is(response.headers.get('content-type'), 'application/problem+json')
  }
  const retry = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${QUEUE}/retry/failed`, { method: 'PUT' })
  t.is(retry.status, 403)
  t.deepEqual(authorized, [])
  // Routes outside the board do not pass the board's hook.
  t.is((await fetch(`${stack.baseUrl}/health/live`)).status, 200)
})

test.serial('the board lists our queues with their counts through HTTP', async (t) => {
  await stack.deps.boss.send(QUEUE, { lead: 'L-1' })
  await stack.deps.boss.send(QUEUE, { lead: 'L-2' })
  const delayed = (await stack.deps.boss.send(QUEUE, { lead: 'L-3' }, { startAfter: 3600 }))!
  const queues = await listQueues()
  const ours = queues.find((queue) => queue.name === QUEUE)
  t.truthy(ours)
  t.like(ours!.counts, { waiting: 2, delayed: 1, active: 0, completed: 0, failed: 0, paused: 0, 'waiting-children': 0 })
  t.deepEqual(ours!.statuses, ['latest', 'active', 'waiting', 'waiting-children', 'delayed', 'completed', 'failed', 'paused'])
  t.false(ours!.isPaused)
  t.true(authorized.includes('/admin/queues/api/queues'))

  const [listed] = (await listQueues(`?activeQueue=${QUEUE}&status=delayed&page=1&jobsPerPage=10`)).filter((queue) => queue.name === QUEUE)
  t.deepEqual(
    listed!.jobs.map((job) => [job.id, job.data]),
    [[delayed, { lead: 'L-3' }]],
  )
})

test.serial('actions go through HTTP to pg-boss: promote works, an unsupported pause says why', async (t) => {
  const id = (await stack.deps.boss.send(QUEUE, { lead: 'L-4' }, { startAfter: 3600 }))!
  const promote = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${QUEUE}/${id}/promote`, { method: 'PUT', headers: ADMIN })
  t.is(promote.status, 204)
  const [job] = await stack.deps.boss.findJobs(QUEUE, { id })
  t.true(job!.startAfter.getTime() <= Date.now() + 1000)

  const detail = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${QUEUE}/${id}`, { headers: ADMIN })
  t.like(await detail.json(), { status: 'waiting', job: { id, data: { lead: 'L-4' } } })

  // A JSON body reaches the board untouched by the app's own body parser.
  const add = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${QUEUE}/add`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'manual', data: { lead: 'L-5' }, options: { delay: 60_000 } }),
  })
  t.is(add.status, 200)
  const added = (await add.json()) as { job: { id: string }; status: string }
  t.is(added.status, 'delayed')
  t.deepEqual((await stack.deps.boss.findJobs(QUEUE, { id: added.job.id }))[0]?.data, { lead: 'L-5' })

  const pause = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${QUEUE}/pause`, { method: 'PUT', headers: ADMIN })
  t.is(pause.status, 405)
  t.regex(((await pause.json()) as { message: string }).message, /cannot be paused/)
})

test.serial('retry all failed through HTTP puts every failed job back in line', async (t) => {
  const failedIds: string[] = []
  for (const lead of ['L-6', 'L-7']) {
    await stack.deps.boss.send(QUEUE, { lead }, { retryLimit: 0, priority: 10 }) // fetched before the older waiting jobs
    const [job] = await stack.deps.boss.fetch(QUEUE)
    await stack.deps.boss.fail(QUEUE, job!.id, new Error('mail server down'))
    failedIds.push(job!.id)
  }
  const [before] = (await listQueues(`?activeQueue=${QUEUE}&status=failed`)).filter((queue) => queue.name === QUEUE)
  t.is(before!.counts.failed, 2)
  t.deepEqual(before!.jobs.map((job) => job.failedReason), ['mail server down', 'mail server down'])
  const retry = await fetch(`${stack.baseUrl}/admin/queues/api/queues/${QUEUE}/retry/failed`, { method: 'PUT', headers: ADMIN })
  t.is(retry.status, 200)
  t.deepEqual(await retry.json(), { retried: 2, skipped: 0 })
  for (const id of failedIds) t.is((await stack.deps.boss.findJobs(QUEUE, { id }))[0]?.state, 'retry')
})

test.serial('a queue pg-boss learns about later appears on the next API call', async (t) => {
  t.false((await listQueues()).some((queue) => queue.name === LATE))
  await stack.deps.boss.createQueue(LATE)
  await stack.deps.boss.send(LATE, { n: 1 })
  const late = (await listQueues()).find((queue) => queue.name === LATE)
  t.like(late?.counts, { waiting: 1 })
})

test.serial('the board page is served to an admin under /admin/queues', async (t) => {
  const page = await fetch(`${stack.baseUrl}/admin/queues`, { headers: ADMIN })
  t.is(page.status, 200)
  t.regex(page.headers.get('content-type') ?? '', /text\/html/)
  const html = await page.text()
  t.regex(html, /FreshPlan queues/)
  const script = html.match(/src="([^"]+\.js)"/)?.[1]
  t.truthy(script)
  const asset = await fetch(new URL(script!, `${stack.baseUrl}/admin/queues/`), { headers: ADMIN })
  t.is(asset.status, 200)
  // The datastore panel describes PostgreSQL, not Redis.
  const datastore = await fetch(`${stack.baseUrl}/admin/queues/api/redis/stats`, { headers: ADMIN })
  const stats = (await datastore.json()) as { backend: string; version: string; clients: { connected: number } }
  t.is(stats.backend, 'postgres')
  t.regex(stats.version, /^\d+\.\d+/)
  t.true(stats.clients.connected >= 1)
})

test.serial('board requests are measured under route templates, never raw queue names or job ids', async (t) => {
  const text = await (await fetch(`${stack.baseUrl}/metrics`)).text()
  const routes = new Set([...text.matchAll(/freshplan_http_request_duration_seconds_count\{[^}]*route="([^"]*)"/g)].map((match) => match[1]))
  t.true(routes.has('/admin/queues/api/queues'))
  t.true(routes.has('/admin/queues/api/queues/:queueName/:jobId/promote'))
  t.true(routes.has('/admin/queues/*'), 'refused requests and static files')
  t.false([...routes].some((route) => route!.includes(QUEUE) || /[0-9a-f]{8}-/.test(route!)), 'queue names and job ids never become route labels')
  t.regex(text, /route="\/admin\/queues\/\*",status="403"/)
})
