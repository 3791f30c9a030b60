// The one write path of leads (§3): every change of a lead and its timeline, inside the caller's
// transaction (lib/db.ts inTransaction), so row-level security filters it and its jobs and events
// commit with it. Jobs change leads through these functions too.
import { createHash } from 'node:crypto'
import type { Deps } from '../lib/deps.ts'
import type { Tx } from '../lib/db.ts'
import { MANAGER_ROLES } from '../lib/tenancy.ts'
import type { DomainError} from './errors.ts';
import { problems } from './errors.ts'
import { normalizeLead, NORMALIZED_INPUTS } from './normalization.ts'
import { hardDuplicateHolder, requestHardDuplicateEvent, reviewPossibleDuplicates } from './reviews.ts'
import type { CandidateView } from './match-candidates.ts'
import { MATCH_KEY_FIELDS } from './matching.ts'
import { cancelFollowUps } from './follow-ups.ts'
import { cancelQueuedMails } from './email-outbox.ts'
import { setHistoryAction } from './lead-history.ts'
import { recordLeadEvent, type LeadEventType } from './lead-events.ts'
import { isUuid } from './cursor.ts'
import { Lead, activityResource, insertActivity, leadById, leadResource, updateLead, type EditableLeadField, type LeadActivity } from './lead-table.ts'
import { protectionAfterActivity, restartedProtection, scheduleProtection } from './lead-protection.ts'
import { checkStageChange, checkStatusTransition, isMeaningfulActivity, isTerminalStatus, statusChangeSummary, territoryForCountry, type ActivityOutcome, type LeadStage, type LeadStatus, type UserActivityType, type UserRole } from './lead-rules.ts'

export interface Actor {
  id: string
  role: UserRole
}

export interface ActivityInput {
  type: UserActivityType
  occurredAt?: string
  summary: string
  outcome?: ActivityOutcome | null
  metadata?: Record<string, unknown>
}

/** What a create or PATCH may set: the editable columns, as the request schemas accept them. */
export type LeadFields = { companyName: string } & Partial<Pick<Lead, Exclude<EditableLeadField, 'companyName' | 'estimatedVolume'>>> & {
  /** NUMERIC in the table (a string there), a JSON number on the wire. */
  estimatedVolume?: number | null
}

export interface LeadCreateInput extends LeadFields {
  ownerUserId?: string
  activities?: ActivityInput[]
}

export type LeadPatchInput = Partial<LeadFields> & { status?: LeadStatus; stage?: LeadStage }

/** `*` matches any version (RFC 9110 If-Match: *). */
export type ExpectedVersion = number | '*'

const OPTIONAL_TEXT = ['contactName', 'email', 'phone', 'website', 'street', 'postalCode', 'city', 'sourceCampaign', 'notes'] as const


/** Blank optional text is no value: store null, not ''. */
export function withoutBlanks<T extends Partial<LeadFields>>(fields: T): T {
  const copy: Record<string, unknown> = { ...fields }
  for (const key of OPTIONAL_TEXT) if (copy[key] === '') copy[key] = null
  if (typeof copy.countryCode === 'string') copy.countryCode = copy.countryCode.toUpperCase()
  return copy as T
}

export const invalidTransition = (detail: string) => problems.conflict('invalid-status-transition', 'Invalid status transition', detail)

export function assertTerritoryAccess(tx: Tx, territory: string): void {
  if (!(tx.ctx.territories as readonly string[]).includes(territory)) {
    throw problems.forbidden(`You have no access to territory ${territory}.`)
  }
}

/** Every change of a lead is an event (§7), written in the change's transaction with the new version. */
export function emit(deps: Deps, tx: Tx, type: LeadEventType, lead: Lead, data: object, options: { changeId?: string } = {}): Promise<void> {
  return recordLeadEvent(deps, tx, { type, lead, data, ...options })
}

const EMAIL_UNIQUE_INDEX = 'leads_email_normalized_unique'

/**
 * Runs an update that may collide with another live lead's e-mail inside a savepoint (UPDATE has
 * no `on conflict`), so a collision becomes a 409 `duplicate-lead` instead of an aborted
 * transaction. Concurrent writers serialize on the unique index: the losers wait for the winner's
 * commit, then see its row.
 */
