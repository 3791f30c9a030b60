import { Router } from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../../lib/deps.ts'
import { requireRole } from '../auth.ts'
import { etagFor, requiredIfMatch } from '../etag.ts'
import { transact } from '../transaction.ts'
import { validBody, validQuery } from '../validation.ts'
import { leadResource } from '../../models/lead-table.ts'
import type { Actor } from '../../models/lead-commands.ts'
import { historyResource, listHistory } from '../../models/lead-history.ts'
import { findMerge, mergeLeads, mergeResource, undoMerge, type MergeInput } from '../../models/lead-merge.ts'

const actor = (ctx: Context): Actor => {
  const user = ctx.state.user!
  return { id: user.id, role: user.role }
}

/** §12: a lead's history, merging leads, and undoing a merge. Behind authenticate (server/app.ts). */
export function mergeRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/api' })
  const managers = requireRole('MANAGER', 'ADMIN')

  router.get('/leads/:id/history', async (ctx) => {
    const page = validQuery<{ limit?: number; cursor?: string }>('PageQuery', ctx.query)
    const result = await transact(deps, ctx, (tx) => listHistory(tx, ctx.params.id!, page))
    ctx.body = { data: result.data.map(historyResource), nextCursor: result.nextCursor }
  })

  router.post('/leads/:id/merge', managers, async (ctx) => {
    const expected = requiredIfMatch(ctx)
    const input = validBody<MergeInput>('MergeRequest', ctx.state.body)
    const { lead, merge } = await transact(deps, ctx, (tx) => mergeLeads(deps, tx, actor(ctx), ctx.params.id!, expected, input))
    ctx.set('ETag', etagFor(lead.version))
    ctx.set('Location', `/api/merges/${merge.id}`)
    ctx.body = { ...leadResource(lead), mergeId: merge.id }
  })

  router.get('/merges/:id', async (ctx) => {
    const merge = await transact(deps, ctx, (tx) => findMerge(tx, ctx.params.id!))
    ctx.body = mergeResource(merge)
  })

  router.post('/merges/:id/undo', managers, async (ctx) => {
    const result = await transact(deps, ctx, (tx) => undoMerge(deps, tx, actor(ctx), ctx.params.id!))
    ctx.body = { merge: mergeResource(result.merge), survivor: leadResource(result.survivor), restored: result.restored.map((lead) => leadResource(lead)), conflicts: result.conflicts }
  })

  return router
}
