import { Router } from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../../lib/deps.ts'
import type { Tx } from '../../lib/db.ts'
import { requireRole } from '../auth.ts'
import { problems } from '../../models/errors.ts'
import { transact } from '../transaction.ts'
import { validBody, validQuery } from '../validation.ts'
import { decodeCursor, encodeCursor, hasStringKeys, isUuid } from '../../models/cursor.ts'
import { backfillResource, collisionResource, findBackfill, listCollisions, startNormalizationBackfill, type Backfill } from '../../models/backfills.ts'

/** Collisions shown with the backfill itself; the rest page through …/collisions. */
const EMBEDDED_COLLISIONS = 100

const encodeAfter = (leadId: string | null): string | null => (leadId === null ? null : encodeCursor({ after: leadId }))
const decodeAfter = (raw: string): string => decodeCursor(raw, (value): value is { after: string } => hasStringKeys(value, 'after') && isUuid(value.after)).after

async function requireBackfill(tx: Tx, id: string): Promise<Backfill> {
  // RLS: other tenants' backfills, and every backfill for non-admins, do not exist.
  const backfill = isUuid(id) ? await findBackfill(tx, id) : undefined
  if (!backfill) throw problems.notFound(`No backfill ${id}.`)
  return backfill
}

/**
 * §5 backfills for admins: start one (or get the running one back) and follow its progress.
 * Mounted in server/app.ts behind authenticate; every route also needs the ADMIN role.
 */
export function backfillRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/api/admin/backfills' })
  const admin = requireRole('ADMIN')

  // 202: a new backfill was queued. 200: one was running already; it is returned (and its job
  // queued again, which revives it if its worker chain died) instead of starting a second one.
  router.post('/', admin, async (ctx) => {
    const input = validBody<{ kind?: 'NORMALIZATION'; batchSize?: number }>('BackfillCreate', ctx.state.body ?? {})
    const user = ctx.state.user!
    const { backfill, created } = await transact(deps, ctx, (tx) => startNormalizationBackfill(deps, tx, { createdBy: user.id, batchSize: input.batchSize }))
    ctx.status = created ? 202 : 200
    ctx.set('Location', `/api/admin/backfills/${backfill.id}`)
    ctx.body = backfillResource(backfill, { data: [], nextCursor: null })
  })

  router.get('/:id', admin, async (ctx) => {
    const { backfill, collisions } = await transact(deps, ctx, async (tx) => {
      const backfill = await requireBackfill(tx, ctx.params.id!)
      return { backfill, collisions: await listCollisions(tx, backfill.id, { limit: EMBEDDED_COLLISIONS }) }
    })
    ctx.body = backfillResource(backfill, { data: collisions.data, nextCursor: encodeAfter(collisions.nextAfter) })
  })

  router.get('/:id/collisions', admin, async (ctx: Context & { params: Record<string, string> }) => {
    const page = validQuery<{ limit?: number; cursor?: string }>('PageQuery', ctx.query)
    const afterLeadId = page.cursor === undefined ? undefined : decodeAfter(page.cursor)
    const result = await transact(deps, ctx, async (tx) => {
      const backfill = await requireBackfill(tx, ctx.params.id!)
      return listCollisions(tx, backfill.id, { limit: page.limit ?? 50, afterLeadId })
    })
    ctx.body = { data: result.data.map(collisionResource), nextCursor: encodeAfter(result.nextAfter) }
  })

  return router
}
