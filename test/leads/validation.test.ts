// Invalid bodies are 400 problems that point at the field, and write nothing.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api
let token: string
let leadId: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  token = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
  leadId = (await api('POST', '/api/leads', { token, body: { companyName: 'Valid' } })).body.id
})
test.after.always(() => stack?.stop())

const counts = async () => (await stack.owner.raw('select (select count(*) from leads)::int as leads, (select count(*) from lead_activities)::int as activities, (select sum(version) from leads)::int as versions')).rows[0]

const invalidCreates: [string, unknown, string][] = [
  ['missing company', { city: 'Köln' }, '/companyName'],
  ['blank company (trimmed)', { companyName: '   ' }, '/companyName'],
  ['company over 255', { companyName: 'x'.repeat(256) }, '/companyName'],
  ['company of wrong type', { companyName: 42 }, '/companyName'],
  ['unknown field', { companyName: 'A', favouriteColour: 'blue' }, '/favouriteColour'],
  ['bad source enum', { companyName: 'A', source: 'INSTAGRAM' }, '/source'],
  ['bad business type', { companyName: 'A', businessType: 'restaurant' }, '/businessType'],
  ['bad e-mail', { companyName: 'A', email: 'not-an-email' }, '/email'],
  ['bad country code', { companyName: 'A', countryCode: 'DEU' }, '/countryCode'],
  ['negative employees', { companyName: 'A', employeeCount: -1 }, '/employeeCount'],
  ['fractional employees', { companyName: 'A', employeeCount: 1.5 }, '/employeeCount'],
  ['consent as string', { companyName: 'A', emailConsent: 'yes' }, '/emailConsent'],
  ['HTML in notes', { companyName: 'A', notes: 'hi <script>alert(1)</script>' }, '/notes'],
  ['HTML in company', { companyName: '<b>Bold</b> GmbH' }, '/companyName'],
  ['notes over 10000', { companyName: 'A', notes: 'n'.repeat(10_001) }, '/notes'],
  ['system activity type', { companyName: 'A', activities: [{ type: 'STATUS_CHANGE', summary: 'x' }] }, '/activities/0/type'],
  ['activity without summary', { companyName: 'A', activities: [{ type: 'NOTE' }] }, '/activities/0/summary'],
  ['activity summary over 1000', { companyName: 'A', activities: [{ type: 'NOTE', summary: 's'.repeat(1001) }] }, '/activities/0/summary'],
  ['status is not settable on create', { companyName: 'A', status: 'QUALIFIED' }, '/status'],
  ['array body', [{ companyName: 'A' }], ''],
  ['null body', null, ''],
]

for (const [name, body, pointer] of invalidCreates) {
  test(`POST /api/leads with ${name} → 400 pointing at "${pointer}", nothing written`, async (t) => {
    const before = await counts()
    const response = await api('POST', '/api/leads', { token, body: JSON.stringify(body) })
    t.is(response.status, 400)
    t.is(response.headers.get('content-type'), 'application/problem+json')
    t.true(response.body.errors.some((e: { pointer: string }) => e.pointer === pointer), JSON.stringify(response.body.errors))
    t.deepEqual(await counts(), before)
  })
}

const invalidPatches: [string, unknown, string][] = [
  ['empty patch', {}, ''],
  ['null company', { companyName: null }, '/companyName'],
  ['read-only id', { id: '00000000-0000-0000-0000-000000000000' }, '/id'],
  ['read-only owner', { ownerUserId: 'me' }, '/ownerUserId'],
  ['read-only version', { version: 99 }, '/version'],
  ['bad status', { status: 'WON' }, '/status'],
  ['bad kitchen size', { kitchenSize: 'HUGE' }, '/kitchenSize'],
]
for (const [name, body, pointer] of invalidPatches) {
  test(`PATCH with ${name} → 400 pointing at "${pointer}", nothing written`, async (t) => {
    const before = await counts()
    const response = await api('PATCH', `/api/leads/${leadId}`, { token, body, headers: { 'if-match': '*' } })
    t.is(response.status, 400)
    t.true(response.body.errors.some((e: { pointer: string }) => e.pointer === pointer), JSON.stringify(response.body.errors))
    t.deepEqual(await counts(), before)
  })
}

test('bad query parameters are 400 with /query pointers', async (t) => {
  for (const [query, pointer] of [['limit=0', '/query/limit'], ['limit=201', '/query/limit'], ['limit=abc', '/query/limit'], ['sort=-email', '/query/sort'], ['status=WON', '/query/status'], ['createdFrom=yesterday', '/query/createdFrom'], ['limit=5&limit=6', '/query/limit'], ['bogus=1', '/query/bogus']]) {
    const response = await api('GET', `/api/leads?${query}`, { token })
    t.is(response.status, 400, query)
    t.true(response.body.errors.some((e: { pointer: string }) => e.pointer === pointer), `${query}: ${JSON.stringify(response.body.errors)}`)
  }
})

test('all errors of a body are reported at once', async (t) => {
  const response = await api('POST', '/api/leads', { token, body: { companyName: '', source: 'X', email: 'nope', extra: 1 } })
  const pointers = response.body.errors.map((e: { pointer: string }) => e.pointer).sort()
  t.deepEqual(pointers, ['/companyName', '/email', '/extra', '/source'])
})
