// The lead service: every read and change of a lead, inside the caller's transaction (lib/db.ts
// inTransaction), so row-level security filters it and its jobs and events commit with it.
import type { Deps } from '../lib/deps.ts'
import type { Tx } from '../lib/db.ts'
import { randomUUID } from 'node:crypto'
import { Problem, problems } from '../server/problem.ts'
import { raw } from 'objection'
import { ACTIVITY_SELECT_LIST, LEAD_SELECT_LIST, Lead, LeadActivity, leadById } from './lead.ts'
import { normalizeLead } from './normalization.ts'
import { scheduleFollowUpsOf } from '../jobs/follow-ups.ts'
import { recordCreatedLeadEvents, recordLeadEvent, type LeadEventType } from '../jobs/events.ts'
import { activityResource, leadResource } from './lead.ts'
import {
  checkStageChange,
  checkStatusTransition,
  DEFAULT_COUNTRY_CODE,
  DEFAULT_LEAD_SOURCE,
  INITIAL_LEAD_STATUS,
  initialStage,
  isMeaningfulActivity,
  isTerminalStatus,
  requiresFirstContact,
  statusAfterActivity,
  statusChangeSummary,
  territoryForCountry,
  type ActivityOutcome,
  type ActivityType,
  type BusinessType,
  type KitchenSize,
  type LeadSource,
  type LeadStage,
  type LeadStatus,
  type UserActivityType,
  type UserRole,
} from './lead-rules.ts'

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

export interface LeadFields {
  companyName: string
  contactName?: string | null
  email?: string | null
  phone?: string | null
  website?: string | null
  street?: string | null
  postalCode?: string | null
  city?: string | null
  countryCode?: string
  source?: LeadSource
  sourceCampaign?: string | null
  businessType?: BusinessType | null
  kitchenSize?: KitchenSize | null
  employeeCount?: number | null
  estimatedVolume?: number | null
  emailConsent?: boolean
  notes?: string | null
}

export interface LeadCreateInput extends LeadFields {
  ownerUserId?: string
  activities?: ActivityInput[]
}

export type LeadPatchInput = Partial<LeadFields> & { status?: LeadStatus; stage?: LeadStage }

/** `*` matches any version (RFC 9110 If-Match: *). */
export type ExpectedVersion = number | '*'

const OPTIONAL_TEXT = ['contactName', 'email', 'phone', 'website', 'street', 'postalCode', 'city', 'sourceCampaign', 'notes'] as const
const MANAGERS: readonly string[] = ['MANAGER', 'ADMIN']

/** Blank optional text is no value: store null, not ''. */
function withoutBlanks<T extends Partial<LeadFields>>(fields: T): T {
  const copy: Record<string, unknown> = { ...fields }
  for (const key of OPTIONAL_TEXT) if (copy[key] === '') copy[key] = null
  if (typeof copy.countryCode === 'string') copy.countryCode = copy.countryCode.toUpperCase()
  return copy as T
}

const invalidTransition = (detail: string) => problems.conflict('invalid-status-transition', 'Invalid status transition', detail)

function assertTerritoryAccess(tx: Tx, territory: string): void {
  if (!(tx.ctx.territories as readonly string[]).includes(territory)) {
    throw problems.forbidden(`You have no access to territory ${territory}.`)
  }
}

async function insertActivity(tx: Tx, lead: Lead, activity: { type: ActivityType; summary: string; userId: string; occurredAt?: Date; outcome?: ActivityOutcome | null; metadata?: Record<string, unknown> }): Promise<LeadActivity> {
  // insert … returning * is one round trip; insertAndFetch would read the row back with a second.
  return LeadActivity.query(tx.trx).insert({
    tenantId: lead.tenantId,
    leadId: lead.id,
    type: activity.type,
    summary: activity.summary,
    userId: activity.userId,
    occurredAt: activity.occurredAt ?? new Date(),
    outcome: activity.outcome ?? null,
    metadata: activity.metadata ?? {},
  }).returning(raw(ACTIVITY_SELECT_LIST)) as unknown as Promise<LeadActivity>
}

/** Every change of a lead is an event (§7), written in the change's transaction with the new version. */
function emit(deps: Deps, tx: Tx, type: LeadEventType, lead: Lead, data: object, options: { leadCreatedInThisTransaction?: boolean } = {}): Promise<void> {
  return recordLeadEvent(deps, tx, { type, lead, data, ...options })
}

