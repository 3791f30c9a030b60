// Issue 14 point 1: the queue board is scoped to the caller's tenant and territories. An ADMIN of
// tenant acme neither sees nor touches tenant default's jobs (lists, counts, single jobs, every
// action), sees no tenant-less queue, and cannot add jobs; a platform operator sees and does all.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { BACKFILL_QUEUE, EVENTS_PUBLISH_QUEUE, FOLLOW_UP_T3_QUEUE } from '../../lib/queues.ts'
import { randomUUID } from 'node:crypto'

let stack: Stack
const jobs: Record<string, string> = {}
let acmeDe: string
let acmeAll: string
let acmeNoTerritories: string
let operator: string

test.before(async () => {
  stack = await startStack()
  const boss = stack.deps.boss
  // Both queues deduplicate on singletonKey (one job per lead, per backfill), as their producers send.
  const followUp = async (tenantId: string, territory: string) => {
    const leadId = randomUUID()
    return (await boss.send(FOLLOW_UP_T3_QUEUE, { leadId, tenantId, territory }, { startAfter: 3 * 86_400, singletonKey: `${leadId}:T3` }))!
  }
  const backfill = async (tenantId: string) => {
    const backfillId = randomUUID()
    return (await boss.send(BACKFILL_QUEUE.name, { backfillId, tenantId }, { startAfter: 3600, singletonKey: backfillId }))!
  }
  jobs.acmeDe = await followUp('acme', 'DE')
  jobs.acmeCh = await followUp('acme', 'CH')
  jobs.defaultDe = await followUp('default', 'DE')
  jobs.defaultBackfill = await backfill('default')
  jobs.acmeBackfill = await backfill('acme')
  jobs.publish = (await boss.send(EVENTS_PUBLISH_QUEUE, {}, { startAfter: 3600 }))!
  acmeDe = await tokenFor({ user: 'acme-admin', role: 'ADMIN', territories: ['DE'], tenant: 'acme' })
  acmeAll = await tokenFor({ user: 'acme-admin-2', role: 'ADMIN', territories: ['DE', 'CH'], tenant: 'acme' })
  acmeNoTerritories = await tokenFor({ user: 'acme-admin-3', role: 'ADMIN', territories: [], tenant: 'acme' })
  operator = await tokenFor({ user: 'ops', roles: ['ADMIN', 'PLATFORM_OPERATOR'], territories: [], tenant: 'default' })
})
test.after.always(() => stack?.stop())

interface BoardQueue {
  name: string
  counts: Record<string, number>
  jobs: { id: string; data: { tenantId?: string } }[]
  jobSchedulerCount: number
}

