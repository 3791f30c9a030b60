import { Router } from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../../lib/deps.ts'
import { requireRole } from '../auth.ts'
import { problems } from '../../models/errors.ts'
import { etagFor, matchesIfNoneMatch, requiredIfMatch } from '../etag.ts'
import { transact } from '../transaction.ts'
import { validBody, validQuery } from '../validation.ts'
import { activityResource, leadResource, type Lead } from '../../models/lead-table.ts'
import { addActivity, deleteLead, eraseLead, patchLead, reassignOwner, revokeConsent, setCollaborator, type ActivityInput, type Actor, type LeadCreateInput, type LeadPatchInput } from '../../models/lead-commands.ts'
import { approveClockStop, changeRegisteredAt, resumeClock, stopClock } from '../../models/lead-clock-commands.ts'
import { createLead } from '../../models/lead-create.ts'
import { listActivities, listLeads, readLead, type LeadListQuery } from '../../models/lead-queries.ts'
import { clockState } from '../../models/lead-protection.ts'
import { matchLead, type MatchInput } from '../../models/reviews.ts'
import { exportLead } from '../../models/privacy.ts'

const actor = (ctx: Context): Actor => {
  const user = ctx.state.user!
  return { id: user.id, role: user.role }
}

function sendLead(ctx: Context, lead: Lead, status = 200, warnings?: string[]): void {
  ctx.status = status
  ctx.set('ETag', etagFor(lead.version))
  ctx.body = leadResource(lead, warnings)
}

const USER_ID = /^[A-Za-z0-9._@:|-]{1,255}$/

