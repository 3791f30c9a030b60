import Koa from 'koa'
import type { Router } from '@koa/router'
import type { Deps } from '../lib/deps.ts'
import { requestId } from './middleware/request-id.ts'
import { accessLog } from './middleware/access-log.ts'
import { problemResponses } from './middleware/problems.ts'
import { jsonBody } from './middleware/json-body.ts'
import { healthRoutes, type Lifecycle } from './routes/health.ts'
import { leadRoutes } from './routes/leads.ts'
import { territoryRoutes } from './routes/territories.ts'
import { openApiRoutes } from './openapi.ts'
import { authenticate, createTokenVerifier } from './auth.ts'
import { EVENT_STREAM_PATH } from './routes/events.ts'

/** The HTTP edge, composed: each middleware does one job, routers add the resources. */
export function createApp(deps: Deps, lifecycle: Lifecycle = { draining: false }, extraRouters: readonly Router[] = []): Koa {
  const app = new Koa({ proxy: true })
  app.silent = true // errors are answered and logged by problemResponses, not by koa's default handler
  app.use(requestId())
  app.use(accessLog(deps.logger))
  app.use(problemResponses())
  app.use(jsonBody())
  const verify = createTokenVerifier(deps.config.auth)
  const authenticated = authenticate(verify)
  // EventSource cannot send headers, so the SSE stream alone also takes ?access_token=.
  const authenticatedStream = authenticate(verify, { allowQueryToken: true })
  // Everything under /api needs a token; health, metrics and docs do not.
  app.use((ctx, next) => {
    if (ctx.path === EVENT_STREAM_PATH) return authenticatedStream(ctx, next)
    return ctx.path.startsWith('/api/') || ctx.path === '/api' ? authenticated(ctx, next) : next()
  })
  for (const router of [healthRoutes(deps, lifecycle), openApiRoutes(), leadRoutes(deps), territoryRoutes(deps), ...extraRouters]) {
    app.use(router.routes())
    app.use(router.allowedMethods({ throw: false }))
  }
  return app
}
