// Issue 15: a scripted session through a Prism proxy (@stoplight/prism-cli, proxy mode) in front of
// the real service. Prism validates every response against the OpenAPI document (status, body,
// documented headers) and reports what does not match in `sl-violations`; on top, every header the
// service sends must be one the document names for that response. Request violations are expected
// where the session tests refusals (a missing If-Match), so only response violations count.
import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { freePort } from '../helpers/processes.ts'

const root = path.resolve(import.meta.dirname, '../..')
/**
 * Headers of HTTP itself (framing, dates), and the browser policy every response carries
 * (server/middleware/browser-security.ts; named once in the document's info.description), not of the API.
 */
const TRANSPORT_HEADERS = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding', 'vary', 'sl-violations', 'content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy'])

let stack: Stack
let proxy: string
let document: any
let dir: string
const prisms: ChildProcess[] = []

/** A Prism proxy over `doc` in front of the service; its URL once it answers. */
async function startPrism(doc: unknown, name: string): Promise<string> {
  const file = path.join(dir, `${name}.json`)
  await writeFile(file, JSON.stringify(doc))
  const port = await freePort()
  const prism = spawn(path.join(root, 'node_modules', '.bin', 'prism'), ['proxy', file, stack.baseUrl, '--port', String(port), '--cors', 'false', '--errors', 'false', '-v', 'warn'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  prisms.push(prism)
  let output = ''
  prism.stdout!.on('data', (chunk) => (output += chunk))
  prism.stderr!.on('data', (chunk) => (output += chunk))
  const url = `http://127.0.0.1:${port}`
  const until = Date.now() + 60_000
  while ((await fetch(`${url}/health/live`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > until || prism.exitCode !== null) throw new Error(`prism did not start:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return url
}

test.before(async () => {
  // With workers, so the outbox is published and GET /api/events/{id} has an event to serve.
  stack = await startStack({ worker: true })
  document = await (await fetch(`${stack.baseUrl}/openapi.json`)).json()
  dir = await mkdtemp(path.join(tmpdir(), 'freshplan-prism-'))
  proxy = await startPrism(document, 'openapi')
})
test.after.always(async () => {
  for (const prism of prisms) prism.kill('SIGTERM')
  await stack?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

test.serial('the check can fail: Prism reports a response the document does not describe', async (t) => {
  t.timeout(90_000)
  // A document that declares the territories' `data` a string: the service sends an array.
  const broken = structuredClone(document)
  broken.components.schemas.TerritoryList.properties.data = { type: 'string' }
  const url = await startPrism(broken, 'broken')
  const token = await tokenFor({ user: 'prism-broken', role: 'SALES', territories: ['DE'] })
  const response = await fetch(`${url}/api/territories`, { headers: { authorization: `Bearer ${token}` } })
  t.is(response.status, 200)
  const violations = JSON.parse(response.headers.get('sl-violations') ?? '[]') as { location?: string[]; message: string }[]
  t.true(violations.some((v) => v.location?.[0] === 'response' && v.location.includes('data')), JSON.stringify(violations))
})

interface Exchange {
  label: string
  status: number
  headers: Headers
  body: any
}

function resolve(value: any): any {
  if (value?.$ref) return value.$ref.split('/').slice(1).reduce((node: any, key: string) => node[key.replaceAll('~1', '/')], document)
  return value
}

/** The operation of the document that a concrete path and method hit. */
function operationFor(method: string, pathname: string): any {
  for (const [template, item] of Object.entries(document.paths as Record<string, any>)) {
    const pattern = new RegExp(`^${template.replaceAll(/\{[^}]+\}/g, '[^/]+')}$`)
    if (pattern.test(pathname) && item[method.toLowerCase()]) return item[method.toLowerCase()]
  }
  return undefined
}

async function call(t: ExecutionContext, label: string, method: string, route: string, options: { token?: string; body?: unknown; raw?: string; type?: string; headers?: Record<string, string>; direct?: boolean } = {}): Promise<Exchange> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  let body: string | undefined
  if (options.raw !== undefined || options.body !== undefined) {
    body = options.raw ?? JSON.stringify(options.body)
    headers['content-type'] = options.type ?? 'application/json'
  }
  const response = await fetch(`${options.direct ? stack.baseUrl : proxy}${route}`, { method, headers, body })
  const text = await response.text()
  const exchange = { label, status: response.status, headers: response.headers, body: text && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text }
  // Prism's verdict on the response.
  const violations = JSON.parse(response.headers.get('sl-violations') ?? '[]') as { location?: string[]; message: string; severity?: string }[]
  const responseViolations = violations.filter((v) => v.location?.[0] === 'response')
  t.deepEqual(responseViolations, [], `${label}: ${method} ${route} → ${response.status} violates the document`)
  // The status is one the operation documents, and every header one its response names.
  const operation = operationFor(method, new URL(route, proxy).pathname)
  t.truthy(operation, `${label}: ${method} ${route} is a documented operation`)
  const documented = resolve(operation?.responses[String(response.status)])
  t.truthy(documented, `${label}: ${method} ${route} documents ${response.status}`)
  const names = new Set(Object.keys(documented?.headers ?? {}).map((name) => name.toLowerCase()))
  for (const [name] of response.headers) {
    if (!TRANSPORT_HEADERS.has(name)) t.true(names.has(name), `${label}: header ${name} of ${response.status} is documented`)
  }
  return exchange
}

test.serial('a session over every operation: no response outside the document', async (t) => {
  t.timeout(120_000)
  const sales = await tokenFor({ user: 'prism-s', role: 'SALES', territories: ['DE'] })
  const manager = await tokenFor({ user: 'prism-m', role: 'MANAGER', territories: ['DE'] })
  const admin = await tokenFor({ user: 'prism-a', role: 'ADMIN', territories: ['DE', 'CH'] })

  t.is((await call(t, 'live', 'GET', '/health/live')).status, 200)
  t.is((await call(t, 'ready', 'GET', '/health/ready')).status, 200)
  t.is((await call(t, 'no token', 'GET', '/api/leads')).status, 401)

  const key = randomUUID()
  const input = { companyName: 'Prism Proxy GmbH', email: 'kontakt@prism.example', businessType: 'HOTEL', emailConsent: true }
  const created = await call(t, 'create', 'POST', '/api/leads', { token: sales, body: input, headers: { 'idempotency-key': key } })
  t.is(created.status, 201)
  const id = created.body.id as string
  const replayed = await call(t, 'replay', 'POST', '/api/leads', { token: sales, body: input, headers: { 'idempotency-key': key } })
  t.is(replayed.headers.get('idempotent-replayed'), 'true')
  t.is((await call(t, 'key reused', 'POST', '/api/leads', { token: sales, body: { ...input, city: 'Bern' }, headers: { 'idempotency-key': key } })).status, 422)
  const duplicate = await call(t, 'duplicate', 'POST', '/api/leads', { token: sales, body: { ...input, companyName: 'Prism Zwei' } })
  t.is(duplicate.status, 409)
  t.is(duplicate.body.existingLeadId, id)
  t.is((await call(t, 'invalid', 'POST', '/api/leads', { token: sales, body: { companyName: '' } })).status, 400)
  t.is((await call(t, 'malformed', 'POST', '/api/leads', { token: sales, raw: '{"companyName":', direct: true })).status, 400)
  t.is((await call(t, 'not json', 'POST', '/api/leads', { token: sales, raw: 'hello', type: 'text/plain' })).status, 415)
  t.is((await call(t, 'too large', 'POST', '/api/leads', { token: sales, raw: JSON.stringify({ companyName: 'x', notes: 'n'.repeat(1_100_000) }) })).status, 413)

  t.is((await call(t, 'list', 'GET', '/api/leads?limit=5&includeTotal=true&sort=-createdAt', { token: sales })).status, 200)
  t.is((await call(t, 'list invalid', 'GET', '/api/leads?limit=5000', { token: sales })).status, 400)
  const got = await call(t, 'get', 'GET', `/api/leads/${id}`, { token: sales })
  t.is(got.headers.get('etag'), '"1"')
  t.is((await call(t, 'not modified', 'GET', `/api/leads/${id}`, { token: sales, headers: { 'if-none-match': '"1"' } })).status, 304)
  t.is((await call(t, 'unknown lead', 'GET', `/api/leads/${randomUUID()}`, { token: sales })).status, 404)
  t.is((await call(t, 'no If-Match', 'PATCH', `/api/leads/${id}`, { token: sales, body: { city: 'Berlin' } })).status, 428)
  t.is((await call(t, 'stale If-Match', 'PATCH', `/api/leads/${id}`, { token: sales, body: { city: 'Berlin' }, headers: { 'if-match': '"0"' } })).status, 412)
  t.is((await call(t, 'patch', 'PATCH', `/api/leads/${id}`, { token: sales, body: { city: 'Berlin' }, type: 'application/merge-patch+json', headers: { 'if-match': '"1"' } })).status, 200)
  t.is((await call(t, 'bad transition', 'PATCH', `/api/leads/${id}`, { token: sales, body: { status: 'CONVERTED' }, headers: { 'if-match': '"2"' } })).status, 409)

  t.is((await call(t, 'activity', 'POST', `/api/leads/${id}/activities`, { token: sales, body: { type: 'CALL', summary: 'Erstgespräch' } })).status, 201)
  t.is((await call(t, 'activities', 'GET', `/api/leads/${id}/activities?limit=10`, { token: sales })).status, 200)
  t.is((await call(t, 'owner as SALES', 'PUT', `/api/leads/${id}/owner`, { token: sales, body: { ownerUserId: 'prism-s2' } })).status, 403)
  t.is((await call(t, 'collaborator', 'PUT', `/api/leads/${id}/collaborators/prism-helper`, { token: manager })).status, 200)
  t.is((await call(t, 'collaborator gone', 'DELETE', `/api/leads/${id}/collaborators/prism-helper`, { token: manager })).status, 200)
  const reassigned = await call(t, 'owner', 'PUT', `/api/leads/${id}/owner`, { token: manager, body: { ownerUserId: 'prism-m' } })
  t.is(reassigned.status, 200)

  t.is((await call(t, 'territories', 'GET', '/api/territories', { token: sales })).status, 200)
  let events = await call(t, 'events', 'GET', '/api/events?after=0&limit=10', { token: manager })
  for (let i = 0; i < 100 && events.body.data.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    events = await call(t, 'events', 'GET', '/api/events?after=0&limit=10', { token: manager })
  }
  t.is(events.status, 200)
  t.is((await call(t, 'event', 'GET', `/api/events/${events.body.data[0].event.id}`, { token: manager })).status, 200)
  t.is((await call(t, 'unknown event', 'GET', `/api/events/${randomUUID()}`, { token: manager })).status, 404)

  const started = await call(t, 'backfill', 'POST', '/api/admin/backfills', { token: admin, body: { batchSize: 500 } })
  t.true([200, 202].includes(started.status))
  t.is((await call(t, 'backfill as SALES', 'POST', '/api/admin/backfills', { token: sales })).status, 403)
  t.is((await call(t, 'backfill progress', 'GET', `/api/admin/backfills/${started.body.id}`, { token: admin })).status, 200)
  t.is((await call(t, 'collisions', 'GET', `/api/admin/backfills/${started.body.id}/collisions?limit=10`, { token: admin })).status, 200)

  t.is((await call(t, 'delete as SALES', 'DELETE', `/api/leads/${id}`, { token: sales, headers: { 'if-match': `"${reassigned.body.version}"` } })).status, 403)
  t.is((await call(t, 'delete', 'DELETE', `/api/leads/${id}`, { token: manager, headers: { 'if-match': `"${reassigned.body.version}"` } })).status, 204)

  // §13 consent and privacy.
  t.is((await call(t, 'revoke consent', 'POST', `/api/leads/${id}/consent/revoke`, { token: manager })).status, 200)
  t.is((await call(t, 'export as SALES', 'GET', `/api/leads/${id}/export`, { token: sales })).status, 403)
  t.is((await call(t, 'export', 'GET', `/api/leads/${id}/export`, { token: manager })).status, 200)
  const erasable = await call(t, 'create to erase', 'POST', '/api/leads', { token: sales, body: { companyName: 'Prism Löschung', email: 'loeschen@prism.example' } })
  t.is((await call(t, 'erase, short reason', 'POST', `/api/leads/${erasable.body.id}/erase`, { token: manager, body: { reason: 'kurz' } })).status, 400)
  t.is((await call(t, 'erase', 'POST', `/api/leads/${erasable.body.id}/erase`, { token: manager, body: { reason: 'Löschbegehren des Kunden' } })).status, 204)
})
