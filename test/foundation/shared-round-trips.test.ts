// lib/db.ts inTransaction's shared round trips (issue 16): statements sent with BEGIN (after the
// RLS context, each with its own snapshot) and with COMMIT (Tx.atCommit), and readTogether's read
// in one round trip, their values inlined as SQL literals by inlineBindings. Against the real PostgreSQL, as the app role under RLS.
import test from 'ava'
import { createKnex, inlineBindings, inSavepoint, inTransaction, readTogether, type Knex, type SecurityContext } from '../../lib/db.ts'
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/database.ts'

let db: TestDatabase
let knex: Knex
const ctx: SecurityContext = { tenantId: 'default', userId: 'u-1', role: 'SALES', territories: ['DE'] }

test.before(async () => {
  db = await createTestDatabase()
  // One connection: a transaction left open or aborted on it would break the next test's.
  knex = createKnex(db.appUrl, { poolMax: 1 })
})
test.after.always(async () => {
  await knex?.destroy()
  await db?.drop()
})

const awkward = ["it's", 'back\\slash \\x41', 'ü ẞ 😀', '?', '', "'; drop table leads; --"]

test('inlined values come back as PostgreSQL received them: quotes, backslashes, unicode, null, numbers, booleans, dates, JSON and every byte', async (t) => {
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const at = new Date('2026-03-29T01:30:00.123Z')
  const statements = [
    ...awkward.map((text) => ({ sql: 'select ?::text as value', bindings: [text] })),
    { sql: 'select ?::bytea as value, ?::timestamptz as at, ?::int as n, ?::boolean as yes, ?::text as nothing, ?::jsonb as doc', bindings: [bytes, at, -42, true, null, JSON.stringify({ a: "b'c", d: [1, '\\'] })] },
  ]
  const begun = await inTransaction(knex, ctx, async (_tx, rows) => rows, statements)
  t.deepEqual(begun.slice(0, awkward.length).map((rows) => (rows[0] as { value: string }).value), awkward)
  const last = begun.at(-1)![0] as { value: Buffer; at: Date; n: number; yes: boolean; nothing: null; doc: object }
  t.deepEqual([...last.value], [...bytes])
  t.is(last.at.toISOString(), at.toISOString())
  t.deepEqual([last.n, last.yes, last.nothing, last.doc], [-42, true, null, { a: "b'c", d: [1, '\\'] }])
})

test('a statement whose `?`s are not all placeholders is refused, not guessed', (t) => {
  t.throws(() => inlineBindings({ sql: "select '{\"a\":1}'::jsonb ? 'a' and ? = 1", bindings: [1] }), { message: /2 placeholders for 1 values/ })
})

test('statements at BEGIN run after the RLS context is set, in order, each with a snapshot of its own', async (t) => {
  // What the Idempotency-Key's lock and lookup rely on: a row committed while the first statement
  // runs (here: sleeps) is seen by the next one.
  const key = crypto.randomUUID()
  const insertedMeanwhile = new Promise((resolve) => setTimeout(resolve, 150)).then(() =>
    withClient(db.ownerUrl, (client) => client.query("insert into idempotency_keys (tenant_id, user_id, key, fingerprint, status_code, headers, expires_at) values ('default', 'u-1', $1, 'f', 201, '{}', now() + interval '1 minute')", [key])))
  const begun = await inTransaction(knex, ctx, async (_tx, rows) => rows, [
    { sql: "select current_setting('app.tenant_id') as tenant, current_setting('app.user_id') as user_id", bindings: [] },
    { sql: 'select true as slept from pg_sleep(1)', bindings: [] },
    { sql: 'select count(*)::int as n from idempotency_keys where key = ?', bindings: [key] },
  ])
  await insertedMeanwhile
  t.deepEqual(begun, [[{ tenant: 'default', user_id: 'u-1' }], [{ slept: true }], [{ n: 1 }]])
})

