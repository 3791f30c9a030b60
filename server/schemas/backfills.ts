// One JSON Schema per payload of the admin backfill resources (§5); registered with ajv in
// server/validation.ts and published by server/openapi.ts.
import { BACKFILL_KINDS, BACKFILL_STATUSES, MAX_BATCH_SIZE } from '../../models/backfills.ts'

export const backfillCreateSchema = {
  $id: 'BackfillCreate',
  description: 'Starts a normalization backfill of the caller\'s tenant; an empty body takes the defaults.',
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { enum: BACKFILL_KINDS, description: 'what is backfilled; NORMALIZATION recomputes the §5 columns of stale leads' },
    batchSize: { type: 'integer', minimum: 100, maximum: MAX_BATCH_SIZE, description: 'leads per transaction (default 2000)' },
  },
} as const

const timestamp = { type: 'string', format: 'date-time' } as const
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const
const uuid = { type: 'string', format: 'uuid' } as const

export const backfillCollisionSchema = {
  $id: 'BackfillCollision',
  description: 'A lead whose normalized e-mail another live lead holds: it keeps its row, with emailNormalized null.',
  type: 'object',
  required: ['leadId', 'emailNormalized', 'existingLeadId', 'detectedAt'],
  properties: {
    leadId: uuid,
    emailNormalized: { type: 'string' },
    existingLeadId: { type: ['string', 'null'], format: 'uuid', description: 'the lead holding the address; null when the caller may not see it' },
    detectedAt: timestamp,
  },
} as const

export const backfillSchema = {
  $id: 'Backfill',
  type: 'object',
  required: ['id', 'tenantId', 'kind', 'targetVersion', 'status', 'processed', 'total', 'progress', 'duplicatesFound', 'failed', 'batchSize', 'lastLeadId', 'lastError', 'createdBy', 'startedAt', 'updatedAt', 'finishedAt', 'collisions', 'collisionsNextCursor'],
  properties: {
    id: uuid,
    tenantId: { type: 'string' },
    kind: { enum: BACKFILL_KINDS },
    targetVersion: { type: 'integer', description: 'the normalization version the leads are brought to' },
    status: { enum: BACKFILL_STATUSES },
    processed: { type: 'integer', description: 'leads handled so far (normalized, collided or failed)' },
    total: { type: ['integer', 'null'], description: 'stale leads when the backfill began; null until a worker counted them' },
    progress: { type: ['number', 'null'], minimum: 0, maximum: 1 },
    duplicatesFound: { type: 'integer', description: 'leads whose normalized e-mail collided with another live lead' },
    failed: { type: 'integer', description: 'leads that could not be normalized; they stay stale for the next backfill' },
    batchSize: { type: 'integer' },
    lastLeadId: { type: ['string', 'null'], format: 'uuid', description: 'keyset position: the last lead id a committed batch handled' },
    lastError: { type: ['string', 'null'] },
    createdBy: { type: 'string' },
    startedAt: timestamp,
    updatedAt: timestamp,
    finishedAt: nullableTimestamp,
    collisions: { type: 'array', items: { $ref: 'BackfillCollision' }, description: 'the first collisions the caller may see, by lead id' },
    collisionsNextCursor: { type: ['string', 'null'], description: 'continue with GET …/collisions?cursor=' },
  },
} as const

export const backfillSchemas = [backfillCreateSchema, backfillCollisionSchema, backfillSchema]
