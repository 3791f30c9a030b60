// The event outbox's jobs (DOMAIN.md §7): the publisher numbers, NOTIFYs and marks events in one
// transaction; the relay runs it as soon as events are pending; the retention job prunes old ones.
// Events are recorded by the lead write path (models/lead-events.ts).
import pg from 'pg'
import type { Deps } from '../lib/deps.ts'
import { inTransaction, systemContext } from '../lib/db.ts'
import { eventsPublished, eventsTruncated } from '../lib/metrics.ts'
import { EVENTS_PRUNE_QUEUE, EVENTS_PUBLISH_QUEUE } from '../lib/queues.ts'
import { ALL_TENANTS } from '../lib/tenancy.ts'
import { channelsFor, cloudEventOf, notifyPayload } from '../models/events.ts'
import {
  LISTEN_TO_OUTBOX_WAKE, drawSeqs, hasPending, lockPublisher, markPublished, notifyAll, pendingEvents, prunePublished,
} from '../models/event-outbox.ts'
import type { JobDefinition, ScheduleDefinition, ServiceDefinition } from './definitions.ts'

export interface PublishResult {
  published: number
  truncated: number
}

/**
 * Publishes every pending event in the order it was written. One publisher at a time (advisory
 * lock across all processes): it draws the delivery numbers (seq), NOTIFYs and marks the events in
 * one transaction, so NOTIFYs go out at commit, in seq order, exactly once, and readers never see
 * a seq appear below one they have already seen.
 */
export async function publishPendingEvents(deps: Pick<Deps, 'knex' | 'clock'>, options: { batchSize?: number } = {}): Promise<PublishResult> {
  const batchSize = options.batchSize ?? 500
  const total: PublishResult = { published: 0, truncated: 0 }
  for (;;) {
    const batch = await inTransaction(deps.knex, systemContext(ALL_TENANTS), async (tx) => {
      await lockPublisher(tx.trx)
      // Bounded in bytes too (EVENT_BATCH_MAX_BYTES): a batch of huge events must not fill the worker's memory.
      const { records: pending, more } = await pendingEvents(tx.trx, batchSize)
      if (pending.length === 0) return { sent: [], more: false }
      const seqs = await drawSeqs(tx.trx, pending.length)
      const notifications: { channel: string; payload: string }[] = []
      const sent = pending.map((record, i) => {
        const { payload, truncated } = notifyPayload(cloudEventOf(record))
        for (const channel of channelsFor(record.type)) notifications.push({ channel, payload })
        return { id: record.id, seq: seqs[i]!, type: record.type, truncated }
      })
      await notifyAll(tx.trx, notifications)
      await markPublished(tx.trx, sent, deps.clock.now())
      return { sent, more }
    }).catch((error: unknown) => {
      eventsPublished.inc({ event_type: 'unknown', module: 'leads', result: 'failure' })
      throw error
    })
    for (const event of batch.sent) {
      eventsPublished.inc({ event_type: event.type, module: 'leads', result: 'success' })
      if (event.truncated) eventsTruncated.inc({ event_type: event.type })
    }
    total.published += batch.sent.length
    total.truncated += batch.sent.filter((e) => e.truncated).length
    if (!batch.more) return total
  }
}

/** Deletes published events older than the retention (OUTBOX_RETENTION_DAYS); pending ones stay. */
export async function pruneOutbox(deps: Pick<Deps, 'knex' | 'clock' | 'config'>, options: { batchSize?: number } = {}): Promise<number> {
  const batchSize = options.batchSize ?? 5000
  const before = new Date(deps.clock.now().getTime() - deps.config.outboxRetentionDays * 24 * 60 * 60 * 1000)
  let deleted = 0
  for (;;) {
    const n = await inTransaction(deps.knex, systemContext(ALL_TENANTS), (tx) => prunePublished(tx.trx, before, batchSize))
    deleted += n
    if (n < batchSize) return deleted
  }
}

export interface OutboxRelayOptions {
  /** Poll interval while events flow (after a wake-up or a publish). */
  activeIntervalMs?: number
  /**
   * Poll interval when nothing happens: only a last fallback for a lost wake-up, which the event's
   * publish job covers already (found within READY_QUEUES_POLL_MS by the worker's ready-queues poll).
   */
  idleIntervalMs?: number
  /** How long after the last wake-up or publish the relay keeps polling at the active interval. */
  idleAfterMs?: number
  reconnectMaxMs?: number
}

/**
 * The publisher's fast path, one per worker process. Asleep when nothing happens (one probe every
 * `idleIntervalMs`); a writer's wake-up NOTIFY on its own LISTEN connection starts it at once, and
 * it then polls every few milliseconds (one index probe) until nothing was woken or published for
 * `idleAfterMs`. Writers send at most one wake-up per process every 250 ms (models/lead-events.ts),
 * the events in between are found by that polling.
 *
 * Why not let the publish job wake a worker through pg-boss's NOTIFY? A NOTIFY makes its
 * transaction take PostgreSQL's global notify lock from pre-commit until the commit is flushed, so
 * every lead write would queue behind every other one's fsync: measured on this project's test
 * machine, writes at 100/s then took seconds. So writer transactions never NOTIFY: the wake-up is
 * sent after their commit in its own transaction that does not wait for the flush, and the job each
 * of them enqueues stays the durable trigger (the ready-queues poll finds it within 2 s, pg-boss
 * retries it, the board shows it).
 * Only the publisher NOTIFYs inside its transaction, once per batch.
 */
