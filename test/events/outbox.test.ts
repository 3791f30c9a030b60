// The outbox and its publisher against a real PostgreSQL and real pg-boss, without the web edge:
// transactional recording, exact NOTIFYs, the CloudEvent envelope, seq order vs commit order.
import test from 'ava'
import { inTransaction, systemContext, type SecurityContext } from '../../lib/db.ts'
import { publishPendingEvents } from '../../jobs/events.ts'
import { recordLeadEvent } from '../../models/lead-events.ts'
import { EVENTS_PUBLISH_QUEUE } from '../../lib/queues.ts'
import { eventIdempotencyKey } from '../../models/event-ids.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { ChannelSpy, insertLead, recordChange, sleep, waitUntil } from '../helpers/events.ts'

let stack: Stack
let spy: ChannelSpy

test.before(async () => {
  stack = await startStack({ web: false })
  spy = await ChannelSpy.listen(stack.db.ownerUrl)
})
test.after.always(async () => {
  await spy?.close()
  await stack?.stop()
})

/** Publishes what earlier tests left and forgets their NOTIFYs, so each test sees only its own. */
async function freshSpy(): Promise<void> {
  await publishPendingEvents(stack.deps)
  await sleep(100)
  spy.clear()
}

const publishJobs = async () => (await stack.deps.boss.findJobs(EVENTS_PUBLISH_QUEUE)).length
const outboxRows = async (leadId: string) => (await stack.owner.raw(`select * from lead_events where lead_id = ? order by record_no`, [leadId])).rows

test.serial('a rolled-back change leaves no outbox row, no publish job and no NOTIFY', async (t) => {
  const lead = await insertLead(stack.owner)
  const jobsBefore = await publishJobs()
  await freshSpy()
  await t.throwsAsync(
    inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
      await recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.created', lead, data: { companyName: 'Rollback GmbH' } })
      throw new Error('abort')
    }),
    { message: 'abort' },
  )
  t.deepEqual(await outboxRows(lead.id), [])
  t.is(await publishJobs(), jobsBefore)
  const result = await publishPendingEvents(stack.deps)
  t.is(result.published, 0)
  await sleep(300)
  t.deepEqual(spy.received, [])
})

test.serial('a committed created event: one row, one job, then exactly one NOTIFY on each of both channels', async (t) => {
  const lead = await insertLead(stack.owner)
  const jobsBefore = await publishJobs()
  await freshSpy()
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) =>
    recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.created', lead, data: { companyName: 'Commit GmbH' } }))
  const [row] = await outboxRows(lead.id)
  t.is(row.seq, null, 'unpublished until the publisher numbers it')
  t.is(await publishJobs(), jobsBefore + 1)
  t.is((await publishPendingEvents(stack.deps)).published, 1)
  t.true(await waitUntil(() => spy.received.length >= 2, 3000))
  await sleep(200)
  t.is(spy.on('dashboard_updates').length, 1)
  t.is(spy.on('cross_module_events').length, 1)
  t.is(spy.on('dashboard_updates')[0].id, row.id)
  t.deepEqual(spy.on('cross_module_events')[0], spy.on('dashboard_updates')[0])
  const [published] = await outboxRows(lead.id)
  t.true(published.seq > 0)
  t.truthy(published.published_at)
  t.is((await publishPendingEvents(stack.deps)).published, 0, 'published once only')
})

test.serial('updated and activity_added go to dashboard_updates only; status_changed and deleted to both', async (t) => {
  const lead = await insertLead(stack.owner)
  await freshSpy()
  let current = lead
  for (const type of ['freshplan.lead.updated', 'freshplan.lead.activity_added', 'freshplan.lead.followup_sent', 'freshplan.lead.duplicate_detected', 'freshplan.lead.status_changed', 'freshplan.lead.deleted'] as const) {
    current = await recordChange(stack.deps, current, type)
  }
  await publishPendingEvents(stack.deps)
  t.true(await waitUntil(() => spy.received.length >= 8, 3000))
  await sleep(200)
  t.deepEqual(spy.on('dashboard_updates').map((e) => e.type), [
    'freshplan.lead.updated', 'freshplan.lead.activity_added', 'freshplan.lead.followup_sent', 'freshplan.lead.duplicate_detected',
    'freshplan.lead.status_changed', 'freshplan.lead.deleted',
  ])
  t.deepEqual(spy.on('cross_module_events').map((e) => e.type), ['freshplan.lead.status_changed', 'freshplan.lead.deleted'])
})

