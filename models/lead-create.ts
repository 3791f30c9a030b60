// Creating leads (§3, §5, §10, §11): the rules of POST /api/leads, set-based so an import's batch
// costs one statement per table; POST /api/leads creates a batch of one. Part of the one lead write
// path (models/lead-commands.ts holds the shared rules and the changes of existing leads).
import type { Deps } from '../lib/deps.ts'
import { writeTogether, type PendingWrite, type Tx } from '../lib/db.ts'
import { jobInserts, type JobToSend } from '../lib/boss.ts'
import { MANAGER_ROLES } from '../lib/tenancy.ts'
import { randomUUID } from 'node:crypto'
import { DomainError, problems } from './errors.ts'
import { normalizeLead } from './normalization.ts'
import { reviewCreatedLeads } from './reviews.ts'
import { reviewCandidatesSearch, type CandidateView } from './match-candidates.ts'
import type { MatchFields } from './matching.ts'
import { followUpJobsOf } from './follow-ups.ts'
import { PUBLISH_JOB, createdLeadEventsWrite, type CreatedLeadEvent } from './lead-events.ts'
import type { Lead } from './lead-table.ts'
import { createdActivitiesWrite, insertLeads, leadResource } from './lead-table.ts'
import { initialProtection, protectionJob } from './lead-protection.ts'
import type { ProtectionTransition } from './protection-rules.ts'
import { DEFAULT_COUNTRY_CODE, DEFAULT_LEAD_SOURCE, INITIAL_LEAD_STATUS, initialStage, requiresFirstContact, territoryForCountry, type LeadSource } from './lead-rules.ts'
import { applyActivity, assertTerritoryAccess, duplicateLead, withoutBlanks, type Actor, type ActivityInput, type LeadCreateInput } from './lead-commands.ts'

export async function createLead(deps: Deps, tx: Tx, actor: Actor, input: LeadCreateInput): Promise<{ lead: Lead; warnings: string[]; possibleDuplicates: CandidateView[] }> {
  const [outcome] = await createLeads(deps, tx, actor, [input])
  if (!outcome!.ok) throw outcome!.error
  return { lead: outcome!.lead, warnings: outcome!.warnings, possibleDuplicates: outcome!.possibleDuplicates }
}

/** What createLeads made of one input: the lead, or the error POST /api/leads would have answered (nothing of it written). */
export type CreateOutcome = { ok: true; lead: Lead; warnings: string[]; possibleDuplicates: CandidateView[] } | { ok: false; error: DomainError }

interface PlannedLead {
  row: Partial<Lead> & { id: string }
  emailNormalized: string | null
  source: LeadSource
  activities: ActivityInput[]
  warnings: string[]
  /** §10: the lead's first protection transition, scheduled once it is inserted. */
  protection: ProtectionTransition | null
}

/** The rules of a create, before anything is written: a DomainError for an input that may not be created. */
async function planLead(deps: Deps, tx: Tx, actor: Actor, input: LeadCreateInput, now: Date): Promise<PlannedLead> {
  const fields = withoutBlanks(input)
  const { activities = [], ownerUserId, ...leadFields } = fields
  const source = leadFields.source ?? DEFAULT_LEAD_SOURCE
  if (requiresFirstContact(source) && !activities.some((a) => a.type === 'FIRST_CONTACT_DOCUMENTED')) {
    throw problems.validation(
      [{ pointer: '/activities', message: `source ${source} requires an activity of type FIRST_CONTACT_DOCUMENTED` }],
      'Leads from trade fairs and phone calls need a documented first contact.',
    )
  }
  if (ownerUserId !== undefined && ownerUserId !== actor.id && !MANAGER_ROLES.includes(actor.role)) {
    throw problems.forbidden('Only managers and admins may create leads for someone else.')
  }
  const countryCode = leadFields.countryCode ?? DEFAULT_COUNTRY_CODE
  const territory = territoryForCountry(countryCode)
  assertTerritoryAccess(tx, territory)
  const { columns, warnings } = normalizeLead({ email: null, phone: null, ...leadFields, countryCode }, { stripPlusTag: deps.config.emailStripPlusTag })
  const protection = await initialProtection(tx, { tenantId: tx.ctx.tenantId, territory, registeredAt: now })
  const row = {
    ...leadFields,
    ...columns,
    ...protection.columns,
    id: randomUUID(),
    countryCode,
    source,
    tenantId: tx.ctx.tenantId,
    territory,
    stage: initialStage(source),
    status: INITIAL_LEAD_STATUS,
    ownerUserId: ownerUserId ?? actor.id,
    createdBy: actor.id,
    registeredAt: now,
  } as Partial<Lead> & { id: string }
  return { row, emailNormalized: columns.emailNormalized, source, activities, warnings, protection: protection.next }
}

