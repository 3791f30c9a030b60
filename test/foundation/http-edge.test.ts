import test from 'ava'
import { gzipSync } from 'node:zlib'
import { Router } from '@koa/router'
import { startStack, type Stack } from '../helpers/stack.ts'

let stack: Stack
const probe = new Router()
probe.get('/test/boom', () => {
  const error = new Error('secret internals: password=hunter2')
  throw error
})
probe.post('/test/echo', (ctx) => {
  ctx.body = { received: ctx.state.body ?? null }
})

test.before(async () => {
  stack = await startStack({ routers: [probe] })
})
test.after.always(() => stack?.stop())

const isProblem = (t: any, response: Response, status: number) => {
  t.is(response.status, status)
  t.is(response.headers.get('content-type'), 'application/problem+json')
}

test('liveness and readiness answer 200 when the database and pg-boss are up', async (t) => {
  const live = await fetch(`${stack.baseUrl}/health/live`)
  t.is(live.status, 200)
  const ready = await fetch(`${stack.baseUrl}/health/ready`)
  t.is(ready.status, 200)
  t.deepEqual(await ready.json(), { status: 'UP', checks: { database: 'UP', queue: 'UP' } })
})

test('every response carries a request id; a sane incoming one is kept, a hostile one replaced', async (t) => {
  const own = await fetch(`${stack.baseUrl}/health/live`)
  t.regex(own.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/)
  const kept = await fetch(`${stack.baseUrl}/health/live`, { headers: { 'X-Request-Id': 'abc-123' } })
  t.is(kept.headers.get('x-request-id'), 'abc-123')
  const replaced = await fetch(`${stack.baseUrl}/health/live`, { headers: { 'X-Request-Id': '<script>' } })
  t.not(replaced.headers.get('x-request-id'), '<script>')
})

test('an unknown route is a 404 problem', async (t) => {
  const response = await fetch(`${stack.baseUrl}/nope`)
  isProblem(t, response, 404)
  const body = await response.json()
  t.like(body, { status: 404, title: 'Not Found', type: 'https://freshplan.example/problems/not-found' })
})

test('malformed JSON is a 400 problem', async (t) => {
  const response = await fetch(`${stack.baseUrl}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' })
  isProblem(t, response, 400)
  t.like(await response.json(), { status: 400, title: 'Malformed JSON' })
})

test('invalid UTF-8 is a 400 problem', async (t) => {
  const response = await fetch(`${stack.baseUrl}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) })
  isProblem(t, response, 400)
})

test('a body of more than 1 MB is a 413 problem; 1 MB is accepted', async (t) => {
  const over = JSON.stringify({ pad: 'x'.repeat(1024 * 1024) })
  const response = await fetch(`${stack.baseUrl}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: over })
  isProblem(t, response, 413)
  const under = JSON.stringify({ pad: 'x'.repeat(1024 * 1024 - 20) })
  const ok = await fetch(`${stack.baseUrl}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: under })
  t.is(ok.status, 200)
})

test('a body that is not JSON is a 415 problem', async (t) => {
  const response = await fetch(`${stack.baseUrl}/test/echo`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })
  isProblem(t, response, 415)
})

test('a compressed JSON body is a 415 problem (no content coding is accepted)', async (t) => {
  const body = gzipSync(JSON.stringify({ a: 1 }))
  const response = await fetch(`${stack.baseUrl}/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body })
  isProblem(t, response, 415)
  t.regex(((await response.json()) as { detail: string }).detail, /uncompressed/)
})

test('an unexpected error is a 500 problem without internals, quoting the request id', async (t) => {
  const response = await fetch(`${stack.baseUrl}/test/boom`, { headers: { 'X-Request-Id': 'req-500' } })
  isProblem(t, response, 500)
  const text = await response.text()
  t.false(text.includes('hunter2'))
  t.false(text.includes('.ts:'))
  t.false(/at .*\(/.test(text))
  t.like(JSON.parse(text), { status: 500, title: 'Internal Server Error' })
  t.true(text.includes('req-500'))
})

test('a wrong method on a known route is a 405 problem with Allow', async (t) => {
  const response = await fetch(`${stack.baseUrl}/health/live`, { method: 'DELETE' })
  isProblem(t, response, 405)
  t.is(response.headers.get('allow'), 'HEAD, GET')
})
