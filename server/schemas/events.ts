// JSON Schemas of the event API (§7): the query validators and the OpenAPI document use them both.
import { LEAD_EVENT_TYPES } from '../../models/events.ts'
import { TERRITORIES } from '../../lib/tenancy.ts'

/** Outbox sequence numbers stay far below 2^53; 15 digits keep them exact in JSON. */
const seq = { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 } as const

export const eventPageQuerySchema = {
  $id: 'EventPageQuery',
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { ...seq, description: 'Return events with a larger sequence number (default 0).' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Events per page (default 100). A page also ends once its events\' data reach 1 MiB (at least one event), so it may hold fewer: page on from `nextAfter` until `data` is empty.' },
  },
} as const

export const eventStreamQuerySchema = {
  $id: 'EventStreamQuery',
  type: 'object',
  additionalProperties: false,
  properties: {
    lastEventId: { ...seq, description: 'Replay from here on a first connect; the Last-Event-ID header takes precedence.' },
    access_token: { type: 'string', description: 'The bearer token, for EventSource, which cannot send headers.' },
  },
} as const

export const leadCloudEventSchema = {
  $id: 'LeadCloudEvent',
  type: 'object',
  description: 'CloudEvents 1.0, structured JSON mode. On NOTIFY and the SSE stream, `data` above 7680 bytes is replaced by {truncated, reference, originalSizeBytes}.',
  required: ['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'data', 'idempotencykey', 'territory', 'tenantid'],
  properties: {
    specversion: { const: '1.0' },
    id: { type: 'string', format: 'uuid' },
    source: { const: '/freshplan/leads' },
    type: { enum: [...LEAD_EVENT_TYPES] },
    time: { type: 'string', format: 'date-time' },
    subject: { type: 'string', format: 'uuid', description: 'The lead id.' },
    datacontenttype: { const: 'application/json' },
    data: {},
    idempotencykey: { type: 'string', format: 'uuid', description: 'UUID v3 (Java UUID.nameUUIDFromBytes) of "<leadId>|<type>|<lead version>".' },
    territory: { enum: TERRITORIES },
    tenantid: { type: 'string' },
  },
} as const

export const eventPageSchema = {
  $id: 'EventPage',
  type: 'object',
  required: ['data', 'nextAfter'],
  properties: {
    data: { type: 'array', items: { type: 'object', required: ['seq', 'event'], properties: { seq: { type: 'integer' }, event: { $ref: 'LeadCloudEvent' } } } },
    nextAfter: { type: 'integer', description: 'The `after` of the next page (the last seq of this one).' },
  },
} as const

export const eventSchemas = [eventPageQuerySchema, eventStreamQuerySchema, leadCloudEventSchema, eventPageSchema]
