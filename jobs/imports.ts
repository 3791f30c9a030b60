// §14 lead-list imports: pg-boss job `leads.import`, one per import. A slice reads the stored file,
// runs batches (models/imports.ts importBatch, one transaction each, as the importing user) for
// a while, then queues its continuation and completes with the progress as its output, so the queue
// board shows how far it got. A killed worker's job is retried by pg-boss and works the batches
// that have not committed (import_batches).
import type { Job } from 'pg-boss'
import { inTransaction, systemContext } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { ImportFileError, mapColumns, parseImportFile, type ColumnMap, type SheetRow } from '../models/import-file.ts'
import {
  IMPORT_PARALLEL_BATCHES, batchCount, committedBatches, enqueueImport, failImport, findImport, importActorContext, importBatch, importCounters, importWithFile, startImport,
  type Import, type ImportRef,
} from '../models/imports.ts'
import { requiresFirstContact } from '../models/lead-rules.ts'
import { sliceMs } from './backfill.ts'
import { IMPORT_QUEUE } from '../lib/queues.ts'
import type { JobDefinition } from './definitions.ts'

const BATCH_ATTEMPTS = 5

interface Parsed {
  rows: SheetRow[]
  map: ColumnMap
  /** A dry run's would-be-created e-mails of this process's earlier batches (see models/imports.ts). */
  dryRunEmails: Set<string>
}

// The continuation of a slice usually runs in the same process: keep the last parsed files instead
// of parsing 10 MB again every slice. Bounded: a few files' rows.
const parsedFiles = new Map<string, Parsed>()
const PARSED_FILES_KEPT = 2

function remember(id: string, parsed: Parsed): Parsed {
  parsedFiles.delete(id)
  parsedFiles.set(id, parsed)
  while (parsedFiles.size > PARSED_FILES_KEPT) parsedFiles.delete(parsedFiles.keys().next().value!)
  return parsed
}

/** The rows and column map of the import's file, or why it cannot be imported. */
async function parse(imp: Import, file: Buffer): Promise<Parsed> {
  const parsed = await parseImportFile(file)
  const map = mapColumns(parsed.header, imp.options.mapping)
  if (requiresFirstContact(imp.options.source) && !map.fields.includes('firstContact')) {
    throw new ImportFileError(`Leads from source ${imp.options.source} need a documented first contact: the file needs a column Erstkontakt (First contact), or a mapping to firstContact.`)
  }
  return { rows: parsed.rows, map, dryRunEmails: new Set() }
}

export interface RunOptions {
  signal?: AbortSignal
  /** Stops after the batch that ends past this time (epoch ms); the import stays RUNNING. */
  deadline?: number
  /** Batches at once (default IMPORT_PARALLEL_BATCHES). */
  parallel?: number
  onBatch?: (imp: Import) => void
}

export interface RunResult {
  imp: Import | undefined
  finished: boolean
  /** Rows this run handled (for its rate). */
  processed: number
}

