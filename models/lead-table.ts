import { Model, raw, snakeCaseMappers } from 'objection'
import type { Knex, PendingWrite, Statement, Tx } from '../lib/db.ts'
import { PROTECTED_STATUSES, type ClockStopStatus, type ProtectionKind } from './protection-rules.ts'
import type { ActivityOutcome, ActivityType, BusinessType, KitchenSize, LeadSource, LeadStage, LeadStatus, TerritoryCode } from './lead-rules.ts'

// Objection models: column names are snake_case in PostgreSQL and camelCase here and on the wire.
// Queries always go through a transaction from lib/db.ts inTransaction (`Lead.query(tx.trx)`), so
// row-level security sees who asks.

// Queries name their columns instead of `*`, so a column a migration adds while this code runs
// (expand, then contract) changes no result shape: prepared statements stay valid (lib/db.ts).
// Each list is also kept as one quoted SQL fragment: knex then quotes nothing per query.
const columnsOf = (table: string, columns: readonly string[]): string[] => columns.map((column) => `${table}.${column}`)
const selectList = (columns: readonly string[]): string => columns.map((c) => c.split('.').map((part) => `"${part}"`).join('.')).join(', ')

/**
 * Every column of `leads` by its camelCase name, in resource order: the select list, the row
 * mapping and the resource (leadResource) derive from this one list.
 */
export const LEAD_FIELDS = [
  'id', 'tenantId', 'territory', 'companyName', 'contactName', 'email', 'phone', 'website', 'street', 'postalCode', 'city',
  'countryCode', 'source', 'sourceCampaign', 'businessType', 'kitchenSize', 'employeeCount', 'estimatedVolume',
  'emailConsent', 'notes', 'status', 'stage', 'ownerUserId', 'collaboratorUserIds', 'registeredAt', 'lastActivityAt',
  't3SentAt', 't7SentAt', 'version', 'createdAt', 'createdBy', 'updatedAt', 'deletedAt', 'emailNormalized',
  'nameNormalized', 'phoneE164', 'normalizationVersion', 'mergedIntoId',
  // §10 lead protection (V0011; models/protection-rules.ts)
  'protectionStartAt', 'protectionUntil', 'progressDeadline', 'clockStoppedAt', 'clockStopStatus', 'stopReason', 'pausedSeconds',
  'lastProgressAt', 'progressPausedSeconds', 'clockStopRequestedBy', 'clockStopRequestedAt', 'protectionNextKind', 'protectionNextAt',
  // §13 (V0014)
  'consentRevokedAt',
] as const satisfies readonly (keyof Lead)[]
export type LeadField = (typeof LEAD_FIELDS)[number]

/** The fields a create or PATCH may set (the request schemas list exactly these, models/lead-schemas.ts). */
export const EDITABLE_LEAD_FIELDS = [
  'companyName', 'contactName', 'email', 'phone', 'website', 'street', 'postalCode', 'city', 'countryCode', 'source',
  'sourceCampaign', 'businessType', 'kitchenSize', 'employeeCount', 'estimatedVolume', 'emailConsent', 'notes',
] as const satisfies readonly LeadField[]
export type EditableLeadField = (typeof EDITABLE_LEAD_FIELDS)[number]

const snakeCase = (name: string) => name.replaceAll(/[A-Z]/g, (upper) => `_${upper.toLowerCase()}`)

export const LEAD_COLUMNS: readonly string[] = columnsOf('leads', LEAD_FIELDS.map(snakeCase))

export const ACTIVITY_COLUMNS: readonly string[] = columnsOf('lead_activities', [
  'id', 'tenant_id', 'lead_id', 'type', 'occurred_at', 'summary', 'outcome', 'user_id', 'metadata', 'created_at',
])

/** `"leads"."id", "leads"."tenant_id", …` */
export const LEAD_SELECT_LIST = selectList(LEAD_COLUMNS)
/** `"lead_activities"."id", …` */
export const ACTIVITY_SELECT_LIST = selectList(ACTIVITY_COLUMNS)

