// §5 the batch step of a normalization backfill: recompute the normalized columns of the next stale
// leads, in the caller's SYSTEM transaction, with position and counters committed alongside.
import type { Knex, Tx } from '../lib/db.ts'
import { BACKFILL_COLUMNS, fromRow, type Backfill, type BackfillRow } from './backfills.ts'
import { normalizationVersion, normalizeLead, type EmailNormalizationOptions, type NormalizedColumns } from './normalization.ts'

export interface BatchResult {
  /** The backfill after this batch; undefined if it does not exist or is not visible. */
  backfill: Backfill | undefined
  /** Leads this batch handled (normalized, collided or failed). */
  processed: number
}

interface StaleLead {
  id: string
  /** created_at as text: with id the keyset position. */
  position: string
  email: string | null
  company_name: string
  phone: string | null
  country_code: string
  postal_code: string | null
  city: string | null
  deleted_at: Date | null
  email_normalized: string | null
}

const EMAIL_UNIQUE_INDEX = 'leads_email_normalized_unique'

function isEmailUniqueViolation(error: unknown): boolean {
  const { code, constraint } = error as { code?: string; constraint?: string }
  return code === '23505' && constraint === EMAIL_UNIQUE_INDEX
}

/**
 * A batch that lost a race (a concurrent write took one of its addresses, a deadlock) is redone in
 * a new transaction, which sees what the other one committed.
 */
export function isRetryableBatchError(error: unknown): boolean {
  const { code } = error as { code?: string }
  return isEmailUniqueViolation(error) || code === '40P01' || code === '40001'
}

export interface BatchOptions extends EmailNormalizationOptions {
  /** Write lead by lead and let the unique index find what the lookup missed (see writeLeadByLead). */
  careful?: boolean
}

/**
 * One batch of a backfill, in the caller's (SYSTEM) transaction: lock the backfill row, take the
 * next `batch_size` stale leads after its keyset position (created_at, id), recompute their columns with
 * normalizeLead, write them with one statement, record collisions, and advance position and
 * counters. All of it commits together or not at all, which is what makes a crash resumable with
 * no lead skipped or counted twice. The row lock also serializes two runners of one backfill.
 *
 * Marks the backfill COMPLETED when no stale lead is left after the position, and FAILED when the
 * code's normalization version (with its options) is no longer the one it was started for.
 */
export async function normalizeNextBatch(tx: Tx, backfillId: string, options: BatchOptions = {}): Promise<BatchResult> {
  // A batch lost in a database crash (its commit not yet flushed) is lost whole, position and
  // counters included, and simply redone: waiting for every batch's WAL flush buys nothing here.
  // Each batch's statements are planned for its own values: a prepared statement's generic plan
  // (lib/db.ts), chosen after five executions, does not know where the keyset position is and
  // made batches of 200 three times slower.
  await tx.trx.raw(`select set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true)`)
  const locked = await tx.trx.raw<{ rows: BackfillRow[] }>(`select ${BACKFILL_COLUMNS} from backfills where id = ? for update`, [backfillId])
  if (!locked.rows[0]) return { backfill: undefined, processed: 0 }
  const backfill = fromRow(locked.rows[0])
  if (backfill.status !== 'RUNNING') return { backfill, processed: 0 }
  const version = normalizationVersion(options)
  if (backfill.targetVersion !== version) {
    // Rows before the position would carry the other version: a new backfill has to start over.
    return { backfill: await finish(tx, backfillId, 'FAILED', `superseded: the code now normalizes to version ${version}; start a new backfill`), processed: 0 }
  }
  if (backfill.total === null) {
    await tx.trx.raw(
      `update backfills set total = (select count(*) from leads where tenant_id = ? and normalization_version <> ?) where id = ?`,
      [tx.ctx.tenantId, backfill.targetVersion, backfillId],
    )
  }

  const leads = await nextStaleLeads(tx, backfill)
  if (leads.length === 0) return { backfill: await finish(tx, backfillId, 'COMPLETED', null), processed: 0 }

  const computed: Computed[] = []
  const failures: { leadId: string; error: string }[] = []
  for (const lead of leads) {
    try {
      const { columns } = normalizeLead(
        { email: lead.email, companyName: lead.company_name, phone: lead.phone, countryCode: lead.country_code, postalCode: lead.postal_code, city: lead.city },
        { stripPlusTag: options.stripPlusTag },
      )
      computed.push({ lead, columns })
    } catch (error) {
      // Left as it is: still stale, so the next backfill tries it again. Never lost.
      failures.push({ leadId: lead.id, error: (error as Error).message })
    }
  }
  const collisions = await resolveCollisions(tx, computed)
  await clearMovingEmails(tx, computed)
  if (options.careful) await writeLeadByLead(tx, computed, collisions)
  else await writeColumns(tx, computed)
  if (collisions.length > 0) {
    await tx.trx.raw(
      `insert into backfill_collisions (backfill_id, tenant_id, lead_id, email_normalized, existing_lead_id)
       select ?, ?, c.lead_id, c.email_normalized, c.existing_lead_id
         from unnest(?::uuid[], ?::citext[], ?::uuid[]) as c (lead_id, email_normalized, existing_lead_id)`,
      [backfillId, tx.ctx.tenantId, collisions.map((c) => c.leadId), collisions.map((c) => c.emailNormalized), collisions.map((c) => c.existingLeadId)],
    )
  }
  const { rows } = await tx.trx.raw<{ rows: BackfillRow[] }>(
    `update backfills
        set last_lead_id = ?, last_created_at = ?::timestamptz, processed = processed + ?, duplicates_found = duplicates_found + ?, failed = failed + ?,
            last_error = coalesce(?, last_error), updated_at = now()
      where id = ?
      returning ${BACKFILL_COLUMNS}`,
    [leads.at(-1)!.id, leads.at(-1)!.position, leads.length, collisions.length, failures.length, failures.length > 0 ? `lead ${failures[0]!.leadId}: ${failures[0]!.error}` : null, backfillId],
  )
  return { backfill: fromRow(rows[0]!), processed: leads.length }
}