/** Runs batches of one import until it is finished, the signal aborts or the deadline passes. */
export async function runImport(deps: Deps, ref: ImportRef, options: RunOptions = {}): Promise<RunResult> {
  // The file (up to 10 MB) is read only when this process has not parsed it in an earlier slice.
  let parsed = parsedFiles.get(ref.importId)
  const loaded = await inTransaction(deps.knex, systemContext(ref.tenantId), async (tx) => (parsed ? { imp: await findImport(tx, ref.importId), file: null } : importWithFile(tx, ref.importId)))
  if (!loaded?.imp || loaded.imp.status === 'COMPLETED' || loaded.imp.status === 'FAILED') return { imp: loaded?.imp, finished: true, processed: 0 }
  let imp: Import | undefined = loaded.imp
  if (!parsed) {
    try {
      if (!loaded.file) throw new ImportFileError('The stored file is missing.')
      parsed = remember(imp.id, await parse(imp, loaded.file))
    } catch (error) {
      if (!(error instanceof ImportFileError)) throw error
      // Nothing of the file was written: the import fails as a whole, with the reason.
      imp = await inTransaction(deps.knex, systemContext(ref.tenantId), (tx) => failImport(tx, ref.importId, error.message))
      return { imp, finished: true, processed: 0 }
    }
  }
  const ctx = importActorContext(imp)
  if (imp.status === 'QUEUED') imp = await inTransaction(deps.knex, ctx, (tx) => startImport(tx, ref.importId, parsed.rows.length))
  if (!imp || imp.status !== 'RUNNING') return { imp, finished: true, processed: 0 }
  const started = imp
  const rows = parsed
  // The batches without a committed row, in file order, worked by IMPORT_PARALLEL_BATCHES loops.
  const done = await inTransaction(deps.knex, ctx, (tx) => committedBatches(tx, ref.importId))
  const todo = Array.from({ length: batchCount(started, rows.rows.length) }, (_, batch) => batch).filter((batch) => !done.has(batch))
  let processed = 0
  let latest: Import | undefined = started
  let stopped = false
  const worker = async () => {
    for (;;) {
      if (stopped || options.signal?.aborted || (options.deadline !== undefined && Date.now() >= options.deadline)) {
        stopped = true
        return
      }
      const batch = todo.shift()
      if (batch === undefined) return
      const result = await withRetries((careful) =>
        inTransaction(deps.knex, ctx, (tx) => importBatch(deps, tx, ref.importId, batch, { rows: rows.rows, map: rows.map, careful, dryRunEmails: rows.dryRunEmails })),
      )
      processed += result.processed
      // The batch that committed last knows the newest counters.
      if (result.imp && (latest === undefined || result.imp.processed >= latest.processed)) latest = result.imp
      if (!result.imp || result.imp.status !== 'RUNNING') return
      if (result.imp) options.onBatch?.(result.imp)
    }
  }
  // One loop's error stops the others after their current batch; the job fails once all have stopped.
  const results = await Promise.allSettled(Array.from({ length: options.parallel ?? IMPORT_PARALLEL_BATCHES }, () => worker().catch((error: unknown) => {
    stopped = true
    throw error
  })))
  const failure = results.find((result) => result.status === 'rejected')
  if (failure) throw failure.reason
  const finished = !stopped && todo.length === 0
  if (finished) {
    parsedFiles.delete(ref.importId)
    // Read back: the last batch to commit may have been another loop's.
    latest = await inTransaction(deps.knex, ctx, (tx) => findImport(tx, ref.importId))
  }
  return { imp: latest, finished: finished || latest?.status !== 'RUNNING', processed }
}

/** Deadlocks and serialization failures are redone; from the second retry on, row by row in savepoints. */
async function withRetries<T>(work: (careful: boolean) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt > 1)
    } catch (error) {
      if (attempt >= BATCH_ATTEMPTS) throw error
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
    }
  }
}

/** The job output shown on the queue board. Counts only, no personal data. */
export function importOutput(imp: Import | undefined, slice: { processed: number; ms: number }): Record<string, unknown> {
  if (!imp) return { status: 'MISSING' }
  return {
    importId: imp.id,
    ...importCounters(imp),
    sliceProcessed: slice.processed,
    sliceRowsPerSecond: slice.ms > 0 ? Math.round((slice.processed * 1000) / slice.ms) : null,
  }
}

async function handle(deps: Deps, [job]: Job<ImportRef>[]): Promise<Record<string, unknown>> {
  const ref = job!.data
  const log = deps.logger.child({ importId: ref.importId, tenantId: ref.tenantId, jobId: job!.id })
  const started = Date.now()
  try {
    const run = await runImport(deps, ref, { signal: job!.signal, deadline: started + sliceMs(deps.config) })
    if (job!.signal.aborted) throw new Error('the import job lost its claim; a retry continues from the stored position')
    if (!run.finished) await inTransaction(deps.knex, systemContext(ref.tenantId), (tx) => enqueueImport(deps, tx, { id: ref.importId, tenantId: ref.tenantId }))
    // Not visible even to SYSTEM: a worker without the SYSTEM role (V0008) cannot work imports at all.
    if (!run.imp) log.error('import not found; the worker must connect as the worker role')
    const output = importOutput(run.imp, { processed: run.processed, ms: Date.now() - started })
    log.info(output, run.finished ? 'import finished' : 'import slice done; continuation queued')
    return output
  } catch (error) {
    if (job!.retryCount >= IMPORT_QUEUE.retryLimit) {
      await inTransaction(deps.knex, systemContext(ref.tenantId), (tx) => failImport(tx, ref.importId, `The import stopped after repeated errors: ${(error as Error).message}`)).catch((failError) =>
        log.error({ err: failError }, 'could not mark the import FAILED'),
      )
    }
    throw error
  }
}

export const importJob: JobDefinition<ImportRef> = {
  queue: IMPORT_QUEUE.name,
  handle,
}
