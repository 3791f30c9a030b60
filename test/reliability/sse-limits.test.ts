// Issue 14 point 7: an SSE stream ends when its token expires, and streams are bounded per user
// (429) and per process (503), each answered as an RFC 9457 problem. (Slow clients' timeouts:
// test/reliability/slow-clients.test.ts.)
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { SseClient } from '../helpers/events.ts'

let stack: Stack
const url = () => `${stack.baseUrl}/api/events/stream`

test.before(async () => {
  stack = await startStack({ events: { maxStreams: 4, maxStreamsPerUser: 2, heartbeatMs: 500 } })
})
test.after.always(() => stack?.stop())

async function refusal(token: string): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  const error = (await SseClient.connect(url(), { token }).then(
    async (client) => {
      await client.close()
      throw new Error('the stream was opened')
    },
    (failure: unknown) => failure,
  )) as { status: number; headers: Record<string, unknown>; body: string }
  return { status: error.status, headers: error.headers, body: JSON.parse(error.body) }
}

test.serial('a stream ends when its token expires, and the token cannot open another', async (t) => {
  const token = await tokenFor({ user: 'short-lived', role: 'MANAGER', territories: ['DE'], expiresIn: '3s' })
  const opened = Date.now()
  const client = await SseClient.connect(url(), { token })
  // Heartbeats keep coming while the token is valid.
  t.true(await client.waitFor((c) => c.comments.includes('heartbeat'), 2_000))
  await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 8_000))])
  const lasted = Date.now() - opened
  t.true(client.comments.includes('token expired'), 'the server closed it, saying why')
  t.true(lasted >= 1_000 && lasted < 6_000, `closed at the token's exp (after ${lasted} ms)`)
  // Within the verifier's clock tolerance the token still verifies, but no stream outlives it.
  const again = await refusal(token)
  t.is(again.status, 401)
  t.regex(again.body.type, /unauthorized$/)
})

test.serial('a user gets at most maxStreamsPerUser streams (429), the process at most maxStreams (503); closing frees a slot', async (t) => {
  const anna = await tokenFor({ user: 'anna', role: 'SALES', territories: ['DE'] })
  const annaAgain = await tokenFor({ user: 'anna', role: 'SALES', territories: ['DE'], expiresIn: '2h' }) // another token, same user
  const open = [await SseClient.connect(url(), { token: anna }), await SseClient.connect(url(), { token: annaAgain })]
  const tooMany = await refusal(anna)
  t.is(tooMany.status, 429)
  t.regex(tooMany.body.type, /too-many-streams$/)
  t.truthy(tooMany.headers['retry-after'])
  // The same sub in another tenant is another user.
  open.push(await SseClient.connect(url(), { token: await tokenFor({ user: 'anna', role: 'SALES', territories: ['DE'], tenant: 'acme' }) }))
  open.push(await SseClient.connect(url(), { token: await tokenFor({ user: 'bert', role: 'SALES', territories: ['DE'] }) }))
  const full = await refusal(await tokenFor({ user: 'carl', role: 'SALES', territories: ['DE'] }))
  t.is(full.status, 503)
  t.regex(full.body.type, /too-many-streams$/)
  // Closing one of anna's streams lets her open one again.
  await open.shift()!.close()
  const deadline = Date.now() + 5_000
  let reopened: SseClient | undefined
  while (!reopened && Date.now() < deadline) {
    reopened = await SseClient.connect(url(), { token: anna }).catch(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100))
      return undefined
    })
  }
  t.truthy(reopened, 'a freed slot is reusable')
  for (const client of [...open, reopened!]) await client.close()
})
