// Operating the pipeline: retention, the unauthenticated-publisher switch, and the web process
// starting and stopping its listener and streams.
import test from 'ava'
import http from 'node:http'
import { startStack, ManualClock } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { SseClient, insertLead, recordChange, sleep, waitUntil } from '../helpers/events.ts'
import { publishPendingEvents, pruneOutbox } from '../../jobs/events.ts'
import { EVENTS_PRUNE_QUEUE, EVENTS_PUBLISH_QUEUE, QUEUES } from '../../lib/queues.ts'
import { startBoss } from '../../lib/boss.ts'
import { eventRoutes } from '../../server/routes/events.ts'
import { createApp } from '../../server/app.ts'
import { SCHEDULES } from '../../jobs/registry.ts'
import { eventIdempotencyKey } from '../../models/event-ids.ts'

test('retention prunes published events older than OUTBOX_RETENTION_DAYS and never unpublished ones', async (t) => {
  const clock = new ManualClock('2026-03-01T12:00:00Z')
  const stack = await startStack({ web: false, clock, env: { OUTBOX_RETENTION_DAYS: '3' } })
  try {
    t.is(stack.config.outboxRetentionDays, 3)
    const lead = await insertLead(stack.owner)
    const old = await recordChange(stack.deps, lead, 'freshplan.lead.updated', { age: 'old' })
    await publishPendingEvents(stack.deps)
    clock.advance(2 * 24 * 3600 * 1000)
    const recent = await recordChange(stack.deps, old, 'freshplan.lead.updated', { age: 'recent' })
    await publishPendingEvents(stack.deps)
    await recordChange(stack.deps, recent, 'freshplan.lead.updated', { age: 'unpublished' })
    // Ten days after the first event: the old one is beyond 3 days, the recent one 8 days old, the unpublished one stays.
    await stack.owner.raw(`update lead_events set time = time - interval '30 days' where data->>'age' = 'unpublished'`)
    clock.advance(8 * 24 * 3600 * 1000 - 1000)
    t.is(await pruneOutbox(stack.deps), 2)
    const { rows } = await stack.owner.raw(`select data->>'age' as age from lead_events order by record_no`)
    t.deepEqual(rows.map((r: { age: string }) => r.age), ['unpublished'])
  } finally {
    await stack.stop()
  }
})

test('retention runs daily as a pg-boss schedule and works as a job', async (t) => {
  t.true(SCHEDULES.some((s) => s.queue === EVENTS_PRUNE_QUEUE && /^\d+ \d+ \* \* \*$/.test(s.cron)))
  t.truthy(QUEUES[EVENTS_PRUNE_QUEUE])
  const clock = new ManualClock('2026-03-01T12:00:00Z')
  const stack = await startStack({ web: false, worker: true, clock })
  try {
    const scheduled = await stack.deps.boss.getSchedules()
    t.true(scheduled.some((s) => s.name === EVENTS_PRUNE_QUEUE))
    const lead = await insertLead(stack.owner)
    await recordChange(stack.deps, lead)
    t.true(await waitUntil(async () => (await stack.owner.raw(`select count(*)::int as n from lead_events where seq is not null`)).rows[0].n === 1))
    clock.advance(7 * 24 * 3600 * 1000 + 1)
    const jobId = await stack.deps.boss.send(EVENTS_PRUNE_QUEUE, {})
    t.true(await waitUntil(async () => (await stack.deps.boss.getJobById(EVENTS_PRUNE_QUEUE, jobId!))?.state === 'completed', 15_000))
    t.is((await stack.owner.raw(`select count(*)::int as n from lead_events`)).rows[0].n, 0)
  } finally {
    await stack.stop()
  }
})

test('a second process starts pg-boss over the existing event queues (web and worker both create them)', async (t) => {
  const stack = await startStack({ web: false })
  try {
    const second = await startBoss({ connectionString: stack.config.appDatabaseUrl, logger: stack.deps.logger, role: 'worker' })
    const names = (await second.getQueues()).map((q) => q.name)
    t.true(names.includes(EVENTS_PRUNE_QUEUE) && names.includes(EVENTS_PUBLISH_QUEUE))
    await second.stop({ graceful: false, close: true })
  } finally {
    await stack.stop()
  }
})

