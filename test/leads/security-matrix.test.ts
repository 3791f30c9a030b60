// Who may do what (DOMAIN.md §2), role × territory × operation, through the real HTTP edge with
// real tokens. Expectations are written out from the spec's table, not derived from the code.
import test from 'ava'
import { SignJWT, UnsecuredJWT } from 'jose'
import { startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api
const tokens: Record<string, string> = {}

// The DE lead under test is owned by `owner` and has `collab` as collaborator.
const callers = {
  owner: { user: 'sales-owner', role: 'SALES', territories: ['DE'] },
  collab: { user: 'sales-collab', role: 'SALES', territories: ['DE'] },
  stranger: { user: 'sales-other', role: 'SALES', territories: ['DE'] },
  managerDE: { user: 'manager-de', role: 'MANAGER', territories: ['DE'] },
  adminDE: { user: 'admin-de', role: 'ADMIN', territories: ['DE'] },
  salesCH: { user: 'sales-ch', role: 'SALES', territories: ['CH'] },
  managerCH: { user: 'manager-ch', role: 'MANAGER', territories: ['CH'] },
  adminCH: { user: 'admin-ch', role: 'ADMIN', territories: ['CH'] },
} as const
type Caller = keyof typeof callers

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  for (const [name, claims] of Object.entries(callers)) tokens[name] = await tokenFor(claims)
})
test.after.always(() => stack?.stop())

async function freshDeLead(): Promise<string> {
  const created = await api('POST', '/api/leads', { token: tokens.owner, body: { companyName: `Matrix ${Math.random()}` } })
  await api('PUT', `/api/leads/${created.body.id}/collaborators/${callers.collab.user}`, { token: tokens.managerDE })
  return created.body.id
}

type Operation = (caller: Caller, id: string) => Promise<number>
const operations: Record<string, Operation> = {
  get: async (caller, id) => (await api('GET', `/api/leads/${id}`, { token: tokens[caller] })).status,
  list: async (caller, id) => {
    const response = await api('GET', '/api/leads?limit=200', { token: tokens[caller] })
    return response.body.data.some((lead: { id: string }) => lead.id === id) ? 200 : 404
  },
  patch: async (caller, id) => (await api('PATCH', `/api/leads/${id}`, { token: tokens[caller], body: { notes: 'changed' }, headers: { 'if-match': '*' } })).status,
  delete: async (caller, id) => (await api('DELETE', `/api/leads/${id}`, { token: tokens[caller], headers: { 'if-match': '*' } })).status,
  addActivity: async (caller, id) => (await api('POST', `/api/leads/${id}/activities`, { token: tokens[caller], body: { type: 'NOTE', summary: 'n' } })).status,
  reassign: async (caller, id) => (await api('PUT', `/api/leads/${id}/owner`, { token: tokens[caller], body: { ownerUserId: 'someone' } })).status,
}

// Expected status per operation on a DE lead: 404 where the lead is invisible, 403 where the
// role may not (role checks answer before visibility, revealing nothing about the lead).
const expected: Record<string, Record<Caller, number>> = {
  get: { owner: 200, collab: 200, stranger: 404, managerDE: 200, adminDE: 200, salesCH: 404, managerCH: 404, adminCH: 404 },
  list: { owner: 200, collab: 200, stranger: 404, managerDE: 200, adminDE: 200, salesCH: 404, managerCH: 404, adminCH: 404 },
  patch: { owner: 200, collab: 403, stranger: 404, managerDE: 200, adminDE: 200, salesCH: 404, managerCH: 404, adminCH: 404 },
  delete: { owner: 403, collab: 403, stranger: 403, managerDE: 204, adminDE: 204, salesCH: 403, managerCH: 404, adminCH: 404 },
  addActivity: { owner: 201, collab: 201, stranger: 404, managerDE: 201, adminDE: 201, salesCH: 404, managerCH: 404, adminCH: 404 },
  reassign: { owner: 403, collab: 403, stranger: 403, managerDE: 200, adminDE: 200, salesCH: 403, managerCH: 404, adminCH: 404 },
}

for (const [operation, byCaller] of Object.entries(expected)) {
  for (const [caller, status] of Object.entries(byCaller) as [Caller, number][]) {
    test(`${operation} on a DE lead as ${caller} → ${status}`, async (t) => {
      const id = await freshDeLead()
      t.is(await operations[operation]!(caller, id), status)
      // Denied operations change nothing.
      if (status >= 400) {
        const lead = await api('GET', `/api/leads/${id}`, { token: tokens.managerDE })
        t.like(lead.body, { version: 2, status: 'REGISTERED', ownerUserId: callers.owner.user, notes: null })
      }
    })
  }
}