test.serial('the NOTIFY payload is a CloudEvents 1.0 structured envelope with exactly the attributes of §7', async (t) => {
  const lead = await insertLead(stack.owner, { territory: 'CH', owner: 'sales-ch' })
  await freshSpy()
  const changed = await recordChange(stack.deps, lead, 'freshplan.lead.status_changed', { from: 'REGISTERED', to: 'ACTIVE' })
  await publishPendingEvents(stack.deps)
  t.true(await waitUntil(() => spy.on('dashboard_updates').length === 1, 3000))
  const event = spy.on('dashboard_updates')[0]
  t.deepEqual(Object.keys(event).sort(), ['data', 'datacontenttype', 'id', 'idempotencykey', 'source', 'specversion', 'subject', 'tenantid', 'territory', 'time', 'type'])
  t.is(event.specversion, '1.0')
  t.regex(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.is(event.source, '/freshplan/leads')
  t.is(event.type, 'freshplan.lead.status_changed')
  t.is(event.subject, lead.id)
  t.is(event.datacontenttype, 'application/json')
  t.is(event.territory, 'CH')
  t.is(event.tenantid, 'default')
  t.is(new Date(event.time).toISOString(), event.time)
  t.true(Math.abs(Date.parse(event.time) - Date.now()) < 60_000)
  t.deepEqual(event.data, { leadId: lead.id, version: changed.version, from: 'REGISTERED', to: 'ACTIVE' })
  t.is(event.idempotencykey, eventIdempotencyKey(lead.id, 'freshplan.lead.status_changed', changed.version))
})

test.serial('the idempotency key is the deterministic v3 UUID of "<leadId>|<type>|<version>"; the same change is stored once', async (t) => {
  const lead = { ...(await insertLead(stack.owner)), version: 7 }
  const record = () => inTransaction(stack.deps.knex, systemContext('default'), (tx) =>
    recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.updated', lead, data: { attempt: 1 } }))
  await record()
  await record()
  const rows = await outboxRows(lead.id)
  t.is(rows.length, 1, 'a re-recorded logical change does not become a second event')
  t.is(rows[0].idempotency_key, eventIdempotencyKey(lead.id, 'freshplan.lead.updated', 7))
  t.regex(rows[0].idempotency_key, /^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  // Another version or type is another change.
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) =>
    recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.updated', lead: { ...lead, version: 8 }, data: {} }))
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) =>
    recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.status_changed', lead, data: {} }))
  const keys = (await outboxRows(lead.id)).map((r: { idempotency_key: string }) => r.idempotency_key)
  t.is(new Set(keys).size, 3)
})

test.serial('above 7680 bytes the NOTIFY carries a reference instead of data; below, the data itself', async (t) => {
  const lead = await insertLead(stack.owner)
  await freshSpy()
  const big = await recordChange(stack.deps, lead, 'freshplan.lead.updated', { notes: 'x'.repeat(9000) })
  await recordChange(stack.deps, big, 'freshplan.lead.updated', { notes: 'y'.repeat(6000) })
  const result = await publishPendingEvents(stack.deps)
  t.is(result.truncated, 1)
  t.true(await waitUntil(() => spy.on('dashboard_updates').length === 2, 3000))
  const [truncated, whole] = spy.received.filter((n) => n.channel === 'dashboard_updates')
  const event = JSON.parse(truncated!.payload)
  const [row] = await outboxRows(lead.id)
  t.deepEqual(event.data, { truncated: true, reference: row.id, originalSizeBytes: event.data.originalSizeBytes })
  t.true(event.data.originalSizeBytes > 9000)
  t.true(Buffer.byteLength(truncated!.payload) <= 7680)
  t.is(JSON.parse(whole!.payload).data.notes, 'y'.repeat(6000))
  t.is(row.data.notes, 'x'.repeat(9000), 'the outbox keeps the full event')
})

test.serial('seq follows commit order, not write order: an event written first but committed last gets the higher seq', async (t) => {
  const early = await insertLead(stack.owner)
  const late = await insertLead(stack.owner)
  await publishPendingEvents(stack.deps)
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  let written!: () => void
  const isWritten = new Promise<void>((resolve) => (written = resolve))
  // Transaction A writes its event first and stays open.
  const a = inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
    await recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.updated', lead: { ...early, version: 2 }, data: { tx: 'A' } })
    written()
    await held
  })
  await isWritten
  // Transaction B writes later and commits first; the publisher runs while A is still open.
  await recordChange(stack.deps, late, 'freshplan.lead.updated', { tx: 'B' })
  t.is((await publishPendingEvents(stack.deps)).published, 1)
  const seqB = (await outboxRows(late.id))[0].seq
  release()
  await a
  await publishPendingEvents(stack.deps)
  const rowA = (await outboxRows(early.id))[0]
  const rowB = (await outboxRows(late.id))[0]
  t.true(rowA.record_no < rowB.record_no, 'A was written first')
  t.true(rowA.seq > seqB, 'but is delivered after B, so a reader that has seen B does not skip A')
  // A reader that caught up to B's seq still finds A after it.
  const after = await inTransaction(stack.deps.knex, { tenantId: 'default', userId: 'm', role: 'MANAGER', territories: ['DE'] }, async (tx) =>
    (await tx.trx.raw(`select id from lead_events where seq > ?`, [seqB])).rows.map((r: { id: string }) => r.id))
  t.true(after.includes(rowA.id))
})