/**
 * The next batch after the keyset position (created_at, id). Both are immutable (leads_guard) and
 * the pair is unique, so every lead comes exactly once. Ordered by creation rather than by the
 * random uuid, a batch reads and rewrites neighbouring rows: in an append-mostly table those share
 * heap pages, which cuts the pages a batch dirties (and their WAL images) to a fraction. Read
 * without row locks (locking thousands of rows costs a WAL record each); the UPDATE only writes a
 * lead whose inputs are still the ones read here (see writeColumns).
 */
async function nextStaleLeads(tx: Tx, backfill: Backfill): Promise<StaleLead[]> {
  // The RLS quals make the planner guess that few leads qualify, and then prefer reading everything
  // after the position and sorting it. For SYSTEM they are all true, so the ordered scan of
  // leads_created_at_idx (tenant_id, created_at, id) is right: say so for this statement.
  await tx.trx.raw(`select set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`)
  const { rows } = await tx.trx.raw<{ rows: StaleLead[] }>(
    `select id, created_at::text as position, email, company_name, phone, country_code, postal_code, city, deleted_at, email_normalized
       from leads
      where tenant_id = ? and (created_at, id) > (?::timestamptz, ?::uuid) and normalization_version <> ?
      order by created_at, id
      limit ?`,
    [tx.ctx.tenantId, backfill.lastCreatedAt ?? '-infinity', backfill.lastLeadId ?? '00000000-0000-0000-0000-000000000000', backfill.targetVersion, backfill.batchSize],
  )
  await tx.trx.raw(`select set_config('enable_bitmapscan', 'on', true), set_config('enable_seqscan', 'on', true)`)
  return rows
}

type Computed = { lead: StaleLead; columns: NormalizedColumns }
type Collision = { leadId: string; emailNormalized: string; existingLeadId: string }

/**
 * Which leads of the batch keep their normalized e-mail. A live lead may not take an address that
 * another live lead of the tenant holds (one outside this batch, or an older one in it: the oldest
 * keeps the address); it keeps its row with email_normalized NULL instead, and the collision names
 * the holder. Mutates `computed`.
 */
async function resolveCollisions(tx: Tx, computed: Computed[]): Promise<Collision[]> {
  const candidates = computed.filter(({ lead, columns }) => lead.deleted_at === null && columns.emailNormalized !== null)
  if (candidates.length === 0) return []
  // Text equality on the lower-cased address, so the lookup can use leads_email_normalized_text_idx
  // beneath the RLS policies (see V0007). Leads of this batch do not count: their values are replaced.
  // One correlated probe per address: an equality the index answers directly, whatever the
  // statistics say (with `= any(array)` the planner may filter the tenant's whole index instead).
  const { rows } = await tx.trx.raw<{ rows: { email: string; id: string | null }[] }>(
    `select c.email,
            (select l.id from leads l
              where l.tenant_id = ? and l.deleted_at is null and l.email_normalized is not null
                and l.email_normalized::text = c.email and l.id <> all(?::uuid[])
              limit 1) as id
       from unnest(?::text[]) as c (email)`,
    [tx.ctx.tenantId, computed.map((c) => c.lead.id), [...new Set(candidates.map((c) => c.columns.emailNormalized!))]],
  )
  const holders = new Map(rows.filter((row) => row.id !== null).map((row) => [row.email, row.id!]))
  const collisions: Collision[] = []
  for (const candidate of candidates) {
    const email = candidate.columns.emailNormalized!
    const existing = holders.get(email)
    if (existing === undefined) {
      holders.set(email, candidate.lead.id) // the batch is in creation order: later ones collide with it
      continue
    }
    collisions.push({ leadId: candidate.lead.id, emailNormalized: email, existingLeadId: existing })
    candidate.columns = { ...candidate.columns, emailNormalized: null }
  }
  return collisions
}

