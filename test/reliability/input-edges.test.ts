// Issue 14 point 6: input edges that gave a 500 or slipped a limit. Non-finite numbers in query
// strings, forged cursors, the leap second in dates, and tokens with a NUL or an internal marker as
// `sub`, issued in the future or living until 9999. Each is a clear RFC 9457 4xx and writes nothing.
import test, { type ExecutionContext } from 'ava'
import { SignJWT, type JWTPayload } from 'jose'
import { startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api, type ApiResponse } from '../helpers/api.ts'

let stack: Stack
let api: Api
let manager: string
let sales: string
let leadId: string

const secret = new TextEncoder().encode(TEST_JWT_SECRET)
const now = () => Math.floor(Date.now() / 1000)
const cursor = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'ie-manager', role: 'MANAGER', territories: ['DE', 'CH'] })
  sales = await tokenFor({ user: 'ie-sales', role: 'SALES', territories: ['DE'] })
  for (let i = 0; i < 3; i++) {
    const created = await api('POST', '/api/leads', { token: manager, body: { companyName: `Edge ${i}`, ownerUserId: 'ie-sales', activities: [{ type: 'NOTE', summary: 'first' }] } })
    if (created.status !== 201) throw new Error(`set-up: ${created.status} ${JSON.stringify(created.body)}`)
    leadId = created.body.id
  }
})
test.after.always(async () => {
  await stack?.stop()
})

async function counts(): Promise<string> {
  const { rows } = await stack.owner.raw(`select (select count(*) from leads)::int as leads, (select count(*) from lead_activities)::int as activities,
    (select count(*) from idempotency_keys)::int as keys, (select count(*) from lead_events)::int as events, (select coalesce(sum(version), 0) from leads)::int as versions`)
  return JSON.stringify(rows[0])
}

function isProblem(t: ExecutionContext, response: ApiResponse, status: number, label: string): void {
  t.is(response.status, status, `${label}: ${JSON.stringify(response.body)}`)
  t.regex(response.headers.get('content-type') ?? '', /^application\/problem\+json/, label)
  t.is(response.body?.status, status, label)
  t.is(typeof response.body?.title, 'string', label)
}

test('limit=Infinity, 1e400, -Infinity and NaN are a 400 on every list and on /api/events; plain digits still work', async (t) => {
  const before = await counts()
  for (const path of ['/api/leads', `/api/leads/${leadId}/activities`, '/api/events']) {
    for (const limit of ['Infinity', '1e400', '-Infinity', 'NaN', '1e2', '0x10', '+5', ' Infinity', '9'.repeat(40)]) {
      const response = await api('GET', `${path}?limit=${encodeURIComponent(limit)}`, { token: manager })
      isProblem(t, response, 400, `${path} limit=${limit}`)
      t.true(JSON.stringify(response.body.errors).includes('/query/limit'), `${path} limit=${limit} names the parameter`)
    }
    t.is((await api('GET', `${path}?limit=2`, { token: manager })).status, 200, `${path} limit=2`)
  }
  isProblem(t, await api('GET', '/api/events?after=Infinity', { token: manager }), 400, 'after=Infinity')
  isProblem(t, await api('GET', '/api/events/stream?lastEventId=1e400', { token: manager }), 400, 'lastEventId=1e400')
  const page = await api('GET', '/api/leads?limit=2', { token: manager })
  t.is(page.body.data.length, 2)
  t.is(await counts(), before)
})

test('forged cursors are a 400 naming the cursor, never a database cast error', async (t) => {
  const first = await api('GET', '/api/leads?limit=1', { token: manager })
  t.truthy(first.body.nextCursor, 'a real cursor to forge from')
  const real = JSON.parse(Buffer.from(first.body.nextCursor, 'base64url').toString('utf8')) as { s: string; v: string; id: string }
  t.is((await api('GET', `/api/leads?limit=1&cursor=${first.body.nextCursor}`, { token: manager })).status, 200, 'the real cursor works')
  const forged: [string, string, string][] = [
    ['not a timestamp', '/api/leads', cursor({ ...real, v: 'yesterday-ish' })],
    ['30 February', '/api/leads', cursor({ ...real, v: '2016-02-30 00:00:00+00' })],
    ['hour 25', '/api/leads', cursor({ ...real, v: '2016-01-01 25:00:00+00' })],
    ['leap second', '/api/leads', cursor({ ...real, v: '2016-12-31 23:59:60+00' })],
    ['offset +99', '/api/leads', cursor({ ...real, v: '2016-01-01 00:00:00+99' })],
    ['NUL in the value', '/api/leads?sort=companyName', cursor({ s: 'companyName', v: 'a\u0000b', id: real.id })],
    ['NUL in the timestamp', '/api/leads', cursor({ ...real, v: `${real.v}\u0000` })],
    ['value a number', '/api/leads', cursor({ ...real, v: 12 })],
    ['id not a uuid', '/api/leads', cursor({ ...real, id: 'x' })],
    ['id a number', '/api/leads', cursor({ ...real, id: 1 })],
    ['JSON null', '/api/leads', cursor('null')],
    ['JSON array', '/api/leads', cursor('[1,2]')],
    ['not JSON', '/api/leads', cursor('{"s":')],
    ['other sort', '/api/leads?sort=companyName', first.body.nextCursor],
    ['activities: not a timestamp', `/api/leads/${leadId}/activities`, cursor({ at: 'soon', id: real.id })],
    ['activities: leap second', `/api/leads/${leadId}/activities`, cursor({ at: '2016-12-31 23:59:60+00', id: real.id })],
    ['activities: NUL', `/api/leads/${leadId}/activities`, cursor({ at: '2016-01-01 00:00:00+00\u0000', id: real.id })],
    ['activities: id an object', `/api/leads/${leadId}/activities`, cursor({ at: '2016-01-01 00:00:00+00', id: {} })],
  ]
  const before = await counts()
  for (const [label, path, value] of forged) {
    const response = await api('GET', `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(value)}`, { token: manager })
    isProblem(t, response, 400, label)
    t.true(JSON.stringify(response.body.errors).includes('/query/cursor'), `${label} names the cursor`)
  }
  for (const v of ['infinity', '-infinity', '2016-02-29 23:59:59.123456+00', '0044-03-15 12:00:00+01:52:58']) {
    t.is((await api('GET', `/api/leads?cursor=${cursor({ ...real, v })}`, { token: manager })).status, 200, `a valid timestamptz text ${v}`)
  }
  t.is(await counts(), before)
})