async function guardDuplicates<T>(deps: Deps, tx: Tx, emailNormalized: string | null, write: (trx: Tx['trx']) => Promise<T>): Promise<T> {
  if (emailNormalized === null) return write(tx.trx)
  try {
    return await tx.trx.transaction((savepoint) => write(savepoint))
  } catch (error) {
    // objection wraps driver errors; the PostgreSQL error is the native one.
    const native = ((error as { nativeError?: unknown }).nativeError ?? error) as { code?: string; constraint?: string }
    if (native.code !== '23505' || native.constraint !== EMAIL_UNIQUE_INDEX) throw error
    throw await duplicateLead(deps, tx, emailNormalized)
  }
}

/** The 409 for an e-mail address a live lead has already; RLS decides whether the caller may learn which lead. */
export async function duplicateLead(deps: Deps, tx: Tx, emailNormalized: string): Promise<DomainError> {
  // Compared as text: citext equality is not LEAKPROOF, so beneath RLS it cannot use an index;
  // the text expression index of V0007 answers in one probe (the value is lower-case already).
  const existing = await Lead.query(tx.trx).select('id').where('tenant_id', tx.ctx.tenantId).whereRaw('email_normalized::text = ?', [emailNormalized]).whereNull('deleted_at').first()
  duplicateDetected(deps, tx, existing?.id ?? (await hardDuplicateHolder(tx, emailNormalized)))
  return problems.conflict('duplicate-lead', 'Duplicate lead', 'A live lead with this e-mail address exists already.', existing ? { existingLeadId: existing.id } : undefined)
}

/**
 * `freshplan.lead.duplicate_detected` (§7, §11) for the hard duplicate. The request's own
 * transaction rolls back with the 409, so the event is written in a transaction of its own, once
 * this one has let go of its connection (never waiting for a second connection while holding one).
 * A failure is logged; the 409 stands either way.
 */
function duplicateDetected(deps: Deps, tx: Tx, existingLeadId: string | null): void {
  if (existingLeadId === null) return
  const ctx = tx.ctx
  setImmediate(() => {
    requestHardDuplicateEvent(deps, ctx, existingLeadId).catch((error: unknown) => deps.logger.warn({ err: error, tenantId: ctx.tenantId }, 'duplicate_detected for a hard duplicate not requested'))
  })
}

/** Locks the row for the rest of the transaction, so version checks and follow-on writes see one state. */
export async function lockLead(tx: Tx, id: string): Promise<Lead> {
  const lead = isUuid(id) ? await leadById(tx.trx, id, { forUpdate: true }) : undefined
  if (!lead) throw problems.notFound(`No lead ${id}.`)
  return lead
}

export function assertVersion(lead: Lead, expected: ExpectedVersion): void {
  if (expected !== '*' && lead.version !== expected) {
    throw problems.preconditionFailed(`The lead is at version ${lead.version}, not ${expected}; reload it and try again.`)
  }
}


export async function patchLead(deps: Deps, tx: Tx, actor: Actor, id: string, expected: ExpectedVersion, patch: LeadPatchInput): Promise<{ lead: Lead; warnings: string[]; possibleDuplicates: CandidateView[] }> {
  const now = deps.clock.now()
  const lead = await lockLead(tx, id)
  if (actor.role === 'SALES' && lead.ownerUserId !== actor.id) throw problems.forbidden('Only the owner may change this lead.')
  assertVersion(lead, expected)
  if (lead.status === 'DELETED') throw invalidTransition('A deleted lead cannot be changed.')
  const { status, stage, ...fields } = withoutBlanks(patch)
  const changes: Partial<Lead> = { ...(fields as Partial<Lead>) }
  if (fields.countryCode !== undefined) {
    changes.territory = territoryForCountry(fields.countryCode)
    assertTerritoryAccess(tx, changes.territory)
  }
  if (stage !== undefined) {
    const check = checkStageChange(lead.stage, stage)
    if (!check.ok) throw problems.conflict('invalid-stage-transition', 'Invalid stage transition', check.reason)
    if (!check.noop) changes.stage = stage
  }
  let statusChanged = false
  if (status !== undefined) {
    const check = checkStatusTransition(lead.status, status, actor.role)
    if (!check.ok) throw invalidTransition(check.reason)
    statusChanged = !check.noop
  }
  if (statusChanged) changes.status = status
  // §10: a lead reactivated from EXPIRED starts a new protection claim (and gets its job).
  const restarted = statusChanged && lead.status === 'EXPIRED' ? await restartedProtection(tx, lead, status!, now) : null
  if (restarted) Object.assign(changes, restarted.columns)
  let warnings: string[] = []
  if (NORMALIZED_INPUTS.some((key) => key in fields)) {
    const normalized = normalizeLead({ ...lead, ...fields } as Lead, { stripPlusTag: deps.config.emailStripPlusTag })
    Object.assign(changes, normalized.columns)
    warnings = normalized.warnings
  }
  const effective = changedFields(lead, changes)
  // §3: same → same is a no-op: no new version, no event, the ETag stays. The §11 match keys are not
  // read with the lead, so they always look changed: they count only with a field they derive from.
  if (Object.keys(effective).every((key) => MATCH_KEY_COLUMNS.has(key))) return { lead, warnings, possibleDuplicates: [] }
  const updated = await guardDuplicates(deps, tx, effective.emailNormalized ?? null, (trx) => updateLead({ ...tx, trx }, lead, effective, now))
  if (restarted) await scheduleProtection(deps, tx, updated, restarted.next)
  if (statusChanged) {
    await insertActivity(tx, updated, { type: 'STATUS_CHANGE', summary: statusChangeSummary(lead.status, status!), userId: actor.id, metadata: { from: lead.status, to: status }, occurredAt: now })
    await emit(deps, tx, 'freshplan.lead.status_changed', updated, { from: lead.status, to: status, lead: leadResource(updated) })
  }
  await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: Object.keys(patch).filter((key) => key in effective), lead: leadResource(updated) })
  // §11: a change of company, e-mail, phone or address looks for possible duplicates again.
  const possibleDuplicates = MATCHED_FIELDS.some((key) => key in effective) ? await reviewPossibleDuplicates(deps, tx, updated) : []
  return { lead: updated, warnings, possibleDuplicates }
}

