import { Router } from '@koa/router'
import type { Deps } from '../../lib/deps.ts'
import { Territory } from '../../models/lead.ts'
import { transact } from '../transaction.ts'

/** The territories the caller may see (RLS on `territories` filters by the token's claim). */
export function territoryRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/api/territories' })
  router.get('/', async (ctx) => {
    const territories = await transact(deps, ctx, async (tx) => await Territory.query(tx.trx).orderBy('code'))
    ctx.body = {
      data: territories.map((t) => ({ code: t.code, name: t.name, currency: t.currency, vatRate: Number(t.vatRate), locale: t.locale, timeZone: t.timeZone })),
    }
  })
  return router
}
