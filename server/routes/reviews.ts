import { Router } from '@koa/router'
import type { Deps } from '../../lib/deps.ts'
import { requireRole } from '../auth.ts'
import { problems } from '../../models/errors.ts'
import { transact } from '../transaction.ts'
import { validBody, validQuery } from '../validation.ts'
import { findReview, listReviews, reviewResources, type ReviewDecision, type ReviewListQuery } from '../../models/reviews.ts'
import { decideReview } from '../../models/review-decisions.ts'

/**
 * §11 reviews of possible duplicates: list (SALES: reviews of own leads; MANAGER/ADMIN: their
 * territories — row-level security decides) and decide (MANAGER/ADMIN). Mounted behind authenticate.
 */
export function reviewRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/api/reviews' })
  const managers = requireRole('MANAGER', 'ADMIN')

  router.get('/', async (ctx) => {
    const query = validQuery<ReviewListQuery>('ReviewListQuery', ctx.query)
    ctx.body = await transact(deps, ctx, async (tx) => {
      const page = await listReviews(tx, query)
      return { data: await reviewResources(tx, page.data), nextCursor: page.nextCursor }
    })
  })

  router.get('/:id', async (ctx) => {
    ctx.body = await transact(deps, ctx, async (tx) => {
      const review = await findReview(tx, ctx.params.id!)
      if (!review) throw problems.notFound(`No review ${ctx.params.id}.`)
      return (await reviewResources(tx, [review]))[0]
    })
  })

  router.post('/:id/decision', managers, async (ctx) => {
    const input = validBody<{ decision: ReviewDecision; survivorId?: string }>('ReviewDecision', ctx.state.body)
    const user = ctx.state.user!
    ctx.body = await transact(deps, ctx, async (tx) => {
      const { review, mergeId } = await decideReview(deps, tx, { id: user.id, role: user.role }, ctx.params.id!, input)
      return { ...(await reviewResources(tx, [review]))[0], ...(mergeId && { mergeId }) }
    })
  })

  return router
}
