// Issue 14 point 5: browser sessions. Login over plain HTTP in production is a clear 403 problem (not
// a 500), X-Forwarded-Proto counts only with TRUST_PROXY, cookie-authenticated state changes must
// come from our origin, and every page refuses to be framed. (The ?next= redirect is tested in a
// real browser: test/browser/login-redirect.test.ts.)
import http from 'node:http'
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { createApp } from '../../server/app.ts'

let production: Stack
let stack: Stack
let trustingServer: http.Server
let trustingUrl: string

test.before(async () => {
  const productionEnv = { NODE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:2525', PUBLIC_BASE_URL: 'https://leads.example' }
  ;[production, stack] = await Promise.all([startStack({ env: productionEnv }), startStack()])
  // The same production service behind a proxy it trusts.
  const app = createApp({ ...production.deps, config: { ...production.config, trustProxy: true } })
  trustingServer = http.createServer(app.callback())
  await new Promise<void>((resolve) => trustingServer.listen(0, '127.0.0.1', resolve))
  trustingUrl = `http://127.0.0.1:${(trustingServer.address() as { port: number }).port}`
})
test.after.always(async () => {
  await new Promise((resolve) => trustingServer?.close(resolve))
  await Promise.all([production?.stop(), stack?.stop()])
})

const login = (baseUrl: string, token: string, headers: Record<string, string> = {}) =>
  fetch(`${baseUrl}/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token }) })
const cookieOf = (response: Response) => response.headers.get('set-cookie')!.split(';')[0]!

test('production: login over plain HTTP is a 403 problem, and a client\'s own X-Forwarded-Proto does not change that', async (t) => {
  const token = await tokenFor({ user: 'a1', role: 'ADMIN' })
  for (const headers of [{}, { 'X-Forwarded-Proto': 'https' }] as Record<string, string>[]) {
    const response = await login(production.baseUrl, token, headers)
    t.is(response.status, 403, JSON.stringify(headers))
    t.is(response.headers.get('content-type'), 'application/problem+json')
    t.is(response.headers.get('set-cookie'), null)
    const problem = (await response.json()) as { type: string; detail: string }
    t.regex(problem.type, /https-required$/)
    t.regex(problem.detail, /TRUST_PROXY/)
  }
})

test('production behind a trusted proxy: X-Forwarded-Proto https signs in with a Secure cookie', async (t) => {
  const token = await tokenFor({ user: 'a1', role: 'ADMIN' })
  const response = await login(trustingUrl, token, { 'X-Forwarded-Proto': 'https' })
  t.is(response.status, 204)
  t.regex(response.headers.get('set-cookie')!, /;\s*secure/i)
  t.is((await login(trustingUrl, token)).status, 403, 'the proxy said plain HTTP')
})

test('a cookie-authenticated state change from another origin, or without Origin, is refused; ours passes', async (t) => {
  const admin = await tokenFor({ user: 'a-csrf', role: 'ADMIN', territories: ['DE'] })
  const session = await login(stack.baseUrl, admin, { Origin: stack.baseUrl })
  t.is(session.status, 204)
  const cookie = cookieOf(session)
  const backfills = async () => Number((await stack.owner('backfills').count({ n: '*' }))[0]!.n)
  const before = await backfills()
  const post = (headers: Record<string, string>) =>
    fetch(`${stack.baseUrl}/api/admin/backfills`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{}' })
  for (const headers of [{ Origin: 'https://evil.example' }, { Origin: 'null' }, {}, { 'Sec-Fetch-Site': 'cross-site' }] as Record<string, string>[]) {
    const refused = await post(headers)
    t.is(refused.status, 403, JSON.stringify(headers))
    t.is(refused.headers.get('content-type'), 'application/problem+json')
    t.regex(((await refused.json()) as { type: string }).type, /cross-origin-request$/)
  }
  t.is(await backfills(), before, 'nothing was started')
  // Board actions alike.
  const promote = await fetch(`${stack.baseUrl}/admin/queues/api/queues/follow-up.t3/promote`, { method: 'PUT', headers: { cookie, Origin: 'https://evil.example' } })
  t.is(promote.status, 403)
  // Reads need no Origin; our own origin may change things.
  t.is((await fetch(`${stack.baseUrl}/admin/queues/api/queues`, { headers: { cookie } })).status, 200)
  t.is((await fetch(`${stack.baseUrl}/admin/queues/api/queues/follow-up.t3/promote`, { method: 'PUT', headers: { cookie, Origin: stack.baseUrl } })).status, 200)
  const started = await post({ Origin: stack.baseUrl })
  t.is(started.status, 202)
  t.is(await backfills(), before + 1)
  // A bearer token is no ambient authority: its requests are not judged by Origin.
  const bearer = await fetch(`${stack.baseUrl}/api/admin/backfills`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, Origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}' })
  t.is(bearer.status, 200, 'the running backfill, returned')
})

test('a login posted from another origin is refused (login CSRF)', async (t) => {
  const response = await login(stack.baseUrl, await tokenFor({ user: 'victim', role: 'SALES' }), { Origin: 'https://evil.example' })
  t.is(response.status, 403)
  t.is(response.headers.get('set-cookie'), null)
})

test('pages cannot be framed: login, dashboard, board and docs send X-Frame-Options DENY and frame-ancestors \'none\'', async (t) => {
  const session = await login(stack.baseUrl, await tokenFor({ user: 'a-frame', role: 'ADMIN', territories: ['DE'] }))
  const cookie = cookieOf(session)
  for (const path of ['/login', '/dashboard', '/admin/queues', '/docs']) {
    const response = await fetch(`${stack.baseUrl}${path}`, { headers: { cookie, accept: 'text/html' } })
    t.is(response.status, 200, path)
    t.regex(response.headers.get('content-type')!, /text\/html/, path)
    t.is(response.headers.get('x-frame-options'), 'DENY', path)
    t.regex(response.headers.get('content-security-policy')!, /frame-ancestors 'none'/, path)
  }
  // Our own pages run only their own inline script.
  for (const path of ['/login', '/dashboard']) {
    const response = await fetch(`${stack.baseUrl}${path}`, { headers: { cookie, accept: 'text/html' } })
    t.regex(response.headers.get('content-security-policy')!, /default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*'/, path)
  }
})
