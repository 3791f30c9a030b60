// The SSE stream and the event API end to end: changes committed through the outbox, published by
// the pg-boss worker, NOTIFYed, picked up by the web process's listener and read by real HTTP
// clients with real tokens.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { SseClient, insertLead, recordChange, sleep, waitUntil } from '../helpers/events.ts'
import type { LeadEventSubject } from '../../models/lead-events.ts'

let stack: Stack
let api: Api
const tokens: Record<string, string> = {}

test.before(async () => {
  stack = await startStack({ worker: true, events: { heartbeatMs: 200 } })
  api = apiClient(stack.baseUrl)
  tokens.salesDe = await tokenFor({ user: 'sales-de', role: 'SALES', territories: ['DE'] })
  tokens.otherSalesDe = await tokenFor({ user: 'sales-de-2', role: 'SALES', territories: ['DE'] })
  tokens.managerDe = await tokenFor({ user: 'manager-de', role: 'MANAGER', territories: ['DE'] })
  tokens.managerCh = await tokenFor({ user: 'manager-ch', role: 'MANAGER', territories: ['CH'] })
  tokens.admin = await tokenFor({ user: 'admin', role: 'ADMIN', territories: ['DE', 'CH'] })
  tokens.otherTenant = await tokenFor({ user: 'manager-x', role: 'MANAGER', territories: ['DE', 'CH'], tenant: 'other' })
  await stack.web!.events.caughtUp()
})
test.after.always(() => stack?.stop())

const streamUrl = () => `${stack.baseUrl}/api/events/stream`
/** Waits until the worker has published every recorded event. */
async function settled(): Promise<void> {
  await waitUntil(async () => (await stack.owner.raw(`select count(*)::int as n from lead_events where seq is null`)).rows[0].n === 0)
}

const subjects = (client: SseClient) => client.events.map((e) => e.subject as string)

test.serial('a committed change reaches the SSE stream: id = outbox seq, event = type, data = the CloudEvent', async (t) => {
  const client = await SseClient.connect(streamUrl(), { token: tokens.managerDe })
  try {
    t.is(client.retry ?? (await client.waitFor((c) => c.retry !== undefined, 2000), client.retry), 2000)
    const lead = await insertLead(stack.owner)
    await recordChange(stack.deps, lead, 'freshplan.lead.created', { companyName: 'Live GmbH' })
    t.true(await client.waitFor((c) => c.messages.length === 1))
    const [message] = client.messages
    const { rows } = await stack.owner.raw(`select id, seq from lead_events where lead_id = ?`, [lead.id])
    t.is(message!.id, String(rows[0].seq))
    t.is(message!.event, 'freshplan.lead.created')
    const event = JSON.parse(message!.data)
    t.is(event.id, rows[0].id)
    t.is(event.subject, lead.id)
    t.is(event.data.companyName, 'Live GmbH')
    await sleep(300)
    t.is(client.messages.length, 1, 'the created event came on both channels but is streamed once')
  } finally {
    await client.close()
  }
})

