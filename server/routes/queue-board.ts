import { AsyncLocalStorage } from 'node:async_hooks'
import type { Context, Middleware } from 'koa'
import { createBullBoard } from '@bull-board/api'
import { KoaAdapter } from '@bull-board/koa'
import type { PgBoss } from 'pg-boss'
import { BACKFILL_QUEUE, EMAIL_SEND_QUEUE, FOLLOW_UP_T3_QUEUE, FOLLOW_UP_T7_QUEUE, IMPORT_QUEUE, PROTECTION_QUEUE_OF, QUEUES } from '../../lib/queues.ts'
import { PgBossAdapter, type JobScope } from '../queue-board/index.ts'
import type { Principal } from '../auth.ts'
import { DomainError, problems } from '../../models/errors.ts'

export const QUEUE_BOARD_PATH = '/admin/queues'

/**
 * Whose jobs a queue holds, read from its job data. `territory`: `tenantId` and `territory` (a
 * lead's follow-ups and mails); `tenant`: `tenantId` alone (a tenant's backfill). A queue not listed
 * here (schedules, maintenance, sweeps, event publish/prune, anything pg-boss knows that we do not)
 * belongs to the platform: only a platform operator sees it.
 */
export const QUEUE_TENANCY: Readonly<Record<string, 'territory' | 'tenant'>> = {
  [FOLLOW_UP_T3_QUEUE]: 'territory',
  [FOLLOW_UP_T7_QUEUE]: 'territory',
  [EMAIL_SEND_QUEUE]: 'territory',
  // §10: a lead's protection jobs
  [PROTECTION_QUEUE_OF.REMINDER]: 'territory',
  [PROTECTION_QUEUE_OF.GRACE_PERIOD]: 'territory',
  [PROTECTION_QUEUE_OF.EXPIRED]: 'territory',
  [BACKFILL_QUEUE.name]: 'tenant',
  // An import is the tenant's (its rows may go to either territory); its job data carries tenantId.
  [IMPORT_QUEUE.name]: 'tenant',
}

/** Which jobs of a queue the current request may see and act on. */
export type BoardScope = (queue: string) => JobScope

/**
 * The board scope of a signed-in user: a platform operator (PLATFORM_OPERATOR in the token's roles,
 * see docs/decisions.md) sees every queue and job; anyone else sees only the jobs of their tenant,
 * and of territory-bound queues only those of their territories (none with `territories: []`).
 * Without a user nothing is in scope.
 */
export function principalScope(ctx: Context): BoardScope {
  const user = ctx.state.user as Principal | undefined
  if (!user) return () => 'none'
  if (user.platformOperator) return () => 'all'
  return (queue): JobScope => {
    const tenancy = QUEUE_TENANCY[queue]
    if (tenancy === 'tenant') return { data: { tenantId: [user.tenantId] } }
    if (tenancy === 'territory' && user.territories.length > 0) return { data: { tenantId: [user.tenantId], territory: user.territories } }
    return 'none'
  }
}

export interface QueueBoardOptions {
  boss: PgBoss
  /** Runs before every request under the board's path, page and API alike; it decides who gets in. */
  authorize: Middleware
  /** What the authorized caller may see (default: principalScope, from ctx.state.user). */
  scopeOf?: (ctx: Context) => BoardScope
  basePath?: string
}

// Routes whose job data comes from the caller: only for a scope of 'all'. The adapter refuses them
// as well; here they are refused before bull-board parses anything, as a problem.
const OPERATOR_ONLY = [
  { method: 'POST', path: /^\/api\/queues\/[^/]+\/add$/ },
  { method: 'PATCH', path: /^\/api\/queues\/[^/]+\/[^/]+\/update-data$/ },
]

