// Issue 14 point 2: one SALES user must not be able to take a process's memory. Activity metadata is
// capped (bytes, depth, keys) with a clear 400; an event page, a stream replay and a publish batch
// end once their events' data reach EVENT_BATCH_MAX_BYTES. The abuse is staged with events of about
// 1 MB each inserted directly (as rows written before the cap would be), then read through real
// `web` and `worker` processes whose peak RSS (VmHWM) is compared with their peak before.
import { readFileSync } from 'node:fs'
import test from 'ava'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { freePort, spawnService, waitUntilReady, type ServiceProcess } from '../helpers/processes.ts'
import { apiClient, tokenFor } from '../helpers/api.ts'
import { insertLead, SseClient } from '../helpers/events.ts'
import { waitFor } from '../helpers/wait.ts'
import { createKnex, type Knex } from '../../lib/db.ts'
import { ACTIVITY_METADATA_LIMITS } from '../../models/lead-rules.ts'
import { EVENT_BATCH_MAX_BYTES } from '../../models/event-outbox.ts'

const EVENTS = 120
/** The publisher's unbounded batch (500) grows with the backlog, so the worker gets more, to keep the two cases far apart. */
const WORKER_EVENTS = 250
const EVENT_BYTES = 1_000_000
/**
 * Peak RSS may grow by this much under the abuse. Measured on the 2-core test machine: bounded, web
 * +41…59 MB and worker +58…95 MB; with the byte bound lifted, both ran out of their heap (the web
 * process under the readers, the worker on the 250 pending events; at 120 it grew by 152 MB).
 */
const RSS_GROWTH_LIMIT_MB = 100
/**
 * The worker's peak is noisier (+58…122 MB bounded, the high end with other test files running
 * beside it); what separates the cases is that unbounded it runs out of its 160 MB heap.
 */
const WORKER_RSS_GROWTH_LIMIT_MB = 150
// As in the soak test: a small old generation makes V8 collect instead of letting garbage pile up,
// so the peak tracks what is live, and an unbounded page ends in an out-of-memory crash.
const NODE_ARGS = ['--max-old-space-size=160']

let db: TestDatabase
let owner: Knex
let web: ServiceProcess
let webPort: number
const processes: ServiceProcess[] = []

test.before(async () => {
  db = await createTestDatabase()
  owner = createKnex(db.ownerUrl, { poolMax: 2 })
  webPort = await freePort()
  web = spawnService('server/web.ts', { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, PORT: String(webPort) }, NODE_ARGS)
  processes.push(web)
  await waitUntilReady(webPort, web)
})
test.after.always(async () => {
  for (const service of processes) {
    if (service.child.exitCode === null) {
      service.child.kill('SIGTERM')
      await service.exited
    }
  }
  await owner?.destroy()
  await db?.drop()
})

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024)

/** Peak and current resident set of a child process, from /proc (Linux). */
function memoryOf(service: ServiceProcess): { peak: number; rss: number } {
  const status = readFileSync(`/proc/${service.child.pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024
  return { peak: kb('VmHWM'), rss: kb('VmRSS') }
}

/** EVENTS events of about EVENT_BYTES each for one lead; published (with seq) or pending. */
async function insertHugeEvents(leadId: string, published: boolean, count = EVENTS): Promise<void> {
  await owner.raw(
    `insert into lead_events (id, tenant_id, territory, lead_id, owner_user_id, type, idempotency_key, time, data, seq, published_at)
     select gen_random_uuid(), 'default', 'DE', ?, 'mem-sales', 'freshplan.lead.activity_added', gen_random_uuid(), now(),
            jsonb_build_object('leadId', ?::text, 'metadata', jsonb_build_object('blob', repeat(md5(g::text), ? / 32))),
            case when ? then nextval('lead_events_seq') end, case when ? then now() end
       from generate_series(1, ?) g`,
    [leadId, leadId, EVENT_BYTES, published, published, count],
  )
}

test.serial('activity metadata over 16 KiB, 5 levels or 50 keys is a 400 naming /metadata, and nothing is written', async (t) => {
  const api = apiClient(`http://127.0.0.1:${webPort}`)
  const sales = await tokenFor({ user: 'mem-sales', role: 'SALES', territories: ['DE'] })
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Metadaten GmbH' } })
  t.is(created.status, 201)
  const count = async () => (await owner.raw(`select (select count(*) from lead_activities)::int as a, (select count(*) from lead_events)::int as e, (select count(*) from leads)::int as l`)).rows[0]
  const before = await count()
  const nested = (depth: number): object => (depth === 0 ? {} : { n: nested(depth - 1) })
  const tooBig: [string, object][] = [
    ['17 KB', { blob: 'x'.repeat(17 * 1024) }],
    ['1 MB', { blob: 'x'.repeat(1_000_000) }],
    ['16 KiB of multi-byte characters', { blob: 'ü'.repeat(ACTIVITY_METADATA_LIMITS.maxBytes / 2) }],
    ['6 levels', nested(6)],
    ['arrays 6 levels', { a: [[[[[1]]]]] }],
    ['51 keys at the top', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]))],
    ['51 keys spread over levels', { a: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])), b: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])) }],
  ]
  for (const [label, metadata] of tooBig) {
    const response = await api('POST', `/api/leads/${created.body.id}/activities`, { token: sales, body: { type: 'NOTE', summary: 'abuse', metadata } })
    t.is(response.status, 400, label)
    t.regex(response.headers.get('content-type') ?? '', /^application\/problem\+json/)
    t.true(response.body.errors.some((e: { pointer: string }) => e.pointer === '/metadata'), `${label}: ${JSON.stringify(response.body.errors)}`)
    const asLead = await api('POST', '/api/leads', { token: sales, body: { companyName: `Meta ${label}`, activities: [{ type: 'NOTE', summary: 'abuse', metadata }] } })
    t.is(asLead.status, 400, `${label} inside a new lead`)
  }
  t.deepEqual(await count(), before)
  const fine = await api('POST', `/api/leads/${created.body.id}/activities`, { token: sales, body: { type: 'NOTE', summary: 'fine', metadata: { a: nested(3), text: 'x'.repeat(15_000), list: [1, 2, 3] } } })
  t.is(fine.status, 201, JSON.stringify(fine.body))
})

