import type { Queue } from 'pg-boss'
import { IDEMPOTENCY_PURGE_QUEUE } from './idempotency-purge.ts'

// Every queue the code sends to or works on, with its options. Start-up creates them all (see
// boss.ts), so a send to a queue missing from this list fails loudly instead of vanishing.
// Later issues add their queues here.

/** Event outbox publisher (jobs/events.ts). */
export const EVENTS_PUBLISH_QUEUE = 'events.publish'
/** Event outbox retention (jobs/events.ts). */
export const EVENTS_PRUNE_QUEUE = 'events.prune'

export const QUEUES: Record<string, Queue> = {
  idempotencyPurge: { name: IDEMPOTENCY_PURGE_QUEUE, retryLimit: 3, retryDelay: 60, deleteAfterSeconds: 86_400 },
  // Each recorded event sends one wake-up job and one run publishes everything pending, so later
  // jobs find little or nothing. A standard queue on purpose: a deduplicating policy would drop the
  // job of a transaction that commits while the queued job is already running, and its event would
  // wait for the next one. No `notify`: that would put a NOTIFY, and PostgreSQL's global notify
  // lock, into every lead write (see OutboxRelay in jobs/events.ts, the fast path).
  [EVENTS_PUBLISH_QUEUE]: { name: EVENTS_PUBLISH_QUEUE, retryLimit: 10, retryDelay: 1, retryBackoff: true, deleteAfterSeconds: 3600 },
  [EVENTS_PRUNE_QUEUE]: { name: EVENTS_PRUNE_QUEUE, policy: 'singleton' },
}
