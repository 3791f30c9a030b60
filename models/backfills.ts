// §5 normalization backfills: starting one, and the batch step that recomputes the normalized
// columns of stale leads. Every function runs inside the caller's transaction (lib/db.ts
// inTransaction); the batch step needs a SYSTEM context, reading works for ADMIN too.
import type { Deps } from '../lib/deps.ts'
import type { Tx } from '../lib/db.ts'
import { enqueue } from '../lib/boss.ts'
import { BACKFILL_QUEUE } from '../lib/queues.ts'
import { iso } from './lead-table.ts'
import { normalizationVersion, type EmailNormalizationOptions } from './normalization.ts'

export const BACKFILL_KINDS = ['NORMALIZATION'] as const
export const BACKFILL_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED'] as const
export type BackfillKind = (typeof BACKFILL_KINDS)[number]
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number]

/** Rows per transaction: large enough to amortize the round trips, small enough to keep locks short. */
export const DEFAULT_BATCH_SIZE = 2000
export const MAX_BATCH_SIZE = 10_000

export interface Backfill {
  id: string
  tenantId: string
  kind: BackfillKind
  targetVersion: number
  status: BackfillStatus
  batchSize: number
  lastLeadId: string | null
  /** created_at of lastLeadId, as PostgreSQL's text (microseconds; a JS Date would round them away). */
  lastCreatedAt: string | null
  processed: number
  total: number | null
  duplicatesFound: number
  failed: number
  lastError: string | null
  createdBy: string
  startedAt: Date
  updatedAt: Date
  finishedAt: Date | null
}

export interface BackfillCollision {
  leadId: string
  emailNormalized: string
  /** Null when the caller may not see the lead that holds the address (§5, like existingLeadId). */
  existingLeadId: string | null
  detectedAt: Date
}

/** The job's payload: which backfill, and the tenant whose SYSTEM context works on it. */
export interface BackfillRef {
  backfillId: string
  tenantId: string
}

export interface BackfillRow {
  id: string
  tenant_id: string
  kind: BackfillKind
  target_version: number
  status: BackfillStatus
  batch_size: number
  last_lead_id: string | null
  last_created_at: string | null
  processed: number
  total: number | null
  duplicates_found: number
  failed: number
  last_error: string | null
  created_by: string
  started_at: Date
  updated_at: Date
  finished_at: Date | null
}

// The keyset timestamp as text, so its microseconds survive the trip through JavaScript.
export const BACKFILL_COLUMNS = `id, tenant_id, kind, target_version, status, batch_size, last_lead_id, last_created_at::text as last_created_at,
  processed, total, duplicates_found, failed, last_error, created_by, started_at, updated_at, finished_at`

export function fromRow(row: BackfillRow): Backfill {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    targetVersion: row.target_version,
    status: row.status,
    batchSize: row.batch_size,
    lastLeadId: row.last_lead_id,
    lastCreatedAt: row.last_created_at,
    processed: row.processed,
    total: row.total,
    duplicatesFound: row.duplicates_found,
    failed: row.failed,
    lastError: row.last_error,
    createdBy: row.created_by,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  }
}

export function backfillRef(backfill: Pick<Backfill, 'id' | 'tenantId'>): BackfillRef {
  return { backfillId: backfill.id, tenantId: backfill.tenantId }
}

/** (Re-)queues the backfill's job; the stately queue turns a second queued job for it into a no-op. */
export async function enqueueBackfill(deps: Pick<Deps, 'boss'>, tx: Tx, backfill: Pick<Backfill, 'id' | 'tenantId'>): Promise<void> {
  await enqueue(deps.boss, tx, BACKFILL_QUEUE.name, backfillRef(backfill), { singletonKey: backfill.id })
}

/**
 * Starts a normalization backfill of the caller's tenant, or resumes the one that is running (there
 * is at most one, see V0007). Either way its job is queued in this transaction, so a backfill whose
 * job was lost (retries used up while workers were killed) continues when someone asks again.
 */
export async function startNormalizationBackfill(
  deps: Pick<Deps, 'boss' | 'config'>,
  tx: Tx,
  options: { createdBy: string; batchSize?: number },
): Promise<{ backfill: Backfill; created: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const inserted = await tx.trx.raw<{ rows: BackfillRow[] }>(
      `insert into backfills (tenant_id, kind, target_version, batch_size, created_by)
       values (?, 'NORMALIZATION', ?, ?, ?)
       on conflict (tenant_id, kind) where status = 'RUNNING' do nothing
       returning ${BACKFILL_COLUMNS}`,
      [tx.ctx.tenantId, normalizationVersion({ stripPlusTag: deps.config.emailStripPlusTag }), options.batchSize ?? DEFAULT_BATCH_SIZE, options.createdBy],
    )
    // No row: one is running. Its row committed before the insert gave up, so this next statement
    // sees it, unless it finished in between; then the insert is tried again.
    const running = inserted.rows[0]
      ? undefined
      : await tx.trx.raw<{ rows: BackfillRow[] }>(`select ${BACKFILL_COLUMNS} from backfills where tenant_id = ? and kind = 'NORMALIZATION' and status = 'RUNNING'`, [tx.ctx.tenantId])
    const row = inserted.rows[0] ?? running?.rows[0]
    if (!row) {
      if (attempt < 3) continue
      throw new Error('a running backfill blocked the start but could not be read')
    }
    const backfill = fromRow(row)
    await enqueueBackfill(deps, tx, backfill)
    return { backfill, created: inserted.rows[0] !== undefined }
  }
}

