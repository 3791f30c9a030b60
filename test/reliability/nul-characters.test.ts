// Regression found by the fuzzer: GET /api/leads?q=%00 was a 500 — PostgreSQL text cannot hold
// U+0000 (error 22021). NUL in a query parameter or a JSON body string is now a 400 with a pointer.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api
let manager: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'nul-m', role: 'MANAGER', territories: ['DE', 'CH'] })
})
test.after.always(() => stack?.stop())

test.serial('NUL in query parameters is 400 with the parameter named', async (t) => {
  for (const query of ['q=%00', 'q=a%00b', 'ownerUserId=%00', 'cursor=%00']) {
    const response = await api('GET', `/api/leads?${query}`, { token: manager })
    t.is(response.status, 400, query)
    t.is(response.body.errors[0].pointer, `/query/${query.split('=')[0]}`)
  }
})

test.serial('NUL in body strings and keys is 400 and writes nothing', async (t) => {
  const created = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Nul Target' } })
  t.is(created.status, 201)
  const before = await stack.owner('leads').count({ n: '*' }).first()
  const cases: [string, string, unknown, string][] = [
    ['POST', '/api/leads', { companyName: 'A\u0000B' }, '/companyName'],
    ['POST', '/api/leads', { companyName: 'A', notes: '\u0000' }, '/notes'],
    ['PATCH', `/api/leads/${created.body.id}`, { city: 'K\u0000ln' }, '/city'],
    ['POST', `/api/leads/${created.body.id}/activities`, { type: 'NOTE', summary: 'x', metadata: { 'a\u0000': 1 } }, '/metadata/a\u0000'],
    ['POST', `/api/leads/${created.body.id}/activities`, { type: 'NOTE', summary: 'x', metadata: { a: ['ok', '\u0000'] } }, '/metadata/a/1'],
  ]
  for (const [method, path, body, pointer] of cases) {
    const response = await api(method, path, { token: manager, body, headers: { 'if-match': '"1"' } })
    t.is(response.status, 400, `${method} ${path}`)
    t.is(response.body.errors[0].pointer, pointer)
  }
  t.deepEqual(await stack.owner('leads').count({ n: '*' }).first(), before)
  const lead = await api('GET', `/api/leads/${created.body.id}`, { token: manager })
  t.is(lead.body.version, 1)
})
