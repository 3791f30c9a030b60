// §10 stop-the-clock and backdating: commands of the one lead write path (models/lead-commands.ts).
import type { Deps } from '../lib/deps.ts'
import type { Tx } from '../lib/db.ts'
import { MANAGER_ROLES } from '../lib/tenancy.ts'
import { problems } from './errors.ts'
import type { Lead } from './lead-table.ts'
import { insertActivity, leadResource, updateLead } from './lead-table.ts'
import { clockOf, recomputedProtection, scheduleProtection } from './lead-protection.ts'
import { isProtected, pausedSummary, resumedClock } from './protection-rules.ts'
import { emit, lockLead, type Actor } from './lead-commands.ts'

const conflict = (detail: string) => problems.conflict('invalid-clock-state', 'Invalid clock state', detail)

function assertProtected(lead: Lead): void {
  if (!isProtected(lead.status)) throw conflict(`A ${lead.status} lead has no running protection clock.`)
}

/**
 * POST …/clock/stop: MANAGER/ADMIN stop the clock at once; SALES (owner or collaborator) file a
 * request that a manager approves. Stopping a stopped clock is a 409; a second request replaces the
 * reason of the first.
 */
export async function stopClock(deps: Deps, tx: Tx, actor: Actor, id: string, reason: string): Promise<Lead> {
  const lead = await lockLead(tx, id)
  assertProtected(lead)
  if (lead.clockStopStatus === 'STOPPED') throw conflict('The clock is stopped already.')
  const now = deps.clock.now()
  const base = { userId: actor.id, occurredAt: now }
  if (!MANAGER_ROLES.includes(actor.role)) {
    const updated = await updateLead(tx, lead, { clockStopStatus: 'REQUESTED', stopReason: reason, clockStopRequestedBy: actor.id, clockStopRequestedAt: now }, now)
    await insertActivity(tx, updated, { ...base, type: 'CLOCK_STOP_REQUESTED', summary: `Clock stop requested: ${reason}`, metadata: { reason } })
    await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: ['clockStopStatus', 'stopReason'], lead: leadResource(updated) })
    return updated
  }
  return stop(deps, tx, lead, actor, reason, now)
}

async function stop(deps: Deps, tx: Tx, lead: Lead, actor: Actor, reason: string, now: Date): Promise<Lead> {
  const { columns } = await recomputedProtection(tx, lead, { ...clockOf(lead), clockStoppedAt: now })
  const updated = await updateLead(tx, lead, {
    ...columns, clockStopStatus: 'STOPPED', stopReason: reason,
    clockStopRequestedBy: lead.clockStopRequestedBy ?? actor.id, clockStopRequestedAt: lead.clockStopRequestedAt ?? now,
  }, now)
  const approvedRequest = lead.clockStopStatus === 'REQUESTED' ? { requestedBy: lead.clockStopRequestedBy, approvedBy: actor.id } : {}
  await insertActivity(tx, updated, { userId: actor.id, occurredAt: now, type: 'CLOCK_STOPPED', summary: `Clock stopped: ${reason}`, metadata: { reason, ...approvedRequest } })
  await emit(deps, tx, 'freshplan.lead.clock_stopped', updated, { reason, stoppedAt: now.toISOString(), ...approvedRequest, lead: leadResource(updated) })
  return updated
}

/** POST …/clock/approve (MANAGER/ADMIN): a requested stop takes effect now. */
export async function approveClockStop(deps: Deps, tx: Tx, actor: Actor, id: string): Promise<Lead> {
  const lead = await lockLead(tx, id)
  assertProtected(lead)
  if (lead.clockStopStatus !== 'REQUESTED') throw conflict('There is no clock stop request to approve.')
  return stop(deps, tx, lead, actor, lead.stopReason!, deps.clock.now())
}

/** POST …/clock/resume (MANAGER/ADMIN): the pause extends both dates; a pending request is withdrawn. */
export async function resumeClock(deps: Deps, tx: Tx, actor: Actor, id: string): Promise<Lead> {
  const lead = await lockLead(tx, id)
  if (lead.clockStopStatus === null) throw conflict('The clock is running.')
  const now = deps.clock.now()
  const resumed = resumedClock(clockOf(lead), now)
  const { pauseSeconds, ...clock } = resumed
  const { columns, next } = await recomputedProtection(tx, lead, clock)
  const updated = await updateLead(tx, lead, { ...columns, clockStopStatus: null, stopReason: null, clockStopRequestedBy: null, clockStopRequestedAt: null }, now)
  const summary = lead.clockStopStatus === 'STOPPED' ? `Clock resumed, ${pausedSummary(pauseSeconds)}` : 'Clock stop request withdrawn'
  await insertActivity(tx, updated, { userId: actor.id, occurredAt: now, type: 'CLOCK_RESUMED', summary, metadata: { pausedSeconds: pauseSeconds, totalPausedSeconds: clock.pausedSeconds, reason: lead.stopReason } })
  await emit(deps, tx, 'freshplan.lead.clock_resumed', updated, { pausedSeconds: pauseSeconds, protectionUntil: updated.protectionUntil, progressDeadline: updated.progressDeadline, lead: leadResource(updated) })
  await scheduleProtection(deps, tx, updated, next)
  return updated
}

/** PUT …/registered-at (MANAGER/ADMIN): backdates the claim and recomputes every date. */
export async function changeRegisteredAt(deps: Deps, tx: Tx, actor: Actor, id: string, registeredAt: Date, reason: string): Promise<Lead> {
  const lead = await lockLead(tx, id)
  if (lead.status === 'DELETED') throw problems.conflict('invalid-status-transition', 'Invalid status transition', 'A deleted lead cannot be changed.')
  const now = deps.clock.now()
  if (registeredAt.getTime() > now.getTime()) throw problems.validation([{ pointer: '/registeredAt', message: 'must not be in the future' }])
  const { columns, next } = await recomputedProtection(tx, lead, { ...clockOf(lead), protectionStartAt: registeredAt })
  const updated = await updateLead(tx, lead, { ...columns, registeredAt }, now)
  const change = { from: lead.registeredAt.toISOString(), to: registeredAt.toISOString(), reason }
  await insertActivity(tx, updated, { userId: actor.id, occurredAt: now, type: 'REGISTERED_AT_CHANGED', summary: `Registered at changed from ${change.from} to ${change.to}: ${reason}`, metadata: change })
  await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: ['registeredAt'], ...change, lead: leadResource(updated) })
  await scheduleProtection(deps, tx, updated, next)
  return updated
}
