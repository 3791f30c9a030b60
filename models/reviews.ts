// §11 reviews of possible duplicates: the one write path of `reviews` and `lead_pair_decisions`,
// and the reads. Everything runs in the caller's transaction, so row-level security decides which
// reviews exist for the caller (V0012: SALES the reviews of own leads, MANAGER/ADMIN their
// territories) and a review opened on a lead's write commits or rolls back with it.
import type { PendingWrite, Tx } from '../lib/db.ts'
import { randomUUID } from 'node:crypto'
import type { Deps } from '../lib/deps.ts'
import { reviewsOpened } from '../lib/metrics.ts'
import { inTransaction, systemContext, type SecurityContext } from '../lib/db.ts'
import { enqueue } from '../lib/boss.ts'
import { DUPLICATE_DETECTED_QUEUE } from '../lib/queues.ts'
import { decodeCursor, encodeCursor, hasStringKeys, isUuid } from './cursor.ts'
import { recordLeadEvent, type LeadEventSubject } from './lead-events.ts'
import { candidateView, findMatchCandidates, findReviewCandidates, type CandidateView, type ScoredCandidate } from './match-candidates.ts'
import { MATCH_REPORT_THRESHOLD, MAX_MATCH_CANDIDATES, leadPair, type MatchFields, type MatchReason } from './matching.ts'
import { DEFAULT_COUNTRY_CODE } from './lead-rules.ts'
import { normalizeLead } from './normalization.ts'

export const REVIEW_STATUSES = ['OPEN', 'NOT_DUPLICATE', 'MERGED', 'DISMISSED'] as const
export type ReviewStatus = typeof REVIEW_STATUSES[number]
export const REVIEW_DECISIONS = ['NOT_DUPLICATE', 'DISMISS', 'MERGE'] as const
export type ReviewDecision = typeof REVIEW_DECISIONS[number]

/** A candidate as a review stores it: always with the id (the decision needs it), never with the name (it may change). */
interface StoredCandidate {
  leadId: string
  score: number
  reasons: MatchReason[]
  territory: string
}

interface ReviewRow {
  id: string
  tenant_id: string
  territory: string
  lead_id: string
  candidates: StoredCandidate[]
  status: ReviewStatus
  decided_by: string | null
  decided_at: Date | null
  created_at: Date
  updated_at: Date
  sort_value?: string
}

const REVIEW_COLUMNS = 'id, tenant_id, territory, lead_id, candidates, status, decided_by, decided_at, created_at, updated_at'

export interface Review {
  id: string
  leadId: string
  territory: string
  status: ReviewStatus
  candidates: StoredCandidate[]
  decidedBy: string | null
  decidedAt: Date | null
  createdAt: Date
  updatedAt: Date
}