async function board(token: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; type: string | null; body: any }> {
  const response = await fetch(`${stack.baseUrl}/admin/queues/api${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await response.text()
  return { status: response.status, type: response.headers.get('content-type'), body: text ? JSON.parse(text) : undefined }
}

async function queues(token: string, activeQueue: string, status = 'latest'): Promise<BoardQueue[]> {
  const answer = await board(token, `/queues?activeQueue=${activeQueue}&status=${status}&page=1&jobsPerPage=50`)
  if (answer.status !== 200) throw new Error(`board answered ${answer.status}`)
  return answer.body.queues
}

const stateOf = async (queue: string, id: string) => (await stack.deps.boss.findJobs(queue, { id }))[0]

test.serial('an acme ADMIN (DE) lists and counts only acme DE follow-ups and acme backfills; no tenant-less queue', async (t) => {
  const listed = await queues(acmeDe, FOLLOW_UP_T3_QUEUE)
  const names = listed.map((queue) => queue.name)
  t.true(names.includes(FOLLOW_UP_T3_QUEUE))
  t.true(names.includes(BACKFILL_QUEUE.name))
  t.false(names.includes(EVENTS_PUBLISH_QUEUE), 'event publishing belongs to the platform')
  t.false(names.includes('idempotency.purge'))
  const followUps = listed.find((queue) => queue.name === FOLLOW_UP_T3_QUEUE)!
  t.deepEqual(followUps.jobs.map((job) => job.id), [jobs.acmeDe])
  t.is(followUps.counts.delayed, 1)
  t.is(followUps.jobSchedulerCount, 0)
  const backfills = (await queues(acmeDe, BACKFILL_QUEUE.name)).find((queue) => queue.name === BACKFILL_QUEUE.name)!
  t.deepEqual(backfills.jobs.map((job) => job.id), [jobs.acmeBackfill])
  t.is(backfills.counts.delayed, 1)

  // The tenant-less queue and the datastore panel do not exist for them.
  const hidden = await board(acmeDe, `/queues/${EVENTS_PUBLISH_QUEUE}/${jobs.publish}`)
  t.is(hidden.status, 404)
  t.is(hidden.type, 'application/problem+json')
  t.is((await board(acmeDe, '/redis/stats')).status, 404)
  t.deepEqual((await board(acmeDe, '/job-schedulers')).body, { schedulers: [] })
})

test.serial('an ADMIN with territories [] sees no territory-bound job, only their tenant\'s backfills', async (t) => {
  const listed = await queues(acmeNoTerritories, BACKFILL_QUEUE.name)
  t.false(listed.some((queue) => queue.name === FOLLOW_UP_T3_QUEUE))
  t.deepEqual(listed.find((queue) => queue.name === BACKFILL_QUEUE.name)!.jobs.map((job) => job.id), [jobs.acmeBackfill])
  t.is((await board(acmeNoTerritories, `/queues/${FOLLOW_UP_T3_QUEUE}/${jobs.acmeDe}`)).status, 404)
})

test.serial('an acme ADMIN cannot read or act on default\'s jobs: 404 problems, nothing changes', async (t) => {
  const before = await stateOf(FOLLOW_UP_T3_QUEUE, jobs.defaultDe)
  const other = `/queues/${FOLLOW_UP_T3_QUEUE}/${jobs.defaultDe}`
  for (const [method, path] of [
    ['GET', other],
    ['PUT', `${other}/promote`],
    ['PUT', `${other}/retry`],
    ['PUT', `${other}/clean`],
    ['PATCH', `${other}/delay`],
    ['GET', `/queues/${FOLLOW_UP_T3_QUEUE}/${jobs.acmeCh}`], // their tenant, not their territory
    ['PUT', `/queues/${FOLLOW_UP_T3_QUEUE}/${jobs.acmeCh}/promote`],
    ['PUT', `/queues/${BACKFILL_QUEUE.name}/${jobs.defaultBackfill}/promote`],
    ['PUT', `/queues/${EVENTS_PUBLISH_QUEUE}/promote`],
    ['PUT', `/queues/${EVENTS_PUBLISH_QUEUE}/empty`],
  ] as const) {
    const answer = await board(acmeDe, path, { method, ...(method === 'PATCH' ? { body: { runAt: Date.now() } } : {}) })
    t.is(answer.status, 404, `${method} ${path}`)
    t.is(answer.type, 'application/problem+json', `${method} ${path}`)
  }
  // Bulk actions reach only their own jobs.
  t.is((await board(acmeDe, `/queues/${FOLLOW_UP_T3_QUEUE}/clean/delayed`, { method: 'PUT' })).status, 200)
  t.is((await board(acmeDe, `/queues/${FOLLOW_UP_T3_QUEUE}/promote`, { method: 'PUT' })).status, 200)
  t.is((await board(acmeDe, `/queues/${FOLLOW_UP_T3_QUEUE}/empty`, { method: 'PUT' })).status, 200)
  t.is((await board(acmeDe, `/queues/${BACKFILL_QUEUE.name}/empty`, { method: 'PUT' })).status, 200)
  const after = await stateOf(FOLLOW_UP_T3_QUEUE, jobs.defaultDe)
  t.is(after?.state, 'created')
  t.is(after?.startAfter.getTime(), before?.startAfter.getTime(), 'default\'s follow-up still waits for its day')
  t.truthy(await stateOf(FOLLOW_UP_T3_QUEUE, jobs.acmeCh), 'acme CH is outside a DE admin\'s reach')
  t.truthy(await stateOf(BACKFILL_QUEUE.name, jobs.defaultBackfill))
  t.truthy(await stateOf(EVENTS_PUBLISH_QUEUE, jobs.publish))
  t.falsy(await stateOf(BACKFILL_QUEUE.name, jobs.acmeBackfill), 'their own queued backfill job was emptied')
})

test.serial('an acme ADMIN promotes their own follow-up but cannot add jobs or edit job data', async (t) => {
  const promote = await board(acmeAll, `/queues/${FOLLOW_UP_T3_QUEUE}/${jobs.acmeCh}/promote`, { method: 'PUT' })
  t.is(promote.status, 204)
  t.true((await stateOf(FOLLOW_UP_T3_QUEUE, jobs.acmeCh))!.startAfter.getTime() <= Date.now() + 1000)
  const countBefore = (await stack.deps.boss.findJobs(FOLLOW_UP_T3_QUEUE, {})).length
  const add = await board(acmeAll, `/queues/${FOLLOW_UP_T3_QUEUE}/add`, { method: 'POST', body: { name: 'x', data: { leadId: randomUUID(), tenantId: 'default', territory: 'DE' }, options: {} } })
  t.is(add.status, 403)
  t.is(add.type, 'application/problem+json')
  const edit = await board(acmeAll, `/queues/${FOLLOW_UP_T3_QUEUE}/${jobs.acmeCh}/update-data`, { method: 'PATCH', body: { jobData: { leadId: randomUUID(), tenantId: 'default', territory: 'DE' } } })
  t.is(edit.status, 403)
  t.is((await stack.deps.boss.findJobs(FOLLOW_UP_T3_QUEUE, {})).length, countBefore, 'nothing was added')
  t.is(((await stateOf(FOLLOW_UP_T3_QUEUE, jobs.acmeCh))!.data as { tenantId: string }).tenantId, 'acme')
})

test.serial('a platform operator sees every tenant\'s jobs and the tenant-less queues, and may add jobs', async (t) => {
  const listed = await queues(operator, FOLLOW_UP_T3_QUEUE)
  t.true(listed.some((queue) => queue.name === EVENTS_PUBLISH_QUEUE))
  const ids = listed.find((queue) => queue.name === FOLLOW_UP_T3_QUEUE)!.jobs.map((job) => job.id)
  t.true(ids.includes(jobs.defaultDe))
  t.true(ids.includes(jobs.acmeCh))
  t.is((await board(operator, `/queues/${EVENTS_PUBLISH_QUEUE}/${jobs.publish}`)).status, 200)
  const add = await board(operator, `/queues/${EVENTS_PUBLISH_QUEUE}/add`, { method: 'POST', body: { name: 'manual', data: {}, options: {} } })
  t.is(add.status, 200)
  t.truthy(await stateOf(EVENTS_PUBLISH_QUEUE, add.body.job.id))
  const promote = await board(operator, `/queues/${FOLLOW_UP_T3_QUEUE}/${jobs.defaultDe}/promote`, { method: 'PUT' })
  t.is(promote.status, 204)
  t.is((await board(operator, '/redis/stats')).status, 200)
})

test.serial('a lead created through the API queues follow-ups that carry its territory: its territory\'s ADMIN sees them, another territory\'s does not', async (t) => {
  const manager = await tokenFor({ user: 'm-de', role: 'MANAGER', territories: ['DE'] })
  const created = await fetch(`${stack.baseUrl}/api/leads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${manager}`, 'content-type': 'application/json' },
    body: JSON.stringify({ companyName: 'Gasthaus zur Post', businessType: 'RESTAURANT' }),
  })
  t.is(created.status, 201)
  const lead = (await created.json()) as { id: string }
  const [job] = (await stack.deps.boss.findJobs(FOLLOW_UP_T3_QUEUE, {})).filter((candidate) => (candidate.data as { leadId?: string }).leadId === lead.id)
  t.like(job?.data, { leadId: lead.id, tenantId: 'default', territory: 'DE' })
  const adminDe = await tokenFor({ user: 'admin-de', role: 'ADMIN', territories: ['DE'] })
  const adminCh = await tokenFor({ user: 'admin-ch', role: 'ADMIN', territories: ['CH'] })
  t.is((await board(adminDe, `/queues/${FOLLOW_UP_T3_QUEUE}/${job!.id}`)).status, 200)
  t.is((await board(adminCh, `/queues/${FOLLOW_UP_T3_QUEUE}/${job!.id}`)).status, 404)
  t.is((await board(acmeAll, `/queues/${FOLLOW_UP_T3_QUEUE}/${job!.id}`)).status, 404)
})