test.serial(`web: paging ${EVENTS} events of 1 MB with limit=1000 (three readers) and a replaying stream keeps peak RSS within ${RSS_GROWTH_LIMIT_MB} MB`, async (t) => {
  t.timeout(300_000)
  const lead = await insertLead(owner, { owner: 'mem-sales', companyName: 'Riesig GmbH' })
  await insertHugeEvents(lead.id, true)
  const base = `http://127.0.0.1:${webPort}`
  const sales = await tokenFor({ user: 'mem-sales', role: 'SALES', territories: ['DE'] })
  const manager = await tokenFor({ user: 'mem-manager', role: 'MANAGER', territories: ['DE'] })
  // Warm up (code paths, pools), then take the peak so far as the baseline.
  for (let i = 0; i < 5; i++) await fetch(`${base}/api/events?limit=1`, { headers: { authorization: `Bearer ${sales}` } }).then((r) => r.arrayBuffer())
  const before = memoryOf(web)

  const pageThrough = async (token: string) => {
    let after = 0
    let events = 0
    let pages = 0
    let largestPage = 0
    for (;;) {
      const response = await fetch(`${base}/api/events?after=${after}&limit=1000`, { headers: { authorization: `Bearer ${token}` } })
      const text = await response.text()
      if (response.status !== 200) throw new Error(`page: ${response.status} ${text.slice(0, 200)}`)
      const page = JSON.parse(text) as { data: unknown[]; nextAfter: number }
      if (page.data.length === 0) return { events, pages, largestPage }
      largestPage = Math.max(largestPage, Buffer.byteLength(text))
      events += page.data.length
      pages++
      after = page.nextAfter
    }
  }
  const stream = await SseClient.connect(`${base}/api/events/stream`, { token: sales, lastEventId: 0 })
  const [a, b, c] = await Promise.all([pageThrough(sales), pageThrough(sales), pageThrough(manager)])
  t.true(await stream.waitFor((client) => client.messages.length >= EVENTS, 60_000), `the stream replayed ${stream.messages.length} of ${EVENTS}`)
  await stream.close()
  const after = memoryOf(web)

  for (const reader of [a, b, c]) {
    t.is(reader.events, EVENTS, 'every event arrives, page by page')
    t.true(reader.pages >= EVENTS / 2, `pages end by bytes (${reader.pages} pages)`)
    t.true(reader.largestPage < EVENT_BATCH_MAX_BYTES + 2 * EVENT_BYTES, `largest page ${reader.largestPage} bytes`)
  }
  t.log(`web rss ${mb(before.rss)} MB, peak ${mb(before.peak)} MB before; peak ${mb(after.peak)} MB after paging ${3 * EVENTS} MB of events in ${a.pages}+${b.pages}+${c.pages} pages and a replay`)
  t.true(after.peak - before.peak < RSS_GROWTH_LIMIT_MB * 1024 * 1024, `peak RSS grew by ${mb(after.peak - before.peak)} MB`)
})

test.serial(`worker: publishing ${WORKER_EVENTS} pending events of 1 MB keeps peak RSS within ${WORKER_RSS_GROWTH_LIMIT_MB} MB`, async (t) => {
  t.timeout(300_000)
  const worker = spawnService('jobs/worker.ts', { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl }, NODE_ARGS)
  processes.push(worker)
  const lead = await insertLead(owner, { owner: 'mem-sales', companyName: 'Noch riesiger GmbH' })
  const pending = async () => Number((await owner.raw(`select count(*) from lead_events where seq is null`)).rows[0].count)
  // The worker is up once its relay has published a small event.
  await owner.raw(
    `insert into lead_events (id, tenant_id, territory, lead_id, owner_user_id, type, idempotency_key, time, data)
     values (gen_random_uuid(), 'default', 'DE', ?, 'mem-sales', 'freshplan.lead.updated', gen_random_uuid(), now(), '{}')`,
    [lead.id],
  )
  t.true(await waitFor(async () => (await pending()) === 0, 60_000, 200), `worker did not publish: ${worker.output()}`)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const before = memoryOf(worker)
  await insertHugeEvents(lead.id, false, WORKER_EVENTS)
  t.true(await waitFor(async () => (await pending()) === 0, 240_000, 200), `not all published: ${await pending()} left; ${worker.output()}`)
  const after = memoryOf(worker)
  t.log(`worker rss ${mb(before.rss)} MB, peak ${mb(before.peak)} MB before; peak ${mb(after.peak)} MB after publishing ${WORKER_EVENTS} MB of events`)
  t.true(after.peak - before.peak < WORKER_RSS_GROWTH_LIMIT_MB * 1024 * 1024, `peak RSS grew by ${mb(after.peak - before.peak)} MB`)
})
