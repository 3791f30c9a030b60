import { Router } from '@koa/router'
import type { Deps } from '../../lib/deps.ts'
import { checkReadiness, type ReadinessChecks } from '../../lib/health.ts'

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
    const checks: ReadinessChecks = lifecycle.draining ? { database: 'DOWN', queue: 'DOWN' } : await checkReadiness(deps)
    const up = checks.database === 'UP' && checks.queue === 'UP'
    ctx.status = up ? 200 : 503
    ctx.body = { status: lifecycle.draining ? 'DRAINING' : up ? 'UP' : 'DOWN', checks }
  })
  return router
}
