// §6 follow-up automation. Lead creation schedules a T+3 and a T+7 job in its own transaction
// (scheduleFollowUps); when a job runs (jobs/follow-ups.ts), it locks the lead, re-checks the skip rules and writes the
// follow-up (sent-at mark, activity, e-mail in the outbox, T+7 reminder) in one transaction. The
// lock plus the sent-at mark make each follow-up happen once per lead, however many jobs for it
// run (a re-delivered job, or a job and the daily sweep).
import { enqueue, enqueueAll, type JobToSend } from '../lib/boss.ts'
import { inTransaction, systemContext, type Tx } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { renderMail } from '../lib/mail-template.ts'
import { FOLLOW_UP_T3_QUEUE, FOLLOW_UP_T7_QUEUE } from '../lib/queues.ts'
import { ALL_TENANTS, SYSTEM_USER_ID, type Territory as TerritoryCode } from '../lib/tenancy.ts'
import { queueOutboxMail, unsubscribeLink } from './email-outbox.ts'
import { mailTemplateWithFooter } from './email-templates.ts'
import { followUpMailContent, type FollowUpMailContent } from './follow-up-mail.ts'
import { followUpDueAt, isFollowUpSkipped, shouldSetReminder, type FollowUpKind } from './follow-up-rules.ts'
import { insertActivity, updateLead } from './lead-table.ts'
import { recordLeadEvent } from './lead-events.ts'
import { ACTIVITY_TYPES, LEAD_STATUSES, isMeaningfulActivity, statusChangeSummary, type LeadStatus } from './lead-rules.ts'
import { followUpCandidates, latestActivityAt, leadById, type Lead } from './lead-table.ts'
import { territoryOf } from './territories.ts'

export const FOLLOW_UP_KINDS: readonly FollowUpKind[] = ['T3', 'T7']

export const FOLLOW_UP_QUEUE_OF: Readonly<Record<FollowUpKind, string>> = { T3: FOLLOW_UP_T3_QUEUE, T7: FOLLOW_UP_T7_QUEUE }

export interface FollowUpJobData {
  leadId: string
  tenantId: string
  /**
   * The lead's territory when the job was queued: the queue board shows a tenant ADMIN only the
   * jobs of their territories (issue 14). Jobs queued before it lack it; the handler never reads it.
   */
  territory?: TerritoryCode
}

/** pg-boss deduplicates on this key: one waiting or running job per lead and kind. */
export function followUpSingletonKey(leadId: string, kind: FollowUpKind): string {
  return `${leadId}:${kind}`
}

type NewLead = { id: string; tenantId: string; territory: 'DE' | 'CH'; registeredAt: Date }

/**
 * Enqueues the T+3 and T+7 jobs of a new lead in the caller's transaction (so they exist exactly
 * when the lead does), each to start at its due time in the territory's time zone.
 */
export async function scheduleFollowUps(deps: Deps, tx: Tx, lead: NewLead): Promise<void> {
  await enqueueAll(deps.boss, tx, await followUpJobsOf(tx, [lead]))
}

/**
 * The T+3 and T+7 jobs of new leads (same keys and start times as scheduleFollowUps), for the
 * caller to send with its other writes in one statement (lib/boss.ts jobInserts).
 */
export async function followUpJobsOf(tx: Tx, leads: readonly NewLead[]): Promise<JobToSend[]> {
  const zones = new Map<string, string>()
  for (const lead of leads) if (!zones.has(lead.territory)) zones.set(lead.territory, (await territoryOf(tx, lead.territory)).timeZone)
  // A batch's leads share their registration time: each due time is computed once per zone and kind.
  const due = new Map<string, Date>()
  return FOLLOW_UP_KINDS.flatMap((kind) => leads.map((lead): JobToSend => {
    const data: FollowUpJobData = { leadId: lead.id, tenantId: lead.tenantId, territory: lead.territory }
    const zone = zones.get(lead.territory)!
    const key = `${kind}|${lead.registeredAt.getTime()}|${zone}`
    let startAfter = due.get(key)
    if (!startAfter) due.set(key, (startAfter = followUpDueAt(lead.registeredAt, kind, zone)))
    return { queue: FOLLOW_UP_QUEUE_OF[kind], data, options: { startAfter, singletonKey: followUpSingletonKey(lead.id, kind) } }
  }))
}