test.serial('visibility: a DE SALES stream gets own and collaborated leads only; MANAGER DE all of DE; CH, other tenants stay out', async (t) => {
  const clients = {
    salesDe: await SseClient.connect(streamUrl(), { token: tokens.salesDe }),
    managerDe: await SseClient.connect(streamUrl(), { token: tokens.managerDe }),
    managerCh: await SseClient.connect(streamUrl(), { token: tokens.managerCh }),
    admin: await SseClient.connect(streamUrl(), { token: tokens.admin }),
    otherTenant: await SseClient.connect(streamUrl(), { token: tokens.otherTenant }),
  }
  try {
    const own = await insertLead(stack.owner, { owner: 'sales-de' })
    const shared = await insertLead(stack.owner, { owner: 'sales-de-2', collaborators: ['sales-de'] })
    const foreign = await insertLead(stack.owner, { owner: 'sales-de-2' })
    const swiss = await insertLead(stack.owner, { territory: 'CH', owner: 'sales-de' })
    const otherTenant = await insertLead(stack.owner, { tenant: 'other', owner: 'sales-de' })
    const all = [own, shared, foreign, swiss, otherTenant]
    for (const lead of all) await recordChange(stack.deps, lead, 'freshplan.lead.updated')
    // A final DE event everybody in DE sees marks the end of the burst.
    const marker = await insertLead(stack.owner, { owner: 'sales-de' })
    await recordChange(stack.deps, marker, 'freshplan.lead.updated')
    t.true(await clients.salesDe.waitFor((c) => subjects(c).includes(marker.id)))
    t.true(await clients.managerDe.waitFor((c) => subjects(c).includes(marker.id)))
    t.true(await clients.admin.waitFor((c) => subjects(c).includes(marker.id)))
    t.true(await clients.managerCh.waitFor((c) => subjects(c).includes(swiss.id)))
    t.true(await clients.otherTenant.waitFor((c) => subjects(c).includes(otherTenant.id)))
    await sleep(200)
    t.deepEqual(subjects(clients.salesDe), [own.id, shared.id, marker.id])
    t.deepEqual(subjects(clients.managerDe), [own.id, shared.id, foreign.id, marker.id])
    t.deepEqual(subjects(clients.managerCh), [swiss.id])
    t.deepEqual(subjects(clients.admin), [own.id, shared.id, foreign.id, swiss.id, marker.id])
    t.deepEqual(subjects(clients.otherTenant), [otherTenant.id])
    t.true(clients.salesDe.events.every((e) => e.territory === 'DE' && e.tenantid === 'default'))
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.close()))
  }
})

test.serial('Last-Event-ID: a client that was away for 100 changes gets exactly those 100, in order, then live ones', async (t) => {
  const lead = await insertLead(stack.owner, { owner: 'sales-de' })
  const first = await SseClient.connect(streamUrl(), { token: tokens.salesDe })
  let current = await recordChange(stack.deps, lead, 'freshplan.lead.updated', { n: 0 })
  t.true(await first.waitFor((c) => c.messages.length === 1))
  const lastEventId = first.messages[0]!.id!
  await first.close()
  const missed: number[] = []
  for (let n = 1; n <= 100; n++) {
    current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { n })
    missed.push(n)
  }
  // Changes another SALES user may not see happen meanwhile too.
  const foreign = await insertLead(stack.owner, { owner: 'sales-de-2' })
  await recordChange(stack.deps, foreign)
  await settled()
  const again = await SseClient.connect(streamUrl(), { token: tokens.salesDe, lastEventId })
  try {
    t.true(await again.waitFor((c) => c.messages.length >= 100))
    await sleep(300)
    t.deepEqual(again.events.map((e) => e.data.n), missed)
    const ids = again.messages.map((m) => Number(m.id))
    t.true(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'ids increase')
    t.true(ids[0]! > Number(lastEventId))
    current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { n: 101 })
    t.true(await again.waitFor((c) => c.messages.length === 101))
    t.is(again.events[100].data.n, 101)
  } finally {
    await again.close()
  }
})

test.serial('a replay and live events arriving during it are merged without gaps or repeats', async (t) => {
  const lead = await insertLead(stack.owner, { owner: 'sales-de' })
  let current = await recordChange(stack.deps, lead, 'freshplan.lead.updated', { n: 0 })
  await settled()
  const { rows } = await stack.owner.raw(`select max(seq) as seq from lead_events where lead_id = ?`, [lead.id])
  for (let n = 1; n <= 300; n++) current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { n })
  // Connect while more changes keep coming in.
  const writer = (async () => {
    for (let n = 301; n <= 400; n++) current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { n })
  })()
  const client = await SseClient.connect(streamUrl(), { token: tokens.salesDe, lastEventId: rows[0].seq })
  try {
    await writer
    t.true(await client.waitFor((c) => c.messages.length >= 400, 15_000))
    await sleep(300)
    t.deepEqual(client.events.map((e) => e.data.n), Array.from({ length: 400 }, (_, i) => i + 1))
  } finally {
    await client.close()
  }
})