export class Lead extends Model {
  static tableName = 'leads'
  static columnNameMappers = snakeCaseMappers()
  declare id: string
  declare tenantId: string
  declare territory: TerritoryCode
  declare companyName: string
  declare contactName: string | null
  declare email: string | null
  declare phone: string | null
  declare website: string | null
  declare street: string | null
  declare postalCode: string | null
  declare city: string | null
  declare countryCode: string
  declare source: LeadSource
  declare sourceCampaign: string | null
  declare businessType: BusinessType | null
  declare kitchenSize: KitchenSize | null
  declare employeeCount: number | null
  declare estimatedVolume: string | null
  declare emailConsent: boolean
  declare notes: string | null
  declare status: LeadStatus
  declare stage: LeadStage
  /** Null once protection expired and released the owner (§10). */
  declare ownerUserId: string | null
  declare collaboratorUserIds: string[]
  declare registeredAt: Date
  declare lastActivityAt: Date | null
  declare t3SentAt: Date | null
  declare t7SentAt: Date | null
  declare version: number
  declare createdAt: Date
  declare createdBy: string
  declare updatedAt: Date
  declare deletedAt: Date | null
  declare emailNormalized: string | null
  declare nameNormalized: string | null
  declare phoneE164: string | null
  declare normalizationVersion: number
  /** Set when a merge (§12) folded this lead into another; the lead is DELETED then. */
  declare mergedIntoId: string | null
  // §10 lead protection; the dates are null until first computed (leads from before V0011, imports).
  declare protectionStartAt: Date | null
  declare protectionUntil: Date | null
  declare progressDeadline: Date | null
  declare clockStoppedAt: Date | null
  declare clockStopStatus: ClockStopStatus | null
  declare stopReason: string | null
  declare pausedSeconds: number
  declare lastProgressAt: Date | null
  declare progressPausedSeconds: number
  declare clockStopRequestedBy: string | null
  declare clockStopRequestedAt: Date | null
  declare protectionNextKind: ProtectionKind | null
  declare protectionNextAt: Date | null
  /** When e-mail consent was withdrawn (§13: unsubscribe link or CRM); null while never withdrawn. */
  declare consentRevokedAt: Date | null
}

export class LeadActivity extends Model {
  static tableName = 'lead_activities'
  static columnNameMappers = snakeCaseMappers()
  declare id: string
  declare tenantId: string
  declare leadId: string
  declare type: ActivityType
  declare occurredAt: Date
  declare summary: string
  declare outcome: ActivityOutcome | null
  declare userId: string
  declare metadata: Record<string, unknown>
  declare createdAt: Date
}

// The most frequent read as one fixed statement: the query builder would compose it anew on every call.
const LEAD_BY_ID = `select ${LEAD_SELECT_LIST} from "leads" where "leads"."id" = ?`
const LEAD_BY_ID_FOR_UPDATE = `${LEAD_BY_ID} for update`

/** leadById as a statement, for a read that travels in one round trip (lib/db.ts readTogether); `Lead.fromDatabaseJson` maps its row. */
export function leadByIdStatement(id: string): Statement {
  return { sql: LEAD_BY_ID, bindings: [id] }
}

/** The lead with this id as row-level security lets the transaction see it; `forUpdate` also locks the row until commit. */
export async function leadById(trx: Knex.Transaction, id: string, options: { forUpdate?: boolean } = {}): Promise<Lead | undefined> {
  const { rows } = await trx.raw<{ rows: object[] }>(options.forUpdate ? LEAD_BY_ID_FOR_UPDATE : LEAD_BY_ID, [id])
  return rows[0] === undefined ? undefined : Lead.fromDatabaseJson(rows[0])
}

/** An activity as the write path inserts it. */
export interface NewActivity {
  type: ActivityType
  summary: string
  userId: string
  occurredAt: Date
  outcome?: ActivityOutcome | null
  metadata?: Record<string, unknown>
}

/** Appends an activity to the lead's timeline. */
export async function insertActivity(tx: Tx, lead: Lead, activity: NewActivity): Promise<LeadActivity> {
  // insert … returning * is one round trip; insertAndFetch would read the row back with a second.
  return LeadActivity.query(tx.trx).insert({
    tenantId: lead.tenantId,
    leadId: lead.id,
    type: activity.type,
    summary: activity.summary,
    userId: activity.userId,
    occurredAt: activity.occurredAt,
    outcome: activity.outcome ?? null,
    metadata: activity.metadata ?? {},
  }).returning(raw(ACTIVITY_SELECT_LIST)) as unknown as Promise<LeadActivity>
}

