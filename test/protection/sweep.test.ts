// §10 acceptance, safety net: the daily sweep finds leads whose protection job is missing — imported
// or backfilled rows without dates, and leads whose job was lost — and does the same transitions as
// the jobs would, once, however often it runs.
import test from 'ava'
import { randomUUID } from 'node:crypto'
import { sweepProtection } from '../../models/lead-protection.ts'
import { PROTECTION_QUEUE_OF } from '../../lib/queues.ts'
import { MANAGER_MAILS, OWNER_MAIL, activityTypes, leadRow, outboxOf, startProtectionStack, stopProtectionStack, waitUntil, type ProtectionStack } from './support.ts'

const DAY = 24 * 60 * 60 * 1000
const NOW = new Date('2031-06-02T08:00:00.000Z') // Monday 10:00 in Berlin and Zurich
let service: ProtectionStack

test.before(async () => {
  service = await startProtectionStack(NOW)
})
test.after.always(() => stopProtectionStack(service))

/** A lead as an import or an old data migration writes it: no protection dates, no job. */
async function importedLead(daysAgo: number, options: { territory?: 'DE' | 'CH'; status?: string; stopped?: boolean } = {}): Promise<string> {
  const id = randomUUID()
  const registeredAt = new Date(NOW.getTime() - daysAgo * DAY)
  await service.stack.owner('leads').insert({
    id, tenant_id: 'default', territory: options.territory ?? 'DE', country_code: options.territory ?? 'DE', company_name: `Import ${daysAgo} Tage`,
    status: options.status ?? 'REGISTERED', stage: 'VORMERKUNG', owner_user_id: 'sales-1', created_by: 'import', registered_at: registeredAt,
    ...(options.stopped && { clock_stop_status: 'STOPPED', clock_stopped_at: registeredAt, stop_reason: 'Kunde im Umbau bis Herbst' }),
  })
  return id
}

/** Waits until no protection job is waiting to run now or running. */
async function drained(): Promise<void> {
  await waitUntil('the protection jobs to drain', async () => {
    const { count } = (await service.stack.owner('pgboss.job').whereIn('name', Object.values(PROTECTION_QUEUE_OF)).whereIn('state', ['created', 'retry', 'active']).where('start_after', '<=', service.stack.owner.raw('now()')).count('* as count').first()) as { count: number }
    return Number(count) === 0
  }, 60_000)
}

test.serial('the sweep finds leads without a job and does each due transition once', async (t) => {
  const { owner } = service.stack
  const fresh = await importedLead(10) // nothing due: dates computed, job scheduled
  const nearDeadline = await importedLead(55) // reminder due (53 d)
  const pastDeadline = await importedLead(63) // reminder and grace period due
  const pastGrace = await importedLead(75) // expired (70 d)
  const swissPastGrace = await importedLead(75, { territory: 'CH' })
  const qualified = await importedLead(200, { status: 'QUALIFIED' }) // protection earned: untouched
  const stopped = await importedLead(200, { stopped: true }) // stopped clock: untouched

  const first = await sweepProtection(service.stack.deps)
  t.deepEqual(first, { due: 5, enqueued: 5 })
  await drained()

  const status = async (id: string) => (await leadRow(owner, id)).status
  t.is(await status(fresh), 'REGISTERED')
  t.is(await status(nearDeadline), 'REMINDER')
  t.is(await status(pastDeadline), 'GRACE_PERIOD')
  t.is(await status(pastGrace), 'EXPIRED')
  t.is(await status(swissPastGrace), 'EXPIRED')
  t.is(await status(qualified), 'QUALIFIED')
  t.is(await status(stopped), 'REGISTERED')

  // The fresh lead now has its dates and a waiting REMINDER job at day 53.
  const freshRow = await leadRow(owner, fresh)
  t.is(freshRow.protection_next_kind, 'REMINDER')
  t.is(freshRow.progress_deadline.getTime(), NOW.getTime() + 50 * DAY)
  t.is((await owner('pgboss.job').where({ name: PROTECTION_QUEUE_OF.REMINDER, singleton_key: `${fresh}:REMINDER`, state: 'created' }).first('start_after')).start_after.getTime(), NOW.getTime() + 43 * DAY)
  t.is((await leadRow(owner, pastGrace)).owner_user_id, null)

  // Each transition went one allowed step at a time and once.
  t.deepEqual((await activityTypes(owner, pastDeadline)).sort(), ['GRACE_PERIOD_STARTED', 'REMINDER_SENT', 'STATUS_CHANGE', 'STATUS_CHANGE'])
  t.deepEqual((await activityTypes(owner, pastGrace)).sort(), ['PROTECTION_EXPIRED', 'STATUS_CHANGE'])
  t.deepEqual(await activityTypes(owner, qualified), [])

  // Mails: owner warnings for the two that passed REMINDER; managers of DE and CH for the expiries.
  await waitUntil('all mails', () => service.smtp.received.length === 2 + MANAGER_MAILS.DE.length + MANAGER_MAILS.CH.length)
  t.is(service.smtp.to(OWNER_MAIL).length, 2)
  t.is(service.smtp.to(MANAGER_MAILS.CH[0]!).length, 1)

  // Twice more: nothing is due any more, nothing happens again.
  t.deepEqual(await sweepProtection(service.stack.deps), { due: 0, enqueued: 0 })
  t.deepEqual(await sweepProtection(service.stack.deps, { batchSize: 1 }), { due: 0, enqueued: 0 })
  t.is((await outboxOf(owner, pastDeadline)).length, 1)

  // A lead whose job was lost (deleted from pg-boss) is found again when its transition is due.
  await owner('pgboss.job').where({ singleton_key: `${fresh}:REMINDER` }).delete()
  service.clock.set(new Date(NOW.getTime() + 44 * DAY))
  // Due by then as well: the REMINDER and GRACE_PERIOD leads' next steps, whose jobs wait (no second job).
  t.deepEqual(await sweepProtection(service.stack.deps, { batchSize: 2 }), { due: 3, enqueued: 1 })
  await drained()
  t.is(await status(fresh), 'REMINDER')
  t.deepEqual(await sweepProtection(service.stack.deps), { due: 2, enqueued: 0 })
  await waitUntil('the third warning', () => service.smtp.to(OWNER_MAIL).length === 3)
})

test.serial('concurrent sweeps: at most one waiting job per lead and kind, and the transitions happen once', async (t) => {
  const { owner } = service.stack
  service.clock.set(NOW)
  const id = await importedLead(60)
  // Two sweeps at once. While one's job waits the other's send is a no-op; once a worker has taken
  // it (stately: one waiting and one running per key) a second job may be queued, and finds nothing due.
  const [a, b] = await Promise.all([sweepProtection(service.stack.deps), sweepProtection(service.stack.deps)])
  t.true(a.enqueued + b.enqueued >= 1 && a.enqueued + b.enqueued <= 2)
  await drained()
  t.is((await leadRow(owner, id)).status, 'GRACE_PERIOD')
  t.deepEqual((await activityTypes(owner, id)).sort(), ['GRACE_PERIOD_STARTED', 'REMINDER_SENT', 'STATUS_CHANGE', 'STATUS_CHANGE'])
})
