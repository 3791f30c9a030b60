// The dashboard listener of DOMAIN.md §7, one per web process: a dedicated PostgreSQL connection
// LISTENing on both event channels, which hands every event once, in seq order, to the SSE streams.
//
// NOTIFY is lost while nobody listens, so the outbox is the source of truth: the listener keeps
// the seq of the last event it consumed and, after every (re)connect, first LISTENs and then reads
// the outbox after that seq, so nothing published while it was away is missed. What arrives twice
// (both channels carry created/status_changed/deleted; catch-up overlaps NOTIFYs; re-deliveries)
// is dropped by the idempotency-key cache and by the seq position.
//
// NOTIFY is not authenticated: any session that can connect may send on these channels. So every
// notified event is checked against the outbox (same id, published, identical payload) before it
// is forwarded, and the outbox row supplies its seq and who may see it. What does not match is
// `denied`; with SECURITY_ALLOW_UNAUTHENTICATED_PUBLISHER (development and tests only) a well-formed
// event without an outbox row is forwarded anyway, to managers and admins of its territory only.
import pg from 'pg'
import type { Deps } from '../lib/deps.ts'
import type { SecurityContext } from '../lib/db.ts'
import {
  cloudEventOf, maySee, notifyPayload, parseLeadCloudEvent,
  type EventVisibility, type LeadCloudEvent, type LeadEventRecord,
} from '../models/events.ts'
import { LISTEN_TO_EVENT_CHANNELS, dashboardFindEvents, dashboardLatestSeq, dashboardPublishedAfter } from '../models/event-outbox.ts'
import { DedupeCache, type DedupeCacheOptions } from './dedupe-cache.ts'
import { dedupeCacheEntries, dedupeCacheHitRate, eventLatency, eventsConsumed } from '../lib/metrics.ts'

/** An event as the listener hands it to the SSE streams. */
export interface DeliveredEvent {
  /** The outbox seq (SSE `id:`); undefined only for an event without outbox row (unauthenticated publisher). */
  seq: number | undefined
  event: LeadCloudEvent
  /** The CloudEvent JSON exactly as NOTIFY carries it (data replaced by a reference above 7680 bytes); what SSE sends. */
  payload: string
  /** Who may see it; undefined when there is no outbox row to say so. */
  visibility: EventVisibility | undefined
}

export type EventSubscriber = (event: DeliveredEvent) => void

export interface EventListenerOptions {
  reconnectInitialMs?: number
  reconnectMaxMs?: number
  /** Rows per outbox read while catching up. */
  catchUpBatch?: number
  dedupe?: Omit<DedupeCacheOptions, 'now'>
}

/** May the caller see an event the listener delivered? The outbox's select policy, applied in the process. */
export function mayReceive(ctx: SecurityContext, delivered: DeliveredEvent): boolean {
  if (delivered.visibility) return maySee(ctx, delivered.visibility)
  return (ctx.role === 'MANAGER' || ctx.role === 'ADMIN') && ctx.tenantId === delivered.event.tenantid && ctx.territories.includes(delivered.event.territory)
}

const MODULE = 'dashboard'
const MAX_QUEUED = 50_000

interface Notified {
  channel: string
  payload: string
}

export class DashboardEventListener {
  readonly #deps: Deps
  readonly #options: Required<Omit<EventListenerOptions, 'dedupe'>>
  readonly #cache: DedupeCache
  readonly #subscribers = new Set<EventSubscriber>()
  readonly #queue: Notified[] = []
  #client: pg.Client | undefined
  #listening = false
  #stopped = false
  #attempt = 0
  #reconnectTimer: NodeJS.Timeout | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #retryPending = false
  #pumping: Promise<void> | undefined
  /** Seq of the last event consumed; undefined until the first connect reads where the outbox stands. */
  #position: number | undefined
  #catchUpNeeded = true
  #connects = 0
  #caughtUp = Promise.withResolvers<void>()
  #isCaughtUp = false