/** `on conflict` names the partial unique index of V0003 by its columns and predicate. */
export const LIVE_EMAIL_CONFLICT = '(tenant_id, email_normalized) where email_normalized is not null and deleted_at is null'

// The columns a create writes; every other column takes its default. email_consent is NOT NULL
// with a default, so a row without it gets that default here too.
const CREATE_COLUMNS = [
  'id', 'tenant_id', 'territory', 'company_name', 'contact_name', 'email', 'phone', 'website', 'street', 'postal_code', 'city',
  'country_code', 'source', 'source_campaign', 'business_type', 'kitchen_size', 'employee_count', 'estimated_volume',
  'notes', 'status', 'stage', 'owner_user_id', 'created_by', 'registered_at', 'email_normalized', 'name_normalized', 'phone_e164',
  'normalization_version',
  // §11 match keys (normalizeLead) and §10's first dates (initialProtection)
  'match_name', 'match_email_domain', 'match_postal_code', 'match_city',
  'protection_start_at', 'protection_until', 'progress_deadline', 'protection_next_kind', 'protection_next_at',
] as const
const INSERT_LEADS = `insert into leads (${CREATE_COLUMNS.join(', ')}, email_consent)
  select ${CREATE_COLUMNS.map((c) => `r.${c}`).join(', ')}, coalesce(r.email_consent, false)
    from json_populate_recordset(null::leads, ?::json) as r
  on conflict ${LIVE_EMAIL_CONFLICT} do nothing
  returning ${LEAD_SELECT_LIST}`

/**
 * Inserts new leads (camelCase fields, each with its `id`) in one statement, in order. A row whose
 * normalized e-mail a live lead holds — also one inserted earlier by this statement — is not
 * inserted; a concurrent insert of the same address waits for the other's commit, then inserts
 * nothing. Returns the leads inserted, by id, and the rows of `alongside` (a create's §11 search,
 * issue 16: one round trip less), a read in the same statement — it sees the table as it was before
 * the insert; none when nothing was inserted.
 */
export async function insertLeads(tx: Tx, rows: readonly (Partial<Lead> & { id: string })[], alongside?: Statement): Promise<{ inserted: Map<string, Lead>; alongsideRows: object[] }> {
  const json = JSON.stringify(rows.map((row) => Lead.columnNameMappers.format({ ...row })))
  const { rows: inserted } = alongside
    // `inserted.*` is the RETURNING list, fixed; `a` is inside an aggregate (lib/db.ts fixedResult).
    ? await tx.trx.raw<{ rows: (object & { alongside: object[] })[] }>(
      `with inserted as (${INSERT_LEADS}), alongside as (${alongside.sql})\nselect inserted.*, (select coalesce(json_agg(a), '[]'::json) from alongside a) as alongside from inserted`,
      [json, ...alongside.bindings],
    ).options({ fixedResult: true })
    : await tx.trx.raw<{ rows: (object & { alongside?: undefined })[] }>(INSERT_LEADS, [json])
  const leads = new Map<string, Lead>()
  for (const { alongside: _, ...row } of inserted) {
    const lead = Lead.fromDatabaseJson(row)
    leads.set(lead.id, lead)
  }
  return { inserted: leads, alongsideRows: inserted[0]?.alongside ?? [] }
}

/** The CREATED activity of each new lead, one statement for all, to send with the create's other writes (lib/db.ts writeTogether). */
export function createdActivitiesWrite(tx: Tx, created: readonly { lead: Lead; summary: string }[], userId: string, occurredAt: Date): PendingWrite {
  return {
    sql: `insert into lead_activities (tenant_id, lead_id, type, summary, user_id, occurred_at, outcome, metadata)
     select ?, a.lead_id, 'CREATED', a.summary, ?, ?, null, '{}'::jsonb from unnest(?::uuid[], ?::text[]) as a (lead_id, summary)`,
    bindings: [tx.ctx.tenantId, userId, occurredAt, created.map((c) => c.lead.id), created.map((c) => c.summary)],
  }
}

