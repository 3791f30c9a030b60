// The dashboard listener under stress and attack: its connection killed mid-burst, NOTIFYs
// re-delivered, forged and malformed, and its metrics.
import test from 'ava'
import http from 'node:http'
import { registry as register } from '../../lib/metrics.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { ChannelSpy, SseClient, insertLead, recordChange, sleep, waitUntil } from '../helpers/events.ts'
import { DashboardEventListener, type DeliveredEvent } from '../../server/event-listener.ts'
import { createKnex } from '../../lib/db.ts'
import type { LeadEventSubject } from '../../models/lead-events.ts'

let stack: Stack
let managerDe: string
let salesDe: string

test.before(async () => {
  stack = await startStack({ worker: true, events: { reconnectInitialMs: 50, reconnectMaxMs: 500 } })
  managerDe = await tokenFor({ user: 'manager-de', role: 'MANAGER', territories: ['DE'] })
  salesDe = await tokenFor({ user: 'sales-de', role: 'SALES', territories: ['DE'] })
  await stack.web!.events.caughtUp()
})
test.after.always(() => stack?.stop())

const streamUrl = () => `${stack.baseUrl}/api/events/stream`

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await register.getSingleMetric(name)!.get()).values
  return values
    .filter((v) => Object.entries(labels).every(([key, value]) => (v.labels as Record<string, unknown>)[key] === value))
    .reduce((sum, v) => sum + v.value, 0)
}

async function settled(): Promise<void> {
  await waitUntil(async () => (await stack.owner.raw(`select count(*)::int as n from lead_events where seq is null`)).rows[0].n === 0, 30_000)
  await waitUntil(async () => {
    const { rows } = await stack.owner.raw(`select max(seq) as seq from lead_events`)
    return (stack.web!.events.position ?? 0) >= (rows[0].seq ?? 0)
  }, 30_000)
}

async function terminateListener(): Promise<number> {
  const pid = stack.web!.events.backendPid
  if (pid === undefined) return 0
  const { rows } = await stack.owner.raw(`select pg_terminate_backend(?) as ok`, [pid])
  return rows[0].ok ? pid : 0
}

test.serial("the listener's connection killed during a burst of 1,000 changes: every event reaches the SSE client once, in order", async (t) => {
  t.timeout(120_000)
  const client = await SseClient.connect(streamUrl(), { token: managerDe })
  try {
    const connectsBefore = stack.web!.events.connects
    const leads = await Promise.all(Array.from({ length: 20 }, () => insertLead(stack.owner)))
    let done = 0
    const burst = Promise.all(leads.map(async (lead) => {
      let current: LeadEventSubject = lead
      for (let i = 0; i < 50; i++) {
        current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { i })
        done++
      }
    }))
    // Kill the LISTEN connection three times while the burst runs.
    const killed: number[] = []
    for (const at of [150, 450, 750]) {
      await waitUntil(() => done >= at, 60_000, 5)
      await waitUntil(() => stack.web!.events.backendPid !== undefined, 10_000, 5)
      killed.push(await terminateListener())
    }
    await burst
    t.true(killed.every((pid) => pid > 0), 'each kill hit a live listener connection')
    t.true(await client.waitFor((c) => c.messages.length >= 1000, 60_000), `received ${client.messages.length}`)
    await settled()
    await sleep(300)
    t.is(client.messages.length, 1000)
    const ids = client.events.map((e) => e.id)
    t.is(new Set(ids).size, 1000, 'no event twice')
    const seqs = client.messages.map((m) => Number(m.id))
    t.true(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!), 'SSE ids strictly increase')
    for (const lead of leads) {
      t.deepEqual(client.events.filter((e) => e.subject === lead.id).map((e) => e.data.i), Array.from({ length: 50 }, (_, i) => i))
    }
    t.true(stack.web!.events.connects >= connectsBefore + 3, 'the listener reconnected after each kill')
  } finally {
    await client.close()
  }
})

test.serial('events published while the listener is disconnected are caught up from the outbox after it reconnects', async (t) => {
  await settled()
  // A second listener of its own with a slow reconnect, so there is a real window without LISTEN.
  const listener = new DashboardEventListener(stack.deps, { reconnectInitialMs: 3000, reconnectMaxMs: 3000 })
  const delivered: DeliveredEvent[] = []
  listener.subscribe((event) => delivered.push(event))
  await listener.start()
  await listener.caughtUp()
  try {
    const lead = await insertLead(stack.owner)
    let current = await recordChange(stack.deps, lead, 'freshplan.lead.updated', { n: 0 })
    t.true(await waitUntil(() => delivered.length === 1))
    await stack.owner.raw(`select pg_terminate_backend(?)`, [listener.backendPid!])
    await waitUntil(() => listener.backendPid === undefined, 2000, 5)
    for (let n = 1; n <= 10; n++) current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { n })
    await waitUntil(async () => (await stack.owner.raw(`select count(*)::int as n from lead_events where seq is null`)).rows[0].n === 0)
    t.is(delivered.length, 1, 'nothing arrives while nobody listens')
    t.is(listener.backendPid, undefined)
    t.true(await waitUntil(() => delivered.length === 11, 10_000))
    t.deepEqual(delivered.map((d) => d.event.data && (d.event.data as { n: number }).n), Array.from({ length: 11 }, (_, i) => i))
    t.true(delivered.every((d, i) => i === 0 || d.seq! > delivered[i - 1]!.seq!))
    t.is(listener.connects, 2)
  } finally {
    await listener.stop()
  }
})

