import type { Role, Territory } from '../lib/tenancy.ts'

// The lead domain of DOMAIN.md §2–§3 as plain data and pure functions: the API, the workers and
// the schemas read these lists. Migrations keep their own frozen copies for their CHECK
// constraints (a migration must not change when this file does); a new value needs both.

export const LEAD_STATUSES = ['REGISTERED', 'ACTIVE', 'REMINDER', 'GRACE_PERIOD', 'QUALIFIED', 'CONVERTED', 'LOST', 'EXPIRED', 'DELETED'] as const
export type LeadStatus = typeof LEAD_STATUSES[number]

export const LEAD_STAGES = ['VORMERKUNG', 'REGISTRIERUNG', 'QUALIFIZIERT'] as const
export type LeadStage = typeof LEAD_STAGES[number]

export const LEAD_SOURCES = ['MESSE', 'EMPFEHLUNG', 'TELEFON', 'WEB_FORMULAR', 'PARTNER', 'SONSTIGES'] as const
export type LeadSource = typeof LEAD_SOURCES[number]

export const BUSINESS_TYPES = ['RESTAURANT', 'HOTEL', 'CATERING', 'KANTINE', 'GROSSHANDEL', 'LEH', 'BILDUNG', 'GESUNDHEIT', 'SONSTIGES'] as const
export type BusinessType = typeof BUSINESS_TYPES[number]

export const KITCHEN_SIZES = ['KLEIN', 'MITTEL', 'GROSS', 'SEHR_GROSS'] as const
export type KitchenSize = typeof KITCHEN_SIZES[number]

export const ACTIVITY_OUTCOMES = ['SUCCESSFUL', 'UNSUCCESSFUL', 'NO_ANSWER', 'CALLBACK_REQUESTED', 'INFO_SENT', 'QUALIFIED', 'DISQUALIFIED'] as const
export type ActivityOutcome = typeof ACTIVITY_OUTCOMES[number]

/** Activity types a user may post (POST /api/leads/{id}/activities and `activities[]` on create). */
export const USER_ACTIVITY_TYPES = [
  'QUALIFIED_CALL', 'MEETING', 'DEMO', 'ROI_PRESENTATION', 'SAMPLE_SENT',
  'EMAIL', 'CALL', 'ORDER',
  'NOTE', 'FOLLOW_UP', 'SAMPLE_FEEDBACK', 'FIRST_CONTACT_DOCUMENTED',
] as const
export type UserActivityType = typeof USER_ACTIVITY_TYPES[number]

/** Activity types only the system writes; a request carrying one of them is rejected. */
export const SYSTEM_ACTIVITY_TYPES = [
  'CREATED', 'STATUS_CHANGE', 'ASSIGNED', 'FOLLOW_UP_T3', 'FOLLOW_UP_T7', 'REMINDER_SENT', 'DELETED', 'MERGED', 'UNMERGED',
  // §10 lead protection (migrations/V0011)
  'GRACE_PERIOD_STARTED', 'PROTECTION_EXPIRED', 'CLOCK_STOP_REQUESTED', 'CLOCK_STOPPED', 'CLOCK_RESUMED', 'REGISTERED_AT_CHANGED',
  // §13 consent and privacy (migrations/V0014)
  'CONSENT_REVOKED', 'ERASED', 'PSEUDONYMIZED',
] as const
export type SystemActivityType = typeof SYSTEM_ACTIVITY_TYPES[number]

export const ACTIVITY_TYPES = [...USER_ACTIVITY_TYPES, ...SYSTEM_ACTIVITY_TYPES] as const
export type ActivityType = typeof ACTIVITY_TYPES[number]

/**
 * Bounds of an activity's free-form `metadata` (it is stored with the activity and copied into its
 * `activity_added` event): serialized size in UTF-8 bytes, nesting depth (the metadata object
 * itself is depth 1) and keys counted over every level.
 */
export const ACTIVITY_METADATA_LIMITS = { maxBytes: 16 * 1024, maxDepth: 5, maxKeys: 50 } as const

export { TERRITORIES, USER_ROLES, type Role, type Territory as TerritoryCode, type UserRole } from '../lib/tenancy.ts'

export const DEFAULT_COUNTRY_CODE = 'DE'
export const DEFAULT_LEAD_SOURCE: LeadSource = 'WEB_FORMULAR'
export const INITIAL_LEAD_STATUS: LeadStatus = 'REGISTERED'

/** Narrows an unknown value to one of the given constants (for request and row parsing). */
export function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value)
}

export const isLeadStatus = (value: unknown): value is LeadStatus => isOneOf(LEAD_STATUSES, value)
export const isUserActivityType = (value: unknown): value is UserActivityType => isOneOf(USER_ACTIVITY_TYPES, value)

/** §2: CH → CH; DE, AT and every other country (also unknown or blank ones) → DE. */
export function territoryForCountry(countryCode: string): Territory {
  return countryCode.trim().toUpperCase() === 'CH' ? 'CH' : 'DE'
}

export type TransitionCheck = { ok: true; noop: boolean } | { ok: false; reason: string }

