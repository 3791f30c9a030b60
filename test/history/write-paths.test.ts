// §12 history: every write path of the code base leaves exactly one history row per change, with the
// changed fields, the actor of the transaction and the action; the app role cannot forge or alter it.
import test from 'ava'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { runFollowUp } from '../../models/follow-ups.ts'
import { runProtection } from '../../models/lead-protection.ts'
import { ManualClock } from '../../lib/clock.ts'
import { startNormalizationBackfill } from '../../models/backfills.ts'
import { normalizeNextBatch } from '../../models/backfill-batch.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

let stack: Stack
let api: Api
let sales: string
let manager: string
let otherSales: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  sales = await tokenFor({ user: 's1', role: 'SALES' })
  otherSales = await tokenFor({ user: 's2', role: 'SALES' })
  manager = await tokenFor({ user: 'm1', role: 'MANAGER' })
})
test.after.always(() => stack?.stop())

interface Entry { id: string; at: string; actorUserId: string | null; action: string; changes: Record<string, { from: unknown; to: unknown }> }

async function history(id: string, token = manager): Promise<Entry[]> {
  const response = await api('GET', `/api/leads/${id}/history?limit=200`, { token })
  if (response.status !== 200) throw new Error(`history ${response.status}`)
  return response.body.data
}

/** Runs `write` and returns the history rows it added (newest first). */
async function added(id: string, write: () => Promise<unknown>): Promise<Entry[]> {
  const before = (await history(id)).length
  await write()
  const after = await history(id)
  return after.slice(0, after.length - before)
}

async function createLead(body: object = {}, token = sales) {
  const response = await api('POST', '/api/leads', { token, body: { companyName: `Firma ${Math.random()}`, ...body } })
  if (response.status !== 201) throw new Error(`create ${response.status} ${JSON.stringify(response.body)}`)
  return response.body as { id: string; version: number; registeredAt: string }
}

async function version(id: string): Promise<string> {
  return (await api('GET', `/api/leads/${id}`, { token: manager })).headers.get('etag')!
}

test('create: one CREATED row with the initial values, actor = the creator', async (t) => {
  const lead = await createLead({ city: 'Köln', email: 'Info@Koeln.example' })
  const rows = await history(lead.id)
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'CREATED', actorUserId: 's1' })
  t.deepEqual(rows[0]!.changes.city, { from: null, to: 'Köln' })
  t.deepEqual(rows[0]!.changes.emailNormalized, { from: null, to: 'info@koeln.example' })
  t.false('version' in rows[0]!.changes, 'bookkeeping columns are left out')
  t.false('updatedAt' in rows[0]!.changes)
  t.false('normalizationVersion' in rows[0]!.changes)
})

test('PATCH of fields: one UPDATED row with exactly the changed fields', async (t) => {
  const lead = await createLead({ city: 'Köln' })
  const rows = await added(lead.id, () => api('PATCH', `/api/leads/${lead.id}`, { token: sales, headers: { 'if-match': '"1"' }, body: { city: 'Bonn', notes: 'neu' } }))
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'UPDATED', actorUserId: 's1' })
  t.deepEqual(rows[0]!.changes, { city: { from: 'Köln', to: 'Bonn' }, notes: { from: null, to: 'neu' } })
})

test('PATCH of the status: one STATUS_CHANGED row', async (t) => {
  const lead = await createLead()
  const rows = await added(lead.id, () => api('PATCH', `/api/leads/${lead.id}`, { token: sales, headers: { 'if-match': '"1"' }, body: { status: 'ACTIVE' } }))
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'STATUS_CHANGED', actorUserId: 's1' })
  t.deepEqual(rows[0]!.changes, { status: { from: 'REGISTERED', to: 'ACTIVE' } })
})