test.serial('a second change of the same lead waits for the first to commit, so per-lead order holds', async (t) => {
  const lead = await insertLead(stack.owner)
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  let written!: () => void
  const isWritten = new Promise<void>((resolve) => (written = resolve))
  const first = inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
    await recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.updated', lead: { ...lead, version: 2 }, data: { n: 1 } })
    written()
    await held
  })
  await isWritten
  let secondDone = false
  const second = inTransaction(stack.deps.knex, systemContext('default'), (tx) =>
    recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.updated', lead: { ...lead, version: 3 }, data: { n: 2 } })).then(() => (secondDone = true))
  await sleep(300)
  t.false(secondDone, 'the second change is blocked by the first')
  release()
  await Promise.all([first, second])
  await publishPendingEvents(stack.deps)
  const rows = await outboxRows(lead.id)
  t.deepEqual(rows.map((r: { data: { n: number } }) => r.data.n), [1, 2])
  t.true(rows[0].seq < rows[1].seq)
})

test.serial('concurrent publishers neither reorder nor double-publish: 300 events from 6 leads, each NOTIFYed once in seq order', async (t) => {
  await freshSpy()
  const leads = await Promise.all(Array.from({ length: 6 }, () => insertLead(stack.owner)))
  // Changes of different leads in parallel, of one lead one after another.
  await Promise.all(leads.map(async (lead) => {
    let current = lead
    for (let i = 0; i < 50; i++) current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { i })
  }))
  const publishers = await Promise.all(Array.from({ length: 4 }, () => publishPendingEvents(stack.deps, { batchSize: 37 })))
  t.is(publishers.reduce((sum, r) => sum + r.published, 0), 300)
  t.true(await waitUntil(() => spy.on('dashboard_updates').length >= 300, 5000))
  await sleep(200)
  const notified = spy.on('dashboard_updates')
  t.is(notified.length, 300)
  t.is(new Set(notified.map((e) => e.id)).size, 300)
  const { rows } = await stack.owner.raw(`select id, seq from lead_events where id = any (?::uuid[])`, [notified.map((e) => e.id)])
  const seqOf = new Map(rows.map((r: { id: string; seq: number }) => [r.id, r.seq]))
  const seqs = notified.map((e) => seqOf.get(e.id) as number)
  t.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'NOTIFYs arrive in seq order')
  for (const lead of leads) {
    const versions = notified.filter((e) => e.subject === lead.id).map((e) => e.data.version)
    t.deepEqual(versions, [...versions].sort((a, b) => a - b), 'per lead in version order')
  }
})

test.serial('without the relay, the publish job the change enqueued publishes through pg-boss', async (t) => {
  const worker = await startStack({ web: false, worker: true, services: [] })
  const spyWorker = await ChannelSpy.listen(worker.db.ownerUrl)
  try {
    const lead = await insertLead(worker.owner)
    await recordChange(worker.deps, lead, 'freshplan.lead.created')
    t.true(await waitUntil(() => spyWorker.on('dashboard_updates').length === 1, 15_000))
    t.is(spyWorker.on('dashboard_updates')[0].subject, lead.id)
    const jobs = await worker.deps.boss.findJobs(EVENTS_PUBLISH_QUEUE)
    t.is(jobs.length, 1)
    t.true(await waitUntil(async () => (await worker.deps.boss.findJobs(EVENTS_PUBLISH_QUEUE))[0]?.state === 'completed', 5000))
  } finally {
    await spyWorker.close()
    await worker.stop()
  }
})

test.serial('the outbox relay of a worker process publishes within milliseconds, without any job being fetched', async (t) => {
  const worker = await startStack({ web: false, worker: true, jobs: [] })
  const spyWorker = await ChannelSpy.listen(worker.db.ownerUrl)
  try {
    const lead = await insertLead(worker.owner)
    const committed = performance.now()
    await recordChange(worker.deps, lead, 'freshplan.lead.created')
    t.true(await waitUntil(() => spyWorker.on('dashboard_updates').length === 1, 5000, 2))
    t.log(`published ${Math.round(performance.now() - committed)} ms after the commit`)
    t.true(performance.now() - committed < 2000)
    t.is((await worker.deps.boss.findJobs(EVENTS_PUBLISH_QUEUE))[0]?.state, 'created', 'the job is still waiting: the relay did it')
  } finally {
    await spyWorker.close()
    await worker.stop()
  }
})

