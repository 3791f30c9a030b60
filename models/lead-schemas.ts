// One JSON Schema per payload: ajv validates requests (server/validation.ts) and import rows
// (models/validation.ts) with it, and server/openapi.ts publishes it. In models/ because the import
// job validates each row with the very schema of POST /api/leads.
import {
  ACTIVITY_METADATA_LIMITS,
  ACTIVITY_OUTCOMES,
  ACTIVITY_TYPES,
  BUSINESS_TYPES,
  KITCHEN_SIZES,
  LEAD_SOURCES,
  LEAD_STAGES,
  LEAD_STATUSES,
  TERRITORIES,
  USER_ACTIVITY_TYPES,
} from './lead-rules.ts'
import type { EditableLeadField } from './lead-table.ts'

/** Plain text only: a string that contains something shaped like an HTML tag is rejected (§3). */
const NO_HTML = '^(?![\\s\\S]*<[A-Za-z!/?][^>]*>)[\\s\\S]*$'

const text = (maxLength: number, minLength = 0) => ({ type: 'string', minLength, maxLength, pattern: NO_HTML }) as const
const optionalText = (maxLength: number) => ({ type: ['string', 'null'], maxLength, pattern: NO_HTML }) as const
const optionalEnum = (values: readonly string[]) => ({ enum: [...values, null] }) as const
const userId = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9._@:|-]+$' } as const

const editableLeadProperties = {
  companyName: text(255, 1),
  contactName: optionalText(255),
  email: { type: ['string', 'null'], maxLength: 320, format: 'email' },
  phone: optionalText(64),
  website: optionalText(2048),
  street: optionalText(255),
  postalCode: optionalText(20),
  city: optionalText(255),
  countryCode: { type: 'string', pattern: '^[A-Za-z]{2}$', description: 'ISO 3166 alpha-2; CH → territory CH, everything else → DE' },
  source: { enum: LEAD_SOURCES },
  sourceCampaign: optionalText(255),
  businessType: optionalEnum(BUSINESS_TYPES),
  kitchenSize: optionalEnum(KITCHEN_SIZES),
  employeeCount: { type: ['integer', 'null'], minimum: 0, maximum: 10_000_000 },
  estimatedVolume: { type: ['number', 'null'], minimum: 0, maximum: 999_999_999_999 },
  emailConsent: { type: 'boolean' },
  notes: optionalText(10_000),
} as const satisfies Record<EditableLeadField, object>

export const activityCreateSchema = {
  $id: 'ActivityCreate',
  type: 'object',
  additionalProperties: false,
  required: ['type', 'summary'],
  properties: {
    type: { enum: USER_ACTIVITY_TYPES, description: 'user-postable types only' },
    occurredAt: { type: 'string', format: 'date-time' },
    summary: text(1000, 1),
    outcome: optionalEnum(ACTIVITY_OUTCOMES),
    metadata: {
      type: 'object',
      maxProperties: ACTIVITY_METADATA_LIMITS.maxKeys,
      'x-jsonLimits': ACTIVITY_METADATA_LIMITS,
      description: `free-form JSON object: at most ${ACTIVITY_METADATA_LIMITS.maxBytes} bytes as JSON, ${ACTIVITY_METADATA_LIMITS.maxDepth} levels deep, ${ACTIVITY_METADATA_LIMITS.maxKeys} keys in all`,
    },
  },
} as const

export const leadCreateSchema = {
  $id: 'LeadCreate',
  type: 'object',
  additionalProperties: false,
  required: ['companyName'],
  properties: {
    ...editableLeadProperties,
    ownerUserId: { ...userId, description: 'MANAGER/ADMIN only; SALES always become the owner' },
    activities: { type: 'array', maxItems: 20, items: { $ref: 'ActivityCreate' } },
  },
} as const

export const leadPatchSchema = {
  $id: 'LeadPatch',
  description: 'JSON merge patch (RFC 7396) of the editable fields; null removes an optional value.',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    ...editableLeadProperties,
    status: { enum: LEAD_STATUSES },
    stage: { enum: LEAD_STAGES },
  },
} as const

export const ownerPutSchema = {
  $id: 'OwnerAssignment',
  type: 'object',
  additionalProperties: false,
  required: ['ownerUserId'],
  properties: { ownerUserId: userId },
} as const

const timestamp = { type: 'string', format: 'date-time' } as const
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const