test('the leap second 23:59:60 in createdFrom, createdTo and occurredAt is a 400 and writes nothing', async (t) => {
  const before = await counts()
  for (const parameter of ['createdFrom', 'createdTo']) {
    for (const value of ['2016-12-31T23:59:60Z', '2016-12-31T23:59:60.5+00:00', '2016-02-30T00:00:00Z']) {
      const response = await api('GET', `/api/leads?${parameter}=${encodeURIComponent(value)}`, { token: manager })
      isProblem(t, response, 400, `${parameter}=${value}`)
    }
  }
  const leap = '2016-12-31T23:59:60Z'
  isProblem(t, await api('POST', `/api/leads/${leadId}/activities`, { token: sales, body: { type: 'NOTE', summary: 'leap', occurredAt: leap } }), 400, 'activity occurredAt')
  isProblem(t, await api('POST', '/api/leads', { token: sales, body: { companyName: 'Leap GmbH', activities: [{ type: 'CALL', summary: 'leap', occurredAt: leap }] } }), 400, 'lead with an activity at the leap second')
  isProblem(t, await api('POST', `/api/leads/${leadId}/activities`, { token: sales, headers: { 'idempotency-key': 'leap-1' }, body: { type: 'NOTE', summary: 'leap', occurredAt: leap } }), 400, 'with an Idempotency-Key')
  t.is(await counts(), before)
  t.is((await api('GET', `/api/leads?createdFrom=${encodeURIComponent('2016-12-31T23:59:59Z')}`, { token: manager })).status, 200, 'the second before is fine')
})

function signed(claims: Record<string, unknown>): Promise<string> {
  const payload: Record<string, unknown> = { sub: 'ie-sales', roles: ['SALES'], territories: ['DE'], tenant: 'default', iat: now(), exp: now() + 3600 }
  for (const [key, value] of Object.entries(claims)) {
    if (value === undefined) delete payload[key]
    else payload[key] = value
  }
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'HS256' }).sign(secret)
}

test('tokens with a NUL or an internal marker as sub, issued in the future or living too long are 401 and write nothing', async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ['NUL in sub', { sub: 'ie-sales\u0000x' }],
    ['sub only NUL', { sub: '\u0000' }],
    ['control character in sub', { sub: 'ie\u0007sales' }],
    ['sub with a trailing newline', { sub: 'ie-sales\n' }],
    ['sub system', { sub: 'system' }],
    ['sub SYSTEM', { sub: 'SYSTEM' }],
    ['sub -', { sub: '-' }],
    ['sub *', { sub: '*' }],
    ['tenant -', { tenant: '-' }],
    ['iat a year ahead', { iat: now() + 365 * 24 * 3600, exp: now() + 365 * 24 * 3600 + 600 }],
    ['iat a minute ahead', { iat: now() + 60 }],
    ['exp in 9999', { exp: Math.floor(Date.UTC(9999, 0, 1) / 1000) }],
    ['exp in 9999 without iat', { iat: undefined, exp: Math.floor(Date.UTC(9999, 0, 1) / 1000) }],
    ['lifetime 25 h', { exp: now() + 25 * 3600 }],
    ['issued 2 days ago for 3 days', { iat: now() - 2 * 24 * 3600, exp: now() + 24 * 3600 }],
    ['iat as a string', { iat: String(now()) }],
  ]
  const before = await counts()
  for (const [label, claims] of cases) {
    const token = await signed(claims)
    isProblem(t, await api('GET', '/api/leads', { token }), 401, `${label}: GET`)
    isProblem(t, await api('POST', '/api/leads', { token, body: { companyName: `Token ${label}` } }), 401, `${label}: POST`)
    isProblem(t, await api('POST', `/api/leads/${leadId}/activities`, { token, headers: { 'idempotency-key': `tok-${label}` }, body: { type: 'NOTE', summary: 'x' } }), 401, `${label}: activity`)
    isProblem(t, await api('GET', '/api/events', { token }), 401, `${label}: events`)
  }
  t.is(await counts(), before)
  // The limits are limits, not a ban: a day-long token and one without iat are fine.
  t.is((await api('GET', '/api/leads', { token: await signed({ exp: now() + 24 * 3600 }) })).status, 200, '24 h lifetime')
  t.is((await api('GET', '/api/leads', { token: await signed({ iat: undefined }) })).status, 200, 'no iat, 1 h')
  t.is((await api('GET', '/api/leads', { token: await signed({ iat: now() + 3 }) })).status, 200, 'iat 3 s ahead: within the clock tolerance')
  t.is((await api('GET', '/api/leads', { token: await signed({ sub: 'systematic' }) })).status, 200, 'a user whose id merely starts with "system"')
})
