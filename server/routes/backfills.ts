import { Router } from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../../lib/deps.ts'
import type { Tx } from '../../lib/db.ts'
import { requireRole, type Principal } from '../auth.ts'
import { problems } from '../problem.ts'
import { transact } from '../transaction.ts'
import { validBody, validQuery } from '../validation.ts'
import { isUuid } from '../../models/leads.ts'
import { backfillResource, collisionResource, findBackfill, listCollisions, startNormalizationBackfill, type Backfill } from '../../models/backfills.ts'

/** Collisions shown with the backfill itself; the rest page through …/collisions. */
const EMBEDDED_COLLISIONS = 100

function encodeCursor(leadId: string | null): string | null {
  return leadId === null ? null : Buffer.from(JSON.stringify({ after: leadId })).toString('base64url')
}

function decodeCursor(raw: string): string {
  try {
    const { after } = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { after?: unknown }
    if (typeof after === 'string' && isUuid(after)) return after
  } catch {
    // fall through
  }
  throw problems.validation([{ pointer: '/query/cursor', message: 'is not a cursor of this list' }])
}

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
    const user = ctx.state.user as Principal
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
    ctx.body = backfillResource(backfill, { data: collisions.data, nextCursor: encodeCursor(collisions.nextAfter) })
  })

  router.get('/:id/collisions', admin, async (ctx: Context & { params: Record<string, string> }) => {
    const page = validQuery<{ limit?: number; cursor?: string }>('PageQuery', ctx.query)
    const afterLeadId = page.cursor === undefined ? undefined : decodeCursor(page.cursor)
    const result = await transact(deps, ctx, async (tx) => {
      const backfill = await requireBackfill(tx, ctx.params.id!)
      return listCollisions(tx, backfill.id, { limit: page.limit ?? 50, afterLeadId })
    })
    ctx.body = { data: result.data.map(collisionResource), nextCursor: encodeCursor(result.nextAfter) }
  })

  return router
}
