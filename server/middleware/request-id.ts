import { randomUUID } from 'node:crypto'
import type { Middleware } from 'koa'

const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Takes the caller's X-Request-Id when it is sane, else makes one; echoes it on every response. */
export function requestId(): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id')
    ctx.state.requestId = ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID()
    ctx.set('X-Request-Id', ctx.state.requestId)
    await next()
  }
}