test('once its streams are closed for a drain, the stream route answers 503 instead of opening a new stream', async (t) => {
  // A request can still arrive on a keep-alive connection that was busy when the drain began.
  const stack = await startStack()
  const routes = eventRoutes(stack.deps, stack.web!.events)
  const server = http.createServer(createApp(stack.deps, { draining: false }, [routes.router]).callback())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/events/stream`
  try {
    const token = await tokenFor({ user: 'm', role: 'MANAGER', territories: ['DE'] })
    const open = await SseClient.connect(url, { token })
    t.is(routes.openStreams, 1)
    routes.closeStreams()
    await open.closed
    const refused = await SseClient.connect(url, { token }).catch((error) => error)
    t.is(refused.status, 503)
    t.is(JSON.parse(refused.body).type, 'https://freshplan.example/problems/service-unavailable')
    t.is(refused.headers['retry-after'], '1')
    t.is(routes.openStreams, 0)
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await stack.stop()
  }
})

test('SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER: an event without outbox row reaches managers of its territory, not SALES', async (t) => {
  const stack = await startStack({ env: { SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER: 'true' } })
  const manager = await SseClient.connect(`${stack.baseUrl}/api/events/stream`, { token: await tokenFor({ user: 'm', role: 'MANAGER', territories: ['DE'] }) })
  const sales = await SseClient.connect(`${stack.baseUrl}/api/events/stream`, { token: await tokenFor({ user: 'sales-de', role: 'SALES', territories: ['DE'] }) })
  const swiss = await SseClient.connect(`${stack.baseUrl}/api/events/stream`, { token: await tokenFor({ user: 'mc', role: 'MANAGER', territories: ['CH'] }) })
  try {
    await stack.web!.events.caughtUp()
    const leadId = crypto.randomUUID()
    const event = {
      specversion: '1.0', id: crypto.randomUUID(), source: '/freshplan/leads', type: 'freshplan.lead.updated', time: new Date().toISOString(),
      subject: leadId, datacontenttype: 'application/json', data: { from: 'a test publisher' },
      idempotencykey: eventIdempotencyKey(leadId, 'freshplan.lead.updated', 1), territory: 'DE', tenantid: 'default',
    }
    await stack.owner.raw(`select pg_notify('dashboard_updates', ?)`, [JSON.stringify(event)])
    // The same logical change again under another event id: a duplicate by its idempotency key.
    await stack.owner.raw(`select pg_notify('dashboard_updates', ?)`, [JSON.stringify({ ...event, id: crypto.randomUUID() })])
    t.true(await manager.waitFor((c) => c.messages.length === 1))
    await sleep(300)
    t.is(manager.messages.length, 1)
    t.is(manager.messages[0]!.id, undefined, 'no outbox seq, so no SSE id')
    t.deepEqual(manager.events[0], event)
    t.is(sales.messages.length, 0)
    t.is(swiss.messages.length, 0)
  } finally {
    await Promise.all([manager.close(), sales.close(), swiss.close()])
    await stack.stop()
  }
})

test('the web process starts its listener and, when draining, ends SSE streams at once and closes the LISTEN connection', async (t) => {
  const stack = await startStack()
  const listenerConnections = async () =>
    (await stack.owner.raw(`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'freshplan-web-listener'`)).rows[0].n
  try {
    await stack.web!.events.caughtUp()
    t.is(await listenerConnections(), 1)
    t.truthy(stack.web!.events.backendPid)
    const token = await tokenFor({ user: 'm', role: 'MANAGER', territories: ['DE'] })
    const client = await SseClient.connect(`${stack.baseUrl}/api/events/stream`, { token })
    const started = Date.now()
    await stack.web!.drain()
    await client.closed
    t.true(Date.now() - started < 2000, 'an open stream does not hold the drain for SHUTDOWN_TIMEOUT_MS')
    t.true(await waitUntil(async () => (await listenerConnections()) === 0, 5000))
  } finally {
    await stack.stop()
  }
})