test('DELETE: one DELETED row (status and deletedAt)', async (t) => {
  const lead = await createLead()
  const rows = await added(lead.id, async () => t.is((await api('DELETE', `/api/leads/${lead.id}`, { token: manager, headers: { 'if-match': '"1"' } })).status, 204))
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'DELETED', actorUserId: 'm1' })
  t.deepEqual(Object.keys(rows[0]!.changes).sort(), ['deletedAt', 'status'])
})

test('a meaningful activity: one STATUS_CHANGED row with status and lastActivityAt; a note changes nothing and writes none', async (t) => {
  const lead = await createLead()
  const call = await added(lead.id, () => api('POST', `/api/leads/${lead.id}/activities`, { token: sales, body: { type: 'CALL', summary: 'Angerufen', occurredAt: '2026-11-30T10:00:00.000Z' } }))
  t.is(call.length, 1)
  t.like(call[0], { action: 'STATUS_CHANGED', actorUserId: 's1' })
  t.deepEqual(call[0]!.changes.status, { from: 'REGISTERED', to: 'ACTIVE' })
  t.is(Date.parse(call[0]!.changes.lastActivityAt!.to as string), Date.parse('2026-11-30T10:00:00.000Z'))
  const note = await added(lead.id, () => api('POST', `/api/leads/${lead.id}/activities`, { token: sales, body: { type: 'NOTE', summary: 'Notiz' } }))
  t.is(note.length, 0, 'only version/updatedAt changed: no history row')
})

test('owner and collaborators: one UPDATED row each', async (t) => {
  const lead = await createLead()
  const owner = await added(lead.id, () => api('PUT', `/api/leads/${lead.id}/owner`, { token: manager, body: { ownerUserId: 's2' } }))
  t.is(owner.length, 1)
  t.like(owner[0], { action: 'UPDATED', actorUserId: 'm1' })
  t.deepEqual(owner[0]!.changes, { ownerUserId: { from: 's1', to: 's2' } })
  const add = await added(lead.id, () => api('PUT', `/api/leads/${lead.id}/collaborators/s3`, { token: manager }))
  t.deepEqual(add.map((r) => r.changes), [{ collaboratorUserIds: { from: [], to: ['s3'] } }])
  const remove = await added(lead.id, () => api('DELETE', `/api/leads/${lead.id}/collaborators/s3`, { token: manager }))
  t.deepEqual(remove.map((r) => r.changes), [{ collaboratorUserIds: { from: ['s3'], to: [] } }])
})

test('the follow-up job: one row with the sent mark, actor system', async (t) => {
  const lead = await createLead()
  const rows = await added(lead.id, () => runFollowUp(stack.deps, 'T3', { leadId: lead.id, tenantId: 'default' }))
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'UPDATED', actorUserId: 'system' })
  t.deepEqual(Object.keys(rows[0]!.changes), ['t3SentAt'])
  const again = await added(lead.id, () => runFollowUp(stack.deps, 'T3', { leadId: lead.id, tenantId: 'default' }))
  t.is(again.length, 0, 'a skipped run writes nothing')
})

test('the protection job (§10): one STATUS_CHANGED row per transition, actor system; a run with nothing due writes none', async (t) => {
  const lead = await createLead()
  // 54 days on, the progress deadline (60 days) is a week away: REMINDER is due.
  const later = { ...stack.deps, clock: new ManualClock(new Date(Date.parse(lead.registeredAt) + 54 * 86_400_000)) }
  const rows = await added(lead.id, () => runProtection(later, { leadId: lead.id, tenantId: 'default' }))
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'STATUS_CHANGED', actorUserId: 'system' })
  t.deepEqual(rows[0]!.changes.status, { from: 'REGISTERED', to: 'REMINDER' })
  const again = await added(lead.id, () => runProtection(later, { leadId: lead.id, tenantId: 'default' }))
  t.is(again.length, 0, 'a job that runs twice changes nothing the second time')
})

