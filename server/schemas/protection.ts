// §10 stop-the-clock and backdating payloads (one schema each, for ajv and OpenAPI).
import { BACKDATING_REASON_LENGTH, CLOCK_STOP_STATUSES, STOP_REASON_LENGTH } from '../../models/protection-rules.ts'

/** Plain text only, as everywhere (§3). */
const NO_HTML = '^(?![\\s\\S]*<[A-Za-z!/?][^>]*>)[\\s\\S]*$'
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const

export const clockStopSchema = {
  $id: 'ClockStop',
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: { reason: { type: 'string', minLength: STOP_REASON_LENGTH.min, maxLength: STOP_REASON_LENGTH.max, pattern: NO_HTML } },
} as const

export const registeredAtChangeSchema = {
  $id: 'RegisteredAtChange',
  type: 'object',
  additionalProperties: false,
  required: ['registeredAt', 'reason'],
  properties: {
    registeredAt: { type: 'string', format: 'date-time', description: 'not in the future' },
    reason: { type: 'string', minLength: BACKDATING_REASON_LENGTH.min, maxLength: BACKDATING_REASON_LENGTH.max, pattern: NO_HTML },
  },
} as const

export const clockStateSchema = {
  $id: 'ClockState',
  type: 'object',
  properties: {
    leadId: { type: 'string', format: 'uuid' },
    status: { enum: [...CLOCK_STOP_STATUSES, 'RUNNING'], description: 'REQUESTED: a SALES request waits for a manager\'s approval' },
    reason: { type: ['string', 'null'] },
    requestedBy: { type: ['string', 'null'] },
    requestedAt: nullableTimestamp,
    stoppedAt: nullableTimestamp,
    pausedSeconds: { type: 'integer' },
    protectionUntil: nullableTimestamp,
    progressDeadline: nullableTimestamp,
    leadVersion: { type: 'integer' },
  },
} as const

export const protectionSchemas = [clockStopSchema, registeredAtChangeSchema, clockStateSchema]
