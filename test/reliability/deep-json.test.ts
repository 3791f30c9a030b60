// Regression found by the fuzzer: a JSON body nested ~5,000 levels deep parsed fine but overflowed
// the stack in the recursive walks after it (trimStrings, ajv, the idempotency fingerprint) → 500.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { nestedDeeperThan } from '../../server/middleware/json-body.ts'

let stack: Stack
let api: Api
let manager: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'deep-m', role: 'MANAGER', territories: ['DE', 'CH'] })
})
test.after.always(() => stack?.stop())

const nested = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth)

async function rows(): Promise<string> {
  const { rows } = await stack.owner.raw('select (select count(*) from leads)::int as leads, (select count(*) from lead_activities)::int as activities, (select count(*) from idempotency_keys)::int as keys')
  return JSON.stringify(rows[0])
}

test.serial('depth counting ignores brackets inside strings and escaped quotes', (t) => {
  t.false(nestedDeeperThan('{"a":"[[[[[[[[[[","b":"\\"[[[["}', 2))
  t.true(nestedDeeperThan('[[[1]]]', 2))
  t.false(nestedDeeperThan('[[1],[2],[3]]', 2))
})

test.serial('bodies nested 100 to 100,000 levels are 400 malformed-json on every body route, with and without Idempotency-Key; nothing written', async (t) => {
  const created = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Deep Target' } })
  t.is(created.status, 201)
  const before = await rows()
  let requests = 0
  for (const depth of [100, 5_000, 10_000, 100_000]) {
    for (const [open, close] of [['[', ']'], ['{"a":', '}'], ['[{"a":', '}]']]) {
      const body = nested(depth, open, close)
      for (const [method, path, headers] of [
        ['POST', '/api/leads', {}],
        ['POST', '/api/leads', { 'idempotency-key': `deep-${depth}-${open}` }],
        ['PATCH', `/api/leads/${created.body.id}`, { 'if-match': '"1"', 'idempotency-key': `deep-p-${depth}-${open}` }],
        ['POST', `/api/leads/${created.body.id}/activities`, {}],
        ['PUT', `/api/leads/${created.body.id}/owner`, {}],
      ] as const) {
        const response = await api(method, path, { token: manager, body, headers })
        requests++
        t.is(response.status, 400, `${method} ${path} depth ${depth} ${open}`)
        t.is(response.body.type, 'https://freshplan.example/problems/malformed-json')
      }
    }
  }
  t.is(await rows(), before)
  t.log(`${requests} deeply nested bodies: all 400 malformed-json, rows unchanged ${before}`)
})

test.serial('ordinary nesting still works: activity metadata 5 levels deep is stored; the metadata cap (issue 14) refuses 6', async (t) => {
  const created = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Deep Metadata' } })
  const metadata = JSON.parse(nested(5, '{"a":', '}'))
  const activity = await api('POST', `/api/leads/${created.body.id}/activities`, { token: manager, body: { type: 'NOTE', summary: 'nested', metadata } })
  t.is(activity.status, 201)
  t.deepEqual(activity.body.metadata, metadata)
  const deeper = await api('POST', `/api/leads/${created.body.id}/activities`, { token: manager, body: { type: 'NOTE', summary: 'nested', metadata: JSON.parse(nested(6, '{"a":', '}')) } })
  t.is(deeper.status, 400)
  t.deepEqual(deeper.body.errors, [{ pointer: '/metadata', message: 'must be nested at most 5 levels deep' }])
})
