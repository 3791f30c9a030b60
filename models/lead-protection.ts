// §10 lead protection against the database: the stored dates of a lead, the per-lead delayed jobs
// that move a lead to REMINDER, GRACE_PERIOD and EXPIRED, and the daily sweep. The rules are pure
// (protection-rules.ts); the settings are protection-settings.ts; stop/approve/resume and
// backdating are commands of the lead write path (lead-commands.ts), which uses the helpers here.
// Lead rows are written only through lead-table.ts's updateLead/insertActivity.
//
// Exactly once: a transition runs under the lead's row lock and re-derives what is due from the
// row, at the clock's now. A job that runs twice, late, or after the deadline moved finds the status
// already changed (or nothing due) and does nothing; the mails' dedupe keys name the deadline they
// belong to, so even a replayed transaction cannot mail twice.
import { createHash, randomUUID } from 'node:crypto'
import type { Deps } from '../lib/deps.ts'
import { inTransaction, systemContext, type Tx } from '../lib/db.ts'
import { renderMail } from '../lib/mail-template.ts'
import { PROTECTION_QUEUE_OF } from '../lib/queues.ts'
import { ALL_TENANTS, SYSTEM_USER_ID, type Territory as TerritoryCode } from '../lib/tenancy.ts'
import { enqueueAll, type JobToSend } from '../lib/boss.ts'
import { queueOutboxMail } from './email-outbox.ts'
import { mailTemplate } from './email-templates.ts'
import { recordLeadEvent } from './lead-events.ts'
import { insertActivity, leadById, leadResource, protectionCandidates, updateLead, type Lead } from './lead-table.ts'
import { countsAsProgress, statusAfterActivity, statusChangeSummary, type ActivityType, type LeadStatus } from './lead-rules.ts'
import { NO_FOOTER, PROTECTION_TEMPLATE_KEYS, protectionMailVariables, type ProtectionTemplateKey } from './protection-mail.ts'
import { tenantProtection, type TenantProtection } from './protection-settings.ts'
import { userMailAddress } from './user-mail-addresses.ts'
import { territoryOf, type Territory } from './territories.ts'
import {
  clockAfterProgress, dueTransition, isProtected, nextTransition, protectionDates,
  type ClockStopStatus, type ProtectionClock, type ProtectionDates, type ProtectionKind, type ProtectionSettings, type ProtectionTransition,
} from './protection-rules.ts'

export { forgetProtectionSettings } from './protection-settings.ts'

// ---- a lead's stored dates ---------------------------------------------------------------------

type ProtectionRow = Pick<Lead, 'registeredAt' | 'protectionStartAt' | 'lastProgressAt' | 'pausedSeconds' | 'progressPausedSeconds' | 'clockStoppedAt' | 'status'>

export function clockOf(lead: ProtectionRow): ProtectionClock {
  return {
    protectionStartAt: lead.protectionStartAt ?? lead.registeredAt,
    lastProgressAt: lead.lastProgressAt,
    pausedSeconds: lead.pausedSeconds,
    progressPausedSeconds: lead.progressPausedSeconds,
    clockStoppedAt: lead.clockStoppedAt,
  }
}

/** The columns that store a clock's dates and the next transition (one update with the change that moved them). */
export function protectionColumns(clock: ProtectionClock, status: LeadStatus, settings: ProtectionSettings, timeZone: string): { columns: Partial<Lead>; dates: ProtectionDates; next: ProtectionTransition | null } {
  const dates = protectionDates(clock, settings, timeZone)
  const next = nextTransition({ status, clockStoppedAt: clock.clockStoppedAt }, dates)
  return {
    dates,
    next,
    columns: {
      protectionStartAt: clock.protectionStartAt,
      protectionUntil: dates.protectionUntil,
      progressDeadline: dates.progressDeadline,
      lastProgressAt: clock.lastProgressAt,
      pausedSeconds: clock.pausedSeconds,
      progressPausedSeconds: clock.progressPausedSeconds,
      clockStoppedAt: clock.clockStoppedAt,
      protectionNextKind: next?.kind ?? null,
      protectionNextAt: next?.dueAt ?? null,
    },
  }
}

