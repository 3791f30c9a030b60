// The event API of DOMAIN.md §7: the SSE stream for dashboards, a catch-up page and single events.
// Replays read the outbox inside the caller's transaction (RLS decides); live events come from the
// web process's listener and pass the same rule in the process (mayReceive).
import type { ServerResponse } from 'node:http'
import { Router } from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../../lib/deps.ts'
import type { SecurityContext } from '../../lib/db.ts'
import { cloudEventOf, notifyPayload } from '../../models/events.ts'
import { findEvent, publishedAfter } from '../../models/event-outbox.ts'
import { isUuid } from '../../models/cursor.ts'
import { DomainError, problems } from '../../models/errors.ts'
import type { Principal } from '../auth.ts'
import { transact } from '../transaction.ts'
import { validQuery } from '../validation.ts'
import { eventPageQuerySchema, eventStreamQuerySchema } from '../schemas/events.ts'
import { mayReceive, type DashboardEventListener, type DeliveredEvent } from '../event-listener.ts'

export const EVENT_STREAM_PATH = '/api/events/stream'

export interface EventStreamOptions {
  heartbeatMs?: number
  /** Rows per outbox read of a Last-Event-ID replay. */
  replayBatch?: number
  /** A client this far behind (bytes not yet sent) is disconnected; it resumes with Last-Event-ID. */
  maxBufferedBytes?: number
  /** SSE `retry:` sent to clients, in ms. */
  retryMs?: number
  /** Open streams of this process at most (default: config SSE_MAX_STREAMS); 503 beyond. */
  maxStreams?: number
  /** Open streams of one user (tenant and sub) in this process (default: SSE_MAX_STREAMS_PER_USER); 429 beyond. */
  maxStreamsPerUser?: number
}

export interface EventRoutes {
  router: Router
  /** Ends every open stream and refuses new ones (drain); clients reconnect elsewhere with Last-Event-ID. */
  closeStreams(): void
  readonly openStreams: number
}

const PAGE_DEFAULT = 100
/** setTimeout's longest delay; a later expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Calls `fire` at `at` (epoch ms, the token verifier's clock: system time); returns a cancel. */
function at(when: number, fire: () => void): () => void {
  let timer: NodeJS.Timeout
  const arm = () => {
    const wait = when - Date.now()
    if (wait <= 0) return fire()
    timer = setTimeout(arm, Math.min(wait, MAX_TIMER_MS))
    timer.unref()
  }
  arm()
  return () => clearTimeout(timer)
}

function tooManyStreams(status: 429 | 503, detail: string): DomainError {
  return new DomainError({
    status,
    type: 'too-many-streams',
    title: status === 429 ? 'Too Many Requests' : 'Service Unavailable',
    detail,
    headers: { 'Retry-After': '10' },
  })
}

/** The Last-Event-ID header: what this server sent as `id:`, a sequence number. */
function lastEventIdHeader(raw: string): number | undefined {
  if (raw === '') return undefined
  if (!/^\d{1,15}$/.test(raw)) throw problems.validation([{ pointer: '/headers/last-event-id', message: 'must be a non-negative integer (an event sequence number)' }])
  return Number(raw)
}

function callerOf(ctx: Context): SecurityContext {
  const auth = ctx.state.auth
  if (!auth) throw problems.unauthorized()
  return auth
}

function sseMessage(seq: number | undefined, type: string, payload: string): string {
  return `${seq === undefined ? '' : `id: ${seq}\n`}event: ${type}\ndata: ${payload}\n\n`
}

/** One client's stream: replay from the outbox after Last-Event-ID, then live events, each once, in seq order. */
class EventStream {
  readonly #res: ServerResponse
  readonly #auth: SecurityContext
  readonly #maxBufferedBytes: number
  #lastSent: number
  /** Live events that arrive during the replay; undefined once live. */
  #held: DeliveredEvent[] | undefined
  #heldOverflow = false
  readonly closed: Promise<void>

  constructor(res: ServerResponse, auth: SecurityContext, lastEventId: number | undefined, maxBufferedBytes: number) {
    this.#res = res
    this.#auth = auth
    this.#maxBufferedBytes = maxBufferedBytes
    this.#lastSent = lastEventId ?? 0
    this.#held = lastEventId === undefined ? undefined : []
    this.closed = new Promise((resolve) => res.once('close', () => resolve()))
  }

  get isOpen(): boolean {
    return !this.#res.destroyed && !this.#res.writableEnded
  }

