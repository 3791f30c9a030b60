// One JSON Schema per payload of §11 (matching and reviews); registered with ajv in
// server/validation.ts and published by server/openapi.ts. The match request is a create body
// (LeadCreate), so it has no schema of its own.
import { MATCH_REASONS } from '../../models/matching.ts'
import { REVIEW_DECISIONS, REVIEW_STATUSES } from '../../models/reviews.ts'

const uuid = { type: 'string', format: 'uuid' } as const
const timestamp = { type: 'string', format: 'date-time' } as const

export const matchCandidateSchema = {
  $id: 'MatchCandidate',
  description: 'A possible duplicate. leadId and companyName only when the caller may see that lead.',
  type: 'object',
  required: ['score', 'reasons', 'territory'],
  properties: {
    leadId: uuid,
    score: { type: 'integer', minimum: 0, maximum: 100 },
    reasons: { type: 'array', items: { enum: MATCH_REASONS } },
    territory: { type: 'string' },
    companyName: { type: 'string' },
  },
} as const

export const matchResultSchema = {
  $id: 'MatchResult',
  type: 'object',
  properties: { candidates: { type: 'array', maxItems: 10, items: { $ref: 'MatchCandidate' }, description: 'best first, score ≥ 40' } },
} as const

export const reviewSchema = {
  $id: 'Review',
  type: 'object',
  properties: {
    id: uuid,
    leadId: uuid,
    territory: { type: 'string' },
    status: { enum: REVIEW_STATUSES },
    candidates: { type: 'array', items: { $ref: 'MatchCandidate' } },
    decidedBy: { type: ['string', 'null'] },
    decidedAt: { type: ['string', 'null'], format: 'date-time' },
    mergeId: { ...uuid, description: 'only in the answer of a MERGE decision' },
    createdAt: timestamp,
    updatedAt: timestamp,
  },
} as const

export const reviewListQuerySchema = {
  $id: 'ReviewListQuery',
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { enum: REVIEW_STATUSES },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
    cursor: { type: 'string', maxLength: 1000 },
  },
} as const

export const reviewDecisionSchema = {
  $id: 'ReviewDecision',
  type: 'object',
  additionalProperties: false,
  required: ['decision'],
  properties: {
    decision: { enum: REVIEW_DECISIONS, description: 'NOT_DUPLICATE is remembered per pair; DISMISS closes the review; MERGE merges (§12) the review\'s lead and its candidates into survivorId' },
    survivorId: { ...uuid, description: 'MERGE only: the lead that survives, the review\'s lead or one of its candidates (default: the review\'s lead)' },
  },
} as const

export const reviewSchemas = [matchCandidateSchema, matchResultSchema, reviewSchema, reviewListQuerySchema, reviewDecisionSchema]