/**
 * Moves activities to another lead (§12 merge and its undo): all of `fromLeadId`'s, or only the
 * given ones. Only `lead_id` changes; each activity keeps its id, time, author and content.
 */
export async function moveActivities(tx: Tx, fromLeadId: string, toLeadId: string, ids?: readonly string[]): Promise<string[]> {
  const builder = tx.trx('lead_activities').where('lead_id', fromLeadId).update({ lead_id: toLeadId })
  if (ids !== undefined) builder.whereIn('id', ids)
  const rows = (await builder.returning('id')) as { id: string }[]
  return rows.map((row) => row.id)
}

/** Writes `changes` as the lead's next version. */
export async function updateLead(tx: Tx, lead: Lead, changes: Partial<Lead>, now: Date): Promise<Lead> {
  // A new instance: `lead` stays the before-image callers describe changes with. One round trip.
  const [updated] = (await Lead.query(tx.trx).patch({ ...changes, version: lead.version + 1, updatedAt: now } as Partial<Lead>).where('id', lead.id).returning(raw(LEAD_SELECT_LIST))) as unknown as Lead[]
  return updated!
}

/** A timestamp on the wire: ISO 8601, or null. */
export const iso = (value: Date | null) => (value === null ? null : value.toISOString())

// Internal bookkeeping that is not part of the resource; the follow-up marks appear as `followUp`.
// Of §10's columns the resource shows the dates, the clock's state and the pauses; the progress anchor,
// the stop request's author and the next transition are the jobs' bookkeeping.
const NOT_IN_RESOURCE: ReadonlySet<LeadField> = new Set([
  'normalizationVersion', 't3SentAt', 't7SentAt',
  'lastProgressAt', 'progressPausedSeconds', 'clockStopRequestedBy', 'clockStopRequestedAt', 'protectionNextKind', 'protectionNextAt',
])

/** A column value on the wire: timestamps as ISO 8601, NUMERIC money as a number. */
function wireValue(field: LeadField, value: unknown): unknown {
  if (value instanceof Date) return value.toISOString()
  if (field === 'estimatedVolume' && value !== null && value !== undefined) return Number(value)
  return value ?? null
}

/** The wire form of a lead (§3): its fields in LEAD_FIELDS order. */
export function leadResource(lead: Lead, warnings?: string[]): Record<string, unknown> {
  const resource: Record<string, unknown> = {}
  for (const field of LEAD_FIELDS) {
    if (field === 't3SentAt') resource.followUp = { t3SentAt: iso(lead.t3SentAt), t7SentAt: iso(lead.t7SentAt) }
    if (!NOT_IN_RESOURCE.has(field)) resource[field] = wireValue(field, lead[field])
  }
  if (warnings !== undefined) resource.warnings = warnings
  return resource
}

export function activityResource(activity: LeadActivity): Record<string, unknown> {
  return {
    id: activity.id,
    leadId: activity.leadId,
    type: activity.type,
    occurredAt: iso(activity.occurredAt),
    summary: activity.summary,
    outcome: activity.outcome,
    userId: activity.userId,
    metadata: activity.metadata,
    createdAt: iso(activity.createdAt),
  }
}

/** The newest `occurred_at` among the lead's activities of these types, or null. */
export async function latestActivityAt(tx: Tx, leadId: string, types: readonly ActivityType[]): Promise<Date | null> {
  const row = (await tx.trx('lead_activities').where('lead_id', leadId).whereIn('type', types).max('occurred_at as at').first()) as { at: Date | null } | undefined
  return row?.at ?? null
}

/** A lead as the follow-up sweep weighs it, with its territory's time zone. */
export interface FollowUpCandidate {
  id: string
  tenantId: string
  territory: TerritoryCode
  status: LeadStatus
  registeredAt: Date
  /** PostgreSQL's text of registered_at: a Date would drop its microseconds, and leads imported in one transaction share one now(). */
  registeredKey: string
  t3SentAt: Date | null
  t7SentAt: Date | null
  timeZone: string
}

