import { Router } from '@koa/router'
import type { Deps } from '../../lib/deps.ts'
import { readiness } from '../../lib/health.ts'

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
    const ready = await readiness(deps, lifecycle.draining)
    ctx.status = ready.httpStatus
    ctx.body = ready.body
  })
  return router
}
