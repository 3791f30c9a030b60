import { Router } from '@koa/router'
import type { Deps } from './deps.ts'

export interface Lifecycle {
  draining: boolean
}

/** Liveness says the process runs; readiness says it can serve: database and pg-boss answer. */
export function healthRoutes(deps: Pick<Deps, 'knex' | 'boss'>, lifecycle: Lifecycle): Router {
  const router = new Router()
  router.get('/health/live', (ctx) => {
    ctx.body = { status: 'UP' }
  })
  router.get('/health/ready', async (ctx) => {
    const checks = { database: 'DOWN', queue: 'DOWN' }
    if (!lifecycle.draining) {
      const [database, queue] = await Promise.allSettled([
        withTimeout(deps.knex.raw('select 1'), 2000),
        withTimeout(deps.boss.schemaVersion(), 2000),
      ])
      checks.database = database.status === 'fulfilled' ? 'UP' : 'DOWN'
      checks.queue = queue.status === 'fulfilled' && queue.value !== null ? 'UP' : 'DOWN'
    }
    const up = checks.database === 'UP' && checks.queue === 'UP'
    ctx.status = up ? 200 : 503
    ctx.body = { status: lifecycle.draining ? 'DRAINING' : up ? 'UP' : 'DOWN', checks }
  })
  return router
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
