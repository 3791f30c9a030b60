// The normalization backfill worker (§5): pg-boss job `leads.backfill`, one per backfill. It runs
// batches (models/backfills.ts normalizeNextBatch, one transaction each) for a time slice, then
// queues its own continuation and completes with the progress as its output, so the queue board
// shows how far it got and no job outlives its expiry. A killed worker's job is retried by pg-boss
// and resumes from the position stored with the last committed batch.
import type { Job } from 'pg-boss'
import { inTransaction, systemContext } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { backfillCounters, enqueueBackfill, failBackfill, type Backfill, type BackfillRef } from '../models/backfills.ts'
import { isRetryableBatchError, normalizeNextBatch } from '../models/backfill-batch.ts'
import { BACKFILL_QUEUE } from '../lib/queues.ts'
import type { JobDefinition } from './definitions.ts'

/**
 * How long one job runs before it hands over to its continuation: well below expireInSeconds, and
 * short enough that a graceful shutdown (SHUTDOWN_TIMEOUT_MS) sees the slice end on its own, so a
 * deploy never has to fail a backfill job (a batch may run past the deadline by about a second).
 */
export function sliceMs(config: Pick<Deps['config'], 'shutdownTimeoutMs'>): number {
  return Math.min(120_000, Math.max(1000, Math.floor(config.shutdownTimeoutMs * 0.8)))
}
const BATCH_ATTEMPTS = 5

export interface RunOptions {
  /** Stops after the current batch once aborted (lost pg-boss claim, Ctrl-C). */
  signal?: AbortSignal
  /** Stops after the batch that ends past this time (epoch ms); the backfill stays RUNNING. */
  deadline?: number
  /** Called after every batch with the backfill as that batch committed it. */
  onBatch?: (backfill: Backfill) => void
}

export interface RunResult {
  backfill: Backfill | undefined
  /** True when the backfill is no longer RUNNING (or does not exist). */
  finished: boolean
  /** Leads this run handled (for its rate; the backfill's counters cover all runs). */
  processed: number
}

/**
 * Runs batches of one backfill until it is finished, the signal aborts or the deadline passes.
 * Used by the job and by `npm run backfill`; any number of runners of one backfill are safe, since
 * each batch locks the backfill row and continues from what the previous batch committed.
 */
export async function runBackfill(deps: Pick<Deps, 'knex' | 'config'>, ref: BackfillRef, options: RunOptions = {}): Promise<RunResult> {
  const ctx = systemContext(ref.tenantId)
  let backfill: Backfill | undefined
  let processed = 0
  for (;;) {
    if (options.signal?.aborted || (options.deadline !== undefined && Date.now() >= options.deadline)) {
      return { backfill, finished: false, processed }
    }
    const result = await withRetries((careful) =>
      inTransaction(deps.knex, ctx, (tx) => normalizeNextBatch(tx, ref.backfillId, { stripPlusTag: deps.config.emailStripPlusTag, careful })),
    )
    backfill = result.backfill
    processed += result.processed
    if (backfill) options.onBatch?.(backfill)
    if (!backfill || backfill.status !== 'RUNNING') return { backfill, finished: true, processed }
  }
}

/**
 * A batch that lost a race with a concurrent write (unique e-mail, deadlock) is redone; from the
 * second retry on lead by lead, in case the fast path keeps missing a collision.
 */
async function withRetries<T>(work: (careful: boolean) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt > 2)
    } catch (error) {
      if (attempt >= BATCH_ATTEMPTS || !isRetryableBatchError(error)) throw error
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
    }
  }
}

/** What a slice reports as its job output (shown on the queue board). No personal data. */
export function progressOutput(backfill: Backfill | undefined, slice: { processed: number; ms: number }): Record<string, unknown> {
  if (!backfill) return { status: 'MISSING' }
  return {
    backfillId: backfill.id,
    ...backfillCounters(backfill),
    sliceProcessed: slice.processed,
    sliceLeadsPerSecond: slice.ms > 0 ? Math.round((slice.processed * 1000) / slice.ms) : null,
  }
}

async function handle(deps: Deps, [job]: Job<BackfillRef>[]): Promise<Record<string, unknown>> {
  const ref = job!.data
  const log = deps.logger.child({ backfillId: ref.backfillId, tenantId: ref.tenantId, jobId: job!.id })
  const started = Date.now()
  try {
    const run = await runBackfill(deps, ref, { signal: job!.signal, deadline: started + sliceMs(deps.config) })
    // The claim is gone (expired, shut down): pg-boss has settled this attempt already.
    if (job!.signal.aborted) throw new Error('the backfill job lost its claim; a retry continues from the stored position')
    if (!run.finished) await inTransaction(deps.knex, systemContext(ref.tenantId), (tx) => enqueueBackfill(deps, tx, { id: ref.backfillId, tenantId: ref.tenantId }))
    const output = progressOutput(run.backfill, { processed: run.processed, ms: Date.now() - started })
    log.info(output, run.finished ? 'backfill finished' : 'backfill slice done; continuation queued')
    return output
  } catch (error) {
    // The last attempt: record why on the backfill, so it does not look RUNNING forever.
    if (job!.retryCount >= BACKFILL_QUEUE.retryLimit) {
      await inTransaction(deps.knex, systemContext(ref.tenantId), (tx) => failBackfill(tx, ref.backfillId, (error as Error).message)).catch((failError) =>
        log.error({ err: failError }, 'could not mark the backfill FAILED'),
      )
    }
    throw error
  }
}

export const backfillJob: JobDefinition<BackfillRef> = {
  queue: BACKFILL_QUEUE.name,
  handle,
}
