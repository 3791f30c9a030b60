// The HTTP side of the metrics: request timing middleware and the GET /metrics route of `web`.
import { Router } from '@koa/router'
import type { Middleware, ParameterizedContext } from 'koa'
import type { Deps } from '../lib/deps.ts'
import { httpRequestDuration, renderMetrics } from '../lib/metrics.ts'

/** The route label of a request: the matched template, never the raw path (which is unbounded). */
export function routeLabel(ctx: ParameterizedContext): string {
  const route = ctx.state.route ?? ctx._matchedRoute
  return typeof route === 'string' && route !== '' ? route : 'unmatched'
}

/** Times every request; outermost after the request id, so it sees the status problemResponses set. */
export function httpMetrics(): Middleware {
  return async (ctx, next) => {
    const stopTimer = httpRequestDuration.startTimer()
    let failed = false
    try {
      await next()
    } catch (error) {
      failed = true
      throw error
    } finally {
      stopTimer({ method: ctx.method, route: routeLabel(ctx), status: String(failed ? 500 : ctx.status) })
    }
  }
}

/** GET /metrics in Prometheus text format (without the global queue depth: workers export that). */
export function metricsRoutes(deps: Pick<Deps, 'boss' | 'knex'>): Router {
  const router = new Router()
  router.get('/metrics', async (ctx) => {
    const metrics = await renderMetrics(deps, { queueDepth: false }, (error) => ctx.state.logger?.warn({ err: error }, 'queue depth not collected for /metrics'))
    ctx.type = metrics.contentType
    ctx.body = metrics.body
  })
  return router
}