export interface ProtectionJobData {
  leadId: string
  tenantId: string
  /** The lead's territory when the job was queued: what the queue board scopes a tenant ADMIN by. */
  territory: TerritoryCode
  /** When the transition was due as the job was scheduled (the handler re-derives it from the row). */
  dueAt: string
}

/** pg-boss key: one waiting job per lead and kind. */
export function protectionSingletonKey(leadId: string, kind: ProtectionKind): string {
  return `${leadId}:${kind}`
}

/** The job of the lead's next transition, due when the transition is. */
export function protectionJob(lead: { id: string; tenantId: string; territory: TerritoryCode }, next: ProtectionTransition): JobToSend {
  const data: ProtectionJobData = { leadId: lead.id, tenantId: lead.tenantId, territory: lead.territory, dueAt: next.dueAt.toISOString() }
  return { queue: PROTECTION_QUEUE_OF[next.kind], data, options: { startAfter: next.dueAt, singletonKey: protectionSingletonKey(lead.id, next.kind) } }
}

/**
 * Schedules the job of the lead's next transition in the caller's transaction. `upsert` moves a
 * waiting job of the same lead and kind to the new due time (a newer deadline supersedes the older
 * job); a waiting job of another kind is left to find nothing due. A lead created in this
 * transaction has no job yet: createLeads sends protectionJob with its other jobs instead.
 */
export async function scheduleProtection(deps: Pick<Deps, 'boss'>, tx: Tx, lead: { id: string; tenantId: string; territory: TerritoryCode }, next: ProtectionTransition | null): Promise<void> {
  if (next === null) return
  const { queue, data, options } = protectionJob(lead, next)
  await deps.boss.upsert(queue, data, { ...options, db: tx.db })
}

/** The protection columns of a new lead and its first job; for createLead. */
export async function initialProtection(tx: Tx, lead: { tenantId: string; territory: TerritoryCode; registeredAt: Date }): Promise<{ columns: Partial<Lead>; next: ProtectionTransition | null }> {
  const { settings } = await tenantProtection(tx, lead.tenantId)
  const { timeZone } = await territoryOf(tx, lead.territory)
  const clock: ProtectionClock = { protectionStartAt: lead.registeredAt, lastProgressAt: null, pausedSeconds: 0, progressPausedSeconds: 0, clockStoppedAt: null }
  const { columns, next } = protectionColumns(clock, 'REGISTERED', settings, timeZone)
  // Only what differs from the columns' defaults: the create's INSERT stays short.
  const { protectionStartAt, protectionUntil, progressDeadline, protectionNextKind, protectionNextAt } = columns
  return { columns: { protectionStartAt, protectionUntil, progressDeadline, protectionNextKind, protectionNextAt }, next }
}

/**
 * A lead brought back from EXPIRED (MANAGER/ADMIN, §3) starts a new claim at `at`: protection
 * and the progress window count from then, earlier pauses no longer matter. `registeredAt` stays.
 */
export async function restartedProtection(tx: Tx, lead: Lead, status: LeadStatus, at: Date): Promise<{ columns: Partial<Lead>; next: ProtectionTransition | null }> {
  const { settings } = await tenantProtection(tx, lead.tenantId)
  const { timeZone } = await territoryOf(tx, lead.territory)
  const clock: ProtectionClock = { protectionStartAt: at, lastProgressAt: null, pausedSeconds: 0, progressPausedSeconds: 0, clockStoppedAt: null }
  const { columns, next } = protectionColumns(clock, status, settings, timeZone)
  return { columns: { ...columns, clockStopStatus: null, stopReason: null, clockStopRequestedBy: null, clockStopRequestedAt: null }, next }
}

/**
 * What an activity does to protection, for the lead write path: progress moves the anchor (and the
 * deadline); the status follows §3 (a meaningful contact reactivates), except that a contact that is
 * not progress does not take a lead out of REMINDER or GRACE_PERIOD when its progress deadline would
 * put it straight back (§10: only progress earns the claim).
 */
