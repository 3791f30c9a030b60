import { PgBoss, type Db, type Queue, type SendOptions } from 'pg-boss'
import type { Logger } from './logger.ts'
import { POOL_IDLE_TIMEOUT_MS, type Knex, type PendingWrite, type Tx } from './db.ts'
import type { Config } from './config.ts'
import { QUEUES } from './queues.ts'

export type { PgBoss }

export interface BossOptions {
  connectionString: string
  logger: Logger
  /** Workers run pg-boss's scheduler and maintenance; web processes only send. */
  role: 'web' | 'worker'
  poolMax?: number
  queues?: readonly Queue[]
}

/** The one place that starts pg-boss (as the application role, schema already migrated by the owner). */
export async function startBoss(options: BossOptions): Promise<PgBoss> {
  const isWorker = options.role === 'worker'
  // pg-boss hands its options to pg.Pool whole; its types do not list pg's idleTimeoutMillis.
  const poolOptions: { idleTimeoutMillis: number } = { idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS }
  const boss = new PgBoss({
    ...poolOptions,
    connectionString: options.connectionString,
    application_name: `freshplan-${options.role}-boss`,
    max: options.poolMax ?? (isWorker ? 10 : 4),
    migrate: false,
    createSchema: false,
    schedule: isWorker,
    supervise: isWorker,
    // Supervision finds jobs of dead workers (lapsed heartbeats) and refreshes queue counts; every
    // 10 s rather than pg-boss's 60 s, so a crashed worker's jobs move on within seconds.
    superviseIntervalSeconds: 10,
    monitorIntervalSeconds: 10,
    // A queue's settings (its table, policy, notify) as sends and workers read them: a changed
    // queue applies within 10 s.
    queueCacheIntervalSeconds: 10,
    reindex: false, // the app role does not own pg-boss's indexes; operators reindex as owner
    // Job dependencies (flows) are not used here: their resolver need not look every 5 s.
    flowIntervalSeconds: 60,
    useListenNotify: isWorker,
  })
  boss.on('error', (error) => options.logger.error({ err: error }, 'pg-boss error'))
  boss.on('warning', (warning) => options.logger.warn({ warning }, 'pg-boss warning'))
  await boss.start({ attempts: 3 })
  // createQueue leaves an existing queue as it is, so changed options are applied with updateQueue.
  const existing = new Set((await boss.getQueues()).map((queue) => queue.name))
  for (const queue of options.queues ?? Object.values(QUEUES)) {
    if (!existing.has(queue.name)) await boss.createQueue(queue.name, queue)
    else {
      const { name, policy: _policy, partition: _partition, ...changeable } = queue
      // pg-boss refuses an update without properties (a queue defined by name and policy alone).
      if (Object.keys(changeable).length > 0) await boss.updateQueue(name, changeable)
    }
  }
  return boss
}

/**
 * Sends a job inside the caller's transaction. pg-boss answers null when it did not create a
 * job; that is only legitimate when a singletonKey deduplicated it, otherwise it is an error.
 */
export async function enqueue(boss: PgBoss, tx: Tx, queue: string, data: object, options: Omit<SendOptions, 'db'> = {}): Promise<string | null> {
  const id = await boss.send(queue, data, { ...options, db: tx.db })
  if (id === null && options.singletonKey === undefined) {
    throw new Error(`pg-boss did not create a job on queue "${queue}"`)
  }
  return id
}

/** A job to send: its queue, its data and the options that place it (due time, deduplication key). */
export interface JobToSend {
  queue: string
  data: object
  options?: Pick<SendOptions, 'startAfter' | 'singletonKey'>
}

/**
 * pg-boss's inserts of these jobs, not yet sent: pg-boss builds each queue's insert (boss.insert:
 * its statement and payload, captured here instead of run), for lib/db.ts writeTogether to send
 * with the transaction's other writes. A job whose singletonKey is taken is skipped, as insert skips it.
 */