/**
 * §3: the status changes a PATCH (or a job) may make. DELETED is absent on purpose: it is reached
 * only through DELETE, which does not ask this table.
 */
export const ALLOWED_STATUS_TRANSITIONS: Readonly<Record<LeadStatus, readonly LeadStatus[]>> = {
  REGISTERED: ['ACTIVE', 'QUALIFIED', 'EXPIRED'],
  ACTIVE: ['QUALIFIED', 'REMINDER', 'EXPIRED'],
  REMINDER: ['ACTIVE', 'GRACE_PERIOD', 'QUALIFIED', 'EXPIRED'],
  GRACE_PERIOD: ['ACTIVE', 'QUALIFIED', 'EXPIRED'],
  QUALIFIED: ['CONVERTED', 'LOST'],
  CONVERTED: [],
  LOST: [],
  EXPIRED: ['ACTIVE'],
  DELETED: [],
}

const TERMINAL_STATUSES: readonly LeadStatus[] = ['CONVERTED', 'LOST', 'DELETED']

/** Roles that may bring an EXPIRED lead back; SYSTEM is included for data migrations and jobs. */
const REACTIVATING_ROLES: readonly Role[] = ['MANAGER', 'ADMIN', 'SYSTEM']

export function isTerminalStatus(status: LeadStatus): boolean {
  return TERMINAL_STATUSES.includes(status)
}

/**
 * Whether `role` may change a lead's status from `from` to `to`. Same → same is a no-op for every
 * status, terminal ones included, so a PATCH that repeats the current status never fails.
 * Every refusal's reason starts with "Status cannot change from X to Y"; special cases add why.
 */
export function checkStatusTransition(from: LeadStatus, to: LeadStatus, role: Role): TransitionCheck {
  if (from === to) return { ok: true, noop: true }
  const refused = `Status cannot change from ${from} to ${to}`
  if (to === 'DELETED') return { ok: false, reason: `${refused}: a lead is deleted only with DELETE /api/leads/{id}` }
  if (isTerminalStatus(from)) return { ok: false, reason: `${refused}: ${from} is a final status` }
  if (!ALLOWED_STATUS_TRANSITIONS[from].includes(to)) return { ok: false, reason: refused }
  if (from === 'EXPIRED' && !REACTIVATING_ROLES.includes(role)) {
    return { ok: false, reason: `${refused}: only a MANAGER or ADMIN may reactivate an expired lead` }
  }
  return { ok: true, noop: false }
}

/** The summary of the STATUS_CHANGE activity every status change writes (§3). */
export function statusChangeSummary(from: LeadStatus, to: LeadStatus): string {
  return `Status changed from ${from} to ${to}`
}

// §3 table: a meaningful contact touches the lead; progress additionally moves the sale forward.
const PROGRESS_ACTIVITY_TYPES: readonly ActivityType[] = ['QUALIFIED_CALL', 'MEETING', 'DEMO', 'ROI_PRESENTATION', 'SAMPLE_SENT']
const MEANINGFUL_ACTIVITY_TYPES: readonly ActivityType[] = [...PROGRESS_ACTIVITY_TYPES, 'EMAIL', 'CALL', 'ORDER']

/** Meaningful contact: sets `lastActivityAt` and reactivates REGISTERED/REMINDER/GRACE_PERIOD leads. */
export function isMeaningfulActivity(type: ActivityType): boolean {
  return MEANINGFUL_ACTIVITY_TYPES.includes(type)
}

export function countsAsProgress(type: ActivityType): boolean {
  return PROGRESS_ACTIVITY_TYPES.includes(type)
}

const REACTIVATED_BY_ACTIVITY: readonly LeadStatus[] = ['REGISTERED', 'REMINDER', 'GRACE_PERIOD']

/** The status a lead moves to when an activity of `type` is added, or null when it stays. */
export function statusAfterActivity(status: LeadStatus, type: ActivityType): LeadStatus | null {
  return isMeaningfulActivity(type) && REACTIVATED_BY_ACTIVITY.includes(status) ? 'ACTIVE' : null
}

const FIRST_CONTACT_SOURCES: readonly LeadSource[] = ['MESSE', 'TELEFON']

/** MESSE and TELEFON leads must be created with a FIRST_CONTACT_DOCUMENTED activity (else 400). */
export function requiresFirstContact(source: LeadSource): boolean {
  return FIRST_CONTACT_SOURCES.includes(source)
}

/** A documented first contact registers the lead at once; other sources start as a pre-claim. */
export function initialStage(source: LeadSource): LeadStage {
  return requiresFirstContact(source) ? 'REGISTRIERUNG' : 'VORMERKUNG'
}

/** Stages move forward by exactly one step; staying is a no-op. */
export function checkStageChange(from: LeadStage, to: LeadStage): TransitionCheck {
  if (from === to) return { ok: true, noop: true }
  const step = LEAD_STAGES.indexOf(to) - LEAD_STAGES.indexOf(from)
  if (step === 1) return { ok: true, noop: false }
  const why = step < 0 ? 'stages never move backwards' : 'stages move forward one step at a time'
  return { ok: false, reason: `Stage cannot change from ${from} to ${to}: ${why}` }
}