export async function createLead(deps: Deps, tx: Tx, actor: Actor, input: LeadCreateInput): Promise<{ lead: Lead; warnings: string[] }> {
  const [outcome] = await createLeads(deps, tx, actor, [input])
  if (!outcome!.ok) throw outcome!.problem
  return { lead: outcome!.lead, warnings: outcome!.warnings }
}

/** What createLeads made of one input: the lead, or the problem POST /api/leads would have answered (nothing of it written). */
export type CreateOutcome = { ok: true; lead: Lead; warnings: string[] } | { ok: false; problem: Problem }

interface PlannedLead {
  /** The row in snake_case, for the set-based insert. */
  row: Record<string, unknown>
  emailNormalized: string | null
  source: LeadSource
  activities: ActivityInput[]
  warnings: string[]
}

/** The rules of a create, before anything is written: a Problem for an input that may not be created. */
function planLead(deps: Deps, tx: Tx, actor: Actor, input: LeadCreateInput, now: Date): PlannedLead {
  const fields = withoutBlanks(input)
  const { activities = [], ownerUserId, ...leadFields } = fields
  const source = leadFields.source ?? DEFAULT_LEAD_SOURCE
  if (requiresFirstContact(source) && !activities.some((a) => a.type === 'FIRST_CONTACT_DOCUMENTED')) {
    throw problems.validation(
      [{ pointer: '/activities', message: `source ${source} requires an activity of type FIRST_CONTACT_DOCUMENTED` }],
      'Leads from trade fairs and phone calls need a documented first contact.',
    )
  }
  if (ownerUserId !== undefined && ownerUserId !== actor.id && !MANAGERS.includes(actor.role)) {
    throw problems.forbidden('Only managers and admins may create leads for someone else.')
  }
  const countryCode = leadFields.countryCode ?? DEFAULT_COUNTRY_CODE
  const territory = territoryForCountry(countryCode)
  assertTerritoryAccess(tx, territory)
  const { columns, warnings } = normalizeLead({ email: null, phone: null, ...leadFields, countryCode }, { stripPlusTag: deps.config.emailStripPlusTag })
  const row = Lead.columnNameMappers.format({
    ...leadFields,
    ...columns,
    id: randomUUID(),
    countryCode,
    source,
    tenantId: tx.ctx.tenantId,
    territory,
    stage: initialStage(source),
    status: INITIAL_LEAD_STATUS,
    ownerUserId: ownerUserId ?? actor.id,
    createdBy: actor.id,
    registeredAt: now.toISOString(),
  })
  return { row, emailNormalized: columns.emailNormalized, source, activities, warnings }
}

/** `on conflict` names the partial unique index of V0003 by its columns and predicate. */
const LIVE_EMAIL_CONFLICT = '(tenant_id, email_normalized) where email_normalized is not null and deleted_at is null'

// The columns a create writes; every other column takes its default. email_consent is NOT NULL
// with a default, so an input without it gets the default here too.
const CREATE_COLUMNS = [
  'id', 'tenant_id', 'territory', 'company_name', 'contact_name', 'email', 'phone', 'website', 'street', 'postal_code', 'city',
  'country_code', 'source', 'source_campaign', 'business_type', 'kitchen_size', 'employee_count', 'estimated_volume',
  'notes', 'status', 'stage', 'owner_user_id', 'created_by', 'registered_at', 'email_normalized', 'name_normalized', 'phone_e164',
  'normalization_version',
] as const
const INSERT_LEADS = `insert into leads (${CREATE_COLUMNS.join(', ')}, email_consent)
  select ${CREATE_COLUMNS.map((c) => `r.${c}`).join(', ')}, coalesce(r.email_consent, false)
    from json_populate_recordset(null::leads, ?::json) as r
  on conflict ${LIVE_EMAIL_CONFLICT} do nothing
  returning ${LEAD_SELECT_LIST}`

/**
 * Creates many leads in the caller's transaction with the rules and writes of POST /api/leads, set
 * based: one statement each for the leads, their CREATED activities, each follow-up kind and their
 * events, whatever their number (the import's batches; POST /api/leads creates a batch of one).
 * Inputs in order: of two with the same e-mail, the first is created and the second is a
 * duplicate, as if they had been posted one after the other. An input that breaks a rule or is a
 * hard duplicate (409 duplicate-lead) gets its Problem and writes nothing; the others go on.
 */
