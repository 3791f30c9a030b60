// Recording lead changes as events (DOMAIN.md §7): the event row and the publisher's wake-up job
// are written in the caller's transaction, so a rollback leaves neither.
import { randomUUID } from 'node:crypto'
import { enqueue, type JobToSend } from '../lib/boss.ts'
import type { PendingWrite, Tx } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { EVENTS_PUBLISH_QUEUE } from '../lib/queues.ts'
import type { Territory } from '../lib/tenancy.ts'
import { eventIdempotencyKey } from './event-ids.ts'
import { eventsWrite, insertEvent, lockLeadEvents, wakeOutboxRelay } from './event-outbox.ts'
import type { LeadEventRecord, LeadEventType } from './events.ts'

export type { LeadEventType }

/** The lead as an event needs it: identity, where it lives, who may see it, and which version the change produced. */
export interface LeadEventSubject {
  id: string
  tenantId: string
  territory: Territory
  ownerUserId: string | null
  collaboratorUserIds: readonly string[]
  version: number
}

/** The outbox row of one change; its key names the change by the lead's new version, or by `changeId`. */
function eventRecord(type: LeadEventType, lead: LeadEventSubject, data: object, time: Date, changeId?: string): Omit<LeadEventRecord, 'seq'> {
  return {
    id: randomUUID(),
    tenantId: lead.tenantId,
    territory: lead.territory,
    leadId: lead.id,
    ownerUserId: lead.ownerUserId,
    collaboratorUserIds: [...lead.collaboratorUserIds],
    type,
    idempotencyKey: eventIdempotencyKey(lead.id, type, changeId ?? lead.version),
    time,
    data,
  }
}

/**
 * Records one lead change as an event, in the caller's transaction (AFTER_COMMIT: nothing is
 * published unless that transaction commits). Call it after the lead row is written, with the
 * lead's new version: the idempotency key is the v3 UUID of "<leadId>|<type>|<version>", so the
 * same logical change recorded twice is stored once (the second call logs a warning).
 *
 * The per-lead lock makes a later change of the same lead wait for this transaction, so its event
 * is written (and published) after this one even if the caller did not lock the lead row.
 */
export async function recordLeadEvent(
  deps: Deps,
  tx: Tx,
  event: { type: LeadEventType; lead: LeadEventSubject; data: object; changeId?: string },
): Promise<void> {
  const { lead, type } = event
  await lockLeadEvents(tx.trx, lead.id)
  const recorded = await insertEvent(tx.trx, eventRecord(type, lead, event.data, deps.clock.now(), event.changeId))
  if (!recorded) {
    deps.logger.warn({ leadId: lead.id, type, version: lead.version }, 'event with the same idempotency key already recorded; not recorded again')
    return
  }
  await enqueue(deps.boss, tx, PUBLISH_JOB.queue, PUBLISH_JOB.data)
  tx.afterCommit(() => wakeRelay(deps))
}

/**
 * A woken relay polls fast for a while (OutboxRelay), so one wake per process every
 * WAKE_INTERVAL_MS is enough: the events in between are found by that polling. Sent after the
 * commit, outside the request's transaction and without waiting for it.
 */
const WAKE_INTERVAL_MS = 250
let lastWake = -Infinity
// One wake-up in flight per process at most: a NOTIFY waits for PostgreSQL's global notify lock at
// its commit, and wake-ups stuck behind it must not take the pool's connections from requests.
let wakeInFlight = false

function wakeRelay(deps: Pick<Deps, 'knex' | 'logger'>): void {
  const now = performance.now()
  if (wakeInFlight || now - lastWake < WAKE_INTERVAL_MS) return
  lastWake = now
  wakeInFlight = true
  wakeOutboxRelay(deps.knex)
    .catch((error: unknown) => {
      lastWake = -Infinity
      deps.logger.debug({ err: error }, 'could not wake the outbox relay; it finds the event by polling')
    })
    .finally(() => {
      wakeInFlight = false
    })
}

/** The job that wakes the publisher for events recorded in a transaction; one per transaction is enough. */
export const PUBLISH_JOB: JobToSend = { queue: EVENTS_PUBLISH_QUEUE, data: {} }

/** An event of a lead created in this transaction (its `created` event, a `duplicate_detected` found on create). */
export interface CreatedLeadEvent {
  type: LeadEventType
  lead: LeadEventSubject
  data: object
}

/**
 * recordLeadEvent for leads this transaction created (models/lead-create.ts createLeads): their
 * events as one write, for the caller to send with its other writes (lib/db.ts writeTogether),
 * together with PUBLISH_JOB. No lead lock is needed, as for one created lead: nothing else can see
 * them before the commit, and their idempotency keys (a new lead's id) cannot exist yet.
 */
export function createdLeadEventsWrite(deps: Pick<Deps, 'clock' | 'knex' | 'logger'>, tx: Tx, events: readonly CreatedLeadEvent[]): PendingWrite | null {
  if (events.length === 0) return null
  const time = deps.clock.now()
  tx.afterCommit(() => wakeRelay(deps))
  return eventsWrite(events.map(({ type, lead, data }) => eventRecord(type, lead, data, time)))
}
