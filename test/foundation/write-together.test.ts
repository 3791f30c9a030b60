// lib/db.ts writeTogether and lib/boss.ts jobInserts (issue 16): jobs of several queues and rows of
// several tables in one statement, against the real pg-boss and PostgreSQL — including a `notify`
// queue, whose insert pg-boss builds as a WITH statement that cannot be a CTE and is sent by itself.
import test from 'ava'
import { randomUUID } from 'node:crypto'
import { combineWrites, inTransaction, systemContext, writeTogether } from '../../lib/db.ts'
import { jobInserts } from '../../lib/boss.ts'
import { EMAIL_SEND_QUEUE, EVENTS_PUBLISH_QUEUE, FOLLOW_UP_T3_QUEUE } from '../../lib/queues.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

let stack: Stack
test.before(async () => {
  stack = await startStack()
})
test.after.always(() => stack?.stop())

test('plain INSERTs become CTEs of one statement, in order, with their bindings in order; a WITH statement goes alone, first', (t) => {
  const writes = [
    { sql: 'insert into a (x) values (?)', bindings: [1] },
    { sql: 'with w as (select 1) insert into b select * from w', bindings: [] },
    { sql: '  INSERT into c (y, z) values (?, ?)', bindings: ['y', 'z'] },
  ]
  const statements = combineWrites(writes)
  t.is(statements.length, 2)
  t.is(statements[0]!.sql, writes[1]!.sql)
  t.is(statements[1]!.sql, 'with w0 as (insert into a (x) values (?)),\nw1 as (  INSERT into c (y, z) values (?, ?))\nselect 1')
  t.deepEqual(statements[1]!.bindings, [1, 'y', 'z'])
  t.true(statements[1]!.fixedResult)
  t.deepEqual(combineWrites([writes[0]!]), [writes[0]!], 'one INSERT is sent as it is')
})

test('jobs of three queues, one of them a notify queue, are all created, in the caller\'s transaction', async (t) => {
  const key = randomUUID()
  const jobs = [
    { queue: FOLLOW_UP_T3_QUEUE, data: { leadId: key }, options: { startAfter: new Date(Date.now() + 86_400_000), singletonKey: `${key}:T3` } },
    { queue: EVENTS_PUBLISH_QUEUE, data: { leadId: key } },
    { queue: EMAIL_SEND_QUEUE, data: { leadId: key } },
  ]
  const writes = await jobInserts(stack.deps.boss, jobs)
  t.is(writes.length, 3, 'one insert per queue, built by pg-boss')
  t.is(combineWrites(writes).length, 2, "the notify queue's insert alone, the other two together")
  const count = async () => (await stack.owner.raw<{ rows: { name: string }[] }>("select name from pgboss.job where data->>'leadId' = ? order by name", [key])).rows.map((r) => r.name)
  // Rolled back with the transaction: nothing.
  await t.throwsAsync(inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
    await writeTogether(tx, writes)
    throw new Error('roll back')
  }), { message: 'roll back' })
  t.deepEqual(await count(), [])
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) => writeTogether(tx, writes))
  t.deepEqual(await count(), [EMAIL_SEND_QUEUE, EVENTS_PUBLISH_QUEUE, FOLLOW_UP_T3_QUEUE].sort())
  // The same singletonKey again: skipped by pg-boss, as its insert skips it; the others are new jobs.
  await inTransaction(stack.deps.knex, systemContext('default'), async (tx) => writeTogether(tx, await jobInserts(stack.deps.boss, jobs)))
  t.deepEqual(await count(), [EMAIL_SEND_QUEUE, EMAIL_SEND_QUEUE, EVENTS_PUBLISH_QUEUE, EVENTS_PUBLISH_QUEUE, FOLLOW_UP_T3_QUEUE].sort())
})
