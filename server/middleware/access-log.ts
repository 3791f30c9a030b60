import type { Middleware } from 'koa'
import type { Logger } from '../../lib/logger.ts'

/** One JSON line per request with request id, user and route; no bodies, no personal data. */
export function accessLog(logger: Logger): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint()
    ctx.state.logger = logger.child({ requestId: ctx.state.requestId })
    try {
      await next()
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      ctx.state.logger.info(
        { method: ctx.method, route: ctx.state.route ?? ctx._matchedRoute ?? null, status: ctx.status, ms: Math.round(ms * 100) / 100, userId: ctx.state.user?.id },
        'request',
      )
    }
  }
}
