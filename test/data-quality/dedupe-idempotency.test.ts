import test from 'ava'
import { startStack, ManualClock, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { purgeExpiredIdempotencyKeys } from '../../jobs/idempotency-purge.ts'

let stack: Stack
let api: Api
let manager: string
let sales: string
let otherSales: string

test.before(async () => {
  stack = await startStack({ env: { DB_POOL_MAX: '20' } })
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE'] })
  sales = await tokenFor({ user: 's1', role: 'SALES', territories: ['DE'] })
  otherSales = await tokenFor({ user: 's2', role: 'SALES', territories: ['DE'] })
})
test.after.always(() => stack?.stop())

const leadCount = async (where = 'true', bindings: unknown[] = []) => (await stack.owner.raw(`select count(*)::int as n from leads where ${where}`, bindings as any[])).rows[0].n as number

test('the normalized columns are stored and returned; an unparseable phone is a warning, not an error', async (t) => {
  const created = await api('POST', '/api/leads', { token: manager, body: { companyName: '  Großküche Süd GmbH ', email: ' Chef@Grosskueche.EXAMPLE ', phone: '030 123456' } })
  t.is(created.status, 201)
  t.like(created.body, { emailNormalized: 'chef@grosskueche.example', nameNormalized: 'grosskuche sud', phoneE164: '+4930123456', warnings: [] })
  const ch = await api('POST', '/api/leads', { token: await tokenFor({ user: 'm2', role: 'MANAGER', territories: ['CH'] }), body: { companyName: 'Zürcher Hof', countryCode: 'CH', phone: '044 668 18 00' } })
  t.is(ch.body.phoneE164, '+41446681800')
  const bad = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Kaputt', phone: 'abc' } })
  t.is(bad.status, 201)
  t.is(bad.body.phone, 'abc')
  t.is(bad.body.phoneE164, null)
  t.is(bad.body.warnings.length, 1)
})

test('50 concurrent creates with spellings of one e-mail: one 201, 49 × 409 with the same existingLeadId', async (t) => {
  const spellings = Array.from({ length: 50 }, (_, i) => {
    const base = 'Einkauf@Race-Hotel.example'
    const cased = i % 2 ? base.toUpperCase() : base.toLowerCase()
    return `${' '.repeat(i % 3)}${cased}${' '.repeat(i % 4)}`
  })
  const responses = await Promise.all(spellings.map((email, i) => api('POST', '/api/leads', { token: manager, body: { companyName: `Race Hotel ${i}`, email } })))
  const created = responses.filter((r) => r.status === 201)
  const conflicts = responses.filter((r) => r.status === 409)
  t.is(created.length, 1)
  t.is(conflicts.length, 49)
  const id = created[0]!.body.id
  t.true(conflicts.every((r) => r.body.type === 'https://freshplan.example/problems/duplicate-lead' && r.body.existingLeadId === id))
  t.is(await leadCount(`email_normalized = 'einkauf@race-hotel.example'`), 1)
})

test('a duplicate the caller may not see is a 409 without existingLeadId', async (t) => {
  const first = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Geheim', email: 'secret@dup.example' } })
  t.is(first.status, 201)
  const second = await api('POST', '/api/leads', { token: otherSales, body: { companyName: 'Auch', email: 'SECRET@dup.example' } })
  t.is(second.status, 409)
  t.false('existingLeadId' in second.body)
  const asManager = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Auch', email: 'secret@dup.example' } })
  t.is(asManager.body.existingLeadId, first.body.id)
})

test('an update that collides is a 409 and changes nothing; a deleted lead frees its e-mail', async (t) => {
  const a = await api('POST', '/api/leads', { token: manager, body: { companyName: 'A', email: 'a@collide.example' } })
  const b = await api('POST', '/api/leads', { token: manager, body: { companyName: 'B', email: 'b@collide.example' } })
  const clash = await api('PATCH', `/api/leads/${b.body.id}`, { token: manager, body: { email: 'A@Collide.example' }, headers: { 'if-match': '"1"' } })
  t.is(clash.status, 409)
  t.is(clash.body.existingLeadId, a.body.id)
  t.like((await api('GET', `/api/leads/${b.body.id}`, { token: manager })).body, { email: 'b@collide.example', version: 1 })
  t.is((await api('DELETE', `/api/leads/${a.body.id}`, { token: manager, headers: { 'if-match': '"1"' } })).status, 204)
  const again = await api('POST', '/api/leads', { token: manager, body: { companyName: 'A2', email: 'a@collide.example' } })
  t.is(again.status, 201)
})

test('50 concurrent POSTs with one Idempotency-Key: one lead; each answer is the identical 201 or 409 in flight', async (t) => {
  const body = { companyName: 'Idempotent GmbH', city: 'Ulm' }
  const responses = await Promise.all(Array.from({ length: 50 }, () => api('POST', '/api/leads', { token: sales, body, headers: { 'idempotency-key': 'create-idem-1' } })))
  t.is(await leadCount(`company_name = 'Idempotent GmbH'`), 1)
  const successes = responses.filter((r) => r.status === 201)
  t.true(successes.length >= 1)
  t.true(responses.every((r) => r.status === 201 || r.status === 409))
  const [first] = successes
  for (const r of successes) {
    t.deepEqual(r.body, first!.body)
    t.is(r.headers.get('location'), first!.headers.get('location'))
    t.is(r.headers.get('etag'), first!.headers.get('etag'))
  }
  for (const r of responses.filter((x) => x.status === 409)) {
    t.is(r.headers.get('retry-after'), '1')
    t.is(r.body.type, 'https://freshplan.example/problems/idempotency-key-in-use')
  }
  // After completion, a retry is a replay marked as such.
  const replay = await api('POST', '/api/leads', { token: sales, body, headers: { 'idempotency-key': 'create-idem-1' } })
  t.is(replay.status, 201)
  t.is(replay.headers.get('idempotent-replayed'), 'true')
  t.deepEqual(replay.body, first!.body)
  t.is(replay.headers.get('location'), first!.headers.get('location'))
})

test('same key with a different body → 422; the same key of another user does not replay', async (t) => {
  const key = { 'idempotency-key': 'key-2' }
  t.is((await api('POST', '/api/leads', { token: sales, body: { companyName: 'Key Two' }, headers: key })).status, 201)
  const different = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Key Two changed' }, headers: key })
  t.is(different.status, 422)
  const otherUser = await api('POST', '/api/leads', { token: otherSales, body: { companyName: 'Key Two' }, headers: key })
  t.is(otherUser.status, 201)
  t.is(otherUser.headers.get('idempotent-replayed'), null)
  t.is(await leadCount(`company_name = 'Key Two'`), 2)
  t.is(await leadCount(`company_name = 'Key Two changed'`), 0)
})

test('a bad key is a 400; validation failures are not remembered', async (t) => {
  for (const bad of ['x'.repeat(256), 'tab\there', 'ümlaut']) {
    const response = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Bad key' }, headers: { 'idempotency-key': bad } })
    t.is(response.status, 400, bad)
  }
  const invalid = await api('POST', '/api/leads', { token: sales, body: { companyName: '' }, headers: { 'idempotency-key': 'fix-and-retry' } })
  t.is(invalid.status, 400)
  const fixed = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Fixed' }, headers: { 'idempotency-key': 'fix-and-retry' } })
  t.is(fixed.status, 201)
  t.is(fixed.headers.get('idempotent-replayed'), null)
})

test('PATCH with an Idempotency-Key replays instead of failing its If-Match the second time', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Patch Idem' } })
  const request = { token: sales, body: { city: 'Trier' }, headers: { 'if-match': '"1"', 'idempotency-key': 'patch-1' } }
  const first = await api('PATCH', `/api/leads/${created.body.id}`, request)
  const second = await api('PATCH', `/api/leads/${created.body.id}`, request)
  t.is(first.status, 200)
  t.is(second.status, 200)
  t.is(second.headers.get('idempotent-replayed'), 'true')
  t.is(second.headers.get('etag'), '"2"')
  t.deepEqual(second.body, first.body)
})

// Serial (ava runs serial tests first): the purge deletes every expired key, also other tests' keys.
test.serial('expired keys are purged by the job and no longer replay', async (t) => {
  await api('POST', '/api/leads', { token: sales, body: { companyName: 'Purge me' }, headers: { 'idempotency-key': 'purge-1' } })
  const keys = async () => (await stack.owner.raw(`select count(*)::int as n from idempotency_keys where key = 'purge-1'`)).rows[0].n
  t.is(await keys(), 1)
  t.is(await purgeExpiredIdempotencyKeys({ knex: stack.deps.knex, clock: new ManualClock(new Date(Date.now() + 23 * 3_600_000)) }), 0)
  t.true((await purgeExpiredIdempotencyKeys({ knex: stack.deps.knex, clock: new ManualClock(new Date(Date.now() + 25 * 3_600_000)) })) >= 1)
  t.is(await keys(), 0)
})
