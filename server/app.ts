import Koa, { type Middleware } from 'koa'
import type { Router } from '@koa/router'
import type { Deps } from '../lib/deps.ts'
import { requestId } from './middleware/request-id.ts'
import { accessLog } from './middleware/access-log.ts'
import { problemResponses } from './middleware/problems.ts'
import { jsonBody } from './middleware/json-body.ts'
import { healthRoutes, type Lifecycle } from './routes/health.ts'
import { leadRoutes } from './routes/leads.ts'
import { territoryRoutes } from './routes/territories.ts'
import { backfillRoutes } from './routes/backfills.ts'
import { reviewRoutes } from './routes/reviews.ts'
import { importRoutes } from './routes/imports.ts'
import { importPageRoutes } from './routes/import-page.ts'
import { mergeRoutes } from './routes/merges.ts'
import { unsubscribeRoutes } from './routes/unsubscribe.ts'
import { openApiRoutes } from './openapi.ts'
import { authenticate, createTokenVerifier, type TokenVerifier } from './auth.ts'
import { EVENT_STREAM_PATH } from './routes/events.ts'
import { sessionRoutes } from './routes/session.ts'
import { dashboardRoutes } from './routes/dashboard.ts'
import { idempotency } from './middleware/idempotency.ts'
import { httpMetrics, metricsRoutes } from './http-metrics.ts'
import { sameOriginStateChanges, securityHeaders } from './middleware/browser-security.ts'

/** Optional parts of the edge that need more than Deps to be built. */
export interface AppOptions {
  /** bull-board at /admin/queues with its authorization in front (routes/queue-board.ts queueBoard()). */
  queueBoard?: Middleware
  /** The token verifier, when the caller built one already (startWeb shares it with the board). */
  verify?: TokenVerifier
}

/** The HTTP edge, composed: each middleware does one job, routers add the resources. */
export function createApp(deps: Deps, lifecycle: Lifecycle = { draining: false }, extraRouters: readonly Router[] = [], options: AppOptions = {}): Koa {
  // X-Forwarded-* only from a proxy the operator vouches for (TRUST_PROXY); otherwise any client
  // could claim HTTPS (and get a Secure cookie over plain HTTP) or another host.
  const app = new Koa({ proxy: deps.config.trustProxy })
  app.silent = true // errors are answered and logged by problemResponses, not by koa's default handler
  app.use(requestId())
  app.use(httpMetrics())
  app.use(accessLog(deps.logger))
  app.use(problemResponses())
  app.use(securityHeaders())
  // §13 unsubscribe: no login, no cookie authority (the token in the path is the authority), a form
  // body of its own: before the CSRF check and the JSON body parser.
  const unsubscribe = unsubscribeRoutes(deps)
  app.use(unsubscribe.routes())
  app.use(unsubscribe.allowedMethods({ throw: false }))
  // Before the board: its actions are state changes a cookie authenticates.
  app.use(sameOriginStateChanges(deps.config))
  // Before jsonBody: the board parses its own request bodies.
  if (options.queueBoard) app.use(options.queueBoard)
  app.use(jsonBody())
  const verify = options.verify ?? createTokenVerifier(deps.config.auth)
  const authenticated = authenticate(verify)
  // EventSource cannot send headers, so the SSE stream alone also takes ?access_token=.
  const authenticatedStream = authenticate(verify, { allowQueryToken: true })
  // Everything under /api needs a token; health, metrics and docs do not. Case-insensitive, because
  // the routers match case-insensitively: /API/leads must not reach a handler unauthenticated.
  app.use((ctx, next) => {
    if (ctx.path.toLowerCase() === EVENT_STREAM_PATH) return authenticatedStream(ctx, next)
    return /^\/api(\/|$)/i.test(ctx.path) ? authenticated(ctx, next) : next()
  })
  app.use(idempotency(deps))
  for (const router of [healthRoutes(deps, lifecycle), metricsRoutes(deps), openApiRoutes(), sessionRoutes(deps.config, verify), dashboardRoutes(verify), importPageRoutes(verify), leadRoutes(deps), territoryRoutes(deps), backfillRoutes(deps), mergeRoutes(deps), reviewRoutes(deps), importRoutes(deps), ...extraRouters]) {
    app.use(router.routes())
    app.use(router.allowedMethods({ throw: false }))
  }
  return app
}
