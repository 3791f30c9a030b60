import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api
let sales: string
let manager: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  sales = await tokenFor({ user: 's1', role: 'SALES', territories: ['DE'] })
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
})
test.after.always(() => stack?.stop())

test('create: 201 with Location, ETag and the lead; SALES becomes owner; CREATED activity', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: '  Bistro Süd GmbH ', email: 'info@bistro.example', businessType: 'RESTAURANT', emailConsent: true } })
  t.is(created.status, 201)
  t.is(created.headers.get('location'), `/api/leads/${created.body.id}`)
  t.is(created.headers.get('etag'), '"1"')
  t.like(created.body, { companyName: 'Bistro Süd GmbH', territory: 'DE', countryCode: 'DE', status: 'REGISTERED', stage: 'VORMERKUNG', source: 'WEB_FORMULAR', ownerUserId: 's1', createdBy: 's1', version: 1, emailConsent: true })
  const activities = await api('GET', `/api/leads/${created.body.id}/activities`, { token: sales })
  t.deepEqual(activities.body.data.map((a: { type: string }) => a.type), ['CREATED'])
})

test('a Swiss lead lands in territory CH; AT in DE', async (t) => {
  const ch = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Hotel Alpenblick', countryCode: 'ch' } })
  t.like(ch.body, { territory: 'CH', countryCode: 'CH' })
  const at = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Wiener Kantine', countryCode: 'AT' } })
  t.like(at.body, { territory: 'DE', countryCode: 'AT' })
})

test('MESSE and TELEFON need a documented first contact and start in REGISTRIERUNG', async (t) => {
  const without = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Messe ohne Kontakt', source: 'MESSE' } })
  t.is(without.status, 400)
  t.is(without.body.errors[0].pointer, '/activities')
  const withContact = await api('POST', '/api/leads', {
    token: sales,
    body: { companyName: 'Messe mit Kontakt', source: 'TELEFON', activities: [{ type: 'FIRST_CONTACT_DOCUMENTED', summary: 'Am Stand gesprochen' }] },
  })
  t.is(withContact.status, 201)
  t.is(withContact.body.stage, 'REGISTRIERUNG')
})

test('GET: ETag, 304 on If-None-Match, 404 for missing and malformed ids', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Etag Test' } })
  const got = await api('GET', `/api/leads/${created.body.id}`, { token: sales })
  t.is(got.status, 200)
  t.is(got.headers.get('etag'), '"1"')
  const notModified = await api('GET', `/api/leads/${created.body.id}`, { token: sales, headers: { 'if-none-match': '"1"' } })
  t.is(notModified.status, 304)
  t.is((await api('GET', '/api/leads/00000000-0000-0000-0000-000000000000', { token: sales })).status, 404)
  t.is((await api('GET', '/api/leads/..%2F..%2Fetc%2Fpasswd', { token: sales })).status, 404)
})

test('PATCH: If-Match required (428), stale (412), merge patch applies and bumps the version', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Patch Test', city: 'Köln' } })
  const path = `/api/leads/${created.body.id}`
  t.is((await api('PATCH', path, { token: sales, body: { city: 'Bonn' } })).status, 428)
  t.is((await api('PATCH', path, { token: sales, body: { city: 'Bonn' }, headers: { 'if-match': '"7"' } })).status, 412)
  const patched = await api('PATCH', path, { token: sales, body: { city: 'Bonn', contactName: 'Frau Test' }, headers: { 'if-match': '"1"', 'content-type': 'application/merge-patch+json' } })
  t.is(patched.status, 200)
  t.like(patched.body, { city: 'Bonn', contactName: 'Frau Test', version: 2 })
  t.is(patched.headers.get('etag'), '"2"')
  const removed = await api('PATCH', path, { token: sales, body: { contactName: null }, headers: { 'if-match': '"2"' } })
  t.is(removed.body.contactName, null)
})

test('DELETE: soft delete by a manager; the lead disappears from lists but keeps its row', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Delete Test' } })
  const path = `/api/leads/${created.body.id}`
  t.is((await api('DELETE', path, { token: manager })).status, 428)
  t.is((await api('DELETE', path, { token: manager, headers: { 'if-match': '"1"' } })).status, 204)
  const got = await api('GET', path, { token: manager })
  t.like(got.body, { status: 'DELETED', version: 2 })
  t.truthy(got.body.deletedAt)
  const list = await api('GET', '/api/leads?q=Delete%20Test', { token: manager })
  t.deepEqual(list.body.data, [])
  const activities = await api('GET', `${path}/activities`, { token: manager })
  t.deepEqual(activities.body.data.map((a: { type: string }) => a.type).sort(), ['CREATED', 'DELETED', 'STATUS_CHANGE'])
})