/**
 * Creates leads in the caller's transaction with the rules and writes of POST /api/leads, set
 * based: one statement each for the leads, their CREATED activities, each follow-up kind and their
 * events, whatever their number (an import's batch; POST /api/leads creates a batch of one).
 * Inputs count in order: of two with the same e-mail, the first is created and the second is a
 * duplicate, as if they had been posted one after the other. An input that breaks a rule or is a
 * hard duplicate (409 duplicate-lead) gets its DomainError and writes nothing; the others go on.
 */
export async function createLeads(deps: Deps, tx: Tx, actor: Actor, inputs: readonly LeadCreateInput[]): Promise<CreateOutcome[]> {
  const outcomes: CreateOutcome[] = new Array(inputs.length)
  const now = deps.clock.now()
  const planned: { index: number; plan: PlannedLead }[] = []
  for (const [index, input] of inputs.entries()) {
    try {
      planned.push({ index, plan: await planLead(deps, tx, actor, input, now) })
    } catch (error) {
      if (!(error instanceof DomainError)) throw error
      outcomes[index] = { ok: false, error }
    }
  }
  if (planned.length === 0) return outcomes
  // A lone lead's §11 search travels in its insert's statement (one round trip less, issue 16): it
  // sees the table before the insert, which for one lead is all the search wants. A batch searches
  // after its insert, so that its leads are found as each other's duplicates.
  const search = planned.length === 1 ? reviewCandidatesSearch(tx, [planned[0]!.plan.row as MatchFields & { id: string }]) : undefined
  const { inserted, alongsideRows } = await insertLeads(tx, planned.map(({ plan }) => plan.row), search)
  const created: { index: number; plan: PlannedLead; lead: Lead }[] = []
  for (const { index, plan } of planned) {
    const lead = inserted.get(plan.row.id)
    if (lead) created.push({ index, plan, lead })
    else outcomes[index] = { ok: false, error: await duplicateLead(deps, tx, plan.emailNormalized!) }
  }
  if (created.length === 0) return outcomes
  // What the new leads need besides their rows — CREATED activities, events, reviews, every job
  // (T+3, T+7, the §10 protection job, the publisher's) — goes out as one statement at the end
  // (lib/db.ts writeTogether): none of it reads another's rows.
  const writes: PendingWrite[] = [createdActivitiesWrite(tx, created.map(({ plan, lead }) => ({ lead, summary: `Lead created from source ${plan.source}` })), actor.id, now)]
  const jobs: JobToSend[] = [...await followUpJobsOf(tx, created.map((c) => c.lead)), PUBLISH_JOB]
  for (const { plan, lead } of created) if (plan.protection) jobs.push(protectionJob(lead, plan.protection))
  let events: CreatedLeadEvent[] = created.map((c) => ({ type: 'freshplan.lead.created', lead: c.lead, data: leadResource(c.lead) }))
  const current = created.map((c) => c.lead)
  if (created.some((c) => c.plan.activities.length > 0)) {
    // A lead's own activities are written now, with events of their own after its `created` one.
    await writeTogether(tx, [...writes.splice(0), createdLeadEventsWrite(deps, tx, events)!])
    events = []
    for (const [i, { plan }] of created.entries()) {
      for (const activity of plan.activities) current[i] = (await applyActivity(deps, tx, current[i]!, actor, activity)).lead
    }
  }
  // §11: possible duplicates open a review in this transaction.
  const reviewed = await reviewCreatedLeads(tx, current, search?.scored(alongsideRows))
  if (reviewed.write) writes.push(reviewed.write)
  const eventsWrite = createdLeadEventsWrite(deps, tx, [...events, ...reviewed.events])
  if (eventsWrite) writes.push(eventsWrite)
  await writeTogether(tx, [...writes, ...await jobInserts(deps.boss, jobs)])
  for (const [i, { index, plan }] of created.entries()) {
    outcomes[index] = { ok: true, lead: current[i]!, warnings: plan.warnings, possibleDuplicates: reviewed.possibleDuplicates[i]! }
  }
  return outcomes
}