const MATCH_KEY_COLUMNS: ReadonlySet<string> = new Set(MATCH_KEY_FIELDS)

/** The fields whose change makes a lead look for possible duplicates again (§11). */
const MATCHED_FIELDS = ['companyName', 'email', 'phone', 'street', 'postalCode', 'city', 'countryCode'] as const

/** The entries of `changes` that differ from the lead's current values. */
function changedFields(lead: Lead, changes: Partial<Lead>): Partial<Lead> {
  const current = lead as unknown as Record<string, unknown>
  const same = (key: string, next: unknown): boolean => {
    const before = current[key] ?? null
    if (key === 'estimatedVolume') return (before === null ? null : Number(before)) === (next ?? null)
    if (before instanceof Date && next instanceof Date) return before.getTime() === next.getTime()
    return before === (next ?? null)
  }
  return Object.fromEntries(Object.entries(changes).filter(([key, next]) => !same(key, next))) as Partial<Lead>
}

export async function deleteLead(deps: Deps, tx: Tx, actor: Actor, id: string, expected: ExpectedVersion): Promise<Lead> {
  const lead = await lockLead(tx, id)
  assertVersion(lead, expected)
  // §3: any → DELETED via DELETE, CONVERTED and LOST included (a LOST prospect's address is freed).
  if (lead.status === 'DELETED') throw invalidTransition('The lead is deleted already.')
  const now = deps.clock.now()
  const deleted = await updateLead(tx, lead, { status: 'DELETED', deletedAt: now }, now)
  await insertActivity(tx, deleted, { type: 'STATUS_CHANGE', summary: statusChangeSummary(lead.status, 'DELETED'), userId: actor.id, metadata: { from: lead.status, to: 'DELETED' }, occurredAt: now })
  await insertActivity(tx, deleted, { type: 'DELETED', summary: 'Lead deleted', userId: actor.id, occurredAt: now })
  await emit(deps, tx, 'freshplan.lead.deleted', deleted, { from: lead.status, lead: leadResource(deleted) })
  return deleted
}

/**
 * Writes a user activity and its consequences: lastActivityAt, and ACTIVE after a meaningful contact.
 * The lead gets a new version only when its representation changes (lastActivityAt, status): a
 * colleague's NOTE must not fail a pending edit with 412. The `activity_added` event is keyed by the
 * activity's id ("<leadId>|<type>|<activityId>"), so each has its own key either way.
 */
