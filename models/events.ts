// The lead events of DOMAIN.md §7 as plain data: which types exist, the CloudEvents 1.0 envelope,
// which channels carry a type, how a NOTIFY payload stays under PostgreSQL's 8000-byte limit, and
// who may see an event. No I/O here; jobs/events.ts and server/ do the writing and sending.
import type { SecurityContext, Territory } from '../lib/db.ts'

export const LEAD_EVENT_TYPES = [
  'freshplan.lead.created',
  'freshplan.lead.updated',
  'freshplan.lead.status_changed',
  'freshplan.lead.deleted',
  'freshplan.lead.activity_added',
  'freshplan.lead.followup_sent',
  'freshplan.lead.duplicate_detected',
  'freshplan.lead.merged',
  'freshplan.lead.unmerged',
  // §10 stop-the-clock
  'freshplan.lead.clock_stopped',
  'freshplan.lead.clock_resumed',
  // §13 consent and privacy
  'freshplan.lead.consent_revoked',
  'freshplan.lead.erased',
] as const

export type LeadEventType = (typeof LEAD_EVENT_TYPES)[number]

export const EVENT_SOURCE = '/freshplan/leads'
export const DASHBOARD_CHANNEL = 'dashboard_updates'
export const CROSS_MODULE_CHANNEL = 'cross_module_events'
export type EventChannel = typeof DASHBOARD_CHANNEL | typeof CROSS_MODULE_CHANNEL

/** What other modules need to hear about; everything goes to the dashboards. */
const CROSS_MODULE_TYPES: ReadonlySet<LeadEventType> = new Set(['freshplan.lead.created', 'freshplan.lead.status_changed', 'freshplan.lead.deleted'])

/** Above this many bytes a NOTIFY payload carries a reference instead of `data` (PostgreSQL refuses 8000). */
export const NOTIFY_PAYLOAD_LIMIT_BYTES = 7680

export function isLeadEventType(value: unknown): value is LeadEventType {
  return typeof value === 'string' && (LEAD_EVENT_TYPES as readonly string[]).includes(value)
}

export function channelsFor(type: LeadEventType): EventChannel[] {
  return CROSS_MODULE_TYPES.has(type) ? [DASHBOARD_CHANNEL, CROSS_MODULE_CHANNEL] : [DASHBOARD_CHANNEL]
}

/** CloudEvents 1.0, structured JSON mode, with the extension attributes of §7. */
export interface LeadCloudEvent {
  specversion: '1.0'
  id: string
  source: typeof EVENT_SOURCE
  type: LeadEventType
  time: string
  subject: string
  datacontenttype: 'application/json'
  data: unknown
  idempotencykey: string
  territory: Territory
  tenantid: string
}

export interface TruncatedData {
  truncated: true
  reference: string
  originalSizeBytes: number
}

/** An outbox row as the code reads it (models/event-outbox.ts maps the columns). */
export interface LeadEventRecord {
  id: string
  seq: number | null
  tenantId: string
  territory: Territory
  leadId: string
  ownerUserId: string | null
  collaboratorUserIds: string[]
  type: LeadEventType
  idempotencyKey: string
  time: Date
  data: unknown
}

/** Who may see an event: a snapshot of the lead's tenant, territory and people when it happened. */
export type EventVisibility = Pick<LeadEventRecord, 'tenantId' | 'territory' | 'ownerUserId' | 'collaboratorUserIds'>

export function cloudEventOf(record: LeadEventRecord): LeadCloudEvent {
  return {
    specversion: '1.0',
    id: record.id,
    source: EVENT_SOURCE,
    type: record.type,
    time: record.time.toISOString(),
    subject: record.leadId,
    datacontenttype: 'application/json',
    data: record.data,
    idempotencykey: record.idempotencyKey,
    territory: record.territory,
    tenantid: record.tenantId,
  }
}

/**
 * The text sent with NOTIFY (and, so that live and replayed events look alike, on the SSE stream):
 * the CloudEvent as JSON, or, when that exceeds the limit, the same envelope whose `data` points to
 * the full event (`GET /api/events/{id}`). `originalSizeBytes` is the size of the full payload.
 */
export function notifyPayload(event: LeadCloudEvent): { payload: string; truncated: boolean; bytes: number } {
  const full = JSON.stringify(event)
  const bytes = Buffer.byteLength(full, 'utf8')
  if (bytes <= NOTIFY_PAYLOAD_LIMIT_BYTES) return { payload: full, truncated: false, bytes }
  const data: TruncatedData = { truncated: true, reference: event.id, originalSizeBytes: bytes }
  const payload = JSON.stringify({ ...event, data })
  return { payload, truncated: true, bytes: Buffer.byteLength(payload, 'utf8') }
}

/**
 * The rule of the outbox's select policy (V0010), for events that arrive by NOTIFY and are filtered
 * in the process: same tenant, a territory of the caller, and for SALES only leads they own or
 * collaborate on. The policy reads the lead's current people; here the event's snapshot stands in
 * for them, which for an event just published is the same (docs/events.md, "Who sees an event").
 */
export function maySee(ctx: SecurityContext, event: EventVisibility): boolean {
  if (ctx.tenantId !== event.tenantId || !ctx.territories.includes(event.territory)) return false
  if (ctx.role === 'MANAGER' || ctx.role === 'ADMIN' || ctx.role === 'SYSTEM') return true
  return event.ownerUserId === ctx.userId || event.collaboratorUserIds.includes(ctx.userId)
}

/** Reads a NOTIFY payload back; undefined when it is not one of our CloudEvents. */
export function parseLeadCloudEvent(text: string): LeadCloudEvent | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const event = value as Record<string, unknown>
  const strings = ['id', 'time', 'subject', 'idempotencykey', 'territory', 'tenantid'] as const
  if (event.specversion !== '1.0' || event.source !== EVENT_SOURCE || !isLeadEventType(event.type)) return undefined
  if (!strings.every((name) => typeof event[name] === 'string' && event[name] !== '')) return undefined
  if (event.territory !== 'DE' && event.territory !== 'CH') return undefined
  return event as unknown as LeadCloudEvent
}