const leadProperties = {
  id: { type: 'string', format: 'uuid' },
  tenantId: { type: 'string' },
  territory: { enum: TERRITORIES },
  ...editableLeadProperties,
  status: { enum: LEAD_STATUSES },
  stage: { enum: LEAD_STAGES },
  ownerUserId: { type: ['string', 'null'], description: 'null once protection expired and released the owner (§10)' },
  collaboratorUserIds: { type: 'array', items: { type: 'string' } },
  registeredAt: timestamp,
  lastActivityAt: nullableTimestamp,
  followUp: { type: 'object', required: ['t3SentAt', 't7SentAt'], properties: { t3SentAt: nullableTimestamp, t7SentAt: nullableTimestamp } },
  version: { type: 'integer' },
  createdAt: timestamp,
  createdBy: { type: 'string' },
  updatedAt: timestamp,
  deletedAt: nullableTimestamp,
  emailNormalized: { type: ['string', 'null'] },
  nameNormalized: { type: ['string', 'null'] },
  phoneE164: { type: ['string', 'null'] },
  mergedIntoId: { type: ['string', 'null'], format: 'uuid', description: 'the survivor this lead was merged into (§12)' },
  protectionStartAt: { ...nullableTimestamp, description: '§10: = registeredAt' },
  protectionUntil: { ...nullableTimestamp, description: '§10: start + protection months (calendar, territory time) + paused time' },
  progressDeadline: { ...nullableTimestamp, description: '§10: last progress (or start) + progress days + paused time since' },
  clockStoppedAt: nullableTimestamp,
  clockStopStatus: { enum: ['REQUESTED', 'STOPPED', null] },
  stopReason: { type: ['string', 'null'] },
  pausedSeconds: { type: 'integer', description: 'every finished pause of the clock' },
  consentRevokedAt: { ...nullableTimestamp, description: 'when e-mail consent was withdrawn (§13)' },
  warnings: { type: 'array', items: { type: 'string' }, description: 'data-quality findings of this write' },
  possibleDuplicates: { type: 'array', items: { $ref: 'MatchCandidate' }, description: 'only in the answer of a create: the candidates that opened a review (§11), best first' },
} as const

/** Response schemas list every member the service always sends (null where there is no value) as required. */
export const leadSchema = {
  $id: 'Lead',
  type: 'object',
  required: Object.keys(leadProperties).filter((name) => name !== 'warnings' && name !== 'possibleDuplicates'),
  properties: leadProperties,
} as const

export const activitySchema = {
  $id: 'Activity',
  type: 'object',
  required: ['id', 'leadId', 'type', 'occurredAt', 'summary', 'outcome', 'userId', 'metadata', 'createdAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    leadId: { type: 'string', format: 'uuid' },
    type: { enum: ACTIVITY_TYPES },
    occurredAt: timestamp,
    summary: { type: 'string' },
    outcome: { enum: [...ACTIVITY_OUTCOMES, null] },
    userId: { type: 'string' },
    metadata: { type: 'object' },
    createdAt: timestamp,
  },
} as const

export const LEAD_SORT_KEYS = ['createdAt', 'updatedAt', 'companyName', 'status', 'lastActivityAt'] as const

export const leadListQuerySchema = {
  $id: 'LeadListQuery',
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { enum: LEAD_STATUSES },
    territory: { enum: TERRITORIES },
    ownerUserId: userId,
    source: { enum: LEAD_SOURCES },
    businessType: { enum: BUSINESS_TYPES },
    q: { type: 'string', minLength: 1, maxLength: 200 },
    createdFrom: { type: 'string', format: 'date-time' },
    createdTo: { type: 'string', format: 'date-time' },
    sort: { enum: LEAD_SORT_KEYS.flatMap((key) => [key, `-${key}`]) },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
    cursor: { type: 'string', maxLength: 1000 },
    includeTotal: { type: 'boolean' },
  },
} as const

export const pageQuerySchema = {
  $id: 'PageQuery',
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 200 },
    cursor: { type: 'string', maxLength: 1000 },
  },
} as const

export const loginSchema = {
  $id: 'Login',
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, maxLength: 8192 } },
} as const

export const eraseRequestSchema = {
  $id: 'EraseRequest',
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: { reason: { type: 'string', minLength: 10, maxLength: 500, description: 'why the data is erased (kept in the ERASED history entry)' } },
} as const

export const leadExportSchema = {
  $id: 'LeadExport',
  description: 'Everything stored about a lead (§13): the lead, all activities, history rows, events (CloudEvents) and mails.',
  type: 'object',
  required: ['exportedAt', 'lead', 'activities', 'history', 'events', 'mails'],
  properties: {
    exportedAt: timestamp,
    lead: { $ref: 'Lead' },
    activities: { type: 'array', items: { $ref: 'Activity' } },
    history: { type: 'array', items: { type: 'object' } },
    events: { type: 'array', items: { type: 'object' } },
    mails: { type: 'array', items: { type: 'object' } },
  },
} as const

export const leadSchemas = [eraseRequestSchema, leadExportSchema, loginSchema, activityCreateSchema, leadCreateSchema, leadPatchSchema, ownerPutSchema, leadSchema, activitySchema, leadListQuerySchema, pageQuerySchema]
