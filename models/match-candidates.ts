// §11 candidate search: the SQL side of matching. match_candidates() (migrations/V0012) unions one
// index probe per signal — same phone, same e-mail, same company e-mail domain, similar name
// (pg_trgm), same postal code, same city — each with its own LIMIT, so a search reads at most a
// few dozen rows whatever the table size. The rows are scored here with models/matching.ts.
import type { Knex, Statement, Tx } from '../lib/db.ts'
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

// Columns named (no `*`), so the statements are prepared once per connection (lib/db.ts).
const CANDIDATE_COLUMNS = ['id', 'territory', 'visible', 'company_name', 'contact_name', 'email_normalized', 'phone_e164', 'street', 'postal_code', 'city', 'business_type'] as const satisfies readonly (keyof CandidateRow)[]
const CANDIDATES_SQL = `select ${CANDIDATE_COLUMNS.join(', ')} from match_candidates(?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::uuid)`

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
  return scoredCandidates(fields, rows, options.minScore ?? 0)
}

// The search for leads being written (a create's, an import batch's, an update's), with the
// tenant's matching_settings in the same statement: one call of match_candidates() per probe row,
// none when the tenant switched review on write off (a gating qual). Always one row for the
// settings, candidate columns null when there are none. The probes of one lead are a VALUES row,
// not arrays to unnest: for arrays of unknown length the generic plan counts ten probe rows, so
// PostgreSQL kept planning the statement afresh on every create (0.5 ms, bench/README.md run 11).
const PROBE_COLUMNS = '(name, phone, email, domain, postal, city, exclude, ord)'
const reviewCandidatesSql = (probes: string) =>
  `select s.review_threshold, c.ord, ${CANDIDATE_COLUMNS.map((column) => `c.${column}`).join(', ')} ` +
  'from (select coalesce(max(review_threshold), ?::int) as review_threshold, coalesce(bool_and(review_on_write), true) as review_on_write from matching_settings where tenant_id = ?) s ' +
  'left join lateral (select p.ord, m.* ' +
  `from ${probes} ` +
  'cross join lateral match_candidates(p.name, p.phone, p.email, p.domain, p.postal, p.city, p.exclude) m ' +
  'where s.review_on_write) c on true'
const REVIEW_CANDIDATES_SQL = {
  one: reviewCandidatesSql(`(values (?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::uuid, 1::bigint)) as p ${PROBE_COLUMNS}`),
  many: reviewCandidatesSql(`unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::uuid[]) with ordinality as p ${PROBE_COLUMNS}`),
}

/** The §11 search for leads being written, as a statement to send (alone, or inside another: insertLeads) and what makes its rows into candidates. */
export interface ReviewCandidatesSearch extends Statement {
  /** Each lead's candidates from the statement's rows (SearchRow). */
  scored(rows: readonly object[]): ScoredCandidate[][]
}

type SearchRow = Partial<CandidateRow> & { review_threshold: number; ord: number | null }

/**
 * §11 on a write: for each lead (each excluding itself), the candidates at or above the tenant's
 * review threshold (matching_settings, else §11's default), best first; none when the tenant
 * switched review on write off. One statement for any number of leads, the settings included.
 */
export function reviewCandidatesSearch(tx: Tx, leads: readonly (MatchFields & { id: string })[]): ReviewCandidatesSearch {
  const probes = leads.map((lead) => probeValues(lead, lead.id))
  const columns = probes.length === 1 ? probes[0]! : probes[0]!.map((_, column) => probes.map((probe) => probe[column]))
  return {
    sql: probes.length === 1 ? REVIEW_CANDIDATES_SQL.one : REVIEW_CANDIDATES_SQL.many,
    // pg sends arrays with nulls as PostgreSQL arrays; knex's binding type knows no null elements.
    bindings: [DEFAULT_REVIEW_THRESHOLD, tx.ctx.tenantId, ...(columns as Knex.RawBinding[])],
    scored(searchRows) {
      const rows = searchRows as readonly SearchRow[]
      const rowsOf = leads.map((): CandidateRow[] => [])
      for (const row of rows) if (row.ord !== null) rowsOf[row.ord - 1]!.push(row as CandidateRow)
      const threshold = rows[0]!.review_threshold
      return leads.map((lead, i) => scoredCandidates(lead, rowsOf[i]!, threshold))
    },
  }
}

/** reviewCandidatesSearch in a round trip of its own. */
export async function findReviewCandidates(tx: Tx, leads: readonly (MatchFields & { id: string })[]): Promise<ScoredCandidate[][]> {
  if (leads.length === 0) return []
  const search = reviewCandidatesSearch(tx, leads)
  const { rows } = await tx.trx.raw<{ rows: SearchRow[] }>(search.sql, search.bindings)
  return search.scored(rows)
}

function scoredCandidates(fields: MatchFields, rows: readonly CandidateRow[], minScore: number): ScoredCandidate[] {
  const probe = matchProfile(fields)
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
