// §14 lead-list imports: the `imports` and `import_errors` tables (V0015) and the batch step that
// turns parsed rows into leads through createLead, the write path of POST /api/leads. Every function
// runs inside the caller's transaction (lib/db.ts inTransaction); the batch step in the importing
// user's context (importActorContext), so row-level security and the rules are those of the user.
import type { Deps } from '../lib/deps.ts'
import { inSavepoint, type Knex, type SecurityContext, type Territory, type Tx } from '../lib/db.ts'
import { enqueue } from '../lib/boss.ts'
import { IMPORT_QUEUE } from '../lib/queues.ts'
import { iso } from './lead-table.ts'
import { type Actor, type LeadCreateInput } from './lead-commands.ts'
import { createLeads, type CreateOutcome } from './lead-create.ts'
import { normalizeEmail } from './normalization.ts'
import { columnOf, rowError, rowToLeadInput, type ColumnMap, type ImportFileType, type ImportMapping, type RowError, type SheetRow } from './import-file.ts'
import { validateLeadCreate } from './validation.ts'
import type { LeadSource, UserRole } from './lead-rules.ts'

export const IMPORT_STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED'] as const
export type ImportStatus = (typeof IMPORT_STATUSES)[number]

/** The default `source` of imported leads (§14). */
export const DEFAULT_IMPORT_SOURCE: LeadSource = 'SONSTIGES'
/** Rows per transaction: amortizes each statement over many rows, keeps a redone batch short. */
export const IMPORT_BATCH_SIZE = 500
/** Batches of one import run at once (each its own transaction and connection): PostgreSQL does the work, on two cores. */
export const IMPORT_PARALLEL_BATCHES = 2

export interface ImportOptions {
  dryRun: boolean
  source: LeadSource
  ownerUserId?: string
  mapping?: ImportMapping
}

export interface Import {
  id: string
  tenantId: string
  createdBy: string
  actorRole: Exclude<UserRole, never>
  actorTerritories: Territory[]
  status: ImportStatus
  filename: string | null
  contentType: string | null
  fileType: ImportFileType | null
  fileSize: number
  options: ImportOptions
  total: number | null
  processed: number
  created: number
  duplicates: number
  failed: number
  batchSize: number
  failureReason: string | null
  createdAt: Date
  startedAt: Date | null
  updatedAt: Date
  finishedAt: Date | null
}

export interface ImportError extends RowError {
  id: number
  /** The live lead a duplicate row collided with, when the importing user may see it. */
  duplicateOf: string | null
}

/** The job's payload. */
export interface ImportRef {
  importId: string
  tenantId: string
}

interface ImportRow {
  id: string
  tenant_id: string
  created_by: string
  actor_role: UserRole
  actor_territories: Territory[]
  status: ImportStatus
  filename: string | null
  content_type: string | null
  file_type: ImportFileType | null
  file_size: number
  options: ImportOptions
  total: number | null
  processed: number
  created: number
  duplicates: number
  failed: number
  batch_size: number
  failure_reason: string | null
  created_at: Date
  started_at: Date | null
  updated_at: Date
  finished_at: Date | null
}

// Never the file: it is read once per job slice (importFile), not with every progress poll.
const IMPORT_COLUMNS = `id, tenant_id, created_by, actor_role, actor_territories, status, filename, content_type, file_type, file_size, options,
  total, processed, created, duplicates, failed, batch_size, failure_reason, created_at, started_at, updated_at, finished_at`

function fromRow(row: ImportRow): Import {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    createdBy: row.created_by,
    actorRole: row.actor_role,
    actorTerritories: row.actor_territories,
    status: row.status,
    filename: row.filename,
    contentType: row.content_type,
    fileType: row.file_type,
    fileSize: row.file_size,
    options: row.options,
    total: row.total,
    processed: row.processed,
    created: row.created,
    duplicates: row.duplicates,
    failed: row.failed,
    batchSize: row.batch_size,
    failureReason: row.failure_reason,
    createdAt: row.created_at,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  }
}

/** The importing user's context, as their token said at upload: the job acts as them. */
export function importActorContext(imp: Pick<Import, 'tenantId' | 'createdBy' | 'actorRole' | 'actorTerritories'>): SecurityContext {
  return { tenantId: imp.tenantId, userId: imp.createdBy, role: imp.actorRole, territories: imp.actorTerritories }
}

export async function enqueueImport(deps: Pick<Deps, 'boss'>, tx: Tx, imp: Pick<Import, 'id' | 'tenantId'>): Promise<void> {
  const ref: ImportRef = { importId: imp.id, tenantId: imp.tenantId }
  await enqueue(deps.boss, tx, IMPORT_QUEUE.name, ref, { singletonKey: imp.id })
}

