// lib/db.ts sends parameterized statements as named prepared statements. What must hold: they
// really are prepared (per connection), and a running process keeps answering when a migration adds
// a column underneath it — which a prepared `select *` would not survive.
import test from 'ava'
import pg from 'pg'
import { inTransaction, preparedStatementName, systemContext } from '../../lib/db.ts'
import { findLead } from '../../models/lead-queries.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

let stack: Stack
let api: Api
let manager: string

test.before(async () => {
  stack = await startStack()
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
})
test.after.always(() => stack?.stop())

test('naming: one stable name per text; none without parameters; none for a `*` unless the result is fixed', (t) => {
  const byId = 'select "leads"."id" from "leads" where "leads"."id" = ?'
  const name = preparedStatementName(byId, 1)
  t.regex(name ?? '', /^fp_[\w-]{27}$/)
  t.is(preparedStatementName(byId, 1), name)
  t.not(preparedStatementName(`${byId} limit ?`, 2), name)
  t.is(preparedStatementName('COMMIT', 0), undefined)
  t.is(preparedStatementName('select "leads".* from "leads" where "id" = ?', 1), undefined)
  t.is(preparedStatementName('insert into t select *, 1 from x returning id', 1, true), preparedStatementName('insert into t select *, 1 from x returning id', 1, true))
  t.truthy(preparedStatementName('insert into t select *, 1 from x returning id', 1, true))
})

test('a lead read is a prepared statement of its connection', async (t) => {
  const created = await api('POST', '/api/leads', { token: manager, body: { companyName: 'Prepared GmbH' } })
  const prepared = await inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
    t.is((await findLead(tx, created.body.id))?.companyName, 'Prepared GmbH')
    const { rows } = await tx.trx.raw(`select name from pg_prepared_statements where statement like 'select "leads"."id", %from "leads" where "leads"."id" = $1%'`)
    return rows as { name: string }[]
  })
  t.is(prepared.length, 1)
  t.regex(prepared[0]!.name, /^fp_/)
})

test('a migration adding columns while the service runs: every prepared read and write keeps working', async (t) => {
  const exercise = async (label: string) => {
    // Parallel, so most pooled connections prepare (or reuse) each statement.
    const results = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const created = await api('POST', '/api/leads', { token: manager, body: { companyName: `Expand ${label} ${i}`, email: `expand-${label}-${i}@example.com` } })
      const read = await api('GET', `/api/leads/${created.body.id}`, { token: manager })
      const patched = await api('PATCH', `/api/leads/${created.body.id}`, { token: manager, headers: { 'if-match': '"1"' }, body: { city: 'Köln' } })
      const list = await api('GET', '/api/leads?limit=5', { token: manager })
      const activities = await api('GET', `/api/leads/${created.body.id}/activities`, { token: manager })
      return [created.status, read.status, patched.status, list.status, activities.status]
    }))
    t.deepEqual(results.flat().filter((status) => status >= 300), [], label)
  }
  await exercise('before')
  await stack.owner.raw('alter table leads add column expand_test integer')
  await stack.owner.raw('alter table lead_activities add column expand_test text')
  await exercise('after')
})

test('the hazard is real: a prepared `select *` fails once its table gains a column', async (t) => {
  const client = new pg.Client({ connectionString: stack.db.ownerUrl })
  await client.connect()
  try {
    await client.query('create table star_probe (id int primary key)')
    await client.query('insert into star_probe values (1)')
    const query = { name: 'star_probe_by_id', text: 'select * from star_probe where id = $1', values: [1] }
    await client.query(query)
    await client.query('alter table star_probe add column extra int')
    const error = await t.throwsAsync(client.query(query))
    t.regex(error.message, /cached plan must not change result type/)
  } finally {
    await client.end()
  }
})