const salesDe: SecurityContext = { tenantId: 'default', userId: 'sales-de', role: 'SALES', territories: ['DE'] }

test.serial('row-level security: SALES records events only for own or collaborated leads of its territories', async (t) => {
  const own = await insertLead(stack.owner, { owner: 'sales-de' })
  const shared = await insertLead(stack.owner, { owner: 'someone', collaborators: ['sales-de'] })
  const foreign = await insertLead(stack.owner, { owner: 'someone' })
  const swiss = { ...(await insertLead(stack.owner, { territory: 'CH', owner: 'sales-de' })) }
  await recordChange(stack.deps, own, 'freshplan.lead.updated', {}, salesDe)
  await recordChange(stack.deps, shared, 'freshplan.lead.activity_added', {}, salesDe)
  const record = (lead: typeof own) => inTransaction(stack.deps.knex, salesDe, (tx) => recordLeadEvent(stack.deps, tx, { type: 'freshplan.lead.updated', lead: { ...lead, version: 99 }, data: {} }))
  await t.throwsAsync(record(foreign), { message: /row-level security/ })
  await t.throwsAsync(record(swiss), { message: /row-level security/ })
  await t.throwsAsync(record({ ...own, tenantId: 'other' }), { message: /row-level security/ })
  t.is((await outboxRows(own.id)).length, 1)
  t.is((await outboxRows(shared.id)).length, 1)
})

test.serial('row-level security: the outbox shows SALES own and collaborated events, MANAGER the territory, nobody another tenant', async (t) => {
  await publishPendingEvents(stack.deps)
  const own = await insertLead(stack.owner, { owner: 'rls-sales' })
  const shared = await insertLead(stack.owner, { owner: 'someone', collaborators: ['rls-sales'] })
  const foreign = await insertLead(stack.owner, { owner: 'someone' })
  const swiss = await insertLead(stack.owner, { territory: 'CH', owner: 'rls-sales' })
  const otherTenant = await insertLead(stack.owner, { tenant: 'other', owner: 'rls-sales' })
  for (const lead of [own, shared, foreign, swiss, otherTenant]) await recordChange(stack.deps, lead)
  await publishPendingEvents(stack.deps)
  const visible = (ctx: SecurityContext) => inTransaction(stack.deps.knex, ctx, async (tx) =>
    new Set((await tx.trx.raw(`select lead_id from lead_events`)).rows.map((r: { lead_id: string }) => r.lead_id)))
  const sales = await visible({ tenantId: 'default', userId: 'rls-sales', role: 'SALES', territories: ['DE'] })
  t.true(sales.has(own.id) && sales.has(shared.id))
  t.false(sales.has(foreign.id) || sales.has(swiss.id) || sales.has(otherTenant.id))
  const manager = await visible({ tenantId: 'default', userId: 'm', role: 'MANAGER', territories: ['DE'] })
  t.true(manager.has(own.id) && manager.has(shared.id) && manager.has(foreign.id))
  t.false(manager.has(swiss.id) || manager.has(otherTenant.id))
  const noContext = await stack.deps.knex.raw(`select count(*)::int as n from lead_events`)
  t.is(noContext.rows[0].n, 0)
})

test.serial('an event is immutable: content cannot be updated, a seq is assigned once, users cannot prune', async (t) => {
  const lead = await insertLead(stack.owner)
  await recordChange(stack.deps, lead)
  await publishPendingEvents(stack.deps)
  const [row] = await outboxRows(lead.id)
  const system = systemContext('*')
  await t.throwsAsync(inTransaction(stack.deps.knex, system, (tx) => tx.trx.raw(`update lead_events set data = '{}' where id = ?`, [row.id])), { message: /permission denied/ })
  await t.throwsAsync(inTransaction(stack.deps.knex, system, (tx) => tx.trx.raw(`update lead_events set seq = seq + 100000 where id = ?`, [row.id])), { message: /already published/ })
  const manager: SecurityContext = { tenantId: 'default', userId: 'm', role: 'MANAGER', territories: ['DE'] }
  const deleted = await inTransaction(stack.deps.knex, manager, (tx) => tx.trx('lead_events').where({ id: row.id }).delete())
  t.is(deleted, 0)
  const republished = await inTransaction(stack.deps.knex, manager, (tx) => tx.trx('lead_events').where({ id: row.id }).update({ published_at: new Date() }))
  t.is(republished, 0)
  t.is((await outboxRows(lead.id))[0].seq, row.seq)
})