/** One keyset batch (registered_at, id) of leads with a follow-up open, registered before the given time. */
export async function followUpCandidates(
  tx: Tx,
  query: { registeredBefore: Date; statuses: readonly LeadStatus[]; after: { registeredAt: string; id: string } | null; limit: number },
): Promise<FollowUpCandidate[]> {
  const builder = tx
    .trx('leads as l')
    .join('territories as t', 't.code', 'l.territory')
    .select('l.id', 'l.tenant_id', 'l.territory', 'l.status', 'l.registered_at', tx.trx.raw('l.registered_at::text as registered_key'), 'l.t3_sent_at', 'l.t7_sent_at', 't.time_zone')
    .where((open) => open.whereNull('l.t3_sent_at').orWhereNull('l.t7_sent_at'))
    .whereIn('l.status', query.statuses)
    .where('l.registered_at', '<=', query.registeredBefore)
    .orderBy([{ column: 'l.registered_at' }, { column: 'l.id' }])
    .limit(query.limit)
  if (query.after) builder.whereRaw('(l.registered_at, l.id) > (?::timestamptz, ?::uuid)', [query.after.registeredAt, query.after.id])
  const rows = (await builder) as { id: string; tenant_id: string; territory: TerritoryCode; status: LeadStatus; registered_at: Date; registered_key: string; t3_sent_at: Date | null; t7_sent_at: Date | null; time_zone: string }[]
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    territory: row.territory,
    status: row.status,
    registeredAt: row.registered_at,
    registeredKey: row.registered_key,
    t3SentAt: row.t3_sent_at,
    t7SentAt: row.t7_sent_at,
    timeZone: row.time_zone,
  }))
}

/** A protected lead whose next transition is due (or was never computed), as the protection sweep finds it. */
export interface ProtectionCandidate {
  id: string
  tenantId: string
  territory: TerritoryCode
  nextKind: ProtectionKind | null
  /** PostgreSQL's text of the due time (microseconds kept) for the keyset. */
  dueKey: string
}

// Statuses as literals, not parameters: the partial index `leads_protection_due_idx` (V0011) is usable
// only when the planner can prove its predicate, which a generic plan of `status in ($1, …)` never
// allows (after five executions PostgreSQL may switch the prepared statement to one: a full scan per batch).
const PROTECTION_DUE = `coalesce(protection_next_at, '-infinity'::timestamptz)`
const PROTECTION_CANDIDATES = `select id, tenant_id, territory, protection_next_kind, ${PROTECTION_DUE}::text as due_key
  from leads
  where status in (${PROTECTED_STATUSES.map((status) => `'${status}'`).join(', ')}) and clock_stopped_at is null
    and ${PROTECTION_DUE} <= ? and (${PROTECTION_DUE}, id) > (?::timestamptz, ?::uuid)
  order by ${PROTECTION_DUE}, id
  limit ?`

/** One keyset batch of protected leads with a running clock whose next transition is due at `dueBy`. */
export async function protectionCandidates(tx: Tx, query: { dueBy: Date; after: { dueKey: string; id: string } | null; limit: number }): Promise<ProtectionCandidate[]> {
  const { rows } = await tx.trx.raw<{ rows: { id: string; tenant_id: string; territory: TerritoryCode; protection_next_kind: ProtectionKind | null; due_key: string }[] }>(
    PROTECTION_CANDIDATES, [query.dueBy, query.after?.dueKey ?? '-infinity', query.after?.id ?? '00000000-0000-0000-0000-000000000000', query.limit])
  return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, territory: row.territory, nextKind: row.protection_next_kind, dueKey: row.due_key }))
}

/**
 * Leads of every tenant that the pseudonymization (§13) is due for: EXPIRED, unchanged since
 * `untouchedSince`, and still holding a contact name, phone or plain e-mail. Oldest first, bounded.
 */
export async function pseudonymizationCandidates(tx: Tx, untouchedSince: Date, limit: number): Promise<{ id: string; tenantId: string; territory: TerritoryCode }[]> {
  const { rows } = await tx.trx.raw<{ rows: { id: string; tenant_id: string; territory: TerritoryCode }[] }>(
    `select id, tenant_id, territory from leads
      where status = 'EXPIRED' and updated_at <= ? and (contact_name is not null or phone is not null or email_normalized is not null or phone_e164 is not null)
      order by updated_at, id limit ?`,
    [untouchedSince, limit],
  )
  return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, territory: row.territory }))
}
