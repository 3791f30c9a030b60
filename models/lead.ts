import { Model, snakeCaseMappers } from 'objection'
import type { Knex } from '../lib/db.ts'
import type { ClockStopStatus, ProtectionKind } from './protection-rules.ts'
import type { ActivityOutcome, ActivityType, BusinessType, KitchenSize, LeadSource, LeadStage, LeadStatus, TerritoryCode } from './lead-rules.ts'

// Objection models: column names are snake_case in PostgreSQL and camelCase here and on the wire.
// Queries always go through a transaction from lib/db.ts inTransaction (`Lead.query(tx.trx)`), so
// row-level security sees who asks.

// Queries name their columns instead of `*`, so a column a migration adds while this code runs
// (expand, then contract) changes no result shape: prepared statements stay valid (lib/db.ts).
// Each list is also kept as one quoted SQL fragment: knex then quotes nothing per query.
const columnsOf = (table: string, columns: readonly string[]): string[] => columns.map((column) => `${table}.${column}`)
const selectList = (columns: readonly string[]): string => columns.map((c) => c.split('.').map((part) => `"${part}"`).join('.')).join(', ')

export const LEAD_COLUMNS: readonly string[] = columnsOf('leads', [
  'id', 'tenant_id', 'territory', 'company_name', 'contact_name', 'email', 'phone', 'website', 'street', 'postal_code', 'city',
  'country_code', 'source', 'source_campaign', 'business_type', 'kitchen_size', 'employee_count', 'estimated_volume',
  'email_consent', 'notes', 'status', 'stage', 'owner_user_id', 'collaborator_user_ids', 'registered_at', 'last_activity_at',
  't3_sent_at', 't7_sent_at', 'version', 'created_at', 'created_by', 'updated_at', 'deleted_at', 'email_normalized',
  'name_normalized', 'phone_e164', 'normalization_version',
  // §10 lead protection (V0011)
  'protection_start_at', 'protection_until', 'progress_deadline', 'last_progress_at', 'paused_seconds', 'progress_paused_seconds',
  'clock_stop_status', 'clock_stopped_at', 'stop_reason', 'clock_stop_requested_by', 'clock_stop_requested_at',
  'protection_next_kind', 'protection_next_at',
])

export const ACTIVITY_COLUMNS: readonly string[] = columnsOf('lead_activities', [
  'id', 'tenant_id', 'lead_id', 'type', 'occurred_at', 'summary', 'outcome', 'user_id', 'metadata', 'created_at',
])

/** `"leads"."id", "leads"."tenant_id", …` */
export const LEAD_SELECT_LIST = selectList(LEAD_COLUMNS)
/** `"lead_activities"."id", …` */
export const ACTIVITY_SELECT_LIST = selectList(ACTIVITY_COLUMNS)

export class Territory extends Model {
  static tableName = 'territories'
  static idColumn = 'code'
  static columnNameMappers = snakeCaseMappers()
  declare code: TerritoryCode
  declare name: string
  declare currency: string
  declare vatRate: string
  declare locale: string
  declare timeZone: string
}

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
  // §10 lead protection (models/protection-rules.ts); the dates are null until first computed.
  declare protectionStartAt: Date | null
  declare protectionUntil: Date | null
  declare progressDeadline: Date | null
  declare lastProgressAt: Date | null
  declare pausedSeconds: number
  declare progressPausedSeconds: number
  declare clockStopStatus: ClockStopStatus | null
  declare clockStoppedAt: Date | null
  declare stopReason: string | null
  declare clockStopRequestedBy: string | null
  declare clockStopRequestedAt: Date | null
  declare protectionNextKind: ProtectionKind | null
  declare protectionNextAt: Date | null
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

/** The lead with this id as row-level security lets the transaction see it; `forUpdate` also locks the row until commit. */
export async function leadById(trx: Knex.Transaction, id: string, options: { forUpdate?: boolean } = {}): Promise<Lead | undefined> {
  const { rows } = await trx.raw<{ rows: object[] }>(options.forUpdate ? LEAD_BY_ID_FOR_UPDATE : LEAD_BY_ID, [id])
  return rows[0] === undefined ? undefined : Lead.fromDatabaseJson(rows[0])
}

/** A timestamp on the wire: ISO 8601, or null. */
export const iso = (value: Date | null) => (value === null ? null : value.toISOString())

/** The wire form of a lead (§3). */
export function leadResource(lead: Lead, warnings?: string[]): Record<string, unknown> {
  return {
    id: lead.id,
    tenantId: lead.tenantId,
    territory: lead.territory,
    companyName: lead.companyName,
    contactName: lead.contactName,
    email: lead.email,
    phone: lead.phone,
    website: lead.website,
    street: lead.street,
    postalCode: lead.postalCode,
    city: lead.city,
    countryCode: lead.countryCode,
    source: lead.source,
    sourceCampaign: lead.sourceCampaign,
    businessType: lead.businessType,
    kitchenSize: lead.kitchenSize,
    employeeCount: lead.employeeCount,
    estimatedVolume: lead.estimatedVolume === null ? null : Number(lead.estimatedVolume),
    emailConsent: lead.emailConsent,
    notes: lead.notes,
    status: lead.status,
    stage: lead.stage,
    ownerUserId: lead.ownerUserId,
    collaboratorUserIds: lead.collaboratorUserIds,
    registeredAt: iso(lead.registeredAt),
    lastActivityAt: iso(lead.lastActivityAt),
    followUp: { t3SentAt: iso(lead.t3SentAt), t7SentAt: iso(lead.t7SentAt) },
    version: lead.version,
    createdAt: iso(lead.createdAt),
    createdBy: lead.createdBy,
    updatedAt: iso(lead.updatedAt),
    deletedAt: iso(lead.deletedAt),
    emailNormalized: lead.emailNormalized ?? null,
    nameNormalized: lead.nameNormalized ?? null,
    phoneE164: lead.phoneE164 ?? null,
    protectionStartAt: iso(lead.protectionStartAt ?? null),
    protectionUntil: iso(lead.protectionUntil ?? null),
    progressDeadline: iso(lead.progressDeadline ?? null),
    clockStoppedAt: iso(lead.clockStoppedAt ?? null),
    clockStopStatus: lead.clockStopStatus ?? null,
    stopReason: lead.stopReason ?? null,
    pausedSeconds: lead.pausedSeconds ?? 0,
    ...(warnings !== undefined && { warnings }),
  }
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
