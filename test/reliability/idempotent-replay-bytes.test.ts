// Issue 14 point 9 (§4): a replayed Idempotency-Key request returns the identical status, headers
// and body BYTES. The body used to come back from jsonb with its keys reordered.
import test, { type ExecutionContext } from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'

let stack: Stack
let token: string

test.before(async () => {
  stack = await startStack()
  token = await tokenFor({ user: 'idem-sales', role: 'SALES', territories: ['DE'] })
})
test.after.always(() => stack?.stop())

interface Raw {
  status: number
  headers: Headers
  bytes: Buffer
}

async function send(method: string, path: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<Raw> {
  const response = await fetch(stack.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key, ...headers },
    body: JSON.stringify(body),
  })
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) }
}

function sameResponse(t: ExecutionContext, first: Raw, replay: Raw, label: string): void {
  t.is(replay.status, first.status, label)
  t.is(replay.headers.get('idempotent-replayed'), 'true', `${label}: marked as a replay`)
  t.is(first.headers.get('idempotent-replayed'), null)
  for (const header of ['content-type', 'location', 'etag']) t.is(replay.headers.get(header), first.headers.get(header), `${label}: ${header}`)
  t.true(replay.bytes.equals(first.bytes), `${label}: byte-identical body\nfirst  ${first.bytes.toString('utf8').slice(0, 300)}\nreplay ${replay.bytes.toString('utf8').slice(0, 300)}`)
  t.is(replay.headers.get('content-length'), String(first.bytes.length))
}

test('POST /api/leads, POST …/activities and PATCH replay byte for byte', async (t) => {
  // Keys of every length and nesting, multi-byte text: everything jsonb would reorder or re-space.
  const lead = { companyName: 'Byte für Byte GmbH', contactName: 'Zoë Ångström', email: 'bytes@example.com', city: 'Köln', notes: 'a: 1, "b" : [2]', estimatedVolume: 1.5, employeeCount: 12 }
  const created = await send('POST', '/api/leads', 'bytes-create', lead)
  t.is(created.status, 201)
  const replayed = await send('POST', '/api/leads', 'bytes-create', lead)
  sameResponse(t, created, replayed, 'create')
  const id = JSON.parse(created.bytes.toString('utf8')).id as string

  const activity = { type: 'CALL', summary: 'Rückruf', outcome: 'CALLBACK_REQUESTED', metadata: { zeta: 1, alpha: { yy: [3, 2, 1], b: 'ü' }, mid: null } }
  const added = await send('POST', `/api/leads/${id}/activities`, 'bytes-activity', activity)
  t.is(added.status, 201, added.bytes.toString('utf8'))
  sameResponse(t, added, await send('POST', `/api/leads/${id}/activities`, 'bytes-activity', activity), 'activity')

  const current = await fetch(`${stack.baseUrl}/api/leads/${id}`, { headers: { authorization: `Bearer ${token}` } })
  const etag = current.headers.get('etag')!
  const patched = await send('PATCH', `/api/leads/${id}`, 'bytes-patch', { city: 'Düsseldorf' }, { 'content-type': 'application/merge-patch+json', 'if-match': etag })
  t.is(patched.status, 200, patched.bytes.toString('utf8'))
  sameResponse(t, patched, await send('PATCH', `/api/leads/${id}`, 'bytes-patch', { city: 'Düsseldorf' }, { 'content-type': 'application/merge-patch+json', 'if-match': etag }), 'patch')

  // What is stored is exactly what was sent.
  const { rows } = await stack.owner.raw(`select key, body from idempotency_keys where user_id = 'idem-sales' order by key`)
  const stored = new Map<string, Buffer>(rows.map((r: { key: string; body: Buffer }) => [r.key, r.body]))
  t.true(stored.get('bytes-create')!.equals(created.bytes))
  t.true(stored.get('bytes-activity')!.equals(added.bytes))
  t.true(stored.get('bytes-patch')!.equals(patched.bytes))
})