  constructor(deps: Deps, options: EventListenerOptions = {}) {
    this.#deps = deps
    this.#options = {
      reconnectInitialMs: options.reconnectInitialMs ?? 100,
      reconnectMaxMs: options.reconnectMaxMs ?? 5000,
      catchUpBatch: options.catchUpBatch ?? 1000,
    }
    this.#cache = new DedupeCache({ ...options.dedupe, now: () => deps.clock.now().getTime() })
  }

  /** Connects and LISTENs; when the database is not there yet it keeps trying in the background. */
  async start(): Promise<void> {
    await this.#connect()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#reconnectTimer)
    clearTimeout(this.#retryTimer)
    this.#subscribers.clear()
    const client = this.#client
    this.#client = undefined
    this.#listening = false
    await client?.end().catch(() => {})
    await this.#pumping
  }

  subscribe(subscriber: EventSubscriber): () => void {
    this.#subscribers.add(subscriber)
    return () => this.#subscribers.delete(subscriber)
  }

  /** Resolves once the listener is connected and has caught up with the outbox (after the current connect). */
  caughtUp(): Promise<void> {
    return this.#caughtUp.promise
  }

  /** Seq of the last event consumed. */
  get position(): number | undefined {
    return this.#position
  }

  /** The PostgreSQL backend pid of the LISTEN connection (operators, and tests that kill it). */
  get backendPid(): number | undefined {
    return this.#listening ? (this.#client as unknown as { processID?: number } | undefined)?.processID : undefined
  }

  /** How many times a LISTEN connection was established. */
  get connects(): number {
    return this.#connects
  }

  get dedupeCache(): DedupeCache {
    return this.#cache
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return
    const client = new pg.Client({ connectionString: this.#deps.config.appDatabaseUrl, application_name: 'freshplan-web-listener', keepAlive: true })
    client.on('notification', (message) => {
      if (client !== this.#client) return
      if (this.#queue.length >= MAX_QUEUED) {
        // Far behind (the outbox cannot be read): forget the backlog and read it from the outbox later.
        this.#queue.length = 0
        this.#catchUpNeeded = true
      }
      this.#queue.push({ channel: message.channel, payload: message.payload ?? '' })
      this.#pump()
    })
    client.on('error', (error) => this.#lost(client, error))
    client.on('end', () => this.#lost(client, undefined))
    this.#client = client
    try {
      await client.connect()
      await client.query(LISTEN_TO_EVENT_CHANNELS)
    } catch (error) {
      this.#lost(client, error)
      return
    }
    if (client !== this.#client) return // lost while connecting; a reconnect is already scheduled
    this.#listening = true
    this.#attempt = 0
    this.#connects++
    this.#deps.logger.info({ pid: this.backendPid, position: this.#position }, 'event listener connected')
    // Catch up only now that LISTEN is active: whatever commits from here on is notified, whatever
    // committed before is in the outbox read. Notifications that raced ahead wait in the queue.
    this.#catchUpNeeded = true
    this.#pump()
  }

  #lost(client: pg.Client, error: unknown): void {
    if (client !== this.#client || this.#stopped) return
    this.#client = undefined
    this.#listening = false
    this.#catchUpNeeded = true
    if (this.#isCaughtUp) {
      this.#caughtUp = Promise.withResolvers<void>()
      this.#isCaughtUp = false
    }
    client.removeAllListeners('notification')
    client.on('error', () => {}) // a dead client may still emit; nobody is interested any more
    client.end().catch(() => {})
    const delay = Math.min(this.#options.reconnectMaxMs, this.#options.reconnectInitialMs * 2 ** this.#attempt) * (0.5 + Math.random() / 2)
    this.#attempt++
    this.#deps.logger.warn({ err: error, attempt: this.#attempt, retryInMs: Math.round(delay) }, 'event listener connection lost; reconnecting')
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay)
  }

  /** Runs the one processing loop; events are consumed strictly one after another. */
  #pump(): void {
    this.#pumping ??= this.#drain().finally(() => {
      this.#pumping = undefined
      // Work that arrived while the loop was finishing, unless the loop is waiting for something
      // that only a timer or a reconnect brings (re-pumping then would spin without yielding).
      const waiting = this.#retryPending || (this.#catchUpNeeded && !this.#listening)
      if (!this.#stopped && !waiting && (this.#queue.length > 0 || this.#catchUpNeeded)) this.#pump()
    })
  }

  async #drain(): Promise<void> {
    try {
      while (!this.#stopped) {
        if (this.#catchUpNeeded) {
          if (!this.#listening) return // the next connect pumps again
          // Cleared before reading, so a connection lost meanwhile asks for another catch-up.
          this.#catchUpNeeded = false
          await this.#catchUp()
          if (!this.#catchUpNeeded) {
            this.#isCaughtUp = true
            this.#caughtUp.resolve()
          }
          continue
        }
        if (this.#queue.length === 0) return
        await this.#consumeNotified(this.#queue.splice(0, 1000))
      }
    } catch (error) {
      // The outbox could not be read. Nothing is lost: the position did not move past what was not
      // forwarded, and the catch-up after the pause reads it from the outbox.
      this.#catchUpNeeded = true
      this.#deps.logger.warn({ err: error }, 'event listener could not read the outbox; catching up again shortly')
      clearTimeout(this.#retryTimer)
      this.#retryPending = true
      this.#retryTimer = setTimeout(() => {
        this.#retryPending = false
        this.#pump()
      }, this.#options.reconnectInitialMs * 5)
    }
  }

  async #catchUp(): Promise<void> {
    // Every tenant's events, without a SYSTEM context: the web's role may not claim one (V0008).
    const knex = this.#deps.knex
    if (this.#position === undefined) {
      // A fresh process starts at the present; SSE clients replay older events from the outbox themselves.
      this.#position = await dashboardLatestSeq(knex)
      return
    }
    for (;;) {
      const after = this.#position
      const { records, more } = await dashboardPublishedAfter(knex, after, this.#options.catchUpBatch)
      for (const record of records) this.#consume(fromOutbox(record))
      if (!more) return
    }
  }

  async #consumeNotified(batch: Notified[]): Promise<void> {
    const parsed = batch.map((n) => ({ ...n, event: parseLeadCloudEvent(n.payload) }))
    const ids = [...new Set(parsed.flatMap((n) => (n.event ? [n.event.id] : [])))]
    const records = new Map((await dashboardFindEvents(this.#deps.knex, ids)).map((r) => [r.id, r]))
    for (const { payload, event } of parsed) {
      if (!event) {
        eventsConsumed.inc({ event_type: 'unknown', module: MODULE, result: 'failure' })
        continue
      }
      const record = records.get(event.id)
      if (record) {
        const delivered = fromOutbox(record)
        if (delivered.payload === payload) this.#consume(delivered)
        else this.#deny(event, 'notified event differs from the outbox or is unpublished')
      } else if (this.#deps.config.allowUnauthenticatedPublisher) {
        this.#consume({ seq: undefined, event, payload, visibility: undefined })
      } else {
        this.#deny(event, 'notified event has no outbox row')
      }
    }
  }

  #deny(event: LeadCloudEvent, reason: string): void {
    eventsConsumed.inc({ event_type: event.type, module: MODULE, result: 'denied' })
    this.#deps.logger.warn({ eventId: event.id, type: event.type }, reason)
  }

  #consume(delivered: DeliveredEvent): void {
    const { event, seq } = delivered
    const duplicateKey = this.#cache.seen(event.idempotencykey)
    const duplicateSeq = seq !== undefined && this.#position !== undefined && seq <= this.#position
    if (seq !== undefined && !duplicateSeq) this.#position = seq
    dedupeCacheEntries.set(this.#cache.size)
    dedupeCacheHitRate.set(this.#cache.hitRate)
    if (duplicateKey || duplicateSeq) {
      eventsConsumed.inc({ event_type: event.type, module: MODULE, result: 'duplicate' })
      return
    }
    const seconds = Math.max(0, (this.#deps.clock.now().getTime() - Date.parse(event.time)) / 1000)
    eventLatency.observe(seconds)
    eventsConsumed.inc({ event_type: event.type, module: MODULE, result: 'success' })
    for (const subscriber of this.#subscribers) {
      try {
        subscriber(delivered)
      } catch (error) {
        this.#deps.logger.error({ err: error }, 'event subscriber failed')
      }
    }
  }
}

function fromOutbox(record: LeadEventRecord): DeliveredEvent {
  const event = cloudEventOf(record)
  return { seq: record.seq ?? undefined, event, payload: record.seq === null ? '' : notifyPayload(event).payload, visibility: record }
}

/** The web process's listener: connected (or reconnecting in the background) when this resolves. */
export async function startEventListener(deps: Deps, options: EventListenerOptions = {}): Promise<DashboardEventListener> {
  const listener = new DashboardEventListener(deps, options)
  await listener.start()
  return listener
}
