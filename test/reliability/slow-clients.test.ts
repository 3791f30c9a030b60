// Issue 14 point 7: slow clients. A client that trickles its headers or its body is cut off after
// HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS with a 408 (node's defaults: 60 s and 300 s),
// while an SSE response, which is not a request still being received, stays open past both.
import net from 'node:net'
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { SseClient } from '../helpers/events.ts'

let stack: Stack

test.before(async () => {
  stack = await startStack({ env: { HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '2000' }, events: { heartbeatMs: 500 } })
})
test.after.always(() => stack?.stop())

/** Sends `data` on a raw connection and never finishes; resolves with what came back and when the server closed. */
function stall(data: string): Promise<{ answer: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = net.connect(stack.web!.port, '127.0.0.1', () => socket.write(data))
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (answer += chunk))
    socket.on('close', () => resolve({ answer, closedAfterMs: Date.now() - started }))
    socket.on('error', reject)
    setTimeout(() => {
      socket.destroy()
      reject(new Error('the server kept the stalled connection open for 20 s'))
    }, 20_000).unref()
  })
}

test('headers that never finish are answered 408 and closed after the headers timeout', async (t) => {
  const { answer, closedAfterMs } = await stall('GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ')
  t.regex(answer, /^HTTP\/1\.1 408/)
  t.true(closedAfterMs >= 900 && closedAfterMs < 4_000, `closed after ${closedAfterMs} ms`)
})

test('a body that never finishes is answered 408 and closed after the request timeout', async (t) => {
  const token = await tokenFor({ user: 'slow', role: 'SALES' })
  const { answer, closedAfterMs } = await stall(
    `POST /api/leads HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"companyName":`,
  )
  t.regex(answer, /^HTTP\/1\.1 408/)
  t.true(closedAfterMs >= 1_900 && closedAfterMs < 5_000, `closed after ${closedAfterMs} ms`)
})

test('an SSE stream outlives both timeouts', async (t) => {
  const client = await SseClient.connect(`${stack.baseUrl}/api/events/stream`, { token: await tokenFor({ user: 'watcher', role: 'MANAGER' }) })
  await new Promise((resolve) => setTimeout(resolve, 3_500))
  const heartbeats = client.comments.filter((comment) => comment === 'heartbeat').length
  t.true(await client.waitFor((c) => c.comments.filter((comment) => comment === 'heartbeat').length > heartbeats, 2_000), 'still receiving')
  await client.close()
})