test.serial('a connection lost while notifications wait to be processed: the process keeps running and delivers them after the reconnect', async (t) => {
  await settled()
  // A listener whose outbox reads go through a pool of one connection, which the test holds: the
  // listener then has a batch in flight and more notifications queued when its connection dies.
  const knex = createKnex(stack.config.appDatabaseUrl, { poolMax: 1 })
  const listener = new DashboardEventListener({ ...stack.deps, knex }, { reconnectInitialMs: 800, reconnectMaxMs: 800 })
  const delivered: DeliveredEvent[] = []
  listener.subscribe((event) => delivered.push(event))
  try {
    await listener.start()
    await listener.caughtUp()
    let release!: () => void
    const held = knex.transaction(() => new Promise<void>((resolve) => (release = resolve)))
    const lead = await insertLead(stack.owner)
    let current = lead
    for (let n = 1; n <= 3; n++) current = await recordChange(stack.deps, current, 'freshplan.lead.updated', { n })
    await settled()
    await sleep(100)
    await stack.owner.raw(`select pg_terminate_backend(?)`, [listener.backendPid!])
    await waitUntil(() => listener.backendPid === undefined, 2000, 5)
    release()
    await held
    // While it waits to reconnect, timers must still fire (no busy loop in the listener).
    const timerFired = await Promise.race([sleep(200).then(() => true), new Promise<boolean>((resolve) => setImmediate(() => setTimeout(() => resolve(true), 300)))])
    t.true(timerFired)
    t.true(await waitUntil(() => delivered.length === 3, 10_000))
    await sleep(200)
    t.deepEqual(delivered.map((d) => (d.event.data as { n: number }).n), [1, 2, 3])
    t.is(listener.connects, 2)
  } finally {
    await listener.stop()
    await knex.destroy()
  }
})

test.serial('a re-delivered event (same idempotency key) is counted as duplicate and not forwarded', async (t) => {
  await settled()
  const spy = await ChannelSpy.listen(stack.db.ownerUrl)
  const client = await SseClient.connect(streamUrl(), { token: managerDe })
  try {
    const lead = await insertLead(stack.owner)
    await recordChange(stack.deps, lead, 'freshplan.lead.updated')
    t.true(await client.waitFor((c) => c.messages.length === 1))
    t.true(await waitUntil(() => spy.received.length === 1))
    const duplicatesBefore = await metric('freshplan_events_consumed', { result: 'duplicate', event_type: 'freshplan.lead.updated' })
    const successBefore = await metric('freshplan_events_consumed', { result: 'success' })
    // The very same NOTIFY once more, on both channels.
    await stack.owner.raw(`select pg_notify('dashboard_updates', ?), pg_notify('cross_module_events', ?)`, [spy.received[0]!.payload, spy.received[0]!.payload])
    t.true(await waitUntil(async () => (await metric('freshplan_events_consumed', { result: 'duplicate', event_type: 'freshplan.lead.updated' })) === duplicatesBefore + 2, 5000))
    await sleep(200)
    t.is(client.messages.length, 1)
    t.is(await metric('freshplan_events_consumed', { result: 'success' }), successBefore)
  } finally {
    await client.close()
    await spy.close()
  }
})

