// §4/§5: POST /api/admin/backfills and GET /api/admin/backfills/{id} — ADMIN only, progress numbers
// as the worker reaches them, collisions only as far as the caller may see the leads.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { startWorker } from '../../jobs/worker.ts'
import { backfillJob } from '../../jobs/backfill.ts'
import { BACKFILL_QUEUE } from '../../lib/queues.ts'

const STALE = 40

let stack: Stack
let api: Api
let admin: string
let adminDe: string
let otherTenantAdmin: string
let manager: string
let sales: string
let chHolderId: string

test.before(async () => {
  // No worker yet: the first requests see a backfill that has not started.
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  admin = await tokenFor({ user: 'a1', role: 'ADMIN', territories: ['DE', 'CH'] })
  adminDe = await tokenFor({ user: 'a2', role: 'ADMIN', territories: ['DE'] })
  otherTenantAdmin = await tokenFor({ user: 'a3', role: 'ADMIN', territories: ['DE', 'CH'], tenant: 'other' })
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
  sales = await tokenFor({ user: 's1', role: 'SALES', territories: ['DE'] })
  // A Swiss lead created through the API (normalized) holds an address two old German leads use too.
  const holder = await api('POST', '/api/leads', { token: admin, body: { companyName: 'Hotel Alpenblick', countryCode: 'CH', email: 'info@alpenblick.ch' } })
  chHolderId = holder.body.id
  await stack.owner.raw(
    `insert into leads (tenant_id, territory, company_name, email, country_code, stage, owner_user_id, created_by, normalization_version)
     select 'default', 'DE', 'Altkunde ' || g, case when g <= 2 then ' INFO@Alpenblick.CH' else 'alt.' || g || '@example.de' end, 'DE', 'VORMERKUNG', 'u1', 'import', 0
       from generate_series(1, ?::int) g`,
    [STALE],
  )
})
test.after.always(() => stack?.stop())

let backfillId: string

test.serial('only ADMIN may start a backfill: 401 without a token, 403 for SALES and MANAGER', async (t) => {
  t.is((await api('POST', '/api/admin/backfills', { body: {} })).status, 401)
  for (const token of [sales, manager]) {
    const response = await api('POST', '/api/admin/backfills', { token, body: {} })
    t.is(response.status, 403)
    t.is(response.body.type, 'https://freshplan.example/problems/forbidden')
  }
  t.is((await stack.owner.raw(`select count(*)::int as n from backfills`)).rows[0].n, 0, 'nothing was started')
})

test.serial('invalid bodies are 400 with pointers', async (t) => {
  const small = await api('POST', '/api/admin/backfills', { token: admin, body: { batchSize: 5 } })
  t.is(small.status, 400)
  t.is(small.body.errors[0].pointer, '/batchSize')
  const unknown = await api('POST', '/api/admin/backfills', { token: admin, body: { everything: true } })
  t.is(unknown.status, 400)
  t.is(unknown.body.errors[0].pointer, '/everything')
})

test.serial('ADMIN starts one: 202 with Location; asking again while it runs returns it with 200', async (t) => {
  const started = await api('POST', '/api/admin/backfills', { token: admin })
  t.is(started.status, 202)
  backfillId = started.body.id
  t.is(started.headers.get('location'), `/api/admin/backfills/${backfillId}`)
  t.like(started.body, { kind: 'NORMALIZATION', status: 'RUNNING', processed: 0, total: null, progress: null, duplicatesFound: 0, failed: 0, batchSize: 2000, createdBy: 'a1', finishedAt: null, collisions: [] })

  const again = await api('POST', '/api/admin/backfills', { token: adminDe, body: { kind: 'NORMALIZATION', batchSize: 100 } })
  t.is(again.status, 200)
  t.is(again.body.id, backfillId)
  t.is(again.headers.get('location'), `/api/admin/backfills/${backfillId}`)
  t.is(again.body.batchSize, 2000, 'the running backfill keeps its settings')
  const jobs = await stack.deps.boss.findJobs(BACKFILL_QUEUE.name, { key: backfillId })
  t.is(jobs.length, 1, 'and no second job was queued')
})