/**
 * Tenants that have leads normalized otherwise than this code with these options would (an older
 * version, or EMAIL_STRIP_PLUS_TAG switched). Needs the all-tenants SYSTEM context
 * (`systemContext('*')`), which may read leads of every tenant but write none (V0004).
 */
export async function tenantsWithStaleLeads(tx: Tx, options: EmailNormalizationOptions = {}): Promise<string[]> {
  const { rows } = await tx.trx.raw<{ rows: { tenant_id: string }[] }>(
    `select distinct tenant_id from leads where normalization_version <> ? order by tenant_id`,
    [normalizationVersion(options)],
  )
  return rows.map((row) => row.tenant_id)
}

export async function findBackfill(tx: Tx, id: string): Promise<Backfill | undefined> {
  const { rows } = await tx.trx.raw<{ rows: BackfillRow[] }>(`select ${BACKFILL_COLUMNS} from backfills where id = ?`, [id])
  return rows[0] ? fromRow(rows[0]) : undefined
}

/**
 * Collisions the caller may see (RLS on backfill_collisions hides those of invisible leads), in
 * lead-id order after `afterLeadId` (keyset pagination).
 */
export async function listCollisions(tx: Tx, backfillId: string, page: { limit: number; afterLeadId?: string }): Promise<{ data: BackfillCollision[]; nextAfter: string | null }> {
  const { rows } = await tx.trx.raw<{ rows: { lead_id: string; email_normalized: string; existing_lead_id: string | null; detected_at: Date }[] }>(
    `select c.lead_id, c.email_normalized, e.id as existing_lead_id, c.detected_at
       from backfill_collisions c
       left join leads e on e.id = c.existing_lead_id
      where c.backfill_id = ? and c.lead_id > coalesce(?::uuid, '00000000-0000-0000-0000-000000000000')
      order by c.lead_id
      limit ?`,
    [backfillId, page.afterLeadId ?? null, page.limit + 1],
  )
  const data = rows.slice(0, page.limit).map((row) => ({ leadId: row.lead_id, emailNormalized: row.email_normalized, existingLeadId: row.existing_lead_id, detectedAt: row.detected_at }))
  return { data, nextAfter: rows.length > page.limit ? data.at(-1)!.leadId : null }
}

/** Gives up on a backfill (its job used up its retries); a new start processes what is still stale. */
export async function failBackfill(tx: Tx, backfillId: string, error: string): Promise<Backfill | undefined> {
  const { rows } = await tx.trx.raw<{ rows: BackfillRow[] }>(
    `update backfills set status = 'FAILED', finished_at = now(), updated_at = now(), last_error = ? where id = ? and status = 'RUNNING' returning ${BACKFILL_COLUMNS}`,
    [error.slice(0, 1000), backfillId],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

/** processed/total as a fraction; 1 once completed, null while the total is not counted yet. */
export function backfillProgress(backfill: Backfill): number | null {
  if (backfill.status === 'COMPLETED') return 1
  if (backfill.total === null) return null
  return backfill.total === 0 ? 1 : Math.min(1, backfill.processed / backfill.total)
}

/** The wire form of a backfill (GET /api/admin/backfills/{id}). */
/** Where a backfill stands, without personal data: the API shows it, and so does its job's output. */
export function backfillCounters(backfill: Backfill): Record<string, unknown> {
  return {
    status: backfill.status,
    processed: backfill.processed,
    total: backfill.total,
    progress: backfillProgress(backfill),
    duplicatesFound: backfill.duplicatesFound,
    failed: backfill.failed,
    lastLeadId: backfill.lastLeadId,
  }
}

export function backfillResource(backfill: Backfill, collisions?: { data: BackfillCollision[]; nextCursor: string | null }): Record<string, unknown> {
  return {
    id: backfill.id,
    tenantId: backfill.tenantId,
    kind: backfill.kind,
    targetVersion: backfill.targetVersion,
    ...backfillCounters(backfill),
    batchSize: backfill.batchSize,
    lastError: backfill.lastError,
    createdBy: backfill.createdBy,
    startedAt: iso(backfill.startedAt),
    updatedAt: iso(backfill.updatedAt),
    finishedAt: iso(backfill.finishedAt),
    ...(collisions && { collisions: collisions.data.map(collisionResource), collisionsNextCursor: collisions.nextCursor }),
  }
}

export function collisionResource(collision: BackfillCollision): Record<string, unknown> {
  return { leadId: collision.leadId, emailNormalized: collision.emailNormalized, existingLeadId: collision.existingLeadId, detectedAt: iso(collision.detectedAt) }
}