test.serial('a created event arrives on both channels and is forwarded once; the dedupe cache gauges say so', async (t) => {
  await settled()
  const client = await SseClient.connect(streamUrl(), { token: managerDe })
  try {
    const duplicatesBefore = await metric('freshplan_events_consumed', { result: 'duplicate', event_type: 'freshplan.lead.created' })
    const successBefore = await metric('freshplan_events_consumed', { result: 'success', event_type: 'freshplan.lead.created', module: 'dashboard' })
    const latencyBefore = await metric('freshplan_event_latency', {})
    const publishedBefore = await metric('freshplan_events_published', { event_type: 'freshplan.lead.created', result: 'success', module: 'leads' })
    const lead = await insertLead(stack.owner)
    await recordChange(stack.deps, lead, 'freshplan.lead.created')
    t.true(await client.waitFor((c) => c.messages.length === 1))
    t.true(await waitUntil(async () => (await metric('freshplan_events_consumed', { result: 'duplicate', event_type: 'freshplan.lead.created' })) === duplicatesBefore + 1, 5000))
    await sleep(200)
    t.is(client.messages.length, 1)
    t.is(await metric('freshplan_events_consumed', { result: 'success', event_type: 'freshplan.lead.created', module: 'dashboard' }), successBefore + 1)
    t.is(await metric('freshplan_events_published', { event_type: 'freshplan.lead.created', result: 'success', module: 'leads' }), publishedBefore + 1)
    const cache = stack.web!.events.dedupeCache
    t.is(await metric('freshplan_dedupe_cache_entries'), cache.size)
    t.true(cache.size > 0)
    t.is(await metric('freshplan_dedupe_cache_hit_rate'), cache.hitRate)
    t.true(cache.hitRate > 0 && cache.hitRate < 1)
    // The histogram's _sum/_count/_bucket values moved: one more observation.
    const histogram = await register.getSingleMetric('freshplan_event_latency')!.get()
    const count = histogram.values.filter((v) => (v as { metricName?: string }).metricName === 'freshplan_event_latency_count').reduce((s, v) => s + v.value, 0)
    t.true(count >= 1)
    t.true((await metric('freshplan_event_latency', {})) > latencyBefore)
  } finally {
    await client.close()
  }
})

test.serial('a forged NOTIFY without outbox row, or with altered content, is denied and not forwarded', async (t) => {
  await settled()
  const spy = await ChannelSpy.listen(stack.db.ownerUrl)
  const client = await SseClient.connect(streamUrl(), { token: managerDe })
  try {
    const lead = await insertLead(stack.owner)
    await recordChange(stack.deps, lead, 'freshplan.lead.updated', { note: 'genuine' })
    t.true(await client.waitFor((c) => c.messages.length === 1))
    // The stream may have it from the outbox before the spy's own LISTEN connection gets the NOTIFY.
    t.true(await waitUntil(() => spy.received.length >= 1))
    const genuine = JSON.parse(spy.received[0]!.payload)
    const deniedBefore = await metric('freshplan_events_consumed', { result: 'denied' })
    const forged = { ...genuine, id: crypto.randomUUID(), idempotencykey: crypto.randomUUID(), data: { note: 'forged' } }
    const tampered = { ...genuine, data: { note: 'tampered' } }
    for (const event of [forged, tampered]) await stack.owner.raw(`select pg_notify('dashboard_updates', ?)`, [JSON.stringify(event)])
    t.true(await waitUntil(async () => (await metric('freshplan_events_consumed', { result: 'denied' })) === deniedBefore + 2, 5000))
    await sleep(200)
    t.deepEqual(client.events.map((e) => e.data.note), ['genuine'])
  } finally {
    await client.close()
    await spy.close()
  }
})

test.serial('a malformed NOTIFY is counted as failure and the listener goes on', async (t) => {
  await settled()
  const client = await SseClient.connect(streamUrl(), { token: salesDe })
  try {
    const failuresBefore = await metric('freshplan_events_consumed', { result: 'failure' })
    await stack.owner.raw(`select pg_notify('dashboard_updates', 'not json'), pg_notify('cross_module_events', '{"specversion":"1.0"}')`)
    t.true(await waitUntil(async () => (await metric('freshplan_events_consumed', { result: 'failure' })) === failuresBefore + 2, 5000))
    const lead = await insertLead(stack.owner, { owner: 'sales-de' })
    await recordChange(stack.deps, lead)
    t.true(await client.waitFor((c) => c.messages.length === 1))
    t.is(client.events[0].subject, lead.id)
  } finally {
    await client.close()
  }
})

test.serial('an SSE client that stops reading is disconnected rather than buffered without bound', async (t) => {
  await settled()
  const small = await startStack({ worker: true, events: { maxBufferedBytes: 64 * 1024 } })
  try {
    await small.web!.events.caughtUp()
    const lead = await insertLead(small.owner)
    // A client that never reads: its socket buffers fill, then the server's.
    const stalled = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${small.baseUrl}/api/events/stream`, { headers: { authorization: `Bearer ${managerDe}` } }, (res) => {
        res.pause()
        resolve(res)
      }).on('error', reject)
    })
    const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()))
    const leads = [lead, ...(await Promise.all(Array.from({ length: 19 }, () => insertLead(small.owner))))]
    const big = 'x'.repeat(7000)
    let isClosed = false
    void closed.then(() => (isClosed = true))
    // ~7 kB per event, from 20 writers at once, until the server gives up on the reader.
    await Promise.all(leads.map(async (start) => {
      let current = start
      for (let i = 0; i < 150 && !isClosed; i++) current = await recordChange(small.deps, current, 'freshplan.lead.updated', { i, big })
    }))
    t.true(await waitUntil(() => isClosed, 20_000), 'the stalled stream was closed')
    t.is(small.web!.events.connects, 1, 'the listener itself was not affected')
  } finally {
    await small.stop()
  }
})
