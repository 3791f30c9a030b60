// §11 reviews of possible duplicates: the one write path of `reviews` and `lead_pair_decisions`,
// and the reads. Everything runs in the caller's transaction, so row-level security decides which
// reviews exist for the caller (V0012: SALES the reviews of own leads, MANAGER/ADMIN their
// territories) and a review opened on a lead's write commits or rolls back with it.
import type { Tx } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { reviewsDecided, reviewsOpened } from '../lib/metrics.ts'
import { inTransaction, systemContext } from '../lib/db.ts'
import { MANAGER_ROLES, type Role } from '../lib/tenancy.ts'
import { decodeCursor, encodeCursor, hasStringKeys, isUuid } from './cursor.ts'
import { DomainError, problems } from './errors.ts'
import { recordLeadEvent, type LeadEventSubject } from './lead-events.ts'
import { candidateView, findMatchCandidates, matchingSettings, type CandidateView } from './match-candidates.ts'
import { MATCH_REPORT_THRESHOLD, MAX_MATCH_CANDIDATES, leadPair, type MatchFields, type MatchReason } from './matching.ts'
import { DEFAULT_COUNTRY_CODE } from './lead-rules.ts'
import { normalizeLead } from './normalization.ts'

export const REVIEW_STATUSES = ['OPEN', 'NOT_DUPLICATE', 'MERGED', 'DISMISSED'] as const
export type ReviewStatus = typeof REVIEW_STATUSES[number]
export const REVIEW_DECISIONS = ['NOT_DUPLICATE', 'DISMISS', 'MERGE'] as const
export type ReviewDecision = typeof REVIEW_DECISIONS[number]
const STATUS_OF_DECISION: Record<Exclude<ReviewDecision, 'MERGE'>, ReviewStatus> = { NOT_DUPLICATE: 'NOT_DUPLICATE', DISMISS: 'DISMISSED' }

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
 * After a create, or an update of company, e-mail, phone or address: the candidates at or above
 * the tenant's review threshold open a review of the lead (or refresh its OPEN one), and a
 * `freshplan.lead.duplicate_detected` event tells the dashboards. Returns the candidates as the
 * caller may see them (`possibleDuplicates`), empty when there are none.
 */
export async function reviewPossibleDuplicates(deps: Deps, tx: Tx, lead: ReviewedLead, options: { leadCreatedInThisTransaction?: boolean } = {}): Promise<CandidateView[]> {
  const settings = await matchingSettings(tx)
  if (!settings.reviewOnWrite) return []
  const candidates = (await findMatchCandidates(tx, lead, { excludeLeadId: lead.id, minScore: settings.reviewThreshold })).slice(0, MAX_MATCH_CANDIDATES)
  if (candidates.length === 0) return []
  const stored: StoredCandidate[] = candidates.map((c) => ({ leadId: c.leadId, score: c.score, reasons: c.reasons, territory: c.territory }))
  const { rows } = await tx.trx.raw<{ rows: { id: string; inserted: boolean }[] }>(
    `insert into reviews (tenant_id, territory, lead_id, candidates)
     values (?, ?, ?, ?::jsonb)
     on conflict (tenant_id, lead_id) where status = 'OPEN'
       do update set candidates = excluded.candidates, territory = excluded.territory, updated_at = now()
     returning id, (xmax = 0) as inserted`,
    [lead.tenantId, lead.territory, lead.id, JSON.stringify(stored)],
  )
  const review = rows[0]!
  if (review.inserted) reviewsOpened.inc({ territory: lead.territory })
  await recordLeadEvent(deps, tx, {
    type: 'freshplan.lead.duplicate_detected',
    lead,
    data: { reviewId: review.id, leadId: lead.id, hard: false, candidates: stored },
    leadCreatedInThisTransaction: options.leadCreatedInThisTransaction,
  })
  return candidates.map(candidateView)
}

/**
 * The hard duplicate of §5 (a live lead has the e-mail already) as a `duplicate_detected` event.
 * The request's transaction rolls back with its 409, so this runs in a transaction of its own,
 * after that one ended, as SYSTEM of the tenant: the existing lead may be one the caller cannot see.
 * Subject is the existing lead.
 */
export async function recordHardDuplicate(deps: Deps, tenantId: string, emailNormalized: string): Promise<void> {
  await inTransaction(deps.knex, systemContext(tenantId), async (tx) => {
    const { rows } = await tx.trx.raw<{ rows: (LeadEventSubject & { id: string })[] }>(
      `select id, tenant_id as "tenantId", territory, owner_user_id as "ownerUserId", collaborator_user_ids as "collaboratorUserIds", version
         from leads where tenant_id = ? and email_normalized::text = ? and deleted_at is null limit 1`,
      [tenantId, emailNormalized],
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

// ---- deciding ------------------------------------------------------------------------------------

/**
 * `POST /api/reviews/{id}/decision` (MANAGER/ADMIN). NOT_DUPLICATE remembers every pair of the
 * review's lead with its candidates, so none of them is proposed again (match_candidates() leaves
 * remembered pairs out, whatever either lead becomes later); DISMISS closes the review only.
 * MERGE needs §12's merge, which does not exist yet: 501, nothing written.
 */
export async function decideReview(tx: Tx, actor: { id: string; role: Role }, id: string, decision: ReviewDecision, now: Date): Promise<Review> {
  if (!MANAGER_ROLES.includes(actor.role)) throw problems.forbidden('Only managers and admins decide reviews.')
  const review = isUuid(id) ? await lockReview(tx, id) : undefined
  if (!review) throw problems.notFound(`No review ${id}.`)
  if (decision === 'MERGE') {
    throw new DomainError({ status: 501, type: 'not-implemented', title: 'Not Implemented', detail: 'Merging leads (§12) is not available yet; decide NOT_DUPLICATE or DISMISS.' })
  }
  if (review.status !== 'OPEN') throw problems.conflict('review-decided', 'Review already decided', `The review is ${review.status} already.`)
  if (decision === 'NOT_DUPLICATE') {
    const pairs = review.candidates.map((c) => leadPair(review.leadId, c.leadId))
    await tx.trx.raw(
      `insert into lead_pair_decisions (tenant_id, lead_a, lead_b, review_id, decided_by, decided_at)
       select ?, p.a, p.b, ?, ?, ?::timestamptz from unnest(?::uuid[], ?::uuid[]) as p (a, b)
       on conflict do nothing`,
      [tx.ctx.tenantId, review.id, actor.id, now.toISOString(), pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    )
  }
  const status = STATUS_OF_DECISION[decision]
  const { rows } = await tx.trx.raw<{ rows: ReviewRow[] }>(
    `update reviews set status = ?, decided_by = ?, decided_at = ?::timestamptz, updated_at = ?::timestamptz where id = ? returning ${REVIEW_COLUMNS}`,
    [status, actor.id, now.toISOString(), now.toISOString(), review.id],
  )
  reviewsDecided.inc({ decision })
  return fromRow(rows[0]!)
}

async function lockReview(tx: Tx, id: string): Promise<Review | undefined> {
  const { rows } = await tx.trx.raw<{ rows: ReviewRow[] }>(`select ${REVIEW_COLUMNS} from reviews where id = ? for update`, [id])
  return rows[0] ? fromRow(rows[0]) : undefined
}