export class OutboxRelay {
  readonly #deps: Pick<Deps, 'knex' | 'clock' | 'logger'> & { config?: Pick<Deps['config'], 'appDatabaseUrl'> }
  readonly #active: number
  readonly #idle: number
  readonly #idleAfter: number
  readonly #reconnectMax: number
  #stopped = false
  #woken = false
  #lastActivity = -Infinity
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  #listener: pg.Client | undefined
  #reconnectTimer: NodeJS.Timeout | undefined
  #listenFailures = 0

  constructor(deps: Pick<Deps, 'knex' | 'clock' | 'logger'> & { config?: Pick<Deps['config'], 'appDatabaseUrl'> }, options: OutboxRelayOptions = {}) {
    this.#deps = deps
    this.#active = options.activeIntervalMs ?? 20
    this.#idle = options.idleIntervalMs ?? 30_000
    this.#idleAfter = options.idleAfterMs ?? 2000
    this.#reconnectMax = options.reconnectMaxMs ?? 5000
  }

  start(): void {
    if (this.#loop) return
    if (this.#deps.config) void this.#listen(this.#deps.config.appDatabaseUrl)
    this.#loop = this.#run()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#reconnectTimer)
    this.#wakeUp()
    await this.#loop
    const listener = this.#listener
    this.#listener = undefined
    await listener?.end().catch(() => undefined)
  }

  #wakeUp(): void {
    this.#woken = true
    this.#wake?.()
  }

  /** The LISTEN connection; on loss, reconnects with backoff (meanwhile the publish jobs still find everything). */
  async #listen(url: string): Promise<void> {
    if (this.#stopped) return
    const client = new pg.Client({ connectionString: url, application_name: 'freshplan-outbox-relay', keepAlive: true })
    this.#listener = client
    const lost = (error: unknown) => {
      if (this.#listener !== client) return
      this.#listener = undefined
      client.end().catch(() => undefined)
      if (this.#stopped) return
      this.#listenFailures++
      const retryInMs = Math.min(this.#reconnectMax, 100 * 2 ** this.#listenFailures)
      this.#deps.logger.warn({ err: error, retryInMs }, 'outbox relay lost its LISTEN connection; the publish jobs carry on until it is back')
      this.#reconnectTimer = setTimeout(() => void this.#listen(url), retryInMs)
    }
    client.on('notification', () => this.#wakeUp())
    client.on('error', lost)
    client.on('end', () => lost(new Error('LISTEN connection ended')))
    try {
      await client.connect()
      await client.query(LISTEN_TO_OUTBOX_WAKE)
      this.#listenFailures = 0
      this.#wakeUp() // wake-ups sent while it was not listening are lost: look once
    } catch (error) {
      lost(error)
    }
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      let pause: number
      if (this.#woken) this.#lastActivity = performance.now()
      this.#woken = false
      try {
        const pending = await hasPending(this.#deps.knex, systemContext(ALL_TENANTS))
        if (pending && (await publishPendingEvents(this.#deps)).published > 0) this.#lastActivity = performance.now()
        failures = 0
        pause = performance.now() - this.#lastActivity < this.#idleAfter ? this.#active : this.#idle
      } catch (error) {
        // The database is away; the publish jobs are kept by pg-boss meanwhile.
        failures++
        pause = Math.min(5000, 100 * 2 ** failures)
        this.#deps.logger.warn({ err: error, retryInMs: pause }, 'outbox relay could not publish; retrying')
      }
      if (this.#woken && failures === 0) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
  }
}

export const EVENT_JOBS: JobDefinition[] = [
  // The backstop behind the relay: a batch of wake-up jobs is handled by one publishing run, and
  // while batches come back full the worker fetches again at once instead of waiting its poll.
  { queue: EVENTS_PUBLISH_QUEUE, work: { batchSize: 500, burstWhenBatchFull: true }, handle: (deps) => publishPendingEvents(deps) },
  { queue: EVENTS_PRUNE_QUEUE, handle: (deps) => pruneOutbox(deps) },
]

export const EVENT_SCHEDULES: ScheduleDefinition[] = [
  // Daily, at a quiet hour; the publisher never waits on it (it deletes published rows only).
  { queue: EVENTS_PRUNE_QUEUE, cron: '17 3 * * *' },
]

export const EVENT_SERVICES: ServiceDefinition[] = [
  {
    name: 'outbox-relay',
    start: (deps) => {
      const relay = new OutboxRelay(deps)
      relay.start()
      return relay
    },
  },
]
