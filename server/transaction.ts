import type { Context } from 'koa'
import { inTransaction, type Tx } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'

/**
 * A request's unit of work: one transaction under the caller's RLS context (set by authenticate).
 * Everything a handler writes, and every job it enqueues through `tx.db`, commits or rolls back here.
 */
export function transact<T>(deps: Pick<Deps, 'knex'>, ctx: Context, work: (tx: Tx) => Promise<T>): Promise<T> {
  // Joins the transaction the idempotency middleware opened, so its record commits with the writes.
  if (ctx.state.tx) return work(ctx.state.tx)
  if (!ctx.state.auth) throw new Error('transact needs an authenticated request (mount the route behind authenticate)')
  return inTransaction(deps.knex, ctx.state.auth, work)
}