export async function applyActivity(deps: Deps, tx: Tx, lead: Lead, actor: Actor, input: ActivityInput): Promise<{ lead: Lead; activity: LeadActivity }> {
  const now = deps.clock.now()
  const occurredAt = input.occurredAt ? new Date(input.occurredAt) : now
  const activity = await insertActivity(tx, lead, { ...input, occurredAt, userId: actor.id })
  // §3 status rule and §10 protection: progress moves the deadline (and reschedules the lead's job).
  const protection = await protectionAfterActivity(tx, lead, input.type, occurredAt, now)
  const changes: Partial<Lead> = { ...protection.columns }
  const next = protection.status
  if (isMeaningfulActivity(input.type) && (lead.lastActivityAt === null || lead.lastActivityAt < occurredAt)) changes.lastActivityAt = occurredAt
  if (next !== null) changes.status = next
  const updated = Object.keys(changes).length === 0 ? lead : await updateLead(tx, lead, changes, now)
  if (protection.moved) await scheduleProtection(deps, tx, updated, protection.next)
  if (next !== null) {
    await insertActivity(tx, updated, { type: 'STATUS_CHANGE', summary: statusChangeSummary(lead.status, next), userId: actor.id, metadata: { from: lead.status, to: next, cause: input.type }, occurredAt: now })
    await emit(deps, tx, 'freshplan.lead.status_changed', updated, { from: lead.status, to: next, lead: leadResource(updated) })
  }
  await emit(deps, tx, 'freshplan.lead.activity_added', updated, { activity: activityResource(activity), lead: leadResource(updated) }, { changeId: activity.id })
  return { lead: updated, activity }
}

export async function addActivity(deps: Deps, tx: Tx, actor: Actor, id: string, input: ActivityInput): Promise<{ lead: Lead; activity: LeadActivity }> {
  const lead = await lockLead(tx, id)
  if (isTerminalStatus(lead.status)) throw invalidTransition(`A ${lead.status} lead takes no new activities.`)
  return applyActivity(deps, tx, lead, actor, input)
}

export async function reassignOwner(deps: Deps, tx: Tx, actor: Actor, id: string, ownerUserId: string): Promise<Lead> {
  const lead = await lockLead(tx, id)
  if (lead.status === 'DELETED') throw invalidTransition('A deleted lead cannot be reassigned.')
  if (lead.ownerUserId === ownerUserId) return lead
  const now = deps.clock.now()
  const updated = await updateLead(tx, lead, { ownerUserId }, now)
  await insertActivity(tx, updated, { type: 'ASSIGNED', summary: `Owner changed from ${lead.ownerUserId} to ${ownerUserId}`, userId: actor.id, metadata: { change: 'owner', from: lead.ownerUserId, to: ownerUserId }, occurredAt: now })
  await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: ['ownerUserId'], lead: leadResource(updated) })
  return updated
}

export async function setCollaborator(deps: Deps, tx: Tx, actor: Actor, id: string, userId: string, present: boolean): Promise<Lead> {
  const lead = await lockLead(tx, id)
  if (!MANAGER_ROLES.includes(actor.role) && lead.ownerUserId !== actor.id) throw problems.forbidden('Only the owner, managers and admins manage collaborators.')
  if (lead.status === 'DELETED') throw invalidTransition('A deleted lead cannot be changed.')
  const has = lead.collaboratorUserIds.includes(userId)
  if (has === present) return lead
  const collaboratorUserIds = present ? [...lead.collaboratorUserIds, userId] : lead.collaboratorUserIds.filter((u) => u !== userId)
  const now = deps.clock.now()
  const updated = await updateLead(tx, lead, { collaboratorUserIds }, now)
  await insertActivity(tx, updated, {
    type: 'ASSIGNED',
    summary: present ? `Collaborator ${userId} added` : `Collaborator ${userId} removed`,
    userId: actor.id,
    metadata: { change: present ? 'collaborator_added' : 'collaborator_removed', collaborator: userId },
    occurredAt: now,
  })
  await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: ['collaboratorUserIds'], lead: leadResource(updated) })
  return updated
}

// ---- consent and privacy (§13) -------------------------------------------------------------------

/**
 * Withdraws the lead's e-mail consent: emailConsent false, consentRevokedAt, a CONSENT_REVOKED
 * activity, its queued mails (and their jobs) cancelled, `freshplan.lead.consent_revoked`. The
 * T+7 job still runs but queues no mail (it checks emailConsent). Repeated: no-op, `changed` false.
 * `via` says where it came from: the unsubscribe link of a mail, or the CRM.
 */