const createExpected: Record<Caller, { DE: number; CH: number }> = {
  owner: { DE: 201, CH: 403 }, collab: { DE: 201, CH: 403 }, stranger: { DE: 201, CH: 403 },
  managerDE: { DE: 201, CH: 403 }, adminDE: { DE: 201, CH: 403 },
  salesCH: { DE: 403, CH: 201 }, managerCH: { DE: 403, CH: 201 }, adminCH: { DE: 403, CH: 201 },
}
for (const [caller, byTerritory] of Object.entries(createExpected) as [Caller, { DE: number; CH: number }][]) {
  for (const territory of ['DE', 'CH'] as const) {
    test(`create a ${territory} lead as ${caller} → ${byTerritory[territory]}`, async (t) => {
      const companyName = `Create ${caller} ${territory}`
      const response = await api('POST', '/api/leads', { token: tokens[caller], body: { companyName, countryCode: territory } })
      t.is(response.status, byTerritory[territory])
      const { rows } = await stack.owner.raw('select owner_user_id from leads where company_name = ?', [companyName])
      t.deepEqual(rows, byTerritory[territory] === 201 ? [{ owner_user_id: callers[caller].user }] : [])
    })
  }
}

test('SALES cannot create a lead for someone else', async (t) => {
  const response = await api('POST', '/api/leads', { token: tokens.owner, body: { companyName: 'For another', ownerUserId: 'someone-else' } })
  t.is(response.status, 403)
})

test('a manager sees every DE lead, a SALES user only own and collaborated ones', async (t) => {
  const id = await freshDeLead()
  const other = await api('POST', '/api/leads', { token: tokens.stranger, body: { companyName: 'Not yours' } })
  const ownerList = (await api('GET', '/api/leads?limit=200', { token: tokens.owner })).body.data.map((l: { id: string }) => l.id)
  t.true(ownerList.includes(id))
  t.false(ownerList.includes(other.body.id))
  const managerList = (await api('GET', '/api/leads?limit=200', { token: tokens.managerDE })).body.data.map((l: { id: string }) => l.id)
  t.true(managerList.includes(id) && managerList.includes(other.body.id))
})

const secret = new TextEncoder().encode(TEST_JWT_SECRET)
const badTokens: Record<string, () => Promise<string | undefined>> = {
  missing: async () => undefined,
  expired: () => new SignJWT({ roles: ['ADMIN'], territories: ['DE'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setIssuedAt(1_700_000_000).setExpirationTime(1_700_000_600).sign(secret),
  'wrong key': () => new SignJWT({ roles: ['ADMIN'], territories: ['DE'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-another-secret-another-secret')),
  'alg none': async () => new UnsecuredJWT({ roles: ['ADMIN'], territories: ['DE'] }).setSubject('u').setExpirationTime('1h').encode(),
  garbage: async () => 'not.a.token',
  'no roles': () => new SignJWT({ territories: ['DE'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setExpirationTime('1h').sign(secret),
  'unknown territory': () => new SignJWT({ roles: ['ADMIN'], territories: ['FR'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setExpirationTime('1h').sign(secret),
  'no subject': () => new SignJWT({ roles: ['ADMIN'], territories: ['DE'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(secret),
}
for (const [name, make] of Object.entries(badTokens)) {
  test(`a ${name} token is 401 with WWW-Authenticate: Bearer, for reads and writes`, async (t) => {
    const token = await make()
    for (const [method, path, body] of [['GET', '/api/leads', undefined], ['POST', '/api/leads', { companyName: `Token ${name}` }]] as const) {
      const response = await api(method, path, { token, body })
      t.is(response.status, 401)
      t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer/)
      t.is(response.headers.get('content-type'), 'application/problem+json')
    }
    const { rows } = await stack.owner.raw('select count(*)::int as n from leads where company_name = ?', [`Token ${name}`])
    t.is(rows[0].n, 0)
  })
}

test('Keycloak-style realm_access.roles are accepted', async (t) => {
  const token = await new SignJWT({ realm_access: { roles: ['offline_access', 'MANAGER'] }, territories: ['DE'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('kc-user').setExpirationTime('1h').sign(secret)
  const response = await api('GET', '/api/leads', { token })
  t.is(response.status, 200)
})