export async function createLeads(deps: Deps, tx: Tx, actor: Actor, inputs: readonly LeadCreateInput[]): Promise<CreateOutcome[]> {
  const outcomes: CreateOutcome[] = new Array(inputs.length)
  const now = deps.clock.now()
  const planned: { index: number; plan: PlannedLead }[] = []
  inputs.forEach((input, index) => {
    try {
      planned.push({ index, plan: planLead(deps, tx, actor, input, now) })
    } catch (error) {
      if (!(error instanceof Problem)) throw error
      outcomes[index] = { ok: false, problem: error }
    }
  })
  if (planned.length === 0) return outcomes
  // A concurrent create of the same address waits for the other's commit here, then inserts nothing.
  const { rows } = await tx.trx.raw<{ rows: Record<string, unknown>[] }>(INSERT_LEADS, [JSON.stringify(planned.map(({ plan }) => plan.row))])
  const inserted = new Map(rows.map((row) => {
    const lead = Lead.fromDatabaseJson(row) as Lead
    return [lead.id, lead]
  }))
  const created: { index: number; plan: PlannedLead; lead: Lead }[] = []
  for (const { index, plan } of planned) {
    const lead = inserted.get(plan.row.id as string)
    if (lead) created.push({ index, plan, lead })
    else outcomes[index] = { ok: false, problem: await duplicateLead(tx, plan.emailNormalized!) }
  }
  if (created.length === 0) return outcomes
  await tx.trx.raw(
    `insert into lead_activities (tenant_id, lead_id, type, summary, user_id, occurred_at, outcome, metadata)
     select ?, a.lead_id, 'CREATED', a.summary, ?, ?, null, '{}'::jsonb from unnest(?::uuid[], ?::text[]) as a (lead_id, summary)`,
    [tx.ctx.tenantId, actor.id, new Date(), created.map((c) => c.lead.id), created.map((c) => `Lead created from source ${c.plan.source}`)],
  )
  await scheduleFollowUpsOf(deps, tx, created.map((c) => c.lead))
  await recordCreatedLeadEvents(deps, tx, created.map((c) => ({ type: 'freshplan.lead.created' as const, lead: c.lead, data: leadResource(c.lead) })))
  for (const { index, plan, lead } of created) {
    let current = lead
    for (const activity of plan.activities) current = (await applyActivity(deps, tx, current, actor, activity)).lead
    outcomes[index] = { ok: true, lead: current, warnings: plan.warnings }
  }
  return outcomes
}

const EMAIL_UNIQUE_INDEX = 'leads_email_normalized_unique'

/**
 * Runs an update that may collide with another live lead's e-mail inside a savepoint (UPDATE has
 * no `on conflict`), so a collision becomes a 409 `duplicate-lead` instead of an aborted
 * transaction. Concurrent writers serialize on the unique index: the losers wait for the winner's
 * commit, then see its row.
 */
async function guardDuplicates<T>(tx: Tx, emailNormalized: string | null, write: (trx: Tx['trx']) => Promise<T>): Promise<T> {
  if (emailNormalized === null) return write(tx.trx)
  try {
    return await tx.trx.transaction((savepoint) => write(savepoint))
  } catch (error) {
    // objection wraps driver errors; the PostgreSQL error is the native one.
    const native = ((error as { nativeError?: unknown }).nativeError ?? error) as { code?: string; constraint?: string }
    if (native.code !== '23505' || native.constraint !== EMAIL_UNIQUE_INDEX) throw error
    throw await duplicateLead(tx, emailNormalized)
  }
}

/** The 409 for an e-mail address a live lead has already; RLS decides whether the caller may learn which lead. */
async function duplicateLead(tx: Tx, emailNormalized: string): Promise<Problem> {
  // Compared as text: citext equality is not LEAKPROOF, so beneath RLS it cannot use an index;
  // the text expression index of V0007 answers in one probe (the value is lower-case already).
  const existing = await Lead.query(tx.trx).select('id').where('tenant_id', tx.ctx.tenantId).whereRaw('email_normalized::text = ?', [emailNormalized]).whereNull('deleted_at').first()
  duplicateDetected(tx, existing?.id ?? null)
  return problems.conflict('duplicate-lead', 'Duplicate lead', 'A live lead with this e-mail address exists already.', existing ? { existingLeadId: existing.id } : undefined)
}

