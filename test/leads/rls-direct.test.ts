// SQL straight from the application role with a DE context: CH rows must be invisible and
// unchangeable whatever the query. This is the database as the last line, with no HTTP in between.
import test from 'ava'
import { inTransaction, type SecurityContext } from '../../lib/db.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

let stack: Stack
let chId: string
const deManager: SecurityContext = { tenantId: 'default', userId: 'm-de', role: 'MANAGER', territories: ['DE'] }

test.before(async () => {
  stack = await startStack({ web: false })
  const { rows } = await stack.owner.raw(`
    insert into leads (tenant_id, territory, company_name, country_code, stage, owner_user_id, created_by)
    values ('default', 'CH', 'Geheim AG', 'CH', 'VORMERKUNG', 'sales-ch', 'sales-ch'), ('default', 'DE', 'Offen GmbH', 'DE', 'VORMERKUNG', 'sales-de', 'sales-de'),
           ('other', 'DE', 'Anderer Mandant', 'DE', 'VORMERKUNG', 'sales-de', 'sales-de')
    returning id, territory, company_name`)
  chId = rows.find((r: { territory: string }) => r.territory === 'CH').id
  await stack.owner.raw(`insert into lead_activities (lead_id, type, summary, user_id) values (?, 'NOTE', 'secret note', 'sales-ch')`, [chId])
})
test.after.always(() => stack?.stop())

const asDe = <T>(work: (sql: (text: string, bindings?: unknown[]) => Promise<any[]>) => Promise<T>) =>
  inTransaction(stack.deps.knex, deManager, (tx) => work(async (text, bindings = []) => (await tx.trx.raw(text, bindings as any[])).rows))

const reads = [
  'select * from leads',
  `select * from leads where territory = 'CH'`,
  'select * from leads where id = ?',
  `select count(*)::int as n from leads where company_name like '%Geheim%'`,
  'with x as (select * from leads) select * from x where id = ?',
  'select * from leads l join territories t on t.code = l.territory where l.id = ?',
  'select * from lead_activities',
  `select * from leads where true or territory = 'CH'`,
]
for (const query of reads) {
  test(`read as DE: ${query}`, async (t) => {
    const rows = await asDe((sql) => sql(query, query.includes('?') ? [chId] : []))
    const text = JSON.stringify(rows)
    t.false(text.includes('Geheim'))
    t.false(text.includes(chId))
    t.false(text.includes('secret note'))
    t.false(text.includes('Anderer Mandant'))
    if (query.startsWith('select count')) t.is(rows[0].n, 0)
  })
}

test('the DE context sees its own DE lead (the filter is not simply "nothing")', async (t) => {
  const rows = await asDe((sql) => sql('select company_name from leads'))
  t.deepEqual(rows, [{ company_name: 'Offen GmbH' }])
})

test('CH rows cannot be updated or deleted from a DE context', async (t) => {
  const updated = await asDe((sql) => sql(`update leads set company_name = 'pwned' where id = ? returning id`, [chId]))
  t.deepEqual(updated, [])
  const all = await asDe((sql) => sql(`update leads set notes = 'touched' returning id`))
  t.is(all.length, 1)
  await t.throwsAsync(asDe((sql) => sql('delete from leads where id = ?', [chId])), { message: /permission denied/ })
  const { rows } = await stack.owner.raw('select company_name, notes from leads where id = ?', [chId])
  t.deepEqual(rows, [{ company_name: 'Geheim AG', notes: null }])
})

test('a DE lead cannot be moved to CH, nor a CH lead created, nor an activity smuggled onto a CH lead', async (t) => {
  await t.throwsAsync(asDe((sql) => sql(`update leads set territory = 'CH' where company_name = 'Offen GmbH'`)), { message: /row-level security/ })
  await t.throwsAsync(
    asDe((sql) => sql(`insert into leads (territory, company_name, stage, owner_user_id, created_by) values ('CH', 'x', 'VORMERKUNG', 'm-de', 'm-de')`)),
    { message: /row-level security/ },
  )
  await t.throwsAsync(asDe((sql) => sql(`insert into lead_activities (lead_id, type, summary, user_id) values (?, 'NOTE', 'x', 'm-de')`, [chId])), { message: /row-level security/ })
})

test('switching role or RLS off is refused', async (t) => {
  await t.throwsAsync(asDe((sql) => sql('set local role postgres')), { message: /permission denied/ })
  await t.throwsAsync(asDe((sql) => sql('alter table leads disable row level security')), { message: /must be owner/ })
  // Forging the context inside the transaction would need SQL injection; even then the tenant and
  // territory come only from set_config, which the helper sets from the verified token.
  const forged = await asDe(async (sql) => {
    await sql(`select set_config('app.territories', 'DE', true)`)
    return sql('select * from leads where id = ?', [chId])
  })
  t.deepEqual(forged, [])
})
