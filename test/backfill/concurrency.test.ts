// A backfill runs while the API keeps writing: creates that take an old lead's address and patches
// of old leads. The unique index is never violated, the API's answers stay right (201 or 409
// duplicate-lead), the backfill completes, and it never overwrites what the API normalized.
import test from 'ava'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { runBackfill } from '../../jobs/backfill.ts'
import { startNormalizationBackfill } from '../../models/backfills.ts'
import { NORMALIZATION_VERSION, normalizeEmail } from '../../models/normalization.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

const LEADS = 10_000
let stack: Stack
let api: Api
let manager: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
  await stack.owner.raw(
    `insert into leads (tenant_id, territory, company_name, email, country_code, stage, owner_user_id, created_by, created_at, normalization_version)
     select 'default', 'DE', 'Altkunde ' || g, 'Lead.' || g || '@Example.DE', 'DE', 'VORMERKUNG', 'm1', 'import', now() - interval '1 day' + g * interval '1 ms', 0
       from generate_series(1, ?::int) g`,
    [LEADS],
  )
})
test.after.always(() => stack?.stop())

test('API writes during a backfill: right answers, no lost normalization, backfill completes', async (t) => {
  t.timeout(90_000)
  const ids = new Map<number, string>(
    (await stack.owner.raw(`select id, company_name from leads`)).rows.map((r: { id: string; company_name: string }) => [Number(r.company_name.split(' ')[1]), r.id]),
  )
  const { backfill } = await inTransaction(stack.deps.knex, systemContext('default'), (tx) => startNormalizationBackfill(stack.deps, tx, { createdBy: 'test', batchSize: 200 }))
  const running = runBackfill(stack.deps, { backfillId: backfill.id, tenantId: 'default' })

  const create = async (n: number) => ({ n, response: await api('POST', '/api/leads', { token: manager, body: { companyName: `Neukunde ${n}`, email: `lead.${n}@example.de` } }) })
  const isNormalized = async (n: number) => (await stack.owner.raw(`select normalization_version from leads where id = ?`, [ids.get(n)!])).rows[0].normalization_version === NORMALIZATION_VERSION
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  // Three disjoint sets of old leads: odd ones far ahead, odd ones racing, even ones patched.
  // Far ahead of the backfill: the new lead takes the address first.
  const ahead = Promise.all(Array.from({ length: 20 }, (_, i) => create(LEADS - 1 - i * 98)))
  // Behind it: once the old lead is normalized, a create must be refused as a duplicate.
  const behind = (async () => {
    const results = []
    for (const n of [40, 1500, 3000]) {
      while (!(await isNormalized(n))) await sleep(5)
      results.push(await create(n))
    }
    return results
  })()
  // And all along, racing the batches: creates, and patches of old leads' addresses.
  const racing = (async () => {
    const creates = []
    const patches = []
    for (let i = 0; i < 40; i++) {
      creates.push(await create(11 + i * 136))
      const n = 50 + i * 150
      patches.push({ n, response: await api('PATCH', `/api/leads/${ids.get(n)}`, { token: manager, headers: { 'if-match': '*' }, body: { email: `neu.${n}@example.de`, city: 'Bonn' } }) })
      await sleep(10)
    }
    return { creates, patches }
  })()
  const [early, late, raced, run] = await Promise.all([ahead, behind, racing, running])
  const created = [...early, ...late, ...raced.creates]
  const changed = raced.patches
  const patched = changed.map(({ n }) => n)

  t.true(late.every(({ response }) => response.status === 409), 'an address the backfill gave an old lead is a duplicate')
  t.true(early.some(({ response }) => response.status === 201), 'new leads ahead of the backfill were created')
  t.like(run.backfill, { status: 'COMPLETED', failed: 0 })
  t.true(changed.every(({ response }) => response.status === 200), 'every patch went through')
  t.true(created.every(({ response }) => response.status === 201 || (response.status === 409 && response.body.type.endsWith('/duplicate-lead'))))

  type Row = { id: string; email_normalized: string | null; normalization_version: number }
  const leads = new Map<string, Row>((await stack.owner.raw(`select id, email_normalized, normalization_version from leads`)).rows.map((r: Row) => [r.id, r]))
  t.true([...leads.values()].every((lead) => lead.normalization_version === NORMALIZATION_VERSION), 'nothing left stale')
  for (const n of patched) t.is(leads.get(ids.get(n)!)!.email_normalized, `neu.${n}@example.de`, `patched lead ${n} keeps what the API normalized`)

  const collisions = new Map((await stack.owner.raw(`select lead_id, existing_lead_id from backfill_collisions`)).rows.map((r: { lead_id: string; existing_lead_id: string }) => [r.lead_id, r.existing_lead_id]))
  for (const { n, response } of created) {
    const old = ids.get(n)!
    if (response.status === 409) {
      // The backfill got there first: the old lead holds the address and the API said so.
      t.is(leads.get(old)!.email_normalized, normalizeEmail(`Lead.${n}@Example.DE`))
      t.is(response.body.existingLeadId, old)
    } else {
      // The new lead got there first: the old one keeps its row, collides with it, and is reported.
      t.is(leads.get(old)!.email_normalized, null)
      t.is(collisions.get(old), response.body.id)
    }
  }
  t.is(collisions.size, created.filter(({ response }) => response.status === 201).length, 'no other collisions')
  t.log(`${collisions.size} creates came first, ${created.length - collisions.size} found the old lead normalized`)
})