export async function jobInserts(boss: PgBoss, jobs: readonly JobToSend[]): Promise<PendingWrite[]> {
  const writes: PendingWrite[] = []
  for (const [queue, queued] of byQueue(jobs)) {
    const capture: Db = {
      executeSql: async (sql: string, values?: unknown[]) => {
        // pg-boss's $1 placeholders as knex's ?, its literal ?s (jsonb operators) escaped (as fromKnex does).
        if ((values ?? []).length !== 1 || /\$[2-9]/.test(sql)) throw new Error(`pg-boss insert of "${queue}" has an unexpected form`)
        writes.push({ sql: sql.replace(/\?/g, '\\?').replace(/\$1\b/g, '?'), bindings: [values![0] as string] })
        return { rows: [] }
      },
    }
    await boss.insert(queue, queued.map((job) => ({ data: job.data, ...job.options })), { db: capture })
  }
  return writes
}

/**
 * Sends jobs now, in the caller's transaction: one pg-boss insert per queue, whatever the number
 * of jobs (the sweeps' batches). A job whose singletonKey is taken is skipped; returns how many
 * were created. (A create's jobs go with its other writes instead: jobInserts.)
 */
export async function enqueueAll(boss: PgBoss, tx: Pick<Tx, 'db'>, jobs: readonly JobToSend[]): Promise<number> {
  let created = 0
  for (const [queue, queued] of byQueue(jobs)) {
    created += (await boss.insert(queue, queued.map((job) => ({ data: job.data, ...job.options })), { db: tx.db, returnId: true }))?.length ?? 0
  }
  return created
}

function byQueue(jobs: readonly JobToSend[]): Map<string, JobToSend[]> {
  const grouped = new Map<string, JobToSend[]>()
  for (const job of jobs) {
    const queued = grouped.get(job.queue)
    if (queued) queued.push(job)
    else grouped.set(job.queue, [job])
  }
  return grouped
}

/**
 * Which of the given queues have a job pg-boss would fetch now: its own fetch condition (waiting or
 * retrying, not blocked, due), one index probe per queue (job_i14: name, state, blocked, start_after).
 */
const READY_QUEUES = `select q.name from unnest($1::text[]) as q(name)
  where exists (select 1 from pgboss.job j where j.name = q.name and j.state < 'active' and not j.blocked and j.start_after <= pgboss.job_now())`

/**
 * One poll for all of a worker process's queues (issue 16): every `intervalMs`, one statement asks
 * which queues have a ready job, and their workers are woken (pg-boss's notifyWorker: the worker
 * fetches at once). The workers' own polls are only a backstop (lib/queues.ts BACKSTOP_WORK). Before,
 * each of the fifteen queues polled every 2 s: 7.5 fetches a second from an idle worker process.
 */
export function watchReadyQueues(boss: PgBoss, workerIds: ReadonlyMap<string, string>, intervalMs: number, onError: (error: unknown) => void): { stop(): void } {
  const names = [...workerIds.keys()]
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const look = async () => {
    try {
      const { rows } = await boss.getDb().executeSql(READY_QUEUES, [names])
      for (const { name } of rows as { name: string }[]) if (!stopped) boss.notifyWorker(workerIds.get(name)!)
    } catch (error) {
      onError(error)
    }
    if (!stopped) timer = setTimeout(look, intervalMs).unref()
  }
  timer = setTimeout(look, intervalMs).unref()
  return {
    stop: () => {
      stopped = true
      clearTimeout(timer)
    },
  }
}

/**
 * The last step of a graceful shutdown: pg-boss stops fetching and waits for running jobs (what
 * does not finish in time is retried by pg-boss on another worker), then the pool closes.
 */
export async function releaseResources(deps: { config: Pick<Config, 'shutdownTimeoutMs'>; knex: Knex; boss: PgBoss }): Promise<void> {
  await deps.boss.stop({ graceful: true, close: true, timeout: deps.config.shutdownTimeoutMs })
  await deps.knex.destroy()
}