/**
 * The hook for `freshplan.lead.duplicate_detected` (§7). The request's own transaction rolls back
 * with the 409, so an event for it must be written in a transaction of its own; until a consumer
 * needs it, the detection is only visible in the problem response.
 */
function duplicateDetected(_tx: Tx, _existingLeadId: string | null): void {}

export async function findLead(tx: Tx, id: string): Promise<Lead | undefined> {
  return isUuid(id) ? leadById(tx.trx, id) : undefined
}

export async function requireLead(tx: Tx, id: string): Promise<Lead> {
  const lead = await findLead(tx, id)
  if (!lead) throw problems.notFound(`No lead ${id}.`)
  return lead
}

/** Locks the row for the rest of the transaction, so version checks and follow-on writes see one state. */
async function lockLead(tx: Tx, id: string): Promise<Lead> {
  const lead = isUuid(id) ? await leadById(tx.trx, id, { forUpdate: true }) : undefined
  if (!lead) throw problems.notFound(`No lead ${id}.`)
  return lead
}

function assertVersion(lead: Lead, expected: ExpectedVersion): void {
  if (expected !== '*' && lead.version !== expected) {
    throw problems.preconditionFailed(`The lead is at version ${lead.version}, not ${expected}; reload it and try again.`)
  }
}

async function updateLead(tx: Tx, lead: Lead, changes: Partial<Lead>): Promise<Lead> {
  // A new instance: `lead` stays the before-image callers describe changes with. One round trip.
  const [updated] = (await Lead.query(tx.trx).patch({ ...changes, version: lead.version + 1, updatedAt: new Date() } as Partial<Lead>).where('id', lead.id).returning(raw(LEAD_SELECT_LIST))) as unknown as Lead[]
  return updated!
}

export async function patchLead(deps: Deps, tx: Tx, actor: Actor, id: string, expected: ExpectedVersion, patch: LeadPatchInput): Promise<{ lead: Lead; warnings: string[] }> {
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
  let warnings: string[] = []
  if (['email', 'companyName', 'phone', 'countryCode'].some((key) => key in fields)) {
    const normalized = normalizeLead({ ...lead, ...fields } as Lead, { stripPlusTag: deps.config.emailStripPlusTag })
    Object.assign(changes, normalized.columns)
    warnings = normalized.warnings
  }
  const updated = await guardDuplicates(tx, changes.emailNormalized ?? null, (trx) => updateLead({ ...tx, trx }, lead, changes))
  if (statusChanged) {
    await insertActivity(tx, updated, { type: 'STATUS_CHANGE', summary: statusChangeSummary(lead.status, status!), userId: actor.id, metadata: { from: lead.status, to: status } })
    await emit(deps, tx, 'freshplan.lead.status_changed', updated, { from: lead.status, to: status, lead: leadResource(updated) })
  }
  await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: Object.keys(patch), lead: leadResource(updated) })
  return { lead: updated, warnings }
}

export async function deleteLead(deps: Deps, tx: Tx, actor: Actor, id: string, expected: ExpectedVersion): Promise<Lead> {
  const lead = await lockLead(tx, id)
  assertVersion(lead, expected)
  if (isTerminalStatus(lead.status)) throw invalidTransition(`A ${lead.status} lead cannot be deleted.`)
  const deleted = await updateLead(tx, lead, { status: 'DELETED', deletedAt: new Date() })
  await insertActivity(tx, deleted, { type: 'STATUS_CHANGE', summary: statusChangeSummary(lead.status, 'DELETED'), userId: actor.id, metadata: { from: lead.status, to: 'DELETED' } })
  await insertActivity(tx, deleted, { type: 'DELETED', summary: 'Lead deleted', userId: actor.id })
  await emit(deps, tx, 'freshplan.lead.deleted', deleted, { from: lead.status, lead: leadResource(deleted) })
  return deleted
}