test('the backfill: one row per lead it renormalizes, actor system', async (t) => {
  const { rows: [row] } = await stack.owner.raw<{ rows: { id: string }[] }>(
    `insert into leads (tenant_id, territory, company_name, email, country_code, stage, owner_user_id, created_by, normalization_version)
     values ('default', 'DE', 'Alt GmbH', ' Alt@Example.DE ', 'DE', 'VORMERKUNG', 's1', 'import', 0) returning id`,
  )
  const rows = await added(row!.id, () =>
    inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
      const { backfill } = await startNormalizationBackfill(stack.deps, tx, { createdBy: 'admin' })
      await normalizeNextBatch(tx, backfill.id)
    }))
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'UPDATED', actorUserId: 'system' })
  t.deepEqual(rows[0]!.changes.emailNormalized, { from: null, to: 'alt@example.de' })
  t.deepEqual(rows[0]!.changes.nameNormalized, { from: null, to: 'alt' })
})

test('a direct update as the app role is recorded too; the app role cannot insert, update or delete history', async (t) => {
  const lead = await createLead()
  const ctx = { tenantId: 'default', userId: 'sql-user', role: 'MANAGER' as const, territories: ['DE' as const] }
  const rows = await added(lead.id, () => inTransaction(stack.deps.knex, ctx, (tx) => tx.trx.raw(`update leads set notes = 'per SQL' where id = ?`, [lead.id])))
  t.is(rows.length, 1)
  t.like(rows[0], { action: 'UPDATED', actorUserId: 'sql-user' })
  t.deepEqual(rows[0]!.changes, { notes: { from: null, to: 'per SQL' } })
  const attempts = [
    [`insert into lead_history (tenant_id, territory, lead_id, action, changes) values ('default', 'DE', ?, 'UPDATED', '{}')`, [lead.id]],
    [`update lead_history set actor_user_id = 'nobody' where lead_id = ?`, [lead.id]],
    [`delete from lead_history where lead_id = ?`, [lead.id]],
    [`truncate lead_history`, []],
  ] as const
  for (const [sql, bindings] of attempts) {
    const error = await t.throwsAsync(inTransaction(stack.deps.knex, ctx, (tx) => tx.trx.raw(sql, [...bindings])))
    t.regex(error!.message, /permission denied/, sql)
  }
  t.is((await history(lead.id)).length, 2, 'history unchanged')
  // Nor can it switch the trigger off or call it.
  const disable = await t.throwsAsync(inTransaction(stack.deps.knex, ctx, (tx) => tx.trx.raw('alter table leads disable trigger leads_history')))
  t.regex(disable!.message, /must be owner/)
})

test('GET history: newest first, cursor pagination, visible like the lead (404 when hidden)', async (t) => {
  const lead = await createLead()
  for (const city of ['A', 'B', 'C']) {
    await api('PATCH', `/api/leads/${lead.id}`, { token: sales, headers: { 'if-match': await version(lead.id) }, body: { city } })
  }
  const first = await api('GET', `/api/leads/${lead.id}/history?limit=2`, { token: sales })
  t.is(first.status, 200)
  t.deepEqual(first.body.data.map((e: Entry) => e.changes.city?.to), ['C', 'B'])
  const second = await api('GET', `/api/leads/${lead.id}/history?limit=2&cursor=${first.body.nextCursor}`, { token: sales })
  t.deepEqual(second.body.data.map((e: Entry) => e.action), ['UPDATED', 'CREATED'])
  t.is(second.body.nextCursor, null)
  t.is((await api('GET', `/api/leads/${lead.id}/history`, { token: otherSales })).status, 404)
  t.is((await api('GET', `/api/leads/${lead.id}/history?cursor=bogus`, { token: sales })).status, 400)
  t.is((await api('GET', '/api/leads/not-a-uuid/history', { token: sales })).status, 404)
  // The app role under another user's context sees no rows of a hidden lead directly either.
  const direct = await inTransaction(stack.deps.knex, { tenantId: 'default', userId: 's2', role: 'SALES', territories: ['DE'] }, (tx) => tx.trx('lead_history').where('lead_id', lead.id).count('* as n').first())
  t.is(Number((direct as { n: number }).n), 0)
})