/** bull-board answers errors as `{ error: { key }, message? }`; the edge answers RFC 9457 problems. */
function boardProblem(status: number, body: unknown): DomainError {
  const { error, message } = (body ?? {}) as { error?: { key?: unknown }; message?: unknown }
  const key = typeof error?.key === 'string' ? error.key : undefined
  const detail = typeof message === 'string' ? message : key
  const type = status === 404 ? 'not-found' : status === 403 ? 'forbidden' : status === 409 ? 'conflict' : status === 405 ? 'method-not-allowed' : 'queue-board-error'
  const title = status === 404 ? 'Not Found' : status === 403 ? 'Forbidden' : status === 409 ? 'Conflict' : status === 405 ? 'Method Not Allowed' : 'Queue board error'
  // `error` and `message` stay as extension members: bull-board's UI reads them.
  return new DomainError({ status, type, title, detail, extensions: { ...(error ? { error } : {}), ...(typeof message === 'string' ? { message } : {}) } })
}

/**
 * bull-board over every pg-boss queue (those of lib/queues.ts and any other pg-boss knows), as one
 * Koa middleware. Requests outside the board's path pass straight through. Queues that appear later
 * (created by another process) show up on the next API call. bull-board shares its adapters between
 * requests, so each request's scope travels in an AsyncLocalStorage the adapters read; a call
 * outside a request sees nothing.
 */
export async function queueBoard(options: QueueBoardOptions): Promise<Middleware> {
  const basePath = options.basePath ?? QUEUE_BOARD_PATH
  const scopeOf = options.scopeOf ?? principalScope
  const current = new AsyncLocalStorage<BoardScope>()
  const scopeFor = (queue: string): JobScope => current.getStore()?.(queue) ?? 'none'
  const serverAdapter = new KoaAdapter().setBasePath(basePath)
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'FreshPlan queues', sortQueues: true, showMetrics: false } },
  })
  const shown = new Set<string>()
  let syncing: Promise<void> | undefined
  const syncQueues = () =>
    (syncing ??= (async () => {
      try {
        const names = new Set([...Object.values(QUEUES).map((queue) => queue.name), ...(await options.boss.getQueues()).map((queue) => queue.name)])
        for (const name of [...names].sort()) {
          if (shown.has(name)) continue
          const adapter = new PgBossAdapter(options.boss, name, { scope: () => scopeFor(name) })
          // A queue with nothing in the caller's scope does not exist for them (404 on every route).
          adapter.setVisibilityGuard(() => scopeFor(name) !== 'none')
          board.addQueue(adapter)
          shown.add(name)
        }
        for (const name of shown) {
          if (names.has(name)) continue
          board.removeQueue(name)
          shown.delete(name)
        }
      } finally {
        syncing = undefined
      }
    })())
  await syncQueues()
  const plugin = serverAdapter.registerPlugin()

  return async (ctx, next) => {
    if (ctx.path !== basePath && !ctx.path.startsWith(`${basePath}/`)) return next()
    // Logs and metrics label requests by route template, never by raw path: one label for what the
    // board does not route (refused, static files), the board router's template for the rest.
    ctx.state.route = `${basePath}/*`
    await options.authorize(ctx, async () => {
      const scope = scopeOf(ctx)
      const route = ctx.path.slice(basePath.length)
      const queueName = /^\/api\/queues\/([^/]+)\//.exec(route)?.[1]
      if (queueName && OPERATOR_ONLY.some((only) => only.method === ctx.method && only.path.test(route)) && scope(decodeURIComponent(queueName)) !== 'all') {
        throw problems.forbidden('Only a platform operator may add jobs or edit job data: job data decides whose job it is.')
      }
      if (ctx.path.startsWith(`${basePath}/api/`)) await syncQueues()
      await current.run(scope, () => plugin(ctx, next))
      if (typeof ctx._matchedRoute === 'string') ctx.state.route = `${basePath}${ctx._matchedRoute === '/' ? '' : ctx._matchedRoute}`
      if (ctx.status >= 400 && ctx.path.startsWith(`${basePath}/api/`) && ctx.body !== null && typeof ctx.body === 'object') throw boardProblem(ctx.status, ctx.body)
    })
  }
}