export async function revokeConsent(deps: Deps, tx: Tx, actor: Actor, id: string, via: 'UNSUBSCRIBE_LINK' | 'CRM'): Promise<{ lead: Lead; changed: boolean }> {
  const lead = await lockLead(tx, id)
  if (!lead.emailConsent && lead.consentRevokedAt !== null) return { lead, changed: false }
  const now = deps.clock.now()
  const updated = await updateLead(tx, lead, { emailConsent: false, consentRevokedAt: now }, now)
  const cancelledMailIds = await cancelQueuedMails(deps, tx, lead.id)
  await insertActivity(tx, updated, {
    type: 'CONSENT_REVOKED',
    summary: via === 'UNSUBSCRIBE_LINK' ? 'E-mail consent withdrawn through the unsubscribe link' : 'E-mail consent withdrawn in the CRM',
    userId: actor.id,
    metadata: { via, cancelledMailIds },
    occurredAt: now,
  })
  await emit(deps, tx, 'freshplan.lead.consent_revoked', updated, { via, revokedAt: now.toISOString(), cancelledMailIds })
  return { lead: updated, changed: true }
}

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex')

/**
 * Erasure (§13, MANAGER/ADMIN), in the caller's one transaction: the lead row keeps id, territory,
 * status and dates; its personal fields and normalized columns are emptied (company name
 * "GELÖSCHT-<id>"), its mails and jobs cancelled, and erase_lead_traces (V0014) removes every value
 * those fields ever had from history, activities, events, mails, merges, stored idempotent responses
 * and pg-boss jobs. History gets an ERASED entry with the reason and the SHA-256 of the old e-mail;
 * `freshplan.lead.erased` carries no personal data.
 */
export async function eraseLead(deps: Deps, tx: Tx, actor: Actor, id: string, reason: string): Promise<Lead> {
  if (!MANAGER_ROLES.includes(actor.role)) throw problems.forbidden('Only managers and admins erase leads.')
  const lead = await lockLead(tx, id)
  // Erased already: nothing left to erase, no second entry or event.
  if (lead.companyName === `GELÖSCHT-${lead.id}` && [lead.email, lead.contactName, lead.phone, lead.street, lead.notes].every((value) => value === null)) return lead
  const now = deps.clock.now()
  const emailSha256 = lead.email === null ? null : sha256Hex(lead.email.trim().toLowerCase())
  await setHistoryAction(tx, 'ERASED')
  const erased = await updateLead(tx, lead, {
    contactName: null, email: null, phone: null, street: null, notes: null, companyName: `GELÖSCHT-${lead.id}`,
    emailNormalized: null, nameNormalized: null, phoneE164: null, emailConsent: false,
    // §11 match keys derived from the company name and e-mail (not part of the Lead model).
    ...{ matchName: null, matchEmailDomain: null },
  } as Partial<Lead>, now)
  await setHistoryAction(tx, null)
  await cancelQueuedMails(deps, tx, lead.id)
  await cancelFollowUps(deps, tx, lead.id)
  await tx.trx.raw('select erase_lead_traces(?, ?, ?, ?)', [lead.id, 'ERASED', reason, emailSha256])
  await insertActivity(tx, erased, { type: 'ERASED', summary: 'Personal data erased', userId: actor.id, metadata: {}, occurredAt: now })
  await emit(deps, tx, 'freshplan.lead.erased', erased, { leadId: erased.id, territory: erased.territory, status: erased.status, erasedAt: now.toISOString() })
  return erased
}

/**
 * The scheduled pseudonymization (§13, SYSTEM): e-mail → its SHA-256, phone and contact name gone,
 * in history and the other traces as well (erase_lead_traces). Returns false when the lead is gone
 * or no longer qualifies (the caller selected it before locking).
 */
export async function pseudonymizeLead(deps: Deps, tx: Tx, id: string, untouchedSince: Date): Promise<boolean> {
  const lead = isUuid(id) ? await leadById(tx.trx, id, { forUpdate: true }) : undefined
  if (!lead || lead.status !== 'EXPIRED' || lead.updatedAt > untouchedSince) return false
  const now = deps.clock.now()
  const emailSha256 = lead.email === null ? null : sha256Hex(lead.email.trim().toLowerCase())
  await setHistoryAction(tx, 'PSEUDONYMIZED')
  await updateLead(tx, lead, { contactName: null, phone: null, email: emailSha256, emailNormalized: null, phoneE164: null }, now)
  await setHistoryAction(tx, null)
  await tx.trx.raw('select erase_lead_traces(?, ?, ?, ?)', [lead.id, 'PSEUDONYMIZED', 'EXPIRED and untouched for 60 days', emailSha256])
  return true
}
