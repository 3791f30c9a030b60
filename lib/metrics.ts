// The process's Prometheus metrics (DOMAIN.md §8): one registry per process, served as Prometheus
// text at GET /metrics (server/http-metrics.ts in web, jobs/worker.ts in a worker). Counters are registered without a `_total` suffix, as §8 names them; prom-client's
// Prometheus text format prints the name as registered (only its OpenMetrics format would append
// `_total`, and /metrics does not serve that).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Deps } from './deps.ts'

export const registry = new Registry()
collectDefaultMetrics({ register: registry })
// prom-client names three gauges `*_total`, which Prometheus reserves for counters (promtool flags
// them); their per-type siblings (nodejs_active_handles, …) stay and sum to the same.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)

const registers = [registry]

export const httpRequestDuration = new Histogram({
  name: 'freshplan_http_request_duration_seconds',
  help: 'HTTP request duration by method, route template ("unmatched" when no route matched) and status.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers,
})

export type JobResult = 'success' | 'failure'
export const jobsProcessed = new Counter({
  name: 'freshplan_jobs_processed_total',
  help: 'Jobs handled by this process, by queue and result of the attempt (a failure may still be retried by pg-boss).',
  labelNames: ['queue', 'result'] as const,
  registers,
})

export const jobDuration = new Histogram({
  name: 'freshplan_job_duration_seconds',
  help: 'Duration of one handler call (one batch of jobs) by queue.',
  labelNames: ['queue'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
  registers,
})

/** pg-boss's counts per queue (getQueues()), with pg-boss's names for the states. */
export const QUEUE_DEPTH_STATES = {
  queued: 'queuedCount',
  ready: 'readyCount',
  deferred: 'deferredCount',
  blocked: 'blockedCount',
  active: 'activeCount',
  failed: 'failedCount',
  total: 'totalCount',
} as const

// Queue depth is global (one set of pg-boss tables), so only worker processes export it, from a
// registry of its own that web processes never render; every worker reports the same values.
const queueDepthRegistry = new Registry()

export const queueJobs = new Gauge({
  name: 'freshplan_queue_jobs',
  help:
    'Jobs per pg-boss queue and state as of pg-boss\'s last monitor pass (read at scrape time). Global: every worker process ' +
    'reports the same values, so aggregate with max by (queue, state), never sum. queued = ready + deferred + blocked; ' +
    'total is every stored job; do not sum across states. An autoscaler reads state="ready" or "queued".',
  labelNames: ['queue', 'state'] as const,
  registers: [queueDepthRegistry],
})

export const dbPoolConnections = new Gauge({
  name: 'freshplan_db_pool_connections',
  help: 'Database pool connections by pool (app = knex, pgboss = pg-boss\'s own) and state (used, free, pending = callers waiting).',
  labelNames: ['pool', 'state'] as const,
  registers,
})

export const dbPoolMaxConnections = new Gauge({
  name: 'freshplan_db_pool_max_connections',
  help: 'Largest size each database pool may grow to.',
  labelNames: ['pool'] as const,
  registers,
})

// Event metrics of DOMAIN.md §8, names and labels exactly as specified; the events module records them.
export type EventResult = 'success' | 'duplicate' | 'denied' | 'failure'
export const eventsPublished = new Counter({
  name: 'freshplan_events_published',
  help: 'Events published, by event type, publishing module and result.',
  labelNames: ['event_type', 'module', 'result'] as const,
  registers,
})
export const eventsTruncated = new Counter({
  name: 'freshplan_events_truncated_total',
  help: 'Published events whose NOTIFY carried a reference instead of the data (payload above 7680 bytes, §7).',
  labelNames: ['event_type'] as const,
  registers,
})
export const eventsConsumed = new Counter({
  name: 'freshplan_events_consumed',
  help: 'Events consumed, by event type, consuming module and result (success, duplicate, denied, failure).',
  labelNames: ['event_type', 'module', 'result'] as const,
  registers,
})
export const dedupeCacheEntries = new Gauge({
  name: 'freshplan_dedupe_cache_entries',
  help: 'Entries in the event deduplication cache.',
  registers,
})
export const dedupeCacheHitRate = new Gauge({
  name: 'freshplan_dedupe_cache_hit_rate',
  help: 'Share of consumed events found in the deduplication cache (0 to 1).',
  registers,
})
// Reviews of possible duplicates (§11): opened on a lead's write, decided by managers.
export const reviewsOpened = new Counter({
  name: 'freshplan_reviews_opened_total',
  help: 'Reviews of possible duplicates opened, by territory.',
  labelNames: ['territory'] as const,
  registers,
})
export const reviewsDecided = new Counter({
  name: 'freshplan_reviews_decided_total',
  help: 'Reviews of possible duplicates decided, by decision (NOT_DUPLICATE, DISMISS, MERGE).',
  labelNames: ['decision'] as const,
  registers,
})
export const eventLatency = new Histogram({
  name: 'freshplan_event_latency',
  help: 'Seconds from an event\'s time to its consumption.',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  registers,
})

/** Wraps a job handler call so its outcome and duration are recorded per queue. */
export async function measureJob<T>(queue: string, jobCount: number, handle: () => Promise<T>): Promise<T> {
  const stopTimer = jobDuration.startTimer({ queue })
  try {
    const result = await handle()
    jobsProcessed.inc({ queue, result: 'success' satisfies JobResult }, jobCount)
    return result
  } catch (error) {
    jobsProcessed.inc({ queue, result: 'failure' satisfies JobResult }, jobCount)
    throw error
  } finally {
    stopTimer()
  }
}

/** Reads the queue depth from pg-boss (worker processes only, see queueJobs). */
async function collectQueueDepth(deps: Pick<Deps, 'boss'>): Promise<void> {
  const queues = await deps.boss.getQueues()
  // Reset and set together after the await, so a concurrent scrape never sees half a set and a
  // deleted queue's series disappear.
  queueJobs.reset()
  for (const queue of queues) {
    for (const [state, field] of Object.entries(QUEUE_DEPTH_STATES)) queueJobs.set({ queue: queue.name, state }, Number(queue[field]))
  }
}

/** Reads what is only known at scrape time: the pools' usage. */
function collectPoolUsage(deps: Pick<Deps, 'boss' | 'knex'>): void {
  dbPoolConnections.reset()
  dbPoolMaxConnections.reset()
  // knex's tarn pool; `client` is untyped in knex's typings.
  const pool = (deps.knex.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number; max: number } }).pool
  if (pool) {
    dbPoolConnections.set({ pool: 'app', state: 'used' }, pool.numUsed())
    dbPoolConnections.set({ pool: 'app', state: 'free' }, pool.numFree())
    dbPoolConnections.set({ pool: 'app', state: 'pending' }, pool.numPendingAcquires())
    dbPoolMaxConnections.set({ pool: 'app' }, pool.max)
  }
  const bossPool = deps.boss.getDb().poolCounts?.()
  if (bossPool) {
    dbPoolConnections.set({ pool: 'pgboss', state: 'used' }, bossPool.total - bossPool.idle)
    dbPoolConnections.set({ pool: 'pgboss', state: 'free' }, bossPool.idle)
    dbPoolConnections.set({ pool: 'pgboss', state: 'pending' }, bossPool.waiting)
    dbPoolMaxConnections.set({ pool: 'pgboss' }, bossPool.max)
  }
}

/**
 * The process's metrics as Prometheus text, scrape-time values read first. `queueDepth`: a worker
 * adds the global queue depth; web processes leave it out, so no sum over processes multiplies it.
 */
export async function renderMetrics(deps: Pick<Deps, 'boss' | 'knex'>, options: { queueDepth: boolean }, onCollectError: (error: unknown) => void): Promise<{ contentType: string; body: string }> {
  collectPoolUsage(deps)
  if (!options.queueDepth) return { contentType: registry.contentType, body: await registry.metrics() }
  try {
    await collectQueueDepth(deps)
  } catch (error) {
    // The process metrics still help when the database does not answer; the missing queue
    // series tell the alerting that it did not.
    queueJobs.reset()
    onCollectError(error)
  }
  return { contentType: registry.contentType, body: `${await registry.metrics()}\n${await queueDepthRegistry.metrics()}` }
}
