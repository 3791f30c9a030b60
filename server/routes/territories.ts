import { Router } from '@koa/router'
import type { Deps } from '../../lib/deps.ts'
import { territoryResource, visibleTerritories } from '../../models/territories.ts'
import { transact } from '../transaction.ts'

/** The territories the caller may see (RLS on `territories` filters by the token's claim). */
export function territoryRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/api/territories' })
  router.get('/', async (ctx) => {
    const territories = await transact(deps, ctx, (tx) => visibleTerritories(tx))
    ctx.body = { data: territories.map(territoryResource) }
  })
  return router
}