/** Stores the upload and queues its job, in the caller's (the uploading user's) transaction. */
export async function createImport(
  deps: Pick<Deps, 'boss'>,
  tx: Tx,
  upload: { file: Buffer; filename: string | null; contentType: string | null; fileType: ImportFileType; options: ImportOptions; batchSize?: number },
): Promise<Import> {
  const { rows } = await tx.trx.raw<{ rows: ImportRow[] }>(
    `insert into imports (tenant_id, created_by, actor_role, actor_territories, file, filename, content_type, file_type, file_size, options, batch_size)
     values (?, ?, ?, ?::text[], ?, ?, ?, ?, ?, ?::jsonb, ?)
     returning ${IMPORT_COLUMNS}`,
    [tx.ctx.tenantId, tx.ctx.userId, tx.ctx.role, [...tx.ctx.territories], upload.file, upload.filename?.slice(0, 255) ?? null, upload.contentType?.slice(0, 255) ?? null, upload.fileType, upload.file.length, JSON.stringify(upload.options), upload.batchSize ?? IMPORT_BATCH_SIZE] as Knex.RawBinding[],
  )
  const imp = fromRow(rows[0]!)
  await enqueueImport(deps, tx, imp)
  return imp
}

export async function findImport(tx: Tx, id: string): Promise<Import | undefined> {
  const { rows } = await tx.trx.raw<{ rows: ImportRow[] }>(`select ${IMPORT_COLUMNS} from imports where id = ?`, [id])
  return rows[0] ? fromRow(rows[0]) : undefined
}

/** The import and its stored file (null once finished). */
export async function importWithFile(tx: Tx, id: string): Promise<{ imp: Import; file: Buffer | null } | undefined> {
  const { rows } = await tx.trx.raw<{ rows: (ImportRow & { file: Buffer | null })[] }>(`select ${IMPORT_COLUMNS}, file from imports where id = ?`, [id])
  return rows[0] ? { imp: fromRow(rows[0]), file: rows[0].file } : undefined
}

/** Row errors in (row, id) order after the keyset position `after` (cursor pagination). */
export async function listImportErrors(tx: Tx, importId: string, page: { limit: number; after?: { row: number; id: number } }): Promise<{ data: ImportError[]; nextAfter: { row: number; id: number } | null }> {
  const { rows } = await tx.trx.raw<{ rows: { id: number; row: number; column: string | null; message: string; duplicate_of: string | null }[] }>(
    `select e.id, e.row, e."column", e.message, d.id as duplicate_of
       from import_errors e
       left join leads d on d.id = e.duplicate_of
      where e.import_id = ? and (e.row, e.id) > (?, ?)
      order by e.row, e.id
      limit ?`,
    [importId, page.after?.row ?? 0, page.after?.id ?? 0, page.limit + 1],
  )
  const data = rows.slice(0, page.limit).map((r) => ({ id: r.id, row: r.row, column: r.column, message: r.message, duplicateOf: r.duplicate_of }))
  const last = data.at(-1)
  return { data, nextAfter: rows.length > page.limit && last ? { row: last.row, id: last.id } : null }
}