test.serial('GET: ADMIN of the tenant only; others get 403 or 404', async (t) => {
  const got = await api('GET', `/api/admin/backfills/${backfillId}`, { token: admin })
  t.is(got.status, 200)
  t.like(got.body, { id: backfillId, status: 'RUNNING', processed: 0 })
  t.is((await api('GET', `/api/admin/backfills/${backfillId}`, { token: manager })).status, 403)
  t.is((await api('GET', `/api/admin/backfills/${backfillId}`, { token: sales })).status, 403)
  t.is((await api('GET', `/api/admin/backfills/${backfillId}`, { token: otherTenantAdmin })).status, 404, 'another tenant\'s backfill does not exist for it')
  t.is((await api('GET', '/api/admin/backfills/00000000-0000-0000-0000-000000000000', { token: admin })).status, 404)
  t.is((await api('GET', '/api/admin/backfills/not-a-uuid', { token: admin })).status, 404)
})

test.serial('a worker completes it; GET shows the numbers and the collisions', async (t) => {
  await startWorker(stack.deps, [backfillJob], [], [])
  let body: any
  const until = Date.now() + 30_000
  do {
    await new Promise((resolve) => setTimeout(resolve, 100))
    body = (await api('GET', `/api/admin/backfills/${backfillId}`, { token: admin })).body
  } while (body.status === 'RUNNING' && Date.now() < until)
  t.like(body, { status: 'COMPLETED', processed: STALE, total: STALE, progress: 1, duplicatesFound: 2, failed: 0, lastError: null })
  t.truthy(body.finishedAt)
  t.deepEqual(
    body.collisions.map((c: { emailNormalized: string; existingLeadId: string }) => [c.emailNormalized, c.existingLeadId]),
    [['info@alpenblick.ch', chHolderId], ['info@alpenblick.ch', chHolderId]],
  )
  t.is(body.collisionsNextCursor, null)
  const collided = await stack.owner.raw(`select count(*)::int as n from leads where id = any(?::uuid[]) and email_normalized is null and normalization_version = 2`, [body.collisions.map((c: { leadId: string }) => c.leadId)])
  t.is(collided.rows[0].n, 2, 'the colliding leads are kept, without a normalized address')
})

test.serial('collisions page by lead id; a DE-only admin does not learn the Swiss holder', async (t) => {
  const first = await api('GET', `/api/admin/backfills/${backfillId}/collisions?limit=1`, { token: admin })
  t.is(first.status, 200)
  t.is(first.body.data.length, 1)
  t.truthy(first.body.nextCursor)
  const second = await api('GET', `/api/admin/backfills/${backfillId}/collisions?limit=1&cursor=${first.body.nextCursor}`, { token: admin })
  t.is(second.body.data.length, 1)
  t.true(second.body.data[0].leadId > first.body.data[0].leadId)
  t.is(second.body.nextCursor, null)
  t.is((await api('GET', `/api/admin/backfills/${backfillId}/collisions?cursor=garbage`, { token: admin })).status, 400)
  t.is((await api('GET', `/api/admin/backfills/${backfillId}/collisions`, { token: manager })).status, 403)

  const de = await api('GET', `/api/admin/backfills/${backfillId}`, { token: adminDe })
  t.is(de.body.duplicatesFound, 2)
  t.deepEqual(de.body.collisions.map((c: { existingLeadId: string | null }) => c.existingLeadId), [null, null])
})

test.serial('after it completed, POST starts a new one, which finds nothing stale', async (t) => {
  const next = await api('POST', '/api/admin/backfills', { token: admin, body: { batchSize: 500 } })
  t.is(next.status, 202)
  t.not(next.body.id, backfillId)
  let body: any
  const until = Date.now() + 30_000
  do {
    await new Promise((resolve) => setTimeout(resolve, 100))
    body = (await api('GET', `/api/admin/backfills/${next.body.id}`, { token: admin })).body
  } while (body.status === 'RUNNING' && Date.now() < until)
  t.like(body, { status: 'COMPLETED', processed: 0, total: 0, progress: 1, duplicatesFound: 0, batchSize: 500 })
})

test('the OpenAPI document describes the backfill resources with the validation schemas', async (t) => {
  const doc = (await api('GET', '/openapi.json')).body
  t.truthy(doc.paths['/api/admin/backfills'].post.responses['202'])
  t.truthy(doc.paths['/api/admin/backfills/{id}'].get)
  t.truthy(doc.paths['/api/admin/backfills/{id}/collisions'].get)
  t.is(doc.components.schemas.BackfillCreate.properties.batchSize.minimum, 100)
  t.is(doc.components.schemas.Backfill.properties.collisions.items.$ref, '#/components/schemas/BackfillCollision')
})