/**
 * Writes a user activity and its consequences: lastActivityAt, and ACTIVE after a meaningful contact.
 * Every activity is a new version of the lead (its timeline changed), which also gives each
 * `activity_added` event its own idempotency key ("<leadId>|<type>|<version>").
 */
async function applyActivity(deps: Deps, tx: Tx, lead: Lead, actor: Actor, input: ActivityInput): Promise<{ lead: Lead; activity: LeadActivity }> {
  const occurredAt = input.occurredAt ? new Date(input.occurredAt) : new Date()
  const activity = await insertActivity(tx, lead, { ...input, occurredAt, userId: actor.id })
  const changes: Partial<Lead> = {}
  const next = isMeaningfulActivity(input.type) ? statusAfterActivity(lead.status, input.type) : null
  if (isMeaningfulActivity(input.type) && (lead.lastActivityAt === null || lead.lastActivityAt < occurredAt)) changes.lastActivityAt = occurredAt
  if (next !== null) changes.status = next
  const updated = await updateLead(tx, lead, changes)
  if (next !== null) {
    await insertActivity(tx, updated, { type: 'STATUS_CHANGE', summary: statusChangeSummary(lead.status, next), userId: actor.id, metadata: { from: lead.status, to: next, cause: input.type } })
    await emit(deps, tx, 'freshplan.lead.status_changed', updated, { from: lead.status, to: next, lead: leadResource(updated) })
  }
  await emit(deps, tx, 'freshplan.lead.activity_added', updated, { activity: activityResource(activity), lead: leadResource(updated) })
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
  const updated = await updateLead(tx, lead, { ownerUserId })
  await insertActivity(tx, updated, { type: 'ASSIGNED', summary: `Owner changed from ${lead.ownerUserId} to ${ownerUserId}`, userId: actor.id, metadata: { change: 'owner', from: lead.ownerUserId, to: ownerUserId } })
  await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: ['ownerUserId'], lead: leadResource(updated) })
  return updated
}

export async function setCollaborator(deps: Deps, tx: Tx, actor: Actor, id: string, userId: string, present: boolean): Promise<Lead> {
  const lead = await lockLead(tx, id)
  if (!MANAGERS.includes(actor.role) && lead.ownerUserId !== actor.id) throw problems.forbidden('Only the owner, managers and admins manage collaborators.')
  if (lead.status === 'DELETED') throw invalidTransition('A deleted lead cannot be changed.')
  const has = lead.collaboratorUserIds.includes(userId)
  if (has === present) return lead
  const collaboratorUserIds = present ? [...lead.collaboratorUserIds, userId] : lead.collaboratorUserIds.filter((u) => u !== userId)
  const updated = await updateLead(tx, lead, { collaboratorUserIds })
  await insertActivity(tx, updated, {
    type: 'ASSIGNED',
    summary: present ? `Collaborator ${userId} added` : `Collaborator ${userId} removed`,
    userId: actor.id,
    metadata: { change: present ? 'collaborator_added' : 'collaborator_removed', collaborator: userId },
  })
  await emit(deps, tx, 'freshplan.lead.updated', updated, { changed: ['collaboratorUserIds'], lead: leadResource(updated) })
  return updated
}

// ---- lists ------------------------------------------------------------------------------------

export interface LeadListQuery {
  status?: LeadStatus
  territory?: string
  ownerUserId?: string
  source?: LeadSource
  businessType?: BusinessType
  q?: string
  createdFrom?: string
  createdTo?: string
  sort?: string
  limit?: number
  cursor?: string
  includeTotal?: boolean
}

/** Sort keys and the SQL expression each is ordered by (each has an index; see V0002). */
const SORT_EXPRESSIONS: Record<string, string> = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  companyName: 'company_name',
  status: 'status',
  lastActivityAt: `coalesce(last_activity_at, '-infinity'::timestamptz)`,
}
const SORT_CASTS: Record<string, string> = { createdAt: 'timestamptz', updatedAt: 'timestamptz', companyName: 'text', status: 'text', lastActivityAt: 'timestamptz' }
const SEARCH_EXPRESSION = `(coalesce(company_name, '') || ' ' || coalesce(contact_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(city, ''))`

