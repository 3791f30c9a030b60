// The pure event rules of models/events.ts and the dedupe cache: no database needed.
import test from 'ava'
import { randomUUID } from 'node:crypto'
import {
  NOTIFY_PAYLOAD_LIMIT_BYTES, channelsFor, cloudEventOf, maySee, notifyPayload, parseLeadCloudEvent, type LeadEventRecord,
} from '../../models/events.ts'
import { eventIdempotencyKey } from '../../models/event-ids.ts'
import { DedupeCache } from '../../server/dedupe-cache.ts'
import type { SecurityContext } from '../../lib/db.ts'

function record(data: unknown, overrides: Partial<LeadEventRecord> = {}): LeadEventRecord {
  const leadId = randomUUID()
  return {
    id: randomUUID(), seq: 1, tenantId: 'default', territory: 'DE', leadId, ownerUserId: 'owner', collaboratorUserIds: ['helper'],
    type: 'freshplan.lead.updated', idempotencyKey: eventIdempotencyKey(leadId, 'freshplan.lead.updated', 1), time: new Date('2026-03-02T08:00:00.123Z'), data,
    ...overrides,
  }
}

/** A record whose full NOTIFY payload is exactly `bytes` long. */
function recordOfSize(bytes: number): LeadEventRecord {
  const base = record({ pad: '' })
  const overhead = Buffer.byteLength(JSON.stringify(cloudEventOf(base)))
  return { ...base, data: { pad: 'p'.repeat(bytes - overhead) } }
}

test('a payload of exactly 7680 bytes goes out whole; one byte more and data becomes a reference', (t) => {
  const atLimit = notifyPayload(cloudEventOf(recordOfSize(NOTIFY_PAYLOAD_LIMIT_BYTES)))
  t.is(atLimit.bytes, 7680)
  t.false(atLimit.truncated)
  const above = recordOfSize(NOTIFY_PAYLOAD_LIMIT_BYTES + 1)
  const cut = notifyPayload(cloudEventOf(above))
  t.true(cut.truncated)
  const event = JSON.parse(cut.payload)
  t.deepEqual(event.data, { truncated: true, reference: above.id, originalSizeBytes: 7681 })
  t.deepEqual({ ...event, data: null }, { ...cloudEventOf(above), data: null }, 'the envelope is unchanged')
  t.true(cut.bytes < 8000)
})

test('sizes are UTF-8 bytes, not characters', (t) => {
  const umlauts = record({ notes: 'ä'.repeat(4000) }) // 4000 characters, 8000 bytes
  t.true(notifyPayload(cloudEventOf(umlauts)).truncated)
  const ascii = record({ notes: 'a'.repeat(4000) })
  t.false(notifyPayload(cloudEventOf(ascii)).truncated)
})

test('the CloudEvent carries the §7 attributes, time in ISO 8601 UTC with milliseconds', (t) => {
  const r = record({ a: 1 })
  t.deepEqual(cloudEventOf(r), {
    specversion: '1.0', id: r.id, source: '/freshplan/leads', type: 'freshplan.lead.updated', time: '2026-03-02T08:00:00.123Z', subject: r.leadId,
    datacontenttype: 'application/json', data: { a: 1 }, idempotencykey: r.idempotencyKey, territory: 'DE', tenantid: 'default',
  })
})

test('created, status_changed and deleted go to both channels; the other types to the dashboards only', (t) => {
  t.deepEqual(channelsFor('freshplan.lead.created'), ['dashboard_updates', 'cross_module_events'])
  t.deepEqual(channelsFor('freshplan.lead.status_changed'), ['dashboard_updates', 'cross_module_events'])
  t.deepEqual(channelsFor('freshplan.lead.deleted'), ['dashboard_updates', 'cross_module_events'])
  for (const type of ['freshplan.lead.updated', 'freshplan.lead.activity_added', 'freshplan.lead.followup_sent', 'freshplan.lead.duplicate_detected'] as const) {
    t.deepEqual(channelsFor(type), ['dashboard_updates'])
  }
})

