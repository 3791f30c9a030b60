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
import { idempotency } from './middleware/idempotency.ts'

/** The HTTP edge, composed: each middleware does one job, routers add the resources. */
export function createApp(deps: Deps, lifecycle: Lifecycle = { draining: false }, extraRouters: readonly Router[] = []): Koa {
  const app = new Koa({ proxy: true })
  app.silent = true // errors are answered and logged by problemResponses, not by koa's default handler
  app.use(requestId())
  app.use(accessLog(deps.logger))
  app.use(problemResponses())
  app.use(jsonBody())
  const authenticated = authenticate(createTokenVerifier(deps.config.auth))
  // Everything under /api needs a token; health, metrics and docs do not. Case-insensitive, because
  // the routers match case-insensitively: /API/leads must not reach a handler unauthenticated.
  app.use((ctx, next) => (/^\/api(\/|$)/i.test(ctx.path) ? authenticated(ctx, next) : next()))
  app.use(idempotency(deps))
  for (const router of [healthRoutes(deps, lifecycle), openApiRoutes(), leadRoutes(deps), territoryRoutes(deps), ...extraRouters]) {
    app.use(router.routes())
    app.use(router.allowedMethods({ throw: false }))
  }
  return app
}