export async function protectionAfterActivity(tx: Tx, lead: Lead, type: ActivityType, occurredAt: Date, now: Date): Promise<{ status: LeadStatus | null; columns: Partial<Lead>; next: ProtectionTransition | null; moved: boolean }> {
  let status = statusAfterActivity(lead.status, type)
  const { settings } = await tenantProtection(tx, lead.tenantId)
  const { timeZone } = await territoryOf(tx, lead.territory)
  const before = clockOf(lead)
  const clock = countsAsProgress(type) && isProtected(lead.status) ? clockAfterProgress(before, occurredAt) : before
  const moved = clock !== before || lead.protectionStartAt === null
  const dates = protectionDates(clock, settings, timeZone)
  if (status === 'ACTIVE' && !countsAsProgress(type) && (lead.status === 'REMINDER' || lead.status === 'GRACE_PERIOD')) {
    if (dueTransition({ status: 'ACTIVE', clockStoppedAt: clock.clockStoppedAt }, dates, now) !== null) status = null
  }
  if (!moved && status === null) return { status, columns: {}, next: null, moved: false }
  const computed = protectionColumns(clock, status ?? lead.status, settings, timeZone)
  return { status, columns: computed.columns, next: computed.next, moved: true }
}

// ---- transitions (jobs and sweep) -------------------------------------------------------------------

export type ProtectionRunResult =
  | { outcome: 'applied'; leadId: string; transitions: ProtectionKind[]; next: { kind: ProtectionKind; at: string } | null }
  | { outcome: 'nothing-due'; leadId: string; status: LeadStatus; next: { kind: ProtectionKind; at: string } | null }
  | { outcome: 'missing'; leadId: string }

/** Whether a mail was queued, or why not (the activity's metadata). */
type MailDecision = { email: 'QUEUED'; outboxIds: string[] } | { email: 'NO_ADDRESS'; outboxIds: [] }

async function queueProtectionMail(deps: Deps, tx: Tx, lead: Lead, templateKey: ProtectionTemplateKey, recipients: readonly string[], variables: Record<string, string>, dedupeBase: string, locale: string): Promise<MailDecision> {
  if (recipients.length === 0) return { email: 'NO_ADDRESS', outboxIds: [] }
  const template = await mailTemplate(tx, lead.territory, templateKey)
  const mail = renderMail(template, NO_FOOTER, variables, locale)
  const outboxIds: string[] = []
  for (const recipient of recipients) {
    const recipientKey = createHash('sha256').update(recipient.toLowerCase()).digest('base64url').slice(0, 16)
    const id = await queueOutboxMail(deps, tx, {
      leadId: lead.id, territory: lead.territory, templateKey, dedupeKey: `${dedupeBase}:${recipientKey}`, recipient,
      subject: mail.subject, text: mail.text, html: mail.html, headers: {}, unsubscribeToken: randomUUID(),
    })
    if (id !== null) outboxIds.push(id)
  }
  return { email: 'QUEUED', outboxIds }
}

async function ownerAddress(tx: Tx, lead: Lead): Promise<string[]> {
  const address = lead.ownerUserId === null ? null : await userMailAddress(tx, lead.tenantId, lead.ownerUserId)
  return address === null ? [] : [address]
}

/**
 * Applies one due transition to a locked lead: status, owner (at expiry), the next transition's
 * columns in the same update; STATUS_CHANGE and the transition's own activity; the mail; the event.
 */
