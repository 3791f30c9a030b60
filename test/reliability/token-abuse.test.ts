// Issue 9, token abuse: forged, stale, malformed and over-reaching tokens against an HS256 stack that
// checks issuer and audience, and a JWKS (RS256) stack for key confusion. Each case asserts the
// status and that no row was written.
import http from 'node:http'
import test, { type ExecutionContext } from 'ava'
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWTPayload } from 'jose'
import { startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts'
import { apiClient, type Api } from '../helpers/api.ts'

const ISSUER = 'https://idp.test/realms/freshplan'
const AUDIENCE = 'freshplan-leads'
const secret = new TextEncoder().encode(TEST_JWT_SECRET)

let hs: Stack
let hsApi: Api
let jwks: Stack
let jwksApi: Api
let jwksServer: http.Server
let rsa: Awaited<ReturnType<typeof generateKeyPair>>
let leadId: string
let otherTenantLeadId: string

const now = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = { sub: 'ta-sales', name: 'ta-sales', roles: ['SALES'], territories: ['DE'], tenant: 'default', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 3600 }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[key]
    else base[key] = value
  }
  return base as JWTPayload
}

function hs256(payload: JWTPayload, key: Uint8Array = secret, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(key)
}

async function counts(stack: Stack): Promise<string> {
  const { rows } = await stack.owner.raw('select (select count(*) from leads)::int as leads, (select count(*) from lead_activities)::int as activities, (select count(*) from idempotency_keys)::int as keys, (select coalesce(sum(version), 0) from leads)::int as versions, (select max(updated_at)::text from leads) as last_update')
  return JSON.stringify(rows[0])
}

test.before(async () => {
  hs = await startStack({ env: { AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE } })
  hsApi = apiClient(hs.baseUrl)
  const manager = await hs256(claims({ sub: 'ta-manager', roles: ['MANAGER'], territories: ['DE', 'CH'] }))
  const created = await hsApi('POST', '/api/leads', { token: manager, body: { companyName: 'Token Abuse Target', ownerUserId: 'ta-sales' } })
  if (created.status !== 201) throw new Error(`set-up lead: ${created.status} ${JSON.stringify(created.body)}`)
  leadId = created.body.id
  const otherManager = await hs256(claims({ sub: 'ta-other', roles: ['MANAGER'], territories: ['DE', 'CH'], tenant: 'other' }))
  const other = await hsApi('POST', '/api/leads', { token: otherManager, body: { companyName: 'Other Tenant Lead', ownerUserId: 'ta-sales' } })
  if (other.status !== 201) throw new Error(`set-up other-tenant lead: ${other.status} ${JSON.stringify(other.body)}`)
  otherTenantLeadId = other.body.id

  rsa = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  jwksServer = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [jwk] }))
  })
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
  const port = (jwksServer.address() as { port: number }).port
  jwks = await startStack({ env: { AUTH_JWKS_URL: `http://127.0.0.1:${port}/realms/freshplan/protocol/openid-connect/certs`, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE } })
  jwksApi = apiClient(jwks.baseUrl)
})
test.after.always(async () => {
  await hs?.stop()
  await jwks?.stop()
  jwksServer?.close()
})

/** Each bad token against a read, a create and a patch: all 401, nothing written. */
async function rejectsEverywhere(t: ExecutionContext, stack: Stack, api: Api, label: string, token: string): Promise<void> {
  const before = await counts(stack)
  const list = await api('GET', '/api/leads', { token })
  const create = await api('POST', '/api/leads', { token, body: { companyName: `Forged ${label}` } })
  const patch = await api('PATCH', `/api/leads/${leadId ?? '00000000-0000-0000-0000-000000000000'}`, { token, body: { city: 'Forged' }, headers: { 'if-match': '*' } })
  t.deepEqual([list.status, create.status, patch.status], [401, 401, 401], label)
  t.is(create.headers.get('content-type'), 'application/problem+json', label)
  t.is(create.headers.get('www-authenticate'), 'Bearer realm="freshplan"', label)
  t.is(await counts(stack), before, `${label}: nothing written`)
}

test.serial('HS256 stack: a well-formed token is accepted (the control for every 401 below)', async (t) => {
  const response = await hsApi('GET', `/api/leads/${leadId}`, { token: await hs256(claims()) })
  t.is(response.status, 200)
  t.is(response.body.ownerUserId, 'ta-sales')
})