test('a statement at COMMIT is written with the transaction', async (t) => {
  const id = crypto.randomUUID()
  await inTransaction(knex, ctx, async (tx) => {
    tx.atCommit({ sql: 'insert into idempotency_keys (tenant_id, user_id, key, fingerprint, status_code, headers, body, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?)', bindings: ['default', 'u-1', id, 'f', 201, '{}', Buffer.from("a'b\\"), new Date(Date.now() + 60_000)] })
  })
  const { rows } = await withClient(db.ownerUrl, (client) => client.query('select body from idempotency_keys where key = $1', [id]))
  t.deepEqual(rows.map((r) => r.body.toString()), ["a'b\\"])
})

test('a failing statement at COMMIT fails the transaction, rolls back its writes and leaves the connection clean', async (t) => {
  const key = crypto.randomUUID()
  const error = await t.throwsAsync(inTransaction(knex, ctx, async (tx) => {
    await tx.trx.raw('insert into idempotency_keys (tenant_id, user_id, key, fingerprint, status_code, headers, expires_at) values (?, ?, ?, ?, ?, ?, ?)', ['default', 'u-1', key, 'f', 201, '{}', new Date(Date.now() + 60_000)])
    tx.atCommit({ sql: 'select 1 / ?::int', bindings: [0] })
  }))
  t.regex(error!.message, /division by zero/)
  const { rows } = await withClient(db.ownerUrl, (client) => client.query('select count(*)::int as n from idempotency_keys where key = $1', [key]))
  t.is(rows[0].n, 0, 'the earlier insert rolled back')
  // The pool's only connection: an aborted transaction left on it would fail this one.
  const after = await inTransaction(knex, ctx, async (tx) => (await tx.trx.raw<{ rows: { ok: number }[] }>('select 1 as ok')).rows)
  t.deepEqual(after, [{ ok: 1 }])
})

test('a savepoint refuses atCommit: its statement would run even when the savepoint rolls back', async (t) => {
  await inTransaction(knex, ctx, async (tx) => {
    await inSavepoint(tx, async (savepoint) => {
      t.throws(() => savepoint.atCommit({ sql: 'select 1', bindings: [] }), { message: /outermost transaction/ })
    })
  })
})

test('the RLS context arrives as given, a `?` or backslash in it too (knex would have made `?` a placeholder)', async (t) => {
  const odd: SecurityContext = { ...ctx, userId: "u?1 \\? it's" }
  const [[row]] = await inTransaction(knex, odd, async (tx, begun) => [(await tx.trx.raw<{ rows: object[] }>("select current_setting('app.user_id') as user_id")).rows, begun])
  t.deepEqual(row, { user_id: "u?1 \\? it's" })
})

test('readTogether: the context and the statements in one implicit transaction; the context ends with it', async (t) => {
  const rows = await readTogether(knex, ctx, [
    { sql: "select current_setting('app.tenant_id') as tenant, current_setting('app.user_id') as user_id", bindings: [] },
    { sql: 'select ?::text as echoed', bindings: ["it's ?"] },
  ])
  t.deepEqual(rows, [[{ tenant: 'default', user_id: 'u-1' }], [{ echoed: "it's ?" }]])
  // The pool's only connection: the next statement on it sees no context left behind.
  const { rows: after } = await knex.raw<{ rows: { tenant: string | null }[] }>("select nullif(current_setting('app.tenant_id', true), '') as tenant")
  t.deepEqual(after, [{ tenant: null }])
})

test('readTogether: an error rolls the whole read back and leaves the connection idle, its context gone', async (t) => {
  await t.throwsAsync(readTogether(knex, ctx, [{ sql: 'select 1 / ?::int', bindings: [0] }]), { message: /division by zero/ })
  const { rows } = await knex.raw<{ rows: { tenant: string | null; in_transaction: boolean }[] }>("select nullif(current_setting('app.tenant_id', true), '') as tenant, txid_current_if_assigned() is not null as in_transaction")
  t.deepEqual(rows, [{ tenant: null, in_transaction: false }])
  t.deepEqual(await readTogether(knex, ctx, [{ sql: 'select 1 as ok', bindings: [] }]), [[{ ok: 1 }]])
})
