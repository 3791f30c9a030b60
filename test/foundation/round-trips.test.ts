// Round trips are what a request pays for on this stack (bench/README.md, issue 16): every
// statement the app's knex sends is one, BEGIN (with the RLS context) and COMMIT included. This
// pins how many a create and a read by id cost, so they cannot creep back up unnoticed.
import test from 'ava'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

let stack: Stack
let api: Api
let manager: string

test.before(async () => {
  // One connection, so pg_prepared_statements (per connection) shows every request's statements.
  stack = await startStack({ env: { DB_POOL_MAX: '1' } })
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
})
test.after.always(() => stack?.stop())

interface Sent { sql: string; txId: string | undefined }

/**
 * Every statement the web process's knex sends in a transaction while `work` runs (knex emits
 * 'query' for each, BEGIN and COMMIT included). Not counted: the outbox relay's wake-up, sent after
 * the commit outside any transaction and at most every 250 ms per process (models/lead-events.ts).
 */
async function statementsOf(work: () => Promise<void>, options: { outsideTransactions?: boolean } = {}): Promise<Sent[]> {
  const sent: Sent[] = []
  const listener = (query: { sql: string; __knexTxId?: string }) => {
    if (query.__knexTxId !== undefined || options.outsideTransactions) sent.push({ sql: query.sql, txId: query.__knexTxId })
  }
  stack.webDeps.knex.on('query', listener)
  try {
    await work()
  } finally {
    stack.webDeps.knex.off('query', listener)
  }
  return sent
}

// BEGIN+context; the lead with §11's candidate search (and the tenant's matching settings) in the
// same statement; everything else in one statement (CREATED activity, outbox event, any review, every
// job: T+3, T+7, the §10 protection job, the publisher's — lib/db.ts writeTogether); COMMIT. Was 11
// before the writes went out together, 5 before the search joined the insert.
const CREATE_ROUND_TRIPS = 4
// With an Idempotency-Key: the same four (lock and lookup with BEGIN, the stored response with COMMIT).
const CREATE_WITH_IDEMPOTENCY_KEY_ROUND_TRIPS = 4
const GET_ROUND_TRIPS = 1

let n = 0
const create = (headers: Record<string, string> = {}) => api('POST', '/api/leads', { token: manager, headers, body: { companyName: `Trips ${++n} GmbH`, email: `trips-${n}@example.com` } })

test.serial('a create is one transaction of a fixed number of round trips', async (t) => {
  await create() // warm-up: per-process caches (territories) are not per-request work
  let response: Awaited<ReturnType<typeof create>> | undefined
  const sent = await statementsOf(async () => {
    response = await create()
  })
  t.is(response!.status, 201)
  // The one jobs statement carried all of the lead's jobs, of three queues.
  const { rows } = await stack.owner.raw<{ rows: { name: string }[] }>("select name from pgboss.job where data->>'leadId' = ? order by name", [response!.body.id])
  t.deepEqual(rows.map((r) => r.name), ['follow-up.t3', 'follow-up.t7', 'lead-protection.reminder'])
  t.is(sent.filter((s) => /INSERT INTO pgboss\./i.test(s.sql)).length, 1, 'one statement for every job')
  t.regex(sent[1]!.sql, /^with inserted as \(insert into leads[\s\S]*match_candidates\(/, 'the lead and its candidate search in one statement')
  t.regex(sent.at(-2)!.sql, /insert into lead_activities[\s\S]*insert into lead_events[\s\S]*INSERT INTO pgboss\./i, 'activity, event and jobs in one statement')
  t.log(sent.map((s) => s.sql.replace(/\s+/g, ' ').slice(0, 90)).join('\n'))
  t.is(new Set(sent.map((s) => s.txId)).size, 1, 'one transaction')
  t.regex(sent[0]!.sql, /^BEGIN; select set_config\('app\.tenant_id'/, 'BEGIN carries the RLS context')
  t.regex(sent.at(-1)!.sql, /^COMMIT;?$/)
  t.is(sent.length, CREATE_ROUND_TRIPS)
})

test.serial('a create with an Idempotency-Key costs no round trip more: its lock and lookup go with BEGIN, its record with COMMIT', async (t) => {
  await create({ 'idempotency-key': crypto.randomUUID() })
  // Quotes, backslashes and `?`s: the key travels inlined as a literal (lib/db.ts inlineBindings).
  const key = `it's a \\? key ${crypto.randomUUID()} ?`
  let response: Awaited<ReturnType<typeof create>> | undefined
  const sent = await statementsOf(async () => {
    response = await create({ 'idempotency-key': key })
  })
  t.is(response!.status, 201)
  t.is(new Set(sent.map((s) => s.txId)).size, 1, 'one transaction')
  t.regex(sent[0]!.sql, /^BEGIN; select set_config[\s\S]*pg_try_advisory_xact_lock[\s\S]*from idempotency_keys/, 'lock and lookup with BEGIN')
  t.regex(sent.at(-1)!.sql, /^insert into idempotency_keys[\s\S]*;\nCOMMIT$/, 'the record with COMMIT')
  t.is(sent.length, CREATE_WITH_IDEMPOTENCY_KEY_ROUND_TRIPS)
  const replay = await api('POST', '/api/leads', { token: manager, headers: { 'idempotency-key': key }, body: { companyName: `Trips ${n} GmbH`, email: `trips-${n}@example.com` } })
  t.is(replay.status, 201)
  t.is(replay.headers.get('idempotent-replayed'), 'true')
  t.deepEqual(replay.body, response!.body)
})

test.serial('a read by id is one round trip: the RLS context and the SELECT as one implicit transaction', async (t) => {
  const { body } = await create()
  await api('GET', `/api/leads/${body.id}`, { token: manager })
  let response: Awaited<ReturnType<typeof api>> | undefined
  // Everything the web's knex sends, in a transaction or not (a read wakes no relay).
  const sent = await statementsOf(async () => {
    response = await api('GET', `/api/leads/${body.id}`, { token: manager })
  }, { outsideTransactions: true })
  t.is(response!.status, 200)
  t.is((response!.body as { id: string }).id, body.id)
  t.regex(sent[0]!.sql, /^select set_config\('app\.tenant_id'[\s\S]*;\nselect [\s\S]* from "leads" where "leads"\."id" = '/)
  t.is(sent.length, GET_ROUND_TRIPS)
})

test.serial('a create\'s statements run on their generic plans: PostgreSQL does not plan them again for every request', async (t) => {
  for (let i = 0; i < 8; i++) t.is((await create({ 'idempotency-key': crypto.randomUUID() })).status, 201)
  // plan_cache_mode auto: five custom plans, then the generic one if it is no dearer. The lead's
  // insert with its §11 search kept a custom plan per create while its probes were unnested arrays.
  const { rows } = await stack.webDeps.knex.raw<{ rows: { statement: string; generic_plans: number; custom_plans: number }[] }>(
    "select statement, generic_plans, custom_plans from pg_prepared_statements where statement ~* '^with (inserted|w0) as \\(insert into (leads|lead_activities)'",
  )
  // Statements run often enough to have settled (the writes' text differs with and without a review).
  const settled = rows.filter((row) => row.generic_plans + row.custom_plans >= 6)
  t.true(settled.some((row) => row.statement.startsWith('with inserted')), `the lead's insert with its search ran 6 times or more: ${rows.map((r) => r.statement.slice(0, 30))}`)
  for (const row of settled) t.true(row.generic_plans >= 1 && row.custom_plans <= 5, `${row.statement.slice(0, 60)}: ${row.generic_plans} generic, ${row.custom_plans} custom plans`)
})
