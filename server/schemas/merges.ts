// §12 history, merge and undo: request and response schemas (validation and OpenAPI).
import { EDITABLE_LEAD_FIELDS } from '../../models/lead-table.ts'
import { HISTORY_ACTIONS } from '../../models/lead-history.ts'
import { MAX_MERGE_IDS } from '../../models/lead-merge.ts'

const uuid = { type: 'string', format: 'uuid' } as const
const timestamp = { type: 'string', format: 'date-time' } as const

export const mergeRequestSchema = {
  $id: 'MergeRequest',
  type: 'object',
  additionalProperties: false,
  required: ['mergeIds'],
  properties: {
    mergeIds: { type: 'array', minItems: 1, maxItems: MAX_MERGE_IDS, uniqueItems: true, items: uuid, description: 'leads folded into the survivor; they become DELETED with mergedIntoId' },
    fields: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(EDITABLE_LEAD_FIELDS.map((field) => [field, uuid])),
      description: 'field → the lead (survivor or one of mergeIds) whose value wins; default: the survivor\'s value, else the most recently updated non-null value among the merged leads',
    },
  },
} as const

export const historyEntrySchema = {
  $id: 'HistoryEntry',
  type: 'object',
  properties: {
    id: { type: 'string' },
    at: timestamp,
    actorUserId: { type: ['string', 'null'] },
    action: { enum: HISTORY_ACTIONS },
    changes: {
      type: 'object',
      additionalProperties: { type: 'object', properties: { from: {}, to: {} } },
      description: '{field: {from, to}} of the changed fields (bookkeeping columns version, updatedAt, normalizationVersion left out)',
    },
  },
} as const

export const historyPageSchema = {
  $id: 'HistoryPage',
  type: 'object',
  properties: { data: { type: 'array', items: { $ref: 'HistoryEntry' } }, nextCursor: { type: ['string', 'null'] } },
} as const

export const mergeSchema = {
  $id: 'Merge',
  type: 'object',
  properties: {
    id: uuid,
    territory: { type: 'string' },
    survivorId: uuid,
    mergedIds: { type: 'array', items: uuid },
    fieldSources: { type: 'object', additionalProperties: uuid },
    movedActivityIds: { type: 'object', additionalProperties: { type: 'array', items: uuid } },
    mergedBy: { type: 'string' },
    mergedAt: timestamp,
    undone: { type: 'boolean' },
    undoneBy: { type: ['string', 'null'] },
    undoneAt: { type: ['string', 'null'], format: 'date-time' },
    conflicts: { type: ['array', 'null'], items: { type: 'string' } },
  },
} as const

export const undoResultSchema = {
  $id: 'MergeUndoResult',
  type: 'object',
  properties: {
    merge: { $ref: 'Merge' },
    survivor: { $ref: 'Lead' },
    restored: { type: 'array', items: { $ref: 'Lead' } },
    conflicts: { type: 'array', items: { type: 'string' }, description: 'survivor fields changed after the merge; they keep their newer value' },
  },
} as const

export const mergeSchemas = [mergeRequestSchema, historyEntrySchema, historyPageSchema, mergeSchema, undoResultSchema]
