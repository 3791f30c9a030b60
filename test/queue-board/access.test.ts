// Who gets into the board in a browser: login posts the token once and gets an HttpOnly cookie back.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'

let stack: Stack
test.before(async () => {
  stack = await startStack()
})
test.after.always(() => stack?.stop())

async function login(token: string): Promise<Response> {
  return fetch(`${stack.baseUrl}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })
}
const cookieOf = (response: Response) => response.headers.get('set-cookie')!.split(';')[0]!

test('an anonymous page visit is sent to the login page; the board API says 401', async (t) => {
  const page = await fetch(`${stack.baseUrl}/admin/queues`, { redirect: 'manual', headers: { accept: 'text/html' } })
  t.is(page.status, 302)
  t.is(page.headers.get('location'), '/login?next=%2Fadmin%2Fqueues')
  const api = await fetch(`${stack.baseUrl}/admin/queues/api/queues`, { headers: { accept: 'application/json' } })
  t.is(api.status, 401)
  const loginPage = await fetch(`${stack.baseUrl}/login`)
  t.is(loginPage.status, 200)
  t.regex(await loginPage.text(), /<form id="login">/)
})

test('login sets an HttpOnly SameSite=Strict cookie; an ADMIN gets the board, SALES and MANAGER get 403', async (t) => {
  const admin = await login(await tokenFor({ user: 'a1', role: 'ADMIN', territories: ['DE'] }))
  t.is(admin.status, 204)
  const setCookie = admin.headers.get('set-cookie')!
  t.regex(setCookie, /fp_access_token=/)
  t.regex(setCookie, /httponly/i)
  t.regex(setCookie, /samesite=strict/i)
  const board = await fetch(`${stack.baseUrl}/admin/queues`, { headers: { cookie: cookieOf(admin), accept: 'text/html' } })
  t.is(board.status, 200)
  const queues = await fetch(`${stack.baseUrl}/admin/queues/api/queues`, { headers: { cookie: cookieOf(admin) } })
  t.is(queues.status, 200)
  // A tenant's ADMIN sees their tenant's queues; maintenance queues are the platform operator's (issue 14.1).
  const names = ((await queues.json()) as { queues: { name: string }[] }).queues.map((q) => q.name)
  t.true(names.includes('follow-up.t3'))
  t.false(names.includes('idempotency.purge'))
  const operator = await login(await tokenFor({ user: 'ops', roles: ['ADMIN', 'PLATFORM_OPERATOR'], territories: [] }))
  const all = await fetch(`${stack.baseUrl}/admin/queues/api/queues`, { headers: { cookie: cookieOf(operator) } })
  t.true(((await all.json()) as { queues: { name: string }[] }).queues.some((q) => q.name === 'idempotency.purge'))
  for (const role of ['SALES', 'MANAGER']) {
    const session = await login(await tokenFor({ user: `${role}-1`, role, territories: ['DE'] }))
    t.is(session.status, 204)
    const refused = await fetch(`${stack.baseUrl}/admin/queues`, { headers: { cookie: cookieOf(session), accept: 'text/html' } })
    t.is(refused.status, 403, role)
    const refusedApi = await fetch(`${stack.baseUrl}/admin/queues/api/queues`, { headers: { cookie: cookieOf(session) } })
    t.is(refusedApi.status, 403, role)
  }
})

test('a bad token does not log in; logout clears the cookie', async (t) => {
  const bad = await login('not-a-token')
  t.is(bad.status, 401)
  t.is(bad.headers.get('set-cookie'), null)
  const logout = await fetch(`${stack.baseUrl}/logout`, { method: 'POST' })
  t.is(logout.status, 204)
  t.regex(logout.headers.get('set-cookie')!, /fp_access_token=;/)
})
