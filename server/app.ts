import Koa from 'koa'
import type { Router } from '@koa/router'
import type { Deps } from '../lib/deps.ts'
import { requestId } from './middleware/request-id.ts'
import { accessLog } from './middleware/access-log.ts'
import { problemResponses } from './middleware/problems.ts'
import { jsonBody } from './middleware/json-body.ts'
import { healthRoutes, type Lifecycle } from './routes/health.ts'

/** The HTTP edge, composed: each middleware does one job, routers add the resources. */
export function createApp(deps: Deps, lifecycle: Lifecycle = { draining: false }, extraRouters: readonly Router[] = []): Koa {
  const app = new Koa({ proxy: true })
  app.silent = true // errors are answered and logged by problemResponses, not by koa's default handler
  app.use(requestId())
  app.use(accessLog(deps.logger))
  app.use(problemResponses())
  app.use(jsonBody())
  for (const router of [healthRoutes(deps, lifecycle), ...extraRouters]) {
    app.use(router.routes())
    app.use(router.allowedMethods({ throw: false }))
  }
  return app
}
