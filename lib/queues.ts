import type { Queue, WorkOptions } from 'pg-boss'

/** Long jobs worked in slices (backfills, imports): one queued and one active job per key, heartbeats, patient retries. */
const SLICED_JOB_OPTIONS = {
  policy: 'stately',
  heartbeatSeconds: 10,
  expireInSeconds: 15 * 60,
  retryLimit: 10,
  retryDelay: 5,
  retryBackoff: true,
  retryDelayMax: 300,
} as const satisfies Omit<Queue, 'name'>

/**
 * §5 normalization backfills. One job per backfill, its singletonKey the backfill id. `stately`
 * allows one queued and one active job per key: a running slice can queue its continuation, and
 * asking again for a running backfill (POST, `npm run backfill`) never adds a second queued job,
 * nor lets two workers run the same backfill at once. Heartbeats let the next supervision pass
 * hand a killed worker's job to another within seconds; the backfill row's lock makes even a
 * concurrent run harmless.
 */
export const BACKFILL_QUEUE = { name: 'leads.backfill', ...SLICED_JOB_OPTIONS } as const satisfies Queue

/**
 * §14 lead-list imports. One job per import (singletonKey: the import id), like the backfill: a
 * slice runs batches for a while, queues its continuation and completes with the progress as its
 * output (the queue board shows it). `stately` keeps one queued and one active job per import, so
 * two workers never run one import at once; the import row's lock makes even that harmless.
 */
export const IMPORT_QUEUE = { name: 'leads.import', ...SLICED_JOB_OPTIONS } as const satisfies Queue

/** Hourly purge of expired Idempotency-Keys. */
export const IDEMPOTENCY_PURGE_QUEUE = 'idempotency.purge'

// Every queue the code sends to or works on, with its options. Start-up creates them all (see
// boss.ts), so a send to a queue missing from this list fails loudly instead of vanishing.
// Later issues add their queues here.

/** Event outbox publisher (jobs/events.ts). */
export const EVENTS_PUBLISH_QUEUE = 'events.publish'
/** Event outbox retention (jobs/events.ts). */
export const EVENTS_PRUNE_QUEUE = 'events.prune'

// §6 follow-ups. One job per lead and kind (singletonKey `<leadId>:T3` / `:T7`); `exclusive`
// turns a second send with the same key into a no-op while the first is waiting, retrying or
// running, which is how the sweep and lead creation never double up. The handlers only touch
// the database, so failures are transient: a few retries with backoff. No `notify`: the jobs are
// due days ahead and found by the ready-queues poll (READY_QUEUES_POLL_MS, the sweep's due-now ones too), and a queue
// without it has a plain INSERT that a lead's create sends together with its other jobs
// (lib/boss.ts jobInserts).
export const FOLLOW_UP_T3_QUEUE = 'follow-up.t3'
export const FOLLOW_UP_T7_QUEUE = 'follow-up.t7'
/** The daily sweep that enqueues due follow-ups that have no job (imported or backfilled leads). */
export const FOLLOW_UP_SWEEP_QUEUE = 'follow-up.sweep'
/** Delivers one `email_outbox` row over SMTP. */
export const EMAIL_SEND_QUEUE = 'email.send'

// heartbeatSeconds: a worker that dies mid-job (SIGKILL, OOM, lost node) stops beating, and the
// next supervision pass hands the job to another worker within seconds instead of after expiry.
const followUpOptions = { policy: 'exclusive', retryLimit: 5, retryDelay: 30, retryBackoff: true, retryDelayMax: 1800, expireInSeconds: 300, heartbeatSeconds: 10, notify: false } as const

export const FOLLOW_UP_QUEUES: Record<string, Queue> = {
  [FOLLOW_UP_T3_QUEUE]: { name: FOLLOW_UP_T3_QUEUE, ...followUpOptions },
  [FOLLOW_UP_T7_QUEUE]: { name: FOLLOW_UP_T7_QUEUE, ...followUpOptions },
  // Only one sweep at a time; a failed one is simply the next day's work.
  [FOLLOW_UP_SWEEP_QUEUE]: { name: FOLLOW_UP_SWEEP_QUEUE, policy: 'exclusive', retryLimit: 2, retryDelay: 60, expireInSeconds: 900 },
}

// §10 lead protection: one delayed job per lead for its next transition, a queue per kind, singletonKey
// `<leadId>:<kind>`. `stately` allows one waiting and one running job per key, so a deadline moved
// while the lead's job runs still gets its own job; a newer deadline moves the waiting job
// (pg-boss upsert). The handler re-derives what is due under the lead's row lock, so a job that
// runs twice, late or superseded changes nothing.
export const PROTECTION_REMINDER_QUEUE = 'lead-protection.reminder'
export const PROTECTION_GRACE_PERIOD_QUEUE = 'lead-protection.grace-period'
export const PROTECTION_EXPIRED_QUEUE = 'lead-protection.expired'
/** The daily safety net for leads whose job is missing (imported, backfilled, or failed for good). */
export const PROTECTION_SWEEP_QUEUE = 'lead-protection.sweep'