/**
 * A unique index is checked row by row during an UPDATE, so an address that moves from one lead of
 * the batch to another would collide with its own old entry: clear the old values that change first.
 */
async function clearMovingEmails(tx: Tx, computed: Computed[]): Promise<void> {
  const moving = computed.filter(({ lead, columns }) => lead.email_normalized !== null && lead.email_normalized !== columns.emailNormalized).map(({ lead }) => lead.id)
  if (moving.length > 0) await tx.trx.raw(`update leads set email_normalized = null where id = any(?::uuid[]) and normalization_version <> ?`, [moving, computed[0]!.columns.normalizationVersion])
}

/**
 * The batch's columns in one statement: the fast path (no statement per lead). A lead whose inputs
 * changed since they were read is left alone: the API normalized it with that change (PostgreSQL
 * re-checks the condition on the newest row version when it had to wait for the writer).
 */
async function writeColumns(tx: Pick<Tx, 'trx'>, computed: Computed[]): Promise<void> {
  if (computed.length === 0) return
  const version = computed[0]!.columns.normalizationVersion // one run, one options set
  await tx.trx.raw(
    `update leads l
        set email_normalized = u.email_normalized, name_normalized = u.name_normalized, phone_e164 = u.phone_e164,
            match_name = u.match_name, match_email_domain = u.match_email_domain, match_postal_code = u.match_postal_code,
            match_city = u.match_city, normalization_version = ?
       from unnest(?::uuid[], ?::citext[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                   ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
            as u (id, email_normalized, name_normalized, phone_e164, email, company_name, phone, country_code,
                  match_name, match_email_domain, match_postal_code, match_city, postal_code, city)
      where l.id = u.id and l.normalization_version <> ?
        and l.email is not distinct from u.email and l.company_name = u.company_name
        and l.phone is not distinct from u.phone and l.country_code = u.country_code
        and l.postal_code is not distinct from u.postal_code and l.city is not distinct from u.city`,
    // pg sends each JS array as one array parameter (NULLs included); knex's types only lack the nulls.
    [
      version,
      computed.map((c) => c.lead.id),
      computed.map((c) => c.columns.emailNormalized),
      computed.map((c) => c.columns.nameNormalized),
      computed.map((c) => c.columns.phoneE164),
      computed.map((c) => c.lead.email),
      computed.map((c) => c.lead.company_name),
      computed.map((c) => c.lead.phone),
      computed.map((c) => c.lead.country_code),
      computed.map((c) => c.columns.matchName),
      computed.map((c) => c.columns.matchEmailDomain),
      computed.map((c) => c.columns.matchPostalCode),
      computed.map((c) => c.columns.matchCity),
      computed.map((c) => c.lead.postal_code),
      computed.map((c) => c.lead.city),
      version,
    ] as Knex.RawBinding[],
  )
}

/**
 * The careful path, for a batch the fast path failed on: each lead in a savepoint, so the unique
 * index itself names a collision the lookup missed (an address that citext compares equal although
 * its text differs, or one a concurrent write committed meanwhile). The holder is then found with
 * citext's own equality, which scans the tenant's addresses; that is slow, and only happens here.
 */
async function writeLeadByLead(tx: Tx, computed: Computed[], collisions: Collision[]): Promise<void> {
  for (const item of computed) {
    try {
      await tx.trx.transaction((savepoint) => writeColumns({ trx: savepoint }, [item]))
    } catch (error) {
      const email = item.columns.emailNormalized
      if (!isEmailUniqueViolation(error) || email === null) throw error
      const { rows } = await tx.trx.raw<{ rows: { id: string }[] }>(
        `select id from leads where tenant_id = ? and deleted_at is null and email_normalized = ?::citext and id <> ? limit 1`,
        [tx.ctx.tenantId, email, item.lead.id],
      )
      if (!rows[0]) throw error
      collisions.push({ leadId: item.lead.id, emailNormalized: email, existingLeadId: rows[0].id })
      item.columns = { ...item.columns, emailNormalized: null }
      await writeColumns(tx, [item])
    }
  }
}

async function finish(tx: Tx, backfillId: string, status: 'COMPLETED' | 'FAILED', error: string | null): Promise<Backfill> {
  const { rows } = await tx.trx.raw<{ rows: BackfillRow[] }>(
    `update backfills set status = ?, finished_at = now(), updated_at = now(), last_error = coalesce(?, last_error) where id = ? returning ${BACKFILL_COLUMNS}`,
    [status, error, backfillId],
  )
  return fromRow(rows[0]!)
}