/**
 * Cancels the lead's waiting follow-up jobs (created or retrying; a running one finds the lead
 * changed under its row lock) in the caller's transaction, through pg-boss's own statements on
 * the transaction's adapter: a rollback revives them. Used when a merge folds the lead away (§12).
 */
export async function cancelFollowUps(deps: Deps, tx: Tx, leadId: string): Promise<{ queue: string; id: string }[]> {
  const cancelled: { queue: string; id: string }[] = []
  for (const kind of FOLLOW_UP_KINDS) {
    const queue = FOLLOW_UP_QUEUE_OF[kind]
    const jobs = await deps.boss.findJobs(queue, { key: followUpSingletonKey(leadId, kind), queued: true, db: tx.db })
    if (jobs.length === 0) continue
    await deps.boss.cancel(queue, jobs.map((job) => job.id), { db: tx.db })
    cancelled.push(...jobs.map((job) => ({ queue, id: job.id })))
  }
  return cancelled
}

/**
 * Enqueues the follow-ups a lead still has open (not sent, not skipped by its status), each at its
 * due time (a past one runs at once): what an undone merge gives back to the leads it restores.
 */
export async function reopenFollowUps(deps: Deps, tx: Tx, lead: Pick<Lead, 'id' | 'tenantId' | 'territory' | 'registeredAt' | 'status' | 't3SentAt' | 't7SentAt'>): Promise<FollowUpKind[]> {
  const open = FOLLOW_UP_KINDS.filter((kind) => !isFollowUpSkipped(lead, kind))
  if (open.length === 0) return []
  const { timeZone } = await territoryOf(tx, lead.territory)
  for (const kind of open) {
    const data: FollowUpJobData = { leadId: lead.id, tenantId: lead.tenantId, territory: lead.territory }
    await enqueue(deps.boss, tx, FOLLOW_UP_QUEUE_OF[kind], data, { startAfter: followUpDueAt(lead.registeredAt, kind, timeZone), singletonKey: followUpSingletonKey(lead.id, kind) })
  }
  return open
}

/** Whether the follow-up's e-mail was queued, or why not. */
export type FollowUpEmail = 'QUEUED' | 'NO_CONSENT' | 'NO_ADDRESS'

/** What a follow-up did: the payload of `freshplan.lead.followup_sent` (§7). */
export interface FollowUpSent {
  leadId: string
  tenantId: string
  territory: TerritoryCode
  kind: FollowUpKind
  sentAt: Date
  /** The lead's version after the follow-up (the events' idempotency key is built from it). */
  leadVersion: number
  email: FollowUpEmail
  outboxId: string | null
  /** Set when T+7 moved the lead to REMINDER (a `status_changed` event is due as well). */
  statusChange: { from: LeadStatus; to: LeadStatus } | null
}

/**
 * The one place a sent follow-up is announced. It runs inside the follow-up's transaction after
 * everything is written, so an event written to the event outbox here commits or rolls back
 * with the follow-up itself: this is where `freshplan.lead.followup_sent` (and, with
 * `statusChange`, `freshplan.lead.status_changed`) is to be published.
 */
export async function announceFollowUpSent(deps: Deps, tx: Tx, lead: Lead, sent: FollowUpSent): Promise<void> {
  if (sent.statusChange) {
    await recordLeadEvent(deps, tx, { type: 'freshplan.lead.status_changed', lead, data: { ...sent.statusChange, cause: `FOLLOW_UP_${sent.kind}` } })
  }
  await recordLeadEvent(deps, tx, { type: 'freshplan.lead.followup_sent', lead, data: sent })
}

export type FollowUpResult =
  | { outcome: 'sent'; kind: FollowUpKind; email: FollowUpEmail; outboxId: string | null; reminder: boolean }
  | { outcome: 'skipped'; kind: FollowUpKind; status: LeadStatus; alreadySentAt: Date | null }
  | { outcome: 'missing'; kind: FollowUpKind }

const MEANINGFUL_ACTIVITY_TYPES = ACTIVITY_TYPES.filter((type) => isMeaningfulActivity(type))