test.serial('heartbeat comments keep an idle stream alive', async (t) => {
  const client = await SseClient.connect(streamUrl(), { token: tokens.salesDe })
  try {
    t.true(await client.waitFor((c) => c.comments.filter((x) => x === 'heartbeat').length >= 2, 3000))
    t.is(client.messages.length, 0)
  } finally {
    await client.close()
  }
})

test.serial('the stream takes the token from ?access_token= (EventSource) and refuses without one', async (t) => {
  const viaQuery = await SseClient.connect(`${streamUrl()}?access_token=${tokens.managerDe}`)
  try {
    const lead = await insertLead(stack.owner)
    await recordChange(stack.deps, lead)
    t.true(await viaQuery.waitFor((c) => subjects(c).includes(lead.id)))
  } finally {
    await viaQuery.close()
  }
  const refused = await SseClient.connect(streamUrl()).catch((error) => error)
  t.is(refused.status, 401)
  t.regex(refused.headers['content-type'], /application\/problem\+json/)
  t.regex(refused.headers['www-authenticate'], /^Bearer/)
  // The query token is for the stream only.
  const page = await fetch(`${stack.baseUrl}/api/events?access_token=${tokens.managerDe}`)
  t.is(page.status, 401)
})

test.serial('a malformed Last-Event-ID is a 400 problem', async (t) => {
  const refused = await SseClient.connect(streamUrl(), { token: tokens.salesDe, lastEventId: 'abc' }).catch((error) => error)
  t.is(refused.status, 400)
  const problem = JSON.parse(refused.body)
  t.is(problem.status, 400)
  t.deepEqual(problem.errors.map((e: { pointer: string }) => e.pointer), ['/headers/last-event-id'])
})

test.serial('GET /api/events?after= pages through the events the caller may see, in seq order', async (t) => {
  await settled()
  const start = (await api('GET', '/api/events?after=0&limit=1000', { token: tokens.admin })).body
  const after = start.nextAfter as number
  const own = await insertLead(stack.owner, { owner: 'sales-de' })
  const foreign = await insertLead(stack.owner, { owner: 'sales-de-2' })
  let a: LeadEventSubject = own
  let b: LeadEventSubject = foreign
  for (let i = 0; i < 3; i++) {
    a = await recordChange(stack.deps, a, 'freshplan.lead.updated', { i })
    b = await recordChange(stack.deps, b, 'freshplan.lead.updated', { i })
  }
  await settled()
  const page1 = await api('GET', `/api/events?after=${after}&limit=2`, { token: tokens.salesDe })
  t.is(page1.status, 200)
  t.deepEqual(page1.body.data.map((d: any) => d.event.data.i), [0, 1])
  t.true(page1.body.data.every((d: any) => d.event.subject === own.id && typeof d.seq === 'number'))
  t.is(page1.body.nextAfter, page1.body.data[1].seq)
  const page2 = await api('GET', `/api/events?after=${page1.body.nextAfter}&limit=2`, { token: tokens.salesDe })
  t.deepEqual(page2.body.data.map((d: any) => d.event.data.i), [2])
  const page3 = await api('GET', `/api/events?after=${page2.body.nextAfter}`, { token: tokens.salesDe })
  t.deepEqual(page3.body, { data: [], nextAfter: page2.body.nextAfter })
  const manager = await api('GET', `/api/events?after=${after}`, { token: tokens.managerDe })
  t.is(manager.body.data.length, 6)
  const seqs = manager.body.data.map((d: any) => d.seq)
  t.deepEqual(seqs, [...seqs].sort((x: number, y: number) => x - y))
})

