// What the middleware puts on `ctx.state`, typed once for every handler (koa's DefaultState).
import type { SecurityContext, Tx } from '../lib/db.ts'
import type { Logger } from '../lib/logger.ts'
import type { Principal } from './auth.ts'

declare module 'koa' {
  interface DefaultState {
    /** middleware/request-id.ts */
    requestId?: string
    /** middleware/request-id.ts: a child logger with the request id. */
    logger?: Logger
    /** middleware/json-body.ts: the parsed JSON body (undefined without one). */
    body?: unknown
    /** auth.ts authenticate: who calls. */
    user?: Principal
    /** auth.ts authenticate: the caller's RLS context. */
    auth?: SecurityContext
    /** middleware/idempotency.ts: the transaction a keyed request runs in; transact joins it. */
    tx?: Tx
    /** The route label when no koa-router template matched (the queue board's sub-app). */
    route?: string
  }
}