  /** From the listener; the listener hands events over in seq order. */
  onLive(delivered: DeliveredEvent): void {
    if (!mayReceive(this.#auth, delivered)) return
    if (this.#held) {
      if (this.#held.length < 10_000) this.#held.push(delivered)
      else this.#heldOverflow = true
      return
    }
    this.#send(delivered.seq, delivered.event.type, delivered.payload)
  }

  /** Replays what the client missed, then lets live events through. */
  async replay(readPage: (after: number) => Promise<{ events: { seq: number; type: string; payload: string }[]; more: boolean }>): Promise<void> {
    if (!this.#held) return
    for (;;) {
      for (;;) {
        const page = await readPage(this.#lastSent)
        for (const event of page.events) {
          if (!this.isOpen) return
          if (!this.#write(sseMessage(event.seq, event.type, event.payload))) await new Promise((resolve) => this.#res.once('drain', resolve))
          this.#lastSent = event.seq
        }
        if (!page.more) break
      }
      // Too much arrived meanwhile to hold: read it from the outbox instead.
      if (!this.#heldOverflow) break
      this.#heldOverflow = false
      this.#held = []
    }
    const held = this.#held
    this.#held = undefined
    for (const delivered of held) this.#send(delivered.seq, delivered.event.type, delivered.payload)
  }

  comment(text: string): void {
    this.#write(`: ${text}\n\n`)
  }

  end(): void {
    if (this.isOpen) this.#res.end()
  }

  #send(seq: number | undefined, type: string, payload: string): void {
    if (seq !== undefined) {
      if (seq <= this.#lastSent) return // already sent by the replay
      this.#lastSent = seq
    }
    this.#write(sseMessage(seq, type, payload))
  }

  #write(chunk: string): boolean {
    if (!this.isOpen) return false
    const flushed = this.#res.write(chunk)
    if (this.#res.writableLength > this.#maxBufferedBytes) this.#res.destroy() // resumes with Last-Event-ID
    return flushed
  }
}

export function eventRoutes(deps: Deps, listener: DashboardEventListener, options: EventStreamOptions = {}): EventRoutes {
  const heartbeatMs = options.heartbeatMs ?? 15_000
  const replayBatch = options.replayBatch ?? 500
  const maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024
  const retryMs = options.retryMs ?? 2000
  const maxStreams = options.maxStreams ?? deps.config.sseMaxStreams
  const maxStreamsPerUser = options.maxStreamsPerUser ?? deps.config.sseMaxStreamsPerUser
  const streams = new Set<EventStream>()
  /** Open streams per user (tenant and sub). */
  const perUser = new Map<string, number>()
  const router = new Router()

  let closing = false

  router.get(EVENT_STREAM_PATH, async (ctx) => {
    const auth = callerOf(ctx)
    // A stream opened while draining would hold the drain until its timeout; send the client elsewhere.
    if (closing) throw problems.unavailable('This process is shutting down; reconnect.')
    // EventSource sends Last-Event-ID itself on reconnect; the query form is for a first connect.
    const query = validQuery<{ lastEventId?: number }>(eventStreamQuerySchema.$id, ctx.query)
    const lastEventId = lastEventIdHeader(ctx.get('Last-Event-ID')) ?? query.lastEventId
    // A stream lives as long as its token: it ends at `exp` (the client then needs a fresh token).
    const expiresAt = (ctx.state.user as Principal | undefined)?.expiresAt
    if (expiresAt === undefined || expiresAt <= Date.now()) throw problems.unauthorized('The bearer token has expired.')
    // Bounded per process and per user: each stream holds a socket and a listener subscription.
    if (streams.size >= maxStreams) throw tooManyStreams(503, `This process serves its maximum of ${maxStreams} event streams; retry later or elsewhere.`)
    const user = `${auth.tenantId}\u0000${auth.userId}`
    const mine = perUser.get(user) ?? 0
    if (mine >= maxStreamsPerUser) throw tooManyStreams(429, `At most ${maxStreamsPerUser} event streams per user are open at once; close one first.`)
    ctx.req.socket.setTimeout(0)
    ctx.req.socket.setNoDelay(true)
    ctx.req.socket.setKeepAlive(true)
    ctx.status = 200
    ctx.set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' })
    ctx.respond = false
    ctx.res.flushHeaders()
    const stream = new EventStream(ctx.res, auth, lastEventId, maxBufferedBytes)
    streams.add(stream)
    // Subscribe before replaying: whatever the listener hands over meanwhile is held, not missed.
    const unsubscribe = listener.subscribe((delivered) => stream.onLive(delivered))
    const heartbeat = setInterval(() => stream.comment('heartbeat'), heartbeatMs)
    perUser.set(user, mine + 1)
    const cancelExpiry = at(expiresAt, () => {
      stream.comment('token expired')
      stream.end()
    })
    try {
      ctx.res.write(`retry: ${retryMs}\n: connected\n\n`)
      await stream.replay(async (after) => {
        const { records, more } = await transact(deps, ctx, (tx) => publishedAfter(tx.trx, after, replayBatch))
        return { events: records.map((record) => ({ seq: record.seq!, type: record.type, payload: notifyPayload(cloudEventOf(record)).payload })), more }
      })
      await stream.closed
    } catch (error) {
      // Headers are gone already, so a problem response is impossible: log and close the stream.
      ctx.state.logger?.warn({ err: error }, 'event stream failed')
      stream.end()
    } finally {
      clearInterval(heartbeat)
      cancelExpiry()
      unsubscribe()
      streams.delete(stream)
      const left = (perUser.get(user) ?? 1) - 1
      if (left > 0) perUser.set(user, left)
      else perUser.delete(user)
    }
  })

  router.get('/api/events', async (ctx) => {
    callerOf(ctx)
    const { after = 0, limit = PAGE_DEFAULT } = validQuery<{ after?: number; limit?: number }>(eventPageQuerySchema.$id, ctx.query)
    // At most `limit` events and about EVENT_BATCH_MAX_BYTES of their data: a page may hold fewer
    // than `limit`; clients page on from `nextAfter` until `data` is empty.
    const { records } = await transact(deps, ctx, (tx) => publishedAfter(tx.trx, after, limit))
    ctx.body = {
      data: records.map((record) => ({ seq: record.seq, event: cloudEventOf(record) })),
      nextAfter: records.at(-1)?.seq ?? after,
    }
  })

  router.get('/api/events/:id', async (ctx) => {
    callerOf(ctx)
    const id = ctx.params.id!
    const record = isUuid(id) ? await transact(deps, ctx, (tx) => findEvent(tx.trx, id)) : undefined
    if (!record) throw problems.notFound(`No event ${id}.`)
    ctx.type = 'application/cloudevents+json'
    ctx.body = cloudEventOf(record)
  })

  return {
    router,
    closeStreams: () => {
      closing = true
      for (const stream of streams) stream.end()
    },
    get openStreams() {
      return streams.size
    },
  }
}
