// Every (from, to) pair of §3, through PATCH. The allowed table is written out from the spec.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

const STATUSES = ['REGISTERED', 'ACTIVE', 'REMINDER', 'GRACE_PERIOD', 'QUALIFIED', 'CONVERTED', 'LOST', 'EXPIRED', 'DELETED'] as const
const ALLOWED: Record<string, string[]> = {
  REGISTERED: ['ACTIVE', 'QUALIFIED', 'EXPIRED'],
  ACTIVE: ['QUALIFIED', 'REMINDER', 'EXPIRED'],
  REMINDER: ['ACTIVE', 'GRACE_PERIOD', 'QUALIFIED', 'EXPIRED'],
  GRACE_PERIOD: ['ACTIVE', 'QUALIFIED', 'EXPIRED'],
  QUALIFIED: ['CONVERTED', 'LOST'],
  EXPIRED: ['ACTIVE'],
  CONVERTED: [],
  LOST: [],
  DELETED: [],
}

let stack: Stack
let api: Api
let manager: string
let sales: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE'] })
  sales = await tokenFor({ user: 's1', role: 'SALES', territories: ['DE'] })
})
test.after.always(() => stack?.stop())

async function leadIn(status: string): Promise<string> {
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: `Status ${status}` } })
  await stack.owner.raw(`update leads set status = ?, deleted_at = case when ?::text = 'DELETED' then now() end where id = ?`, [status, status, created.body.id])
  return created.body.id
}

const statusChanges = async (id: string) =>
  (await stack.owner.raw(`select summary from lead_activities where lead_id = ? and type = 'STATUS_CHANGE'`, [id])).rows.map((r: { summary: string }) => r.summary)

for (const from of STATUSES) {
  for (const to of STATUSES) {
    const allowed = ALLOWED[from]!.includes(to)
    const noop = from === to && from !== 'DELETED'
    const expected = allowed ? 200 : noop ? 200 : 409
    test(`${from} → ${to}: ${expected}${noop ? ' (no-op)' : ''}`, async (t) => {
      const id = await leadIn(from)
      const response = await api('PATCH', `/api/leads/${id}`, { token: manager, body: { status: to }, headers: { 'if-match': '*' } })
      t.is(response.status, expected, JSON.stringify(response.body))
      const lead = (await stack.owner.raw('select status from leads where id = ?', [id])).rows[0]
      if (allowed) {
        t.is(lead.status, to)
        t.deepEqual(await statusChanges(id), [`Status changed from ${from} to ${to}`])
      } else {
        t.is(lead.status, from)
        t.deepEqual(await statusChanges(id), [])
        if (expected === 409) t.is(response.body.type, 'https://freshplan.example/problems/invalid-status-transition')
      }
    })
  }
}

test('EXPIRED → ACTIVE is for managers and admins only', async (t) => {
  const id = await leadIn('EXPIRED')
  const response = await api('PATCH', `/api/leads/${id}`, { token: sales, body: { status: 'ACTIVE' }, headers: { 'if-match': '*' } })
  t.is(response.status, 409)
  t.deepEqual(await statusChanges(id), [])
})

test('terminal states stay terminal: nothing else changes them either', async (t) => {
  for (const status of ['CONVERTED', 'LOST'] as const) {
    const id = await leadIn(status)
    const activity = await api('POST', `/api/leads/${id}/activities`, { token: manager, body: { type: 'MEETING', summary: 'meeting' } })
    t.is(activity.status, 409)
    t.is((await stack.owner.raw('select status from leads where id = ?', [id])).rows[0].status, status)
  }
})

test('stage moves forward by one only', async (t) => {
  const id = await leadIn('REGISTERED')
  t.is((await api('PATCH', `/api/leads/${id}`, { token: manager, body: { stage: 'QUALIFIZIERT' }, headers: { 'if-match': '*' } })).status, 409)
  t.is((await api('PATCH', `/api/leads/${id}`, { token: manager, body: { stage: 'REGISTRIERUNG' }, headers: { 'if-match': '*' } })).status, 200)
  t.is((await api('PATCH', `/api/leads/${id}`, { token: manager, body: { stage: 'VORMERKUNG' }, headers: { 'if-match': '*' } })).status, 409)
  t.is((await api('PATCH', `/api/leads/${id}`, { token: manager, body: { stage: 'QUALIFIZIERT' }, headers: { 'if-match': '*' } })).status, 200)
})