function fromRow(row: ReviewRow): Review {
  return {
    id: row.id,
    leadId: row.lead_id,
    territory: row.territory,
    status: row.status,
    candidates: row.candidates,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

// ---- matching a lead (dry run, and on a write) ----------------------------------------------------

/** What `POST /api/leads/match` reads of its create-like body. */
export interface MatchInput {
  companyName: string
  contactName?: string | null
  email?: string | null
  phone?: string | null
  street?: string | null
  postalCode?: string | null
  city?: string | null
  countryCode?: string
  businessType?: string | null
}

/**
 * `POST /api/leads/match`: the candidates scoring at least 40, best first, at most 10, for a lead
 * not yet written (normalized as a create would be); writes nothing.
 */
export async function matchLead(deps: Deps, tx: Tx, input: MatchInput): Promise<CandidateView[]> {
  const blank = (value: string | null | undefined) => (value === '' ? null : (value ?? null))
  const countryCode = (input.countryCode ?? DEFAULT_COUNTRY_CODE).toUpperCase()
  const { columns } = normalizeLead({ email: blank(input.email), companyName: input.companyName, phone: blank(input.phone), countryCode }, { stripPlusTag: deps.config.emailStripPlusTag })
  const fields: MatchFields = {
    companyName: input.companyName,
    contactName: blank(input.contactName),
    emailNormalized: columns.emailNormalized,
    phoneE164: columns.phoneE164,
    street: blank(input.street),
    postalCode: blank(input.postalCode),
    city: blank(input.city),
    businessType: input.businessType ?? null,
  }
  const candidates = await findMatchCandidates(tx, fields, { minScore: MATCH_REPORT_THRESHOLD })
  return candidates.slice(0, MAX_MATCH_CANDIDATES).map(candidateView)
}

/** The lead as the write path hands it over: its stored fields and what the events need. */
export type ReviewedLead = LeadEventSubject & MatchFields & { companyName: string }

/**
 * After an update of company, e-mail, phone or address: the candidates at or above the tenant's
 * review threshold open a review of the lead (or refresh its OPEN one), and a
 * `freshplan.lead.duplicate_detected` event tells the dashboards. Returns the candidates as the
 * caller may see them (`possibleDuplicates`), empty when there are none. (Creates: reviewCreatedLeads.)
 */
export async function reviewPossibleDuplicates(deps: Deps, tx: Tx, lead: ReviewedLead): Promise<CandidateView[]> {
  const [found = []] = await findReviewCandidates(tx, [lead])
  const candidates = found.slice(0, MAX_MATCH_CANDIDATES)
  if (candidates.length === 0) return []
  for (const event of await openReviews(tx, [{ lead, candidates }])) await recordLeadEvent(deps, tx, event)
  return candidates.map(candidateView)
}

/** A `duplicate_detected` event to record, as recordLeadEvent and createdLeadEventsWrite take it. */
export interface DuplicateDetectedEvent {
  type: 'freshplan.lead.duplicate_detected'
  lead: ReviewedLead
  data: object
}

/**
 * reviewPossibleDuplicates for the leads a create just wrote (createLeads: one, or an import's
 * batch): one candidate search for all of them, or the one `searched` already ran with the insert.
 * The reviews come back as one write and their events as data, for the caller to send with its
 * other writes (a new lead has no review yet, so each review's id is the one given here).
 */
export async function reviewCreatedLeads(tx: Tx, leads: readonly ReviewedLead[], searched?: ScoredCandidate[][]): Promise<{ possibleDuplicates: CandidateView[][]; events: DuplicateDetectedEvent[]; write: PendingWrite | null }> {
  const found = (searched ?? await findReviewCandidates(tx, leads)).map((c) => c.slice(0, MAX_MATCH_CANDIDATES))
  const reviewed = reviewsOf(leads.flatMap((lead, i) => (found[i]!.length > 0 ? [{ lead, candidates: found[i]! }] : [])))
  for (const { lead } of reviewed) reviewsOpened.inc({ territory: lead.territory })
  return {
    possibleDuplicates: found.map((candidates) => candidates.map(candidateView)),
    events: reviewed.map(duplicateDetected),
    write: reviewed.length > 0 ? reviewsWrite(reviewed) : null,
  }
}

interface OpenedReview {
  id: string
  lead: ReviewedLead
  candidates: StoredCandidate[]
}

function reviewsOf(found: readonly { lead: ReviewedLead; candidates: readonly ScoredCandidate[] }[]): OpenedReview[] {
  return found.map(({ lead, candidates }) => ({
    id: randomUUID(),
    lead,
    candidates: candidates.map((c) => ({ leadId: c.leadId, score: c.score, reasons: c.reasons, territory: c.territory })),
  }))
}

function duplicateDetected(review: OpenedReview): DuplicateDetectedEvent {
  return { type: 'freshplan.lead.duplicate_detected', lead: review.lead, data: { reviewId: review.id, leadId: review.lead.id, hard: false, candidates: review.candidates } }
}

/** Opens each lead's review with its candidates, or refreshes the lead's OPEN one (which keeps its id): one statement for all. */
function reviewsWrite(reviews: readonly OpenedReview[]): PendingWrite {
  return {
    sql: `insert into reviews (id, tenant_id, territory, lead_id, candidates)
     select * from unnest(?::uuid[], ?::text[], ?::text[], ?::uuid[], ?::jsonb[])
     on conflict (tenant_id, lead_id) where status = 'OPEN'
       do update set candidates = excluded.candidates, territory = excluded.territory, updated_at = now()
     returning id, lead_id, (xmax = 0) as inserted`,
    bindings: [reviews.map((r) => r.id), reviews.map((r) => r.lead.tenantId), reviews.map((r) => r.lead.territory), reviews.map((r) => r.lead.id), reviews.map((r) => JSON.stringify(r.candidates))],
  }
}

/** reviewsWrite, run: the events name the id each review has (an OPEN one refreshed keeps its own). */
async function openReviews(tx: Tx, found: readonly { lead: ReviewedLead; candidates: readonly ScoredCandidate[] }[]): Promise<DuplicateDetectedEvent[]> {
  const reviews = reviewsOf(found)
  const { sql, bindings } = reviewsWrite(reviews)
  const { rows } = await tx.trx.raw<{ rows: { id: string; lead_id: string; inserted: boolean }[] }>(sql, bindings)
  const stored = new Map(rows.map((row) => [row.lead_id, row]))
  return reviews.map((review) => {
    const row = stored.get(review.lead.id)!
    if (row.inserted) reviewsOpened.inc({ territory: review.lead.territory })
    return duplicateDetected({ ...review, id: row.id })
  })
}

/** The live lead holding `emailNormalized`, visible to the caller or not (match_candidates() reads past RLS within the tenant). */
export async function hardDuplicateHolder(tx: Tx, emailNormalized: string): Promise<string | null> {
  const { rows } = await tx.trx.raw<{ rows: { id: string }[] }>(
    'select id from match_candidates(null::text, null::text, ?::text, null::text, null::text, null::text, null::uuid) limit 1',
    [emailNormalized],
  )
  return rows[0]?.id ?? null
}

/**
 * Asks for the `duplicate_detected` event of a hard duplicate (§5's 409). The request's transaction
 * rolls back with the 409, so this enqueues, in a transaction of its own under the caller's context,
 * a job that a worker turns into the event (recordHardDuplicate); only the lead id travels.
 */
export async function requestHardDuplicateEvent(deps: Deps, ctx: SecurityContext, existingLeadId: string): Promise<void> {
  await inTransaction(deps.knex, ctx, (tx) => enqueue(deps.boss, tx, DUPLICATE_DETECTED_QUEUE, { tenantId: ctx.tenantId, leadId: existingLeadId }))
}

/** The worker's side: the event, as SYSTEM of the tenant, subject the existing lead. */
export async function recordHardDuplicate(deps: Deps, tenantId: string, leadId: string): Promise<void> {
  await inTransaction(deps.knex, systemContext(tenantId), async (tx) => {
    const { rows } = await tx.trx.raw<{ rows: (LeadEventSubject & { id: string })[] }>(
      `select id, tenant_id as "tenantId", territory, owner_user_id as "ownerUserId", collaborator_user_ids as "collaboratorUserIds", version
         from leads where id = ? and deleted_at is null`,
      [leadId],
    )
    const existing = rows[0]
    if (!existing) return
    await recordLeadEvent(deps, tx, {
      type: 'freshplan.lead.duplicate_detected',
      lead: existing,
      data: { leadId: existing.id, hard: true, candidates: [{ leadId: existing.id, score: 100, reasons: ['EMAIL'], territory: existing.territory }] },
    })
  })
}

// ---- reading reviews ------------------------------------------------------------------------------

export interface ReviewListQuery {
  status?: ReviewStatus
  limit?: number
  cursor?: string
}

interface ReviewCursor {
  at: string
  id: string
}
const isReviewCursor = (value: unknown): value is ReviewCursor => hasStringKeys(value, 'at', 'id') && isUuid(value.id)

/** Reviews the caller may see, newest first, keyset-paginated (reviews_list_idx / reviews_all_idx). */
export async function listReviews(tx: Tx, query: ReviewListQuery): Promise<{ data: Review[]; nextCursor: string | null }> {
  const limit = query.limit ?? 50
  const bindings: unknown[] = [tx.ctx.tenantId]
  let where = 'tenant_id = ?'
  if (query.status) {
    where += ' and status = ?'
    bindings.push(query.status)
  }
  if (query.cursor) {
    const cursor = decodeCursor(query.cursor, isReviewCursor)
    where += ' and (created_at, id) < (?::timestamptz, ?::uuid)'
    bindings.push(cursor.at, cursor.id)
  }
  bindings.push(limit + 1)
  const { rows } = await tx.trx.raw<{ rows: ReviewRow[] }>(
    `select ${REVIEW_COLUMNS}, created_at::text as sort_value from reviews where ${where} order by created_at desc, id desc limit ?`,
    bindings as string[],
  )
  const data = rows.slice(0, limit)
  const last = data.at(-1)
  return { data: data.map(fromRow), nextCursor: rows.length > limit && last ? encodeCursor({ at: last.sort_value!, id: last.id }) : null }
}

export async function findReview(tx: Tx, id: string): Promise<Review | undefined> {
  if (!isUuid(id)) return undefined
  const { rows } = await tx.trx.raw<{ rows: ReviewRow[] }>(`select ${REVIEW_COLUMNS} from reviews where id = ?`, [id])
  return rows[0] ? fromRow(rows[0]) : undefined
}

/**
 * The wire form of reviews: each candidate with id and current company name when the caller may
 * see that lead (RLS answers), else only score, reasons and territory. One query for the page.
 */
export async function reviewResources(tx: Tx, reviews: Review[]): Promise<Record<string, unknown>[]> {
  const ids = [...new Set(reviews.flatMap((r) => r.candidates.map((c) => c.leadId)))]
  const visible = new Map<string, string>()
  if (ids.length > 0) {
    const { rows } = await tx.trx.raw<{ rows: { id: string; company_name: string }[] }>(
      'select id, company_name from leads where id = any(?::uuid[])',
      [ids],
    )
    for (const row of rows) visible.set(row.id, row.company_name)
  }
  return reviews.map((review) => ({
    id: review.id,
    leadId: review.leadId,
    territory: review.territory,
    status: review.status,
    candidates: review.candidates.map((c) => candidateView({ ...c, visible: visible.has(c.leadId), companyName: visible.get(c.leadId) ?? '' })),
    decidedBy: review.decidedBy,
    decidedAt: review.decidedAt?.toISOString() ?? null,
    createdAt: review.createdAt.toISOString(),
    updatedAt: review.updatedAt.toISOString(),
  }))
}

// ---- deciding (models/review-decisions.ts orchestrates, with §12's merge) ----------------------------

export async function lockReview(tx: Tx, id: string): Promise<Review | undefined> {
  if (!isUuid(id)) return undefined
  const { rows } = await tx.trx.raw<{ rows: ReviewRow[] }>(`select ${REVIEW_COLUMNS} from reviews where id = ? for update`, [id])
  return rows[0] ? fromRow(rows[0]) : undefined
}

/** Remembers every pair of the review's lead with its candidates as NOT_DUPLICATE. */
export async function rememberNotDuplicate(tx: Tx, review: Review, decidedBy: string, now: Date): Promise<void> {
  const pairs = review.candidates.map((c) => leadPair(review.leadId, c.leadId))
  await tx.trx.raw(
    `insert into lead_pair_decisions (tenant_id, lead_a, lead_b, review_id, decided_by, decided_at)
     select ?, p.a, p.b, ?, ?, ?::timestamptz from unnest(?::uuid[], ?::uuid[]) as p (a, b)
     on conflict do nothing`,
    [tx.ctx.tenantId, review.id, decidedBy, now.toISOString(), pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  )
}

/** Closes an OPEN review with its decision. */
export async function closeReview(tx: Tx, review: Review, status: Exclude<ReviewStatus, 'OPEN'>, decidedBy: string, now: Date): Promise<Review> {
  const { rows } = await tx.trx.raw<{ rows: ReviewRow[] }>(
    `update reviews set status = ?, decided_by = ?, decided_at = ?::timestamptz, updated_at = ?::timestamptz where id = ? returning ${REVIEW_COLUMNS}`,
    [status, decidedBy, now.toISOString(), now.toISOString(), review.id],
  )
  return fromRow(rows[0]!)
}