test.serial('a first connect may ask for a replay with ?lastEventId= (EventSource cannot set the header)', async (t) => {
  await settled()
  const lead = await insertLead(stack.owner, { owner: 'sales-de' })
  const mark = (await stack.owner.raw(`select max(seq) as seq from lead_events`)).rows[0].seq
  let current = lead
  for (let n = 1; n <= 3; n++) current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { n })
  await settled()
  const client = await SseClient.connect(`${streamUrl()}?lastEventId=${mark}&access_token=${tokens.salesDe}`)
  try {
    t.true(await client.waitFor((c) => c.messages.length === 3))
    t.deepEqual(client.events.map((e) => e.data.n), [1, 2, 3])
  } finally {
    await client.close()
  }
  const unknown = await SseClient.connect(`${streamUrl()}?since=1`, { token: tokens.salesDe }).catch((error) => error)
  t.is(unknown.status, 400)
  t.deepEqual(JSON.parse(unknown.body).errors.map((e: { pointer: string }) => e.pointer), ['/query/since'])
})

test.serial('the event endpoints are in the OpenAPI document', async (t) => {
  const document = (await api('GET', '/openapi.json')).body
  t.truthy(document.paths['/api/events/stream'].get)
  t.truthy(document.paths['/api/events'].get)
  t.truthy(document.paths['/api/events/{id}'].get)
  t.deepEqual(document.components.schemas.LeadCloudEvent.required, ['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'data', 'idempotencykey', 'territory', 'tenantid'])
})

test.serial('GET /api/events validates after and limit as problems', async (t) => {
  for (const query of ['after=-1', 'after=x', 'limit=0', 'limit=1001', 'limit=abc', 'after=1&after=2']) {
    const response = await api('GET', `/api/events?${query}`, { token: tokens.salesDe })
    t.is(response.status, 400, query)
    t.regex(response.headers.get('content-type')!, /application\/problem\+json/)
    t.regex(response.body.errors[0].pointer, /^\/query\/(after|limit)$/)
  }
  t.is((await api('GET', '/api/events')).status, 401)
})

test.serial('GET /api/events/{id} serves the full event of a truncated NOTIFY, and 404 to whom may not see it', async (t) => {
  const lead = await insertLead(stack.owner, { owner: 'sales-de' })
  const client = await SseClient.connect(streamUrl(), { token: tokens.salesDe })
  try {
    const notes = 'Großküche mit Bio-Schwerpunkt. '.repeat(400)
    await recordChange(stack.deps, lead, 'freshplan.lead.updated', { notes })
    t.true(await client.waitFor((c) => c.messages.length === 1))
    const streamed = client.events[0]
    t.is(streamed.data.truncated, true)
    t.is(streamed.data.reference, streamed.id)
    t.true(Buffer.byteLength(client.messages[0]!.data) <= 7680)
    t.true(streamed.data.originalSizeBytes > 7680)
    const full = await api('GET', `/api/events/${streamed.data.reference}`, { token: tokens.salesDe })
    t.is(full.status, 200)
    t.regex(full.headers.get('content-type')!, /^application\/cloudevents\+json/)
    t.is(full.body.data.notes, notes)
    t.deepEqual({ ...full.body, data: undefined }, { ...streamed, data: undefined })
    t.is(Buffer.byteLength(JSON.stringify(full.body)), streamed.data.originalSizeBytes)
    const hidden = await api('GET', `/api/events/${streamed.id}`, { token: tokens.otherSalesDe })
    t.is(hidden.status, 404)
    t.is((await api('GET', `/api/events/${streamed.id}`, { token: tokens.managerCh })).status, 404)
    t.is((await api('GET', `/api/events/${streamed.id}`, { token: tokens.otherTenant })).status, 404)
    const malformed = await api('GET', '/api/events/not-a-uuid', { token: tokens.salesDe })
    t.is(malformed.status, 404)
    t.is(malformed.body.type, 'https://freshplan.example/problems/not-found')
  } finally {
    await client.close()
  }
})