/** Ends an import that cannot go on (unreadable file, retries used up); its file is dropped. */
export async function failImport(tx: Tx, id: string, reason: string): Promise<Import | undefined> {
  const { rows } = await tx.trx.raw<{ rows: ImportRow[] }>(
    `update imports set status = 'FAILED', failure_reason = ?, file = null, finished_at = now(), updated_at = now()
      where id = ? and status in ('QUEUED', 'RUNNING') returning ${IMPORT_COLUMNS}`,
    [reason.slice(0, 2000), id],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

/** QUEUED → RUNNING with the number of data rows the file has. A running import is left as it is. */
export async function startImport(tx: Tx, id: string, total: number): Promise<Import | undefined> {
  const { rows } = await tx.trx.raw<{ rows: ImportRow[] }>(
    `update imports set status = 'RUNNING', total = ?, started_at = coalesce(started_at, now()), updated_at = now()
      where id = ? and status in ('QUEUED', 'RUNNING') returning ${IMPORT_COLUMNS}`,
    [total, id],
  )
  return rows[0] ? fromRow(rows[0]) : undefined
}

export interface BatchInput {
  rows: readonly SheetRow[]
  map: ColumnMap
  /** Normalized e-mails a dry run has "created" in earlier batches of this run (they were rolled back). */
  dryRunEmails?: Set<string>
  /** Each row in a savepoint of its own: for a batch whose fast run hit an unexpected error. */
  careful?: boolean
}

interface RowOutcome {
  created: number
  duplicates: number
  failed: number
  errors: (RowError & { duplicateOf: string | null })[]
}

class DryRunRollback extends Error {}

/** Batch numbers of the import that have committed (the resume position). */
export async function committedBatches(tx: Tx, importId: string): Promise<Set<number>> {
  const { rows } = await tx.trx.raw<{ rows: { batch: number }[] }>(`select batch from import_batches where import_id = ?`, [importId])
  return new Set(rows.map((row) => row.batch))
}

export function batchCount(imp: Pick<Import, 'batchSize'>, rows: number): number {
  return Math.ceil(rows / imp.batchSize)
}

/**
 * Batch `batch` of an import, in the importing user's transaction: claim it in import_batches (a
 * batch another transaction holds makes this one wait, and one already committed is skipped), take
 * its rows, judge each with the LeadCreate schema and create the valid ones through createLeads
 * (hard duplicates — 409 duplicate-lead — are skipped and listed), then write the row errors and
 * add to the counters. All of it commits together, so a crash redoes exactly the batches without a
 * row. A dry run does the same inside a savepoint it rolls back: it reports what the import would
 * do. The batch that brings `processed` to `total` marks the import COMPLETED and drops its file.
 * Returns the import as this batch left it, or undefined if it does not exist or is not visible.
 */
export async function importBatch(deps: Deps, tx: Tx, importId: string, batchNo: number, input: BatchInput): Promise<{ imp: Import | undefined; processed: number }> {
  // A batch lost in a database crash (not yet flushed) is lost whole with its import_batches row and redone.
  await tx.trx.raw(`select set_config('synchronous_commit', 'off', true)`)
  const current = await findImport(tx, importId)
  if (!current || current.status !== 'RUNNING') return { imp: current, processed: 0 }
  const claimed = await tx.trx.raw<{ rows: unknown[] }>(
    `insert into import_batches (import_id, tenant_id, batch) values (?, ?, ?) on conflict do nothing returning batch`,
    [importId, current.tenantId, batchNo],
  )
  if (claimed.rows.length === 0) return { imp: current, processed: 0 }
  const batch = input.rows.slice(batchNo * current.batchSize, (batchNo + 1) * current.batchSize)
  const actor: Actor = { id: current.createdBy, role: current.actorRole }
  const outcome: RowOutcome = { created: 0, duplicates: 0, failed: 0, errors: [] }
  if (current.options.dryRun) {
    await inSavepoint(tx, async (sp) => {
      await importRows(deps, sp, actor, current, batch, input, outcome)
      throw new DryRunRollback()
    }).catch((error: unknown) => {
      if (!(error instanceof DryRunRollback)) throw error
    })
  } else {
    await importRows(deps, tx, actor, current, batch, input, outcome)
  }
  if (outcome.errors.length > 0) {
    await tx.trx.raw(
      `insert into import_errors (import_id, tenant_id, row, "column", message, duplicate_of)
       select ?, ?, e.row, e.col, e.message, e.duplicate_of from unnest(?::int[], ?::text[], ?::text[], ?::uuid[]) as e (row, col, message, duplicate_of)`,
      [importId, current.tenantId, outcome.errors.map((e) => e.row), outcome.errors.map((e) => e.column), outcome.errors.map((e) => e.message.slice(0, 2000)), outcome.errors.map((e) => e.duplicateOf)] as Knex.RawBinding[],
    )
  }
  // Concurrent batches serialize on the import row here, at their end; each adds its own counts.
  const { rows } = await tx.trx.raw<{ rows: ImportRow[] }>(
    `update imports
        set processed = processed + ?, created = created + ?, duplicates = duplicates + ?, failed = failed + ?, updated_at = now(),
            status = case when processed + ? >= total then 'COMPLETED' else status end,
            finished_at = case when processed + ? >= total then now() end,
            file = case when processed + ? >= total then null else file end
      where id = ?
      returning ${IMPORT_COLUMNS}`,
    [batch.length, outcome.created, outcome.duplicates, outcome.failed, batch.length, batch.length, batch.length, importId],
  )
  return { imp: fromRow(rows[0]!), processed: batch.length }
}

async function importRows(deps: Deps, tx: Tx, actor: Actor, imp: Import, batch: readonly SheetRow[], input: BatchInput, outcome: RowOutcome): Promise<void> {
  const defaults = { source: imp.options.source, ...(imp.options.ownerUserId !== undefined && { ownerUserId: imp.options.ownerUserId }) }
  const emailColumn = columnOf(input.map, 'email')
  const valid: { row: number; body: LeadCreateInput }[] = []
  for (const { row, cells } of batch) {
    const body = rowToLeadInput(input.map, cells, defaults)
    const findings = validateLeadCreate(body)
    if (findings.length > 0) {
      outcome.failed++
      for (const finding of findings) outcome.errors.push({ ...rowError(input.map, row, finding), duplicateOf: null })
      continue
    }
    if (input.dryRunEmails && typeof body.email === 'string') {
      const email = normalizeEmail(body.email, { stripPlusTag: deps.config.emailStripPlusTag })
      if (email !== null && input.dryRunEmails.has(email)) {
        outcome.duplicates++
        outcome.errors.push({ row, column: emailColumn, message: 'A live lead with this e-mail address exists already.', duplicateOf: null })
        continue
      }
    }
    valid.push({ row, body: body as unknown as LeadCreateInput })
  }
  // The fast path: the whole batch through createLeads, one statement per table. The careful path
  // (a retry after an unexpected error) creates row by row, each in a savepoint, to find the row.
  const results: (CreateOutcome | Error)[] = input.careful
    ? await carefully(deps, tx, actor, valid.map((v) => v.body))
    : await createLeads(deps, tx, actor, valid.map((v) => v.body))
  results.forEach((result, i) => {
    const { row } = valid[i]!
    if (result instanceof Error) {
      deps.logger.error({ err: result, importId: imp.id, row }, 'import row failed unexpectedly')
      outcome.failed++
      outcome.errors.push({ row, column: null, message: 'The row could not be imported (internal error).', duplicateOf: null })
      return
    }
    if (result.ok) {
      outcome.created++
      if (input.dryRunEmails && result.lead.emailNormalized) input.dryRunEmails.add(result.lead.emailNormalized)
      return
    }
    const problem = result.error
    if (problem.type === 'duplicate-lead') {
      outcome.duplicates++
      outcome.errors.push({ row, column: emailColumn, message: problem.detail ?? problem.title, duplicateOf: (problem.extensions.existingLeadId as string | undefined) ?? null })
      return
    }
    outcome.failed++
    const fieldErrors = problem.errors ?? []
    if (fieldErrors.length === 0) outcome.errors.push({ row, column: null, message: problem.detail ?? problem.title, duplicateOf: null })
    for (const finding of fieldErrors) outcome.errors.push({ ...rowError(input.map, row, finding), duplicateOf: null })
  })
}

async function carefully(deps: Deps, tx: Tx, actor: Actor, bodies: LeadCreateInput[]): Promise<(CreateOutcome | Error)[]> {
  const results: (CreateOutcome | Error)[] = []
  for (const body of bodies) {
    try {
      results.push((await inSavepoint(tx, (sp) => createLeads(deps, sp, actor, [body])))[0]!)
    } catch (error) {
      results.push(error instanceof Error ? error : new Error(String(error)))
    }
  }
  return results
}

/** processed/total; 1 once completed, null before the file was read. */
export function importProgress(imp: Pick<Import, 'status' | 'total' | 'processed'>): number | null {
  if (imp.status === 'COMPLETED') return 1
  if (imp.total === null) return null
  return imp.total === 0 ? 1 : Math.min(1, imp.processed / imp.total)
}

/** The wire form (GET /api/imports/{id}). */
/** Where an import stands, counts only (no personal data): the API shows it, and so does its job's output. */
export function importCounters(imp: Import): Record<string, unknown> {
  return {
    status: imp.status,
    dryRun: imp.options.dryRun,
    total: imp.total,
    processed: imp.processed,
    created: imp.created,
    duplicates: imp.duplicates,
    failed: imp.failed,
    progress: importProgress(imp),
    failureReason: imp.failureReason,
  }
}

export function importResource(imp: Import): Record<string, unknown> {
  return {
    id: imp.id,
    ...importCounters(imp),
    source: imp.options.source,
    ownerUserId: imp.options.ownerUserId ?? null,
    mapping: imp.options.mapping ?? null,
    filename: imp.filename,
    fileType: imp.fileType,
    fileSize: imp.fileSize,
    createdBy: imp.createdBy,
    createdAt: iso(imp.createdAt),
    startedAt: iso(imp.startedAt),
    updatedAt: iso(imp.updatedAt),
    finishedAt: iso(imp.finishedAt),
  }
}

export function importErrorResource(error: ImportError): Record<string, unknown> {
  return { row: error.row, column: error.column, message: error.message, duplicateOf: error.duplicateOf }
}
