// Reads of leads and their timelines, inside the caller's transaction (lib/db.ts inTransaction):
// row-level security decides what exists. Lists are keyset-paginated, so a page costs the same
// at any depth (§4).
import { raw } from 'objection'
import { readTogether, type Knex, type SecurityContext, type Tx } from '../lib/db.ts'
import { decodeCursor, encodeCursor, hasStringKeys, isSortValue, isUuid } from './cursor.ts'
import { problems } from './errors.ts'
import { ACTIVITY_SELECT_LIST, LEAD_SELECT_LIST, Lead, LeadActivity, leadById, leadByIdStatement } from './lead-table.ts'
import type { BusinessType, LeadSource, LeadStatus } from './lead-rules.ts'

export async function findLead(tx: Tx, id: string): Promise<Lead | undefined> {
  return isUuid(id) ? leadById(tx.trx, id) : undefined
}

export async function requireLead(tx: Tx, id: string): Promise<Lead> {
  const lead = await findLead(tx, id)
  if (!lead) throw problems.notFound(`No lead ${id}.`)
  return lead
}

/** requireLead as a transaction of its own, in one round trip (GET /api/leads/:id; lib/db.ts readTogether). */
export async function readLead(knex: Knex, ctx: SecurityContext, id: string): Promise<Lead> {
  const row = isUuid(id) ? (await readTogether(knex, ctx, [leadByIdStatement(id)]))[0]![0] : undefined
  if (!row) throw problems.notFound(`No lead ${id}.`)
  return Lead.fromDatabaseJson(row)
}

export interface LeadListQuery {
  status?: LeadStatus
  territory?: string
  ownerUserId?: string
  source?: LeadSource
  businessType?: BusinessType
  q?: string
  createdFrom?: string
  createdTo?: string
  sort?: string
  limit?: number
  cursor?: string
  includeTotal?: boolean
}

/** Sort keys and the SQL expression each is ordered by (each has an index; see V0002). */
const SORT_EXPRESSIONS: Record<string, string> = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  companyName: 'company_name',
  status: 'status',
  lastActivityAt: `coalesce(last_activity_at, '-infinity'::timestamptz)`,
}
const SORT_CASTS: Record<string, string> = { createdAt: 'timestamptz', updatedAt: 'timestamptz', companyName: 'text', status: 'text', lastActivityAt: 'timestamptz' }
const SEARCH_EXPRESSION = `(coalesce(company_name, '') || ' ' || coalesce(contact_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(city, ''))`

interface LeadCursor {
  s: string // sort the cursor was made for
  v: string // sort value of the last row, as PostgreSQL's text
  id: string
}

/** `\`, `%` and `_` are LIKE wildcards; escaped, the search is a plain substring search. */
export function likePattern(text: string): string {
  return `%${text.replaceAll(/[\\%_]/g, (c) => `\\${c}`)}%`
}

export async function listLeads(tx: Tx, query: LeadListQuery): Promise<{ data: Lead[]; nextCursor: string | null; total?: number }> {
  const sort = query.sort ?? '-createdAt'
  const descending = sort.startsWith('-')
  const key = descending ? sort.slice(1) : sort
  const expression = SORT_EXPRESSIONS[key]!
  const limit = query.limit ?? 50
  const filtered = () => {
    // objection maps row data to camelCase, not identifiers in queries: columns are snake_case here.
    const builder = Lead.query(tx.trx).where('tenant_id', tx.ctx.tenantId)
    if (query.status) builder.where('status', query.status)
    else builder.whereNot('status', 'DELETED')
    if (query.territory) builder.where('territory', query.territory)
    if (query.ownerUserId) builder.where('owner_user_id', query.ownerUserId)
    if (query.source) builder.where('source', query.source)
    if (query.businessType) builder.where('business_type', query.businessType)
    if (query.createdFrom) builder.where('created_at', '>=', new Date(query.createdFrom))
    if (query.createdTo) builder.where('created_at', '<', new Date(query.createdTo))
    if (query.q) builder.whereRaw(`${SEARCH_EXPRESSION} ilike ? escape '\\'`, [likePattern(query.q)])
    return builder
  }
  const page = filtered().select(raw(LEAD_SELECT_LIST), tx.trx.raw(`(${expression})::text as sort_value`))
  if (query.cursor) {
    const cursor = decodeCursor(query.cursor, (value): value is LeadCursor => hasStringKeys(value, 's', 'v', 'id') && value.s === sort && isSortValue(value.v, SORT_CASTS[key]!) && isUuid(value.id), 'is not a cursor of this list and sort')
    page.whereRaw(`(${expression}, id) ${descending ? '<' : '>'} (?::${SORT_CASTS[key]}, ?::uuid)`, [cursor.v, cursor.id])
  }
  const direction = descending ? 'desc' : 'asc'
  const rows = (await page.orderByRaw(`${expression} ${direction}, id ${direction}`).limit(limit + 1)) as (Lead & { sortValue: string })[]
  const data = rows.slice(0, limit)
  const last = data.at(-1)
  const nextCursor = rows.length > limit && last ? encodeCursor({ s: sort, v: last.sortValue, id: last.id }) : null
  const result: { data: Lead[]; nextCursor: string | null; total?: number } = { data, nextCursor }
  if (query.includeTotal) result.total = Number(((await filtered().count('* as count').first()) as unknown as { count: number }).count)
  return result
}


export async function listActivities(tx: Tx, leadId: string, page: { limit?: number; cursor?: string }): Promise<{ data: LeadActivity[]; nextCursor: string | null }> {
  await requireLead(tx, leadId)
  const limit = page.limit ?? 50
  const builder = LeadActivity.query(tx.trx).where('lead_id', leadId).select(raw(ACTIVITY_SELECT_LIST), tx.trx.raw(`occurred_at::text as sort_value`))
  if (page.cursor) {
    const cursor = decodeCursor(page.cursor, (value): value is { at: string; id: string } => hasStringKeys(value, 'at', 'id') && isSortValue(value.at, 'timestamptz') && isUuid(value.id))
    builder.whereRaw('(occurred_at, id) < (?::timestamptz, ?::uuid)', [cursor.at, cursor.id])
  }
  const rows = (await builder.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit + 1)) as (LeadActivity & { sortValue: string })[]
  const data = rows.slice(0, limit)
  const last = data.at(-1)
  const nextCursor = rows.length > limit && last ? encodeCursor({ at: last.sortValue, id: last.id }) : null
  return { data, nextCursor }
}