/** The lead resources of §4; all of them behind authenticate (mounted in server/app.ts). */
export function leadRoutes(deps: Deps): Router {
  const router = new Router({ prefix: '/api/leads' })
  const managers = requireRole('MANAGER', 'ADMIN')

  router.post('/', async (ctx) => {
    const input = validBody<LeadCreateInput>('LeadCreate', ctx.state.body)
    const { lead, warnings, possibleDuplicates } = await transact(deps, ctx, (tx) => createLead(deps, tx, actor(ctx), input))
    ctx.set('Location', `/api/leads/${lead.id}`)
    sendLead(ctx, lead, 201, warnings)
    ctx.body = { ...(ctx.body as object), possibleDuplicates }
  })

  // §11 dry run (any role): the possible duplicates of a lead as it would be created; writes nothing.
  router.post('/match', async (ctx) => {
    const input = validBody<MatchInput>('LeadCreate', ctx.state.body)
    ctx.body = { candidates: await transact(deps, ctx, (tx) => matchLead(deps, tx, input)) }
  })

  router.get('/', async (ctx) => {
    const query = validQuery<LeadListQuery>('LeadListQuery', ctx.query)
    const page = await transact(deps, ctx, (tx) => listLeads(tx, query))
    ctx.body = { data: page.data.map((lead) => leadResource(lead)), nextCursor: page.nextCursor, ...(page.total !== undefined && { total: page.total }) }
  })

  router.get('/:id', async (ctx) => {
    const lead = await readLead(deps.knex, ctx.state.auth!, ctx.params.id!)
    if (matchesIfNoneMatch(ctx, lead.version)) {
      ctx.status = 304
      ctx.set('ETag', etagFor(lead.version))
      return
    }
    sendLead(ctx, lead)
  })

  router.patch('/:id', async (ctx) => {
    const expected = requiredIfMatch(ctx)
    const patch = validBody<LeadPatchInput>('LeadPatch', ctx.state.body)
    const { lead, warnings } = await transact(deps, ctx, (tx) => patchLead(deps, tx, actor(ctx), ctx.params.id!, expected, patch))
    sendLead(ctx, lead, 200, warnings)
  })

  router.delete('/:id', managers, async (ctx) => {
    const expected = requiredIfMatch(ctx)
    await transact(deps, ctx, (tx) => deleteLead(deps, tx, actor(ctx), ctx.params.id!, expected))
    ctx.status = 204
  })

  router.post('/:id/activities', async (ctx) => {
    const input = validBody<ActivityInput>('ActivityCreate', ctx.state.body)
    const { lead, activity } = await transact(deps, ctx, (tx) => addActivity(deps, tx, actor(ctx), ctx.params.id!, input))
    ctx.status = 201
    ctx.set('Location', `/api/leads/${lead.id}/activities`)
    ctx.set('ETag', etagFor(lead.version))
    ctx.body = activityResource(activity)
  })

  router.get('/:id/activities', async (ctx) => {
    const page = validQuery<{ limit?: number; cursor?: string }>('PageQuery', ctx.query)
    const result = await transact(deps, ctx, (tx) => listActivities(tx, ctx.params.id!, page))
    ctx.body = { data: result.data.map(activityResource), nextCursor: result.nextCursor }
  })

  router.put('/:id/owner', managers, async (ctx) => {
    const { ownerUserId } = validBody<{ ownerUserId: string }>('OwnerAssignment', ctx.state.body)
    const lead = await transact(deps, ctx, (tx) => reassignOwner(deps, tx, actor(ctx), ctx.params.id!, ownerUserId))
    sendLead(ctx, lead)
  })

  // §10 stop-the-clock: the answer is the clock's state (`status` RUNNING, REQUESTED or STOPPED).
  const sendClock = (ctx: Context, lead: Lead) => {
    ctx.status = lead.clockStopStatus === 'REQUESTED' ? 202 : 200
    ctx.set('ETag', etagFor(lead.version))
    ctx.body = clockState(lead)
  }
  router.post('/:id/clock/stop', async (ctx) => {
    const { reason } = validBody<{ reason: string }>('ClockStop', ctx.state.body)
    sendClock(ctx, await transact(deps, ctx, (tx) => stopClock(deps, tx, actor(ctx), ctx.params.id!, reason)))
  })
  router.post('/:id/clock/approve', managers, async (ctx) => {
    sendClock(ctx, await transact(deps, ctx, (tx) => approveClockStop(deps, tx, actor(ctx), ctx.params.id!)))
  })
  router.post('/:id/clock/resume', managers, async (ctx) => {
    sendClock(ctx, await transact(deps, ctx, (tx) => resumeClock(deps, tx, actor(ctx), ctx.params.id!)))
  })
  router.put('/:id/registered-at', managers, async (ctx) => {
    const { registeredAt, reason } = validBody<{ registeredAt: string; reason: string }>('RegisteredAtChange', ctx.state.body)
    sendLead(ctx, await transact(deps, ctx, (tx) => changeRegisteredAt(deps, tx, actor(ctx), ctx.params.id!, new Date(registeredAt), reason)))
  })

  const collaborator = (present: boolean) => async (ctx: Context & { params: Record<string, string> }) => {
    const userId = ctx.params.userId!
    if (!USER_ID.test(userId)) throw problems.validation([{ pointer: '/path/userId', message: 'is not a user id' }])
    const lead = await transact(deps, ctx, (tx) => setCollaborator(deps, tx, actor(ctx), ctx.params.id!, userId, present))
    sendLead(ctx, lead)
  }
  router.put('/:id/collaborators/:userId', collaborator(true))
  router.delete('/:id/collaborators/:userId', collaborator(false))

  // §13 consent and privacy.
  router.post('/:id/consent/revoke', async (ctx) => {
    const { lead } = await transact(deps, ctx, (tx) => revokeConsent(deps, tx, actor(ctx), ctx.params.id!, 'CRM'))
    sendLead(ctx, lead)
  })

  router.get('/:id/export', managers, async (ctx) => {
    const document = await transact(deps, ctx, (tx) => exportLead(deps, tx, ctx.params.id!))
    ctx.set('Cache-Control', 'no-store')
    ctx.set('Content-Disposition', `attachment; filename="lead-${ctx.params.id}.json"`)
    ctx.body = document
  })

  router.post('/:id/erase', managers, async (ctx) => {
    const { reason } = validBody<{ reason: string }>('EraseRequest', ctx.state.body)
    await transact(deps, ctx, (tx) => eraseLead(deps, tx, actor(ctx), ctx.params.id!, reason))
    ctx.status = 204
  })

  return router
}
