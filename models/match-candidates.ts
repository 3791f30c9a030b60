// §11 candidate search: the SQL side of matching. match_candidates() (migrations/V0012) unions one
// index probe per signal — same phone, same e-mail, same company e-mail domain, similar name
// (pg_trgm), same postal code, same city — each with its own LIMIT, so a search reads at most a
// few dozen rows whatever the table size. The rows are scored here with models/matching.ts.
import type { Tx } from '../lib/db.ts'
import {
  DEFAULT_REVIEW_THRESHOLD,
  matchKeyColumns,
  matchProfile,
  scoreMatch,
  type MatchFields,
  type MatchProfile,
  type MatchReason,
} from './matching.ts'

export interface ScoredCandidate {
  leadId: string
  territory: string
  /** Whether the caller may see the candidate (the leads_select policy's predicate). */
  visible: boolean
  companyName: string
  score: number
  reasons: MatchReason[]
}

/** A candidate as the API shows it: id and name only when the caller may see the lead. */
export interface CandidateView {
  leadId?: string
  score: number
  reasons: MatchReason[]
  territory: string
  companyName?: string
}

interface CandidateRow {
  id: string
  territory: string
  visible: boolean
  company_name: string
  contact_name: string | null
  email_normalized: string | null
  phone_e164: string | null
  street: string | null
  postal_code: string | null
  city: string | null
  business_type: string | null
}

// Columns named (no `*`), so the statement is prepared once per connection (lib/db.ts).
const CANDIDATES_SQL =
  'select id, territory, visible, company_name, contact_name, email_normalized, phone_e164, street, postal_code, city, business_type ' +
  'from match_candidates(?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::uuid)'

/** The probe values of a lead, as the stored keys are computed (matchKeyColumns). */
function probeValues(fields: MatchFields, excludeLeadId: string | null): (string | null)[] {
  const keys = matchKeyColumns(fields)
  return [keys.matchName, fields.phoneE164 ?? null, fields.emailNormalized ?? null, keys.matchEmailDomain, keys.matchPostalCode, keys.matchCity, excludeLeadId]
}

/**
 * Every candidate the probes find for `fields`, scored, best first (score, then id for a stable
 * order). `excludeLeadId` is the lead itself on an update; pairs decided NOT_DUPLICATE with it are
 * left out by the SQL.
 */
export async function findMatchCandidates(tx: Tx, fields: MatchFields, options: { excludeLeadId?: string | null; minScore?: number } = {}): Promise<ScoredCandidate[]> {
  const { rows } = await tx.trx.raw<{ rows: CandidateRow[] }>(CANDIDATES_SQL, probeValues(fields, options.excludeLeadId ?? null))
  const probe = matchProfile(fields)
  const minScore = options.minScore ?? 0
  const scored: ScoredCandidate[] = []
  for (const row of rows) {
    const { score, reasons } = scoreMatch(probe, candidateProfile(row))
    if (score < minScore) continue
    scored.push({ leadId: row.id, territory: row.territory, visible: row.visible, companyName: row.company_name, score, reasons })
  }
  return scored.sort((a, b) => b.score - a.score || (a.leadId < b.leadId ? -1 : 1))
}

function candidateProfile(row: CandidateRow): MatchProfile {
  return matchProfile({
    companyName: row.company_name,
    contactName: row.contact_name,
    emailNormalized: row.email_normalized,
    phoneE164: row.phone_e164,
    street: row.street,
    postalCode: row.postal_code,
    city: row.city,
    businessType: row.business_type,
  })
}

/** What the caller may learn of a candidate (§11: no id or name of a lead it may not see). */
export function candidateView(candidate: Pick<ScoredCandidate, 'leadId' | 'visible' | 'companyName' | 'score' | 'reasons' | 'territory'>): CandidateView {
  return candidate.visible
    ? { leadId: candidate.leadId, score: candidate.score, reasons: candidate.reasons, territory: candidate.territory, companyName: candidate.companyName }
    : { score: candidate.score, reasons: candidate.reasons, territory: candidate.territory }
}

export interface MatchingSettings {
  reviewThreshold: number
  reviewOnWrite: boolean
}

/** The tenant's matching settings (matching_settings), else the defaults of §11. */
export async function matchingSettings(tx: Tx): Promise<MatchingSettings> {
  const { rows } = await tx.trx.raw<{ rows: { review_threshold: number; review_on_write: boolean }[] }>(
    'select review_threshold, review_on_write from matching_settings where tenant_id = ?',
    [tx.ctx.tenantId],
  )
  return { reviewThreshold: rows[0]?.review_threshold ?? DEFAULT_REVIEW_THRESHOLD, reviewOnWrite: rows[0]?.review_on_write ?? true }
}