interface Cursor {
  s: string // sort the cursor was made for
  v: string // sort value of the last row, as PostgreSQL's text
  id: string
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

function decodeCursor(raw: string, sort: string): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Cursor
    if (cursor.s === sort && typeof cursor.v === 'string' && isUuid(cursor.id)) return cursor
  } catch {
    // fall through
  }
  throw problems.validation([{ pointer: '/query/cursor', message: 'is not a cursor of this list and sort' }])
}

/** `\`, `%` and `_` are LIKE wildcards; escaped, the search is a plain substring search. */
export function likePattern(text: string): string {
  return `%${text.replaceAll(/[\\%_]/g, (c) => `\\${c}`)}%`
}

export async function listLeads(tx: Tx, query: LeadListQuery): Promise<{ data: Lead[]; nextCursor: string | null; total?: number }> {
  const sort = query.sort ?? '-createdAt'
  const descending = sort.startsWith('-')
  const key = descending ? sort.slice(1) : sort
  const expression = SORT_EXPRESSIONS[key]!
  const limit = query.limit ?? 50
  const filtered = () => {
    // objection maps row data to camelCase, not identifiers in queries: columns are snake_case here.
    const builder = Lead.query(tx.trx).where('tenant_id', tx.ctx.tenantId)
    if (query.status) builder.where('status', query.status)
    else builder.whereNot('status', 'DELETED')
    if (query.territory) builder.where('territory', query.territory)
    if (query.ownerUserId) builder.where('owner_user_id', query.ownerUserId)
    if (query.source) builder.where('source', query.source)
    if (query.businessType) builder.where('business_type', query.businessType)
    if (query.createdFrom) builder.where('created_at', '>=', new Date(query.createdFrom))
    if (query.createdTo) builder.where('created_at', '<', new Date(query.createdTo))
    if (query.q) builder.whereRaw(`${SEARCH_EXPRESSION} ilike ? escape '\\'`, [likePattern(query.q)])
    return builder
  }
  const page = filtered().select(raw(LEAD_SELECT_LIST), tx.trx.raw(`(${expression})::text as sort_value`))
  if (query.cursor) {
    const cursor = decodeCursor(query.cursor, sort)
    page.whereRaw(`(${expression}, id) ${descending ? '<' : '>'} (?::${SORT_CASTS[key]}, ?::uuid)`, [cursor.v, cursor.id])
  }
  const direction = descending ? 'desc' : 'asc'
  const rows = (await page.orderByRaw(`${expression} ${direction}, id ${direction}`).limit(limit + 1)) as (Lead & { sortValue: string })[]
  const data = rows.slice(0, limit)
  const last = data.at(-1)
  const nextCursor = rows.length > limit && last ? encodeCursor({ s: sort, v: last.sortValue, id: last.id }) : null
  const result: { data: Lead[]; nextCursor: string | null; total?: number } = { data, nextCursor }
  if (query.includeTotal) result.total = Number(((await filtered().count('* as count').first()) as unknown as { count: number }).count)
  return result
}

interface ActivityCursor {
  at: string
  id: string
}

export async function listActivities(tx: Tx, leadId: string, page: { limit?: number; cursor?: string }): Promise<{ data: LeadActivity[]; nextCursor: string | null }> {
  await requireLead(tx, leadId)
  const limit = page.limit ?? 50
  const builder = LeadActivity.query(tx.trx).where('lead_id', leadId).select(raw(ACTIVITY_SELECT_LIST), tx.trx.raw(`occurred_at::text as sort_value`))
  if (page.cursor) {
    let cursor: ActivityCursor
    try {
      cursor = JSON.parse(Buffer.from(page.cursor, 'base64url').toString('utf8'))
      if (typeof cursor.at !== 'string' || !isUuid(cursor.id)) throw new Error('shape')
    } catch {
      throw problems.validation([{ pointer: '/query/cursor', message: 'is not a cursor of this list' }])
    }
    builder.whereRaw('(occurred_at, id) < (?::timestamptz, ?::uuid)', [cursor.at, cursor.id])
  }
  const rows = (await builder.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit + 1)) as (LeadActivity & { sortValue: string })[]
  const data = rows.slice(0, limit)
  const last = data.at(-1)
  const nextCursor = rows.length > limit && last ? Buffer.from(JSON.stringify({ at: last.sortValue, id: last.id })).toString('base64url') : null
  return { data, nextCursor }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
export function isUuid(value: string): boolean {
  return UUID.test(value)
}
