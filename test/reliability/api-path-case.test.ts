// Regression found by the fuzzer: the routers match paths case-insensitively but the token check
// only looked at "/api/", so GET /API/LEADS reached the handler without authentication and failed
// with a 500 (the transaction helper had no security context, so RLS kept the data closed).
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
})
test.after.always(() => stack?.stop())

test('upper- and mixed-case /api paths need a token too: 401, nothing written', async (t) => {
  const before = await stack.owner('leads').count({ n: '*' }).first()
  const cases: [string, string, unknown?][] = [
    ['GET', '/API/LEADS'],
    ['GET', '/Api/leads'],
    ['GET', '/API'],
    ['POST', '/API/LEADS', { companyName: 'No Token Inc' }],
    ['POST', '/api/LEADS', { companyName: 'No Token Inc' }],
    ['GET', '/API/leads/00000000-0000-0000-0000-000000000000'],
    ['GET', '/API/TERRITORIES'],
  ]
  for (const [method, path, body] of cases) {
    const response = await api(method, path, { body })
    t.is(response.status, 401, `${method} ${path}`)
    t.is(response.headers.get('content-type'), 'application/problem+json')
  }
  t.deepEqual(await stack.owner('leads').count({ n: '*' }).first(), before)
})

test('with a token the case-insensitive route still serves', async (t) => {
  const token = await tokenFor({ user: 'case-s', role: 'SALES' })
  const response = await api('GET', '/API/LEADS', { token })
  t.is(response.status, 200)
  t.deepEqual(response.body.data, [])
})