test.serial('HS256 stack: forged, stale and malformed tokens are 401 and write nothing', async (t) => {
  const valid = await hs256(claims())
  const [header, payload] = valid.split('.')
  const cases: [string, string | Promise<string>][] = [
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`],
    ['alg none with the old signature', `${b64({ alg: 'none' })}.${payload}.${valid.split('.')[2]}`],
    ['payload swapped to ADMIN, signature kept', `${header}.${b64(claims({ roles: ['ADMIN'], territories: ['DE', 'CH'] }))}.${valid.split('.')[2]}`],
    ['wrong key', hs256(claims(), new TextEncoder().encode('another-secret-another-secret-0123456789'))],
    ['HS512 with the right secret', hs256(claims(), secret, 'HS512')],
    ['expired an hour ago', hs256(claims({ exp: now() - 3600, iat: now() - 7200 }))],
    ['expired 30 s ago (beyond the 5 s tolerance)', hs256(claims({ exp: now() - 30 }))],
    ['not yet valid (nbf in 10 minutes)', hs256(claims({ nbf: now() + 600 }))],
    ['wrong issuer', hs256(claims({ iss: 'https://evil.example/realms/freshplan' }))],
    ['no issuer', hs256(claims({ iss: undefined }))],
    ['wrong audience', hs256(claims({ aud: 'some-other-client' }))],
    ['no audience', hs256(claims({ aud: undefined }))],
    ['no sub', hs256(claims({ sub: undefined }))],
    ['empty sub', hs256(claims({ sub: '' }))],
    ['sub of 256 characters', hs256(claims({ sub: 'x'.repeat(256) }))],
    ['no roles', hs256(claims({ roles: undefined }))],
    ['no exp', hs256(claims({ exp: undefined }))],
    ['roles as a string', hs256(claims({ roles: 'SALES' }))],
    ['roles empty', hs256(claims({ roles: [] }))],
    ['roles [SYSTEM]', hs256(claims({ roles: ['SYSTEM'] }))],
    ['roles [system, superuser, root]', hs256(claims({ roles: ['system', 'superuser', 'root', 'admin'] }))],
    ['roles with a non-string', hs256(claims({ roles: ['SALES', 1] }))],
    ['realm_access.roles [SYSTEM]', hs256(claims({ roles: undefined, realm_access: { roles: ['SYSTEM'] } }))],
    ['territory FR', hs256(claims({ territories: ['FR'] }))],
    ['territory *', hs256(claims({ territories: ['*'] }))],
    ['territories as a string', hs256(claims({ territories: 'DE' }))],
    ['territory lower-case de', hs256(claims({ territories: ['de'] }))],
    ['territories DE plus unknown', hs256(claims({ territories: ['DE', 'CH', 'AT'] }))],
    ['tenant with a path', hs256(claims({ tenant: '../other' }))],
    ['tenant as a number', hs256(claims({ tenant: 42 }))],
    ['tenant with SQL', hs256(claims({ tenant: "default' or '1'='1" }))],
    ['garbage', Promise.resolve('not.a.jwt')],
    ['two parts', Promise.resolve(`${header}.${payload}`)],
  ]
  for (const [label, token] of cases) await rejectsEverywhere(t, hs, hsApi, label, await token)
  const before = await counts(hs)
  for (const authorization of [`Basic ${Buffer.from('ta-sales:pw').toString('base64')}`, 'Bearer', `Bearer ${valid} extra`, `Token ${valid}`]) {
    const response = await fetch(`${hs.baseUrl}/api/leads`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: '{"companyName":"Scheme"}' })
    t.is(response.status, 401, authorization.slice(0, 12))
  }
  const viaQuery = await hsApi('GET', `/api/leads?access_token=${valid}`)
  t.is(viaQuery.status, 401, 'no query tokens on the API')
  t.is(await counts(hs), before)
  t.log(`${cases.length} forged/stale/malformed tokens × 3 requests (GET, POST, PATCH) + 5 wrong schemes: all 401, rows unchanged ${before}`)
})

test.serial('a signed token with known territories (DE+CH) is trusted: SALES reads its own lead', async (t) => {
  const token = await hs256(claims({ territories: ['DE', 'CH'] }))
  const response = await hsApi('GET', `/api/leads/${leadId}`, { token })
  t.is(response.status, 200)
})

test.serial('escalation through PATCH bodies: server-owned fields are 400 and the lead is unchanged', async (t) => {
  const sales = await hs256(claims())
  const admin = await hs256(claims({ sub: 'ta-admin', roles: ['ADMIN'], territories: ['DE', 'CH'] }))
  const fields: Record<string, unknown> = {
    ownerUserId: 'ta-sales-2',
    tenantId: 'other',
    territory: 'CH',
    role: 'ADMIN',
    roles: ['ADMIN'],
    version: 99,
    collaboratorUserIds: ['ta-sales', 'intruder'],
    id: '00000000-0000-0000-0000-000000000000',
    createdBy: 'someone',
    deletedAt: null,
    createdAt: '2000-01-01T00:00:00Z',
    followUp: { t3SentAt: null },
    emailNormalized: 'x@y.z',
  }
  const before = await hs.owner('leads').where({ id: leadId }).first()
  const rowsBefore = await counts(hs)
  let cases = 0
  for (const token of [sales, admin]) {
    for (const [field, value] of Object.entries(fields)) {
      for (const body of [{ [field]: value }, { city: 'Sneaky', [field]: value }]) {
        const response = await hsApi('PATCH', `/api/leads/${leadId}`, { token, body, headers: { 'if-match': `"${before.version}"` } })
        t.is(response.status, 400, `${field} in PATCH`)
        t.true(response.body.errors.some((e: { pointer: string }) => e.pointer === `/${field}`), `${field} is named`)
        cases++
      }
    }
  }
  t.deepEqual(await hs.owner('leads').where({ id: leadId }).first(), before)
  t.is(await counts(hs), rowsBefore)
  t.log(`${cases} escalation PATCHes (SALES and ADMIN, ${Object.keys(fields).length} server-owned fields, alone and with a valid field): all 400, lead row identical, rows ${rowsBefore}`)
})

test.serial('SALES cannot use manager-only routes; nothing is written', async (t) => {
  const sales = await hs256(claims())
  const before = await counts(hs)
  const lead = await hs.owner('leads').where({ id: leadId }).first()
  t.is((await hsApi('DELETE', `/api/leads/${leadId}`, { token: sales, headers: { 'if-match': `"${lead.version}"` } })).status, 403)
  t.is((await hsApi('PUT', `/api/leads/${leadId}/owner`, { token: sales, body: { ownerUserId: 'ta-sales' } })).status, 403)
  t.is(await counts(hs), before)
})

test("another tenant's lead is invisible to a SALES (and ADMIN) token of tenant default, even as its owner id", async (t) => {
  const before = await counts(hs)
  const row = await hs.owner('leads').where({ id: otherTenantLeadId }).first()
  t.is(row.owner_user_id, 'ta-sales', 'same user id as our SALES caller, other tenant')
  let requests = 0
  for (const token of [await hs256(claims()), await hs256(claims({ sub: 'ta-admin', roles: ['ADMIN'], territories: ['DE', 'CH'] }))]) {
    const path = `/api/leads/${otherTenantLeadId}`
    const statuses = [
      (await hsApi('GET', path, { token })).status,
      (await hsApi('PATCH', path, { token, body: { city: 'X' }, headers: { 'if-match': `"${row.version}"` } })).status,
      (await hsApi('DELETE', path, { token, headers: { 'if-match': `"${row.version}"` } })).status,
      (await hsApi('POST', `${path}/activities`, { token, body: { type: 'NOTE', summary: 'x' } })).status,
      (await hsApi('GET', `${path}/activities`, { token })).status,
      (await hsApi('PUT', `${path}/owner`, { token, body: { ownerUserId: 'ta-sales' } })).status,
      (await hsApi('PUT', `${path}/collaborators/ta-x`, { token })).status,
    ]
    requests += statuses.length
    for (const status of statuses) t.true(status === 404 || status === 403, `status ${status}`)
    const list = await hsApi('GET', '/api/leads?q=Other%20Tenant', { token })
    t.deepEqual(list.body.data, [])
  }
  t.deepEqual(await hs.owner('leads').where({ id: otherTenantLeadId }).first(), row)
  t.is(await counts(hs), before)
  t.log(`${requests} cross-tenant requests: all 404/403, the other tenant's lead and all row counts unchanged`)
})

test.serial('JWKS stack: RS256 from the IdP key works; HS256 signed with the public key (key confusion) and other forgeries are 401', async (t) => {
  const good = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(rsa.privateKey)
  const ok = await jwksApi('POST', '/api/leads', { token: good, body: { companyName: 'Via JWKS' } })
  t.is(ok.status, 201)
  t.is(ok.body.ownerUserId, 'ta-sales')
  const pem = await exportSPKI(rsa.publicKey)
  const jwk = await exportJWK(rsa.publicKey)
  const other = await generateKeyPair('RS256')
  const cases: [string, string][] = [
    ['HS256 with the public key PEM as secret', await hs256(claims(), new TextEncoder().encode(pem))],
    ['HS256 with the public key PEM as secret, kid k1', await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(pem))],
    ['HS256 with the JWK modulus as secret', await hs256(claims(), new TextEncoder().encode(jwk.n!))],
    ['HS256 with the test secret', await hs256(claims())],
    ['RS256 from another key, kid k1', await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(other.privateKey)],
    ['RS256 with an unknown kid', await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k2' }).sign(rsa.privateKey)],
    ['RS256, wrong audience', await new SignJWT(claims({ aud: 'other' })).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(rsa.privateKey)],
    ['RS256, wrong issuer', await new SignJWT(claims({ iss: 'https://evil.example' })).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(rsa.privateKey)],
    ['RS256, expired', await new SignJWT(claims({ exp: now() - 60 })).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(rsa.privateKey)],
    ['RS256, roles [SYSTEM]', await new SignJWT(claims({ roles: ['SYSTEM'] })).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(rsa.privateKey)],
    ['alg none', `${b64({ alg: 'none', kid: 'k1' })}.${b64(claims())}.`],
  ]
  for (const [label, token] of cases) await rejectsEverywhere(t, jwks, jwksApi, label, token)
  t.log(`JWKS: 1 valid RS256 create (201) + ${cases.length} forgeries × 3 requests, all 401, nothing written`)
})
