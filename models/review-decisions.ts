// §11 decisions on reviews (MANAGER/ADMIN): NOT_DUPLICATE is remembered per pair, so none of the
// review's pairs is proposed again (match_candidates() leaves remembered pairs out, whatever the
// leads become later); DISMISS only closes the review; MERGE performs §12's merge of the review's
// lead and its candidates into the survivor and closes the review — one transaction for both.
import type { Tx } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { reviewsDecided } from '../lib/metrics.ts'
import { MANAGER_ROLES } from '../lib/tenancy.ts'
import { problems } from './errors.ts'
import type { Actor } from './lead-commands.ts'
import { MAX_MERGE_IDS, mergeLeads } from './lead-merge.ts'
import { closeReview, lockReview, rememberNotDuplicate, type Review, type ReviewDecision } from './reviews.ts'

export async function decideReview(deps: Deps, tx: Tx, actor: Actor, id: string, input: { decision: ReviewDecision; survivorId?: string }): Promise<{ review: Review; mergeId?: string }> {
  if (!MANAGER_ROLES.includes(actor.role)) throw problems.forbidden('Only managers and admins decide reviews.')
  const review = await lockReview(tx, id)
  if (!review) throw problems.notFound(`No review ${id}.`)
  if (review.status !== 'OPEN') throw problems.conflict('review-decided', 'Review already decided', `The review is ${review.status} already.`)
  const now = deps.clock.now()
  let mergeId: string | undefined
  if (input.decision === 'MERGE') {
    // The review's lead and its candidates are one business: merged into the survivor (default: the review's lead).
    const group = [review.leadId, ...review.candidates.map((c) => c.leadId)]
    const survivorId = input.survivorId ?? review.leadId
    if (!group.includes(survivorId)) throw problems.validation([{ pointer: '/survivorId', message: 'must be the review\'s lead or one of its candidates' }])
    const mergeIds = group.filter((leadId) => leadId !== survivorId)
    if (mergeIds.length > MAX_MERGE_IDS) {
      throw problems.validation([{ pointer: '/decision', message: `a merge takes at most ${MAX_MERGE_IDS} leads besides the survivor; merge through POST /api/leads/{id}/merge` }])
    }
    mergeId = (await mergeLeads(deps, tx, actor, survivorId, '*', { mergeIds })).merge.id
  } else if (input.decision === 'NOT_DUPLICATE') {
    await rememberNotDuplicate(tx, review, actor.id, now)
  }
  const status = input.decision === 'MERGE' ? 'MERGED' : input.decision === 'NOT_DUPLICATE' ? 'NOT_DUPLICATE' : 'DISMISSED'
  const closed = await closeReview(tx, review, status, actor.id, now)
  reviewsDecided.inc({ decision: input.decision })
  return { review: closed, ...(mergeId && { mergeId }) }
}