async function applyTransition(deps: Deps, tx: Tx, lead: Lead, step: ProtectionTransition, context: { dates: ProtectionDates; protection: TenantProtection; territory: Territory; now: Date }): Promise<Lead> {
  const { dates, protection, territory, now } = context
  const after = protectionColumns(clockOf(lead), step.to, protection.settings, territory.timeZone)
  const updated = await updateLead(tx, lead, { ...after.columns, status: step.to, ...(step.kind === 'EXPIRED' && { ownerUserId: null }) }, now)
  const activity = { userId: SYSTEM_USER_ID, occurredAt: now }
  const change = { from: lead.status, to: step.to, cause: step.cause, dueAt: step.dueAt.toISOString() }
  await insertActivity(tx, updated, { ...activity, type: 'STATUS_CHANGE', summary: statusChangeSummary(lead.status, step.to), metadata: change })
  const variables = protectionMailVariables({
    lead, ownerUserId: lead.ownerUserId, dates, settings: protection.settings, territory, publicBaseUrl: deps.config.publicBaseUrl,
    cause: step.kind === 'EXPIRED' ? (step.cause as 'GRACE_PERIOD_ENDED' | 'PROTECTION_ENDED') : null,
  })
  // One mail per deadline: a later cycle (after progress) has another deadline and mails again.
  const dedupeBase = `protection:${lead.id}:${step.kind}:${step.dueAt.toISOString()}`
  if (step.kind === 'REMINDER') {
    const mail = await queueProtectionMail(deps, tx, lead, PROTECTION_TEMPLATE_KEYS.REMINDER, await ownerAddress(tx, lead), variables, dedupeBase, territory.locale)
    await insertActivity(tx, updated, { ...activity, type: 'REMINDER_SENT', summary: `Progress deadline ${dates.progressDeadline.toISOString()} is near: lead needs progress`, metadata: { ...change, progressDeadline: dates.progressDeadline.toISOString(), ...mail } })
  } else if (step.kind === 'GRACE_PERIOD') {
    await insertActivity(tx, updated, { ...activity, type: 'GRACE_PERIOD_STARTED', summary: `Progress deadline passed: grace period until ${dates.graceEndsAt.toISOString()}`, metadata: { ...change, graceEndsAt: dates.graceEndsAt.toISOString() } })
  } else {
    const recipients = protection.managerEmails[lead.territory] ?? []
    const mail = await queueProtectionMail(deps, tx, lead, PROTECTION_TEMPLATE_KEYS.EXPIRED, recipients, variables, dedupeBase, territory.locale)
    await insertActivity(tx, updated, { ...activity, type: 'PROTECTION_EXPIRED', summary: `Protection expired (${step.cause}): owner ${lead.ownerUserId ?? '–'} released`, metadata: { ...change, previousOwnerUserId: lead.ownerUserId, ...mail } })
  }
  // The released owner still sees the event of their lead's expiry (visibility is taken from the subject).
  const subject = step.kind === 'EXPIRED' ? { ...updated, ownerUserId: lead.ownerUserId } : updated
  await recordLeadEvent(deps, tx, { type: 'freshplan.lead.status_changed', lead: subject as Lead, data: { ...change, lead: leadResource(updated) } })
  return updated
}

/**
 * Brings one lead up to date at the clock's now: applies every due transition (one allowed step at a
 * time, each once), stores the next one and schedules its job. The protection jobs and the sweep
 * both end here.
 */
export async function runProtection(deps: Deps, data: { leadId: string; tenantId: string }): Promise<ProtectionRunResult> {
  return inTransaction(deps.knex, systemContext(data.tenantId), async (tx): Promise<ProtectionRunResult> => {
    const lead = await leadById(tx.trx, data.leadId, { forUpdate: true })
    if (!lead) return { outcome: 'missing', leadId: data.leadId }
    const now = deps.clock.now()
    const protection = await tenantProtection(tx, lead.tenantId)
    const territory = await territoryOf(tx, lead.territory)
    const dates = protectionDates(clockOf(lead), protection.settings, territory.timeZone)
    let current = lead
    const transitions: ProtectionKind[] = []
    for (let step = dueTransition(current, dates, now); step !== null; step = dueTransition(current, dates, now)) {
      current = await applyTransition(deps, tx, current, step, { dates, protection, territory, now })
      transitions.push(step.kind)
    }
    const next = nextTransition(current, dates)
    const nextOut = next && { kind: next.kind, at: next.dueAt.toISOString() }
    if (transitions.length > 0) {
      await scheduleProtection(deps, tx, current, next)
      return { outcome: 'applied', leadId: lead.id, transitions, next: nextOut }
    }
    // Nothing due (a superseded job, a stopped clock, or a lead the sweep found without dates): make
    // sure the stored next transition and its job match the row.
    if (lead.protectionStartAt === null || lead.protectionNextKind !== (next?.kind ?? null) || lead.protectionNextAt?.getTime() !== next?.dueAt.getTime()) {
      const { columns } = protectionColumns(clockOf(lead), lead.status, protection.settings, territory.timeZone)
      current = await updateLead(tx, lead, columns, now)
      await scheduleProtection(deps, tx, current, next)
    }
    return { outcome: 'nothing-due', leadId: lead.id, status: lead.status, next: nextOut }
  })
}