test('a meaningful activity makes a REGISTERED lead ACTIVE and sets lastActivityAt; a NOTE does not', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Activity Test' } })
  const path = `/api/leads/${created.body.id}`
  const note = await api('POST', `${path}/activities`, { token: sales, body: { type: 'NOTE', summary: 'Notiz' } })
  t.is(note.status, 201)
  t.like((await api('GET', path, { token: sales })).body, { status: 'REGISTERED', lastActivityAt: null })
  const call = await api('POST', `${path}/activities`, { token: sales, body: { type: 'CALL', summary: 'Angerufen', outcome: 'SUCCESSFUL', occurredAt: '2026-11-20T10:00:00Z' } })
  t.is(call.status, 201)
  t.like(call.body, { type: 'CALL', outcome: 'SUCCESSFUL', userId: 's1' })
  const lead = (await api('GET', path, { token: sales })).body
  t.like(lead, { status: 'ACTIVE', lastActivityAt: '2026-11-20T10:00:00.000Z' })
  const types = (await api('GET', `${path}/activities`, { token: sales })).body.data.map((a: { type: string }) => a.type)
  t.is(types.filter((type: string) => type === 'STATUS_CHANGE').length, 1)
  const system = await api('POST', `${path}/activities`, { token: sales, body: { type: 'STATUS_CHANGE', summary: 'forged' } })
  t.is(system.status, 400)
})

test('owner reassignment and collaborators write ASSIGNED activities', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Assign Test' } })
  const path = `/api/leads/${created.body.id}`
  const collab = await api('PUT', `${path}/collaborators/s9`, { token: sales })
  t.is(collab.status, 200)
  t.deepEqual(collab.body.collaboratorUserIds, ['s9'])
  const reassigned = await api('PUT', `${path}/owner`, { token: manager, body: { ownerUserId: 's2' } })
  t.is(reassigned.status, 200)
  t.is(reassigned.body.ownerUserId, 's2')
  t.is((await api('GET', path, { token: sales })).status, 404, 's1 no longer owns it')
  const removed = await api('DELETE', `${path}/collaborators/s9`, { token: manager })
  t.deepEqual(removed.body.collaboratorUserIds, [])
  const assigned = (await api('GET', `${path}/activities`, { token: manager })).body.data.filter((a: { type: string }) => a.type === 'ASSIGNED')
  t.is(assigned.length, 3)
})

test('territories: only those of the token', async (t) => {
  const de = await api('GET', '/api/territories', { token: sales })
  t.deepEqual(de.body.data, [{ code: 'DE', name: 'Deutschland', currency: 'EUR', vatRate: 19, locale: 'de-DE', timeZone: 'Europe/Berlin' }])
  const both = await api('GET', '/api/territories', { token: manager })
  t.deepEqual(both.body.data.map((x: { code: string }) => x.code), ['CH', 'DE'])
})

test('OpenAPI 3.1 document is generated from the validation schemas; /docs serves a UI', async (t) => {
  const doc = await api('GET', '/openapi.json')
  t.is(doc.body.openapi, '3.1.0')
  t.truthy(doc.body.paths['/api/leads'].post)
  t.deepEqual(doc.body.components.schemas.LeadCreate.required, ['companyName'])
  t.is(doc.body.components.schemas.LeadCreate.properties.activities.items.$ref, '#/components/schemas/ActivityCreate')
  const docs = await fetch(`${stack.baseUrl}/docs`)
  t.is(docs.status, 200)
  t.regex(await docs.text(), /swagger-ui-bundle\.js/)
  t.is((await fetch(`${stack.baseUrl}/docs/swagger-ui-bundle.js`)).status, 200)
})

test('creating a lead enqueues its T+3 and T+7 follow-ups in the same transaction; a rejected create enqueues none', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Follow-up wiring', email: 'wiring@follow.example' } })
  const registeredAt = new Date(created.body.registeredAt).getTime()
  for (const [queue, days] of [['follow-up.t3', 3], ['follow-up.t7', 7]] as const) {
    const jobs = await stack.deps.boss.findJobs(queue, { key: `${created.body.id}:T${days}` })
    t.is(jobs.length, 1, queue)
    const due = new Date(jobs[0]!.startAfter).getTime()
    // Due after 3/7 days, or on the Monday after when that falls on a weekend (at most two days later).
    t.true(due >= registeredAt + (days * 24 - 1) * 3_600_000 && due <= registeredAt + (days + 3) * 24 * 3_600_000, `${queue} due ${jobs[0]!.startAfter}`)
  }
  const duplicate = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Duplicate wiring', email: 'WIRING@follow.example' } })
  t.is(duplicate.status, 409)
  const { rows } = await stack.owner.raw(`select count(*)::int as n from pgboss.job where name like 'follow-up.%' and data->>'leadId' not in (select id::text from leads)`)
  t.is(rows[0].n, 0)
})
