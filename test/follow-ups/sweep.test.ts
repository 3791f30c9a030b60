// The sweep's selection (§6): due by the due rule at the clock's now, not sent, not skipped, across
// tenants, through keyset batches that lose no lead when registration times are equal.
import test from 'ava'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'
import { sweepDueFollowUps } from '../../models/follow-ups.ts'
import { insertLead, jobsFor } from './support.ts'

// A Friday 10:00 CEST: T+3 is due Monday 10:00 (08:00 UTC), T+7 (a Friday) the next Friday 08:00 UTC.
const registeredAt = new Date('2031-06-06T08:00:00.000Z')
const clock = new ManualClock('2031-06-09T08:00:01.000Z') // that Monday, a second after 10:00 CEST: T+3 just due
let stack: Stack

// No worker: the jobs the sweep creates stay where the test can count them.
test.before(async () => {
  stack = await startStack({ web: false, clock })
})
test.after.always(() => stack?.stop())

async function queuedKinds(leadId: string): Promise<string[]> {
  const kinds: string[] = []
  if ((await jobsFor(stack.owner, 'follow-up.t3', `${leadId}:T3`)).length > 0) kinds.push('T3')
  if ((await jobsFor(stack.owner, 'follow-up.t7', `${leadId}:T7`)).length > 0) kinds.push('T7')
  return kinds
}

test.serial('the sweep enqueues exactly the due, unsent, not skipped follow-ups of every tenant, batch after batch', async (t) => {
  // Leads registered at the same microsecond, as one import transaction's now() gives them: the
  // keyset must keep the microseconds and break the tie by id. Two tenants.
  const importedAt = '2031-06-06 08:00:00.123456+00'
  const due = await Promise.all(['default', 'default', 'default', 'acme', 'acme'].map((tenantId) => insertLead(stack.owner, { registeredAt: importedAt, tenantId })))
  const t3Sent = await insertLead(stack.owner, { registeredAt, t3SentAt: clock.now() })
  const lost = await insertLead(stack.owner, { registeredAt, status: 'LOST' })
  const justBefore = await insertLead(stack.owner, { registeredAt: new Date(registeredAt.getTime() + 60_000) }) // due a minute from now
  const ch = await insertLead(stack.owner, { registeredAt, territory: 'CH' })

  t.deepEqual(await sweepDueFollowUps(stack.deps, { batchSize: 2 }), { due: 6, enqueued: 6 })
  for (const id of [...due, ch]) t.deepEqual(await queuedKinds(id), ['T3'])
  for (const id of [t3Sent, lost, justBefore]) t.deepEqual(await queuedKinds(id), [])
  t.deepEqual(await sweepDueFollowUps(stack.deps, { batchSize: 2 }), { due: 6, enqueued: 0 }, 'the waiting jobs dedupe a second sweep')

  clock.set('2031-06-13T09:00:00.000Z') // Friday 11:00 CEST: every T+7 is due as well
  t.deepEqual(await sweepDueFollowUps(stack.deps, { batchSize: 3 }), { due: 15, enqueued: 9 })
  t.deepEqual(await queuedKinds(t3Sent), ['T7'])
  t.deepEqual(await queuedKinds(justBefore), ['T3', 'T7'])
  t.deepEqual(await queuedKinds(lost), [])
})