// ---- the daily sweep --------------------------------------------------------------------------------

const SWEEP_BATCH = 1000

export interface ProtectionSweepResult {
  /** Leads whose next transition was due (or never computed). */
  due: number
  /** Jobs created for them; the others had a waiting job already. */
  enqueued: number
}

/**
 * The safety net: enqueues, without delay, a job for every protected lead with a running clock whose
 * stored next transition is due at the clock's now, or was never computed (imported, backfilled or
 * older leads). A lead whose job waits already keeps it (the singleton key makes the send a no-op);
 * the job does the transition, once. Keyset batches over the partial index of V0011.
 */
export async function sweepProtection(deps: Deps, options: { batchSize?: number } = {}): Promise<ProtectionSweepResult> {
  const batchSize = options.batchSize ?? SWEEP_BATCH
  const now = deps.clock.now()
  const result: ProtectionSweepResult = { due: 0, enqueued: 0 }
  let after: { dueKey: string; id: string } | null = null
  for (;;) {
    // Reads every tenant's leads (SYSTEM with ALL_TENANTS may read, never write); each job then runs in its lead's tenant.
    const batch = await inTransaction(deps.knex, systemContext(ALL_TENANTS), async (tx) => {
      const rows = await protectionCandidates(tx, { dueBy: now, after, limit: batchSize })
      // One insert per kind for the whole batch; the singleton key turns a lead's second job into no row.
      // A lead never computed has no kind yet: the REMINDER queue takes it (the job works out what is due).
      const jobs = rows.map((row): JobToSend => {
        const kind = row.nextKind ?? 'REMINDER'
        const data: ProtectionJobData = { leadId: row.id, tenantId: row.tenantId, territory: row.territory, dueAt: now.toISOString() }
        return { queue: PROTECTION_QUEUE_OF[kind], data, options: { singletonKey: protectionSingletonKey(row.id, kind) } }
      })
      return { rows, enqueued: await enqueueAll(deps.boss, tx, jobs) }
    })
    result.due += batch.rows.length
    result.enqueued += batch.enqueued
    const last = batch.rows.at(-1)
    if (!last || batch.rows.length < batchSize) break
    after = { dueKey: last.dueKey, id: last.id }
  }
  if (result.enqueued > 0) deps.logger.info(result, 'protection sweep enqueued due transitions')
  return result
}

/** The protection columns and next transition of `lead` with `clock` (a stop, resume or backdating). */
export async function recomputedProtection(tx: Tx, lead: Lead, clock: ProtectionClock): Promise<{ columns: Partial<Lead>; next: ProtectionTransition | null }> {
  const { settings } = await tenantProtection(tx, lead.tenantId)
  const { timeZone } = await territoryOf(tx, lead.territory)
  return protectionColumns(clock, lead.status, settings, timeZone)
}

/** The clock's state as the stop/approve/resume endpoints answer it. */
export interface ClockState {
  leadId: string
  status: ClockStopStatus | 'RUNNING'
  reason: string | null
  requestedBy: string | null
  requestedAt: string | null
  stoppedAt: string | null
  pausedSeconds: number
  protectionUntil: string | null
  progressDeadline: string | null
  leadVersion: number
}

export function clockState(lead: Lead): ClockState {
  return {
    leadId: lead.id,
    status: lead.clockStopStatus ?? 'RUNNING',
    reason: lead.stopReason,
    requestedBy: lead.clockStopRequestedBy,
    requestedAt: lead.clockStopRequestedAt?.toISOString() ?? null,
    stoppedAt: lead.clockStoppedAt?.toISOString() ?? null,
    pausedSeconds: lead.pausedSeconds,
    protectionUntil: lead.protectionUntil?.toISOString() ?? null,
    progressDeadline: lead.progressDeadline?.toISOString() ?? null,
    leadVersion: lead.version,
  }
}