/** The latest meaningful contact: the newest such activity, or `lastActivityAt` if that is newer. */
async function lastMeaningfulActivityAt(tx: Tx, lead: Lead): Promise<Date | null> {
  const latest = await latestActivityAt(tx, lead.id, MEANINGFUL_ACTIVITY_TYPES)
  const candidates = [latest, lead.lastActivityAt].filter((at): at is Date => at !== null)
  return candidates.length === 0 ? null : new Date(Math.max(...candidates.map((at) => at.getTime())))
}

function emailDecision(lead: Lead): FollowUpEmail {
  if (lead.email === null || lead.email.trim() === '') return 'NO_ADDRESS'
  return lead.emailConsent ? 'QUEUED' : 'NO_CONSENT'
}

/** Renders the follow-up mail from the territory's templates (the tenant's own, else the default ones) and queues it. */
async function queueFollowUpMail(deps: Deps, tx: Tx, lead: Lead, locale: string, kind: FollowUpKind, content: FollowUpMailContent, unsubscribe: { token: string; url: string }): Promise<string | null> {
  const { template, footer } = await mailTemplateWithFooter(tx, lead.territory, content.templateKey)
  const mail = renderMail(template, footer, content.variables, locale)
  return queueOutboxMail(deps, tx, {
    leadId: lead.id,
    territory: lead.territory,
    templateKey: content.templateKey,
    dedupeKey: `follow-up:${lead.id}:${kind}`,
    recipient: lead.email!.trim(),
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    // RFC 2369 / RFC 8058: mail clients offer "unsubscribe" next to the sender.
    headers: { 'List-Unsubscribe': `<${unsubscribe.url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    unsubscribeToken: unsubscribe.token,
  })
}

const EMAIL_SUMMARY: Readonly<Record<FollowUpEmail, string>> = {
  QUEUED: 'e-mail queued',
  NO_CONSENT: 'no e-mail (no consent)',
  NO_ADDRESS: 'no e-mail (no address)',
}
const KIND_SUMMARY: Readonly<Record<FollowUpKind, string>> = { T3: 'T+3 follow-up: sample offer', T7: 'T+7 follow-up: bulk-order offer' }

/**
 * Runs follow-up `kind` for one lead, at most once: the lead row is locked and its sent-at mark
 * checked inside the transaction, so a concurrent or repeated run finds it set and skips.
 */
export async function runFollowUp(deps: Deps, kind: FollowUpKind, data: FollowUpJobData): Promise<FollowUpResult> {
  return inTransaction(deps.knex, systemContext(data.tenantId), async (tx): Promise<FollowUpResult> => {
    const lead = await leadById(tx.trx, data.leadId, { forUpdate: true })
    if (!lead) return { outcome: 'missing', kind }
    if (isFollowUpSkipped(lead, kind)) {
      return { outcome: 'skipped', kind, status: lead.status, alreadySentAt: kind === 'T3' ? lead.t3SentAt : lead.t7SentAt }
    }
    const now = deps.clock.now()
    const territory = await territoryOf(tx, lead.territory)
    const email = emailDecision(lead)
    const unsubscribe = unsubscribeLink(deps.config)
    const content = followUpMailContent({ kind, lead, territory, at: now, unsubscribeUrl: unsubscribe.url })
    const outboxId = email === 'QUEUED' ? await queueFollowUpMail(deps, tx, lead, territory.locale, kind, content, unsubscribe) : null
    const reminder = kind === 'T7' && shouldSetReminder(lead, await lastMeaningfulActivityAt(tx, lead), now)
    const statusChange = reminder ? { from: lead.status, to: 'REMINDER' as const } : null
    const updated = await updateLead(tx, lead, {
      ...(kind === 'T3' ? { t3SentAt: now } : { t7SentAt: now }),
      ...(statusChange && { status: statusChange.to }),
    }, now)
    const activity = { userId: SYSTEM_USER_ID, occurredAt: now }
    await insertActivity(tx, lead, {
      ...activity,
      type: kind === 'T3' ? 'FOLLOW_UP_T3' : 'FOLLOW_UP_T7',
      summary: `${KIND_SUMMARY[kind]}, ${EMAIL_SUMMARY[email]}`,
      metadata: { kind, email, outboxId, offer: content.offer },
    })
    if (statusChange) {
      await insertActivity(tx, lead, { ...activity, type: 'STATUS_CHANGE', summary: statusChangeSummary(statusChange.from, statusChange.to), metadata: { ...statusChange, cause: 'FOLLOW_UP_T7' } })
      await insertActivity(tx, lead, { ...activity, type: 'REMINDER_SENT', summary: 'No meaningful activity in the last 7 days: lead needs attention', metadata: { kind } })
    }
    await announceFollowUpSent(deps, tx, updated, {
      leadId: lead.id,
      tenantId: lead.tenantId,
      territory: lead.territory,
      kind,
      sentAt: now,
      leadVersion: updated.version,
      email,
      outboxId,
      statusChange,
    })
    return { outcome: 'sent', kind, email, outboxId, reminder }
  })
}

// ---- the daily sweep ----------------------------------------------------------------------------

// The sweep reads leads of every tenant: a SYSTEM context with ALL_TENANTS may read (never write)
// all of them (policy `leads_select_all_tenants_for_system`, V0004). Each follow-up then runs in
// its lead's own tenant.
const SWEEP_BATCH = 500
/** A follow-up is due at least 3 days (less a DST hour) after registration; older leads are the candidates. */
const MIN_DUE_DELAY_MS = 2 * 24 * 60 * 60 * 1000

// The statuses in which some follow-up can still be open, derived from the skip rule itself.
const SWEEP_STATUSES = LEAD_STATUSES.filter((status) => FOLLOW_UP_KINDS.some((kind) => !isFollowUpSkipped({ status, t3SentAt: null, t7SentAt: null }, kind)))

export interface SweepResult {
  /** Follow-ups found due and not sent. */
  due: number
  /** Jobs created for them; the others already had a waiting or running job. */
  enqueued: number
}

/**
 * Enqueues every follow-up that is due (by the due rule, at the clock's now), not sent and not
 * skipped. Leads created through the API already have their jobs, so the singletonKey turns
 * those sends into no-ops; what remains are imported or backfilled leads, and follow-ups whose
 * job failed for good. Keyset batches keep each transaction short on a large table.
 */
export async function sweepDueFollowUps(deps: Deps, options: { batchSize?: number } = {}): Promise<SweepResult> {
  const batchSize = options.batchSize ?? SWEEP_BATCH
  const now = deps.clock.now()
  const registeredBefore = new Date(now.getTime() - MIN_DUE_DELAY_MS)
  const result: SweepResult = { due: 0, enqueued: 0 }
  let after: { registeredAt: string; id: string } | null = null
  for (;;) {
    const batch = await inTransaction(deps.knex, systemContext(ALL_TENANTS), async (tx) => {
      const rows = await followUpCandidates(tx, { registeredBefore, statuses: SWEEP_STATUSES, after, limit: batchSize })
      const due: JobToSend[] = []
      for (const row of rows) {
        const lead = { status: row.status, t3SentAt: row.t3SentAt, t7SentAt: row.t7SentAt }
        for (const kind of FOLLOW_UP_KINDS) {
          if (isFollowUpSkipped(lead, kind) || followUpDueAt(row.registeredAt, kind, row.timeZone) > now) continue
          const data: FollowUpJobData = { leadId: row.id, tenantId: row.tenantId, territory: row.territory }
          due.push({ queue: FOLLOW_UP_QUEUE_OF[kind], data, options: { singletonKey: followUpSingletonKey(row.id, kind) } })
        }
      }
      // One insert per kind for the batch; the singleton key turns a job that exists into no row.
      return { rows, counts: { due: due.length, enqueued: await enqueueAll(deps.boss, tx, due) } }
    })
    result.due += batch.counts.due
    result.enqueued += batch.counts.enqueued
    const last = batch.rows.at(-1)
    if (!last || batch.rows.length < batchSize) break
    after = { registeredAt: last.registeredKey, id: last.id }
  }
  if (result.enqueued > 0) deps.logger.info(result, 'follow-up sweep enqueued due follow-ups')
  return result
}