export const PROTECTION_QUEUE_OF = {
  REMINDER: PROTECTION_REMINDER_QUEUE,
  GRACE_PERIOD: PROTECTION_GRACE_PERIOD_QUEUE,
  EXPIRED: PROTECTION_EXPIRED_QUEUE,
} as const satisfies Record<'REMINDER' | 'GRACE_PERIOD' | 'EXPIRED', string>

const protectionOptions = { ...followUpOptions, policy: 'stately' } as const

export const PROTECTION_QUEUES: Record<string, Queue> = {
  [PROTECTION_REMINDER_QUEUE]: { name: PROTECTION_REMINDER_QUEUE, ...protectionOptions },
  [PROTECTION_GRACE_PERIOD_QUEUE]: { name: PROTECTION_GRACE_PERIOD_QUEUE, ...protectionOptions },
  [PROTECTION_EXPIRED_QUEUE]: { name: PROTECTION_EXPIRED_QUEUE, ...protectionOptions },
  // One sweep at a time; over a million leads it needs minutes, not the follow-up sweep's seconds.
  [PROTECTION_SWEEP_QUEUE]: { name: PROTECTION_SWEEP_QUEUE, policy: 'exclusive', retryLimit: 2, retryDelay: 60, expireInSeconds: 3600, heartbeatSeconds: 30 },
}

export const EMAIL_QUEUES: Record<string, Queue> = {
  // SMTP outages last minutes to hours: 10 retries from 30 s doubling up to 1 h apart span about
  // four hours before a mail is marked FAILED. `notify` wakes a worker as soon as a mail commits.
  [EMAIL_SEND_QUEUE]: { name: EMAIL_SEND_QUEUE, retryLimit: 10, retryDelay: 30, retryBackoff: true, retryDelayMax: 3600, expireInSeconds: 300, heartbeatSeconds: 10, notify: true },
}

/**
 * How a worker process finds its jobs (issue 16). A job due now — a follow-up or protection job
 * reaching its start time days later, a retry after its backoff, a job sent without NOTIFY — is
 * found within READY_QUEUES_POLL_MS by one statement for all queues (lib/boss.ts watchReadyQueues),
 * which wakes the queue's worker; a worker that has handled a job fetches again at once, so a
 * backlog drains at the handlers' pace (jobs/worker.ts). Each worker's own poll is only a backstop
 * (pg-boss would poll every queue every 2 s: 7.5 fetches a second for an idle process).
 */
export const READY_QUEUES_POLL_MS = 2000
export const BACKSTOP_WORK: WorkOptions = { pollingIntervalSeconds: 60, notifyPollingIntervalSeconds: 60 }

/**
 * §11: `duplicate_detected` of a hard duplicate (409). The request's transaction rolls back, and
 * the web role may not act as SYSTEM, so the request enqueues this job in a transaction of its own
 * and a worker records the event (subject: the existing lead, which the caller may not see).
 */
export const DUPLICATE_DETECTED_QUEUE = 'leads.duplicate-detected'
/** Daily pseudonymization of long-expired leads (§13). */
export const PSEUDONYMIZE_QUEUE = 'privacy.pseudonymize'

export const QUEUES: Record<string, Queue> = {
  [DUPLICATE_DETECTED_QUEUE]: { name: DUPLICATE_DETECTED_QUEUE, retryLimit: 5, retryDelay: 2, retryBackoff: true, deleteAfterSeconds: 3600 },
  [BACKFILL_QUEUE.name]: BACKFILL_QUEUE,
  [IMPORT_QUEUE.name]: IMPORT_QUEUE,
  idempotencyPurge: { name: IDEMPOTENCY_PURGE_QUEUE, retryLimit: 3, retryDelay: 60, deleteAfterSeconds: 86_400 },
  ...FOLLOW_UP_QUEUES,
  ...PROTECTION_QUEUES,
  ...EMAIL_QUEUES,
  // Each recorded event sends one wake-up job and one run publishes everything pending, so later
  // jobs find little or nothing. A standard queue on purpose: a deduplicating policy would drop the
  // job of a transaction that commits while the queued job is already running, and its event would
  // wait for the next one. No `notify`: that would put a NOTIFY, and PostgreSQL's global notify
  // lock, into every lead write (see OutboxRelay in jobs/events.ts, the fast path).
  [EVENTS_PUBLISH_QUEUE]: { name: EVENTS_PUBLISH_QUEUE, retryLimit: 10, retryDelay: 1, retryBackoff: true, deleteAfterSeconds: 3600 },
  [EVENTS_PRUNE_QUEUE]: { name: EVENTS_PRUNE_QUEUE, policy: 'singleton' },
  [PSEUDONYMIZE_QUEUE]: { name: PSEUDONYMIZE_QUEUE, policy: 'singleton', retryLimit: 3, retryDelay: 300, deleteAfterSeconds: 7 * 86_400 },
}
