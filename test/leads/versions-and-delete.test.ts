// Issue 14, points 10 and 11: the ETag changes only when the lead's representation does, and
// DELETE reaches DELETED from any status (§3), CONVERTED and LOST included.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api
let sales: string
let colleague: string
let manager: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  sales = await tokenFor({ user: 'v-owner', role: 'SALES', territories: ['DE'] })
  colleague = await tokenFor({ user: 'v-colleague', role: 'SALES', territories: ['DE'] })
  manager = await tokenFor({ user: 'v-manager', role: 'MANAGER', territories: ['DE'] })
})
test.after.always(() => stack?.stop())

const events = async (leadId: string, type: string) =>
  (await stack.owner.raw('select idempotency_key from lead_events where lead_id = ? and type = ? order by time', [leadId, type])).rows.map((r: { idempotency_key: string }) => r.idempotency_key)

test('a PATCH that changes nothing keeps version and ETag and emits no updated event', async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Noop Patch GmbH', city: 'Köln', estimatedVolume: 1200 } })
  const path = `/api/leads/${created.body.id}`
  const same = await api('PATCH', path, { token: sales, body: { city: 'Köln', companyName: 'Noop Patch GmbH', estimatedVolume: 1200, status: 'REGISTERED' }, headers: { 'if-match': '"1"' } })
  t.is(same.status, 200)
  t.is(same.body.version, 1)
  t.is(same.headers.get('etag'), '"1"')
  t.deepEqual(await events(created.body.id, 'freshplan.lead.updated'), [])
  // A real change still bumps it and tells which field changed.
  const changed = await api('PATCH', path, { token: sales, body: { city: 'Bonn', companyName: 'Noop Patch GmbH' }, headers: { 'if-match': '"1"' } })
  t.is(changed.body.version, 2)
  const [updated] = (await stack.owner.raw(`select data from lead_events where lead_id = ? and type = 'freshplan.lead.updated'`, [created.body.id])).rows
  t.deepEqual(updated.data.changed, ['city'])
})

test("a colleague's NOTE does not fail the owner's pending edit; a meaningful contact changes the lead and its ETag", async (t) => {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Pending Edit KG' } })
  const path = `/api/leads/${created.body.id}`
  t.is((await api('PUT', `${path}/collaborators/v-colleague`, { token: manager })).status, 200)
  const afterCollaborator = (await api('GET', path, { token: sales })).body.version
  const note1 = await api('POST', `${path}/activities`, { token: colleague, body: { type: 'NOTE', summary: 'Rief zurück, Chef nicht da' } })
  const note2 = await api('POST', `${path}/activities`, { token: colleague, body: { type: 'NOTE', summary: 'Zweite Notiz' } })
  t.is(note1.status, 201)
  t.is(note2.status, 201)
  t.is((await api('GET', path, { token: sales })).body.version, afterCollaborator, 'notes leave the representation as it was')
  const edit = await api('PATCH', path, { token: sales, body: { city: 'Essen' }, headers: { 'if-match': `"${afterCollaborator}"` } })
  t.is(edit.status, 200)
  // Each activity_added event has its own idempotency key, although the version did not move.
  const keys = await events(created.body.id, 'freshplan.lead.activity_added')
  t.is(keys.length, 2)
  t.not(keys[0], keys[1])

  const call = await api('POST', `${path}/activities`, { token: sales, body: { type: 'CALL', summary: 'Erstgespräch' } })
  t.is(call.status, 201)
  const after = await api('GET', path, { token: sales })
  t.is(after.body.version, edit.body.version + 1, 'lastActivityAt changed, so did the version')
  t.truthy(after.body.lastActivityAt)
})

test('DELETE of a LOST and of a CONVERTED lead is a soft delete (§3 any → DELETED); a LOST lead frees its e-mail', async (t) => {
  for (const final of ['LOST', 'CONVERTED'] as const) {
    const email = `final-${final.toLowerCase()}@delete.example`
    const created = await api('POST', '/api/leads', { token: manager, body: { companyName: `Final ${final}`, email } })
    const path = `/api/leads/${created.body.id}`
    const qualified = await api('PATCH', path, { token: manager, body: { status: 'QUALIFIED' }, headers: { 'if-match': '"1"' } })
    const ended = await api('PATCH', path, { token: manager, body: { status: final }, headers: { 'if-match': `"${qualified.body.version}"` } })
    t.is(ended.body.status, final)
    t.is((await api('POST', '/api/leads', { token: manager, body: { companyName: 'Wants the address', email } })).status, 409)
    t.is((await api('DELETE', path, { token: manager, headers: { 'if-match': `"${ended.body.version}"` } })).status, 204, final)
    t.is((await api('GET', path, { token: manager })).body.status, 'DELETED')
    t.is((await api('POST', '/api/leads', { token: manager, body: { companyName: 'Wants the address', email } })).status, 201, 'the address is free again')
    const again = await api('DELETE', path, { token: manager, headers: { 'if-match': '*' } })
    t.is(again.status, 409)
    t.is(again.body.type, 'https://freshplan.example/problems/invalid-status-transition')
  }
})