test('maySee mirrors the outbox policy: tenant, territory, and for SALES owner or collaborator', (t) => {
  const event = { tenantId: 'default', territory: 'DE' as const, ownerUserId: 'owner', collaboratorUserIds: ['helper'] }
  const ctx = (userId: string, role: SecurityContext['role'], territories: SecurityContext['territories'] = ['DE'], tenantId = 'default'): SecurityContext => ({ tenantId, userId, role, territories })
  t.true(maySee(ctx('owner', 'SALES'), event))
  t.true(maySee(ctx('helper', 'SALES'), event))
  t.false(maySee(ctx('stranger', 'SALES'), event))
  t.true(maySee(ctx('stranger', 'MANAGER'), event))
  t.true(maySee(ctx('stranger', 'ADMIN', ['CH', 'DE']), event))
  t.false(maySee(ctx('owner', 'SALES', ['CH']), event))
  t.false(maySee(ctx('stranger', 'MANAGER', ['CH']), event))
  t.false(maySee(ctx('owner', 'MANAGER', ['DE'], 'other'), event))
})

test('parseLeadCloudEvent accepts our envelopes only', (t) => {
  const good = JSON.stringify(cloudEventOf(record({})))
  t.truthy(parseLeadCloudEvent(good))
  t.is(parseLeadCloudEvent('not json'), undefined)
  t.is(parseLeadCloudEvent('null'), undefined)
  t.is(parseLeadCloudEvent('[]'), undefined)
  const base = JSON.parse(good)
  t.is(parseLeadCloudEvent(JSON.stringify({ ...base, specversion: '0.3' })), undefined)
  t.is(parseLeadCloudEvent(JSON.stringify({ ...base, source: '/elsewhere' })), undefined)
  t.is(parseLeadCloudEvent(JSON.stringify({ ...base, type: 'freshplan.lead.exploded' })), undefined)
  t.is(parseLeadCloudEvent(JSON.stringify({ ...base, territory: 'AT' })), undefined)
  t.is(parseLeadCloudEvent(JSON.stringify({ ...base, idempotencykey: undefined })), undefined)
  t.is(parseLeadCloudEvent(JSON.stringify({ ...base, id: '' })), undefined)
})

test('the dedupe cache recognises a key within its TTL and forgets it after', (t) => {
  let now = 0
  const cache = new DedupeCache({ ttlMs: 1000, now: () => now })
  t.false(cache.seen('a'))
  now = 999
  t.true(cache.seen('a'))
  now = 1000
  t.is(cache.size, 0, 'expired exactly at the TTL')
  t.false(cache.seen('a'))
  t.is(cache.size, 1)
})

test('the dedupe cache holds at most maxEntries keys, evicting the oldest first', (t) => {
  const cache = new DedupeCache({ maxEntries: 3 })
  for (const key of ['a', 'b', 'c', 'd']) t.false(cache.seen(key))
  t.is(cache.size, 3)
  t.false(cache.seen('a'), 'the oldest was evicted')
  t.true(cache.seen('d'))
  t.is(cache.size, 3)
})

test('the dedupe cache defaults to 500,000 entries and 24 h, and reports its hit rate', (t) => {
  const cache = new DedupeCache()
  t.is(cache.maxEntries, 500_000)
  t.is(cache.ttlMs, 24 * 60 * 60 * 1000)
  t.is(cache.hitRate, 0)
  cache.seen('a')
  cache.seen('a')
  cache.seen('b')
  cache.seen('a')
  t.is(cache.hitRate, 0.5)
})

test('the dedupe cache stays bounded under 600,000 distinct keys', (t) => {
  const cache = new DedupeCache()
  for (let i = 0; i < 600_000; i++) cache.seen(`key-${i}`)
  t.is(cache.size, 500_000)
  t.false(cache.seen('key-0'))
  t.true(cache.seen('key-599999'))
})
