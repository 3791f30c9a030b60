import type { Middleware } from 'koa'
import { createBullBoard } from '@bull-board/api'
import { KoaAdapter } from '@bull-board/koa'
import type { PgBoss } from 'pg-boss'
import { QUEUES } from '../../lib/queues.ts'
import { PgBossAdapter } from '../queue-board/index.ts'

export const QUEUE_BOARD_PATH = '/admin/queues'

export interface QueueBoardOptions {
  boss: PgBoss
  /** Runs before every request under the board's path, page and API alike; it decides who gets in. */
  authorize: Middleware
  basePath?: string
}

/**
 * bull-board over every pg-boss queue (those of jobs/queues.ts and any other pg-boss knows), as one
 * Koa middleware. Requests outside the board's path pass straight through. Queues that appear later
 * (created by another process) show up on the next API call.
 */
export async function queueBoard(options: QueueBoardOptions): Promise<Middleware> {
  const basePath = options.basePath ?? QUEUE_BOARD_PATH
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
          board.addQueue(new PgBossAdapter(options.boss, name))
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
      if (ctx.path.startsWith(`${basePath}/api/`)) await syncQueues()
      await plugin(ctx, next)
      if (typeof ctx._matchedRoute === 'string') ctx.state.route = `${basePath}${ctx._matchedRoute === '/' ? '' : ctx._matchedRoute}`
    })
  }
}
