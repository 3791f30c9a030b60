// bull-board's queue adapter for one pg-boss queue. Reads (counts, lists, a job) are the statements of
// lib/queue-board-plans.ts on pg-boss's job table, with pg-boss's own definitions of each state; every change (retry, promote, delete,
// edit, send) goes through pg-boss's API, so its bookkeeping (retained counts, notifications, flow
// dependencies) stays right.
import { BaseAdapter } from '@bull-board/api/dist/queueAdapters/base.js'
import type {
  AppJobScheduler,
  JobCleanStatus,
  JobCounts,
  JobRetryStatus,
  JobSchedulerUpdateResult,
  JobStatus,
  QueueAdapterOptions,
  QueueJob,
  QueueJobOptions,
  QueueMetrics,
  QueueWorker,
  RedisStats,
  Status,
} from '@bull-board/api/typings/app'
import type { PgBoss } from 'pg-boss'
import { PgBossBoardJob, type JobActions, type JobRow } from './job.ts'
import { BOARD_STATUSES, POSTGRES_STATS, boardPlans, isBoardStatus, scopeCondition, type BoardStatus } from '../../lib/queue-board-plans.ts'

/**
 * Which jobs of the queue the current caller may see and act on. `'all'`: every job, schedules,
 * workers, the datastore panel and adding jobs. `'none'`: nothing. `{ data }`: only jobs whose data
 * has, at each key, one of the listed string values (e.g. `{ tenantId: ['acme'], territory: ['DE'] }`);
 * such a caller can neither add jobs nor edit a job's data (which could move it out of its scope),
 * and sees no schedules, workers or datastore details, which belong to no one's data.
 */
export type JobScope = 'all' | 'none' | { data: Readonly<Record<string, readonly string[]>> }

export interface PgBossAdapterOptions extends Partial<QueueAdapterOptions> {
  /** The schema pg-boss was installed in. */
  schema?: string
  /**
   * Asked on every call (bull-board shares one adapter between all requests, so a per-request
   * scope comes from e.g. AsyncLocalStorage). Default: `'all'`.
   */
  scope?: () => JobScope
}

/**
 * An operation the board offers that pg-boss has no equivalent for. bull-board answers with the
 * error's `statusCode` and message, so the operator reads why instead of "internal server error".
 */
export class NotSupportedByPgBoss extends Error {
  readonly statusCode = 405
  constructor(detail: string) {
    super(`Not supported by pg-boss: ${detail}`)
    this.name = 'NotSupportedByPgBoss'
  }
}

/**
 * The caller's scope does not allow the operation at all (adding a job, editing a job's data,
 * schedules). Jobs outside the scope are never refused with this: they do not exist (404).
 */
export class OutOfScope extends Error {
  readonly statusCode = 403
  constructor(detail: string) {
    super(detail)
    this.name = 'OutOfScope'
  }
}

/** The job is no longer in the state the operation needs (it moved on since the page was drawn). */
export class JobStateConflict extends Error {
  readonly statusCode = 409
  constructor(detail: string) {
    super(detail)
    this.name = 'JobStateConflict'
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DELETE_BATCH = 1000
// bull-board needs a non-empty id in a URL; pg-boss's default schedule key is the empty string.
const DEFAULT_SCHEDULE_ID = '(default)'

export class PgBossAdapter extends BaseAdapter implements JobActions {
  readonly #boss: PgBoss
  readonly #queue: string
  readonly #plans: ReturnType<typeof boardPlans>
  readonly #scope: () => JobScope

  constructor(boss: PgBoss, queueName: string, options: PgBossAdapterOptions = {}) {
    // 'bull' keeps bull-board from treating the queue as BullMQ (flows, concurrency, Redis keys);
    // pg-boss cannot re-run a completed job, so completed retries are off.
    super('bull', { ...options, allowCompletedRetries: false })
    this.#boss = boss
    this.#queue = queueName
    this.#plans = boardPlans(options.schema)
    this.#scope = options.scope ?? (() => 'all')
  }

  /** The caller's scope right now. */
  scope(): JobScope {
    return this.#scope()
  }

  /**
   * The SQL condition (` AND …`) that keeps a query to the caller's jobs; its values are appended
   * to `values`, so it goes after the query's own placeholders.
   */
  #inScope(values: unknown[]): string {
    const scope = this.#scope()
    return scopeCondition(typeof scope === 'string' ? scope : scope.data, values)
  }

  #requireAll(what: string): void {
    if (this.#scope() !== 'all') throw new OutOfScope(`Only a platform operator may ${what}.`)
  }

  async #query<Row>(text: string, values: unknown[] = []): Promise<Row[]> {
    const { rows } = await this.#boss.getDb().executeSql(text, values)
    return rows as Row[]
  }

  #job(row: JobRow): PgBossBoardJob {
    return new PgBossBoardJob(row, this)
  }

  getName(): string {
    return `${this.prefix}${this.#queue}`
  }

  /** The pg-boss queue name (getName() carries the board prefix). */
  getQueueName(): string {
    return this.#queue
  }

  getStatuses(): Status[] {
    return ['latest', ...BOARD_STATUSES]
  }

  getJobStatuses(): JobStatus[] {
    return [...BOARD_STATUSES]
  }

  async getJobCounts(): Promise<JobCounts> {
    const values: unknown[] = [this.#queue]
    const [counts] = await this.#query<Record<BoardStatus, number>>(this.#plans.counts(this.#inScope(values)), values)
    return { ...counts, prioritized: 0 }
  }

  /**
   * Jobs in any of the statuses, newest first. `start`/`end` are inclusive positions as in BullMQ;
   * created_on and id never change, so consecutive pages never repeat or skip a job.
   */
  async getJobs(jobStatuses: JobStatus[], start = 0, end = -1): Promise<QueueJob[]> {
    const statuses = jobStatuses.filter(isBoardStatus)
    if (statuses.length === 0) return []
    const offset = Math.max(0, start)
    const limit = end >= offset ? end - offset + 1 : null // null: LIMIT ALL
    const values: unknown[] = [this.#queue, offset, limit]
    const rows = await this.#query<JobRow>(this.#plans.jobs(statuses, this.#inScope(values)), values)
    return rows.map((row) => this.#job(row))
  }

  /** A job of this queue in the caller's scope; any other id is null (bull-board: 404, no existence leak). */
  async getJob(id: string): Promise<PgBossBoardJob | null> {
    if (!UUID.test(id)) return null
    const values: unknown[] = [this.#queue, id]
    const [row] = await this.#query<JobRow>(this.#plans.job(this.#inScope(values)), values)
    return row ? this.#job(row) : null
  }

  /** Job data decides whose job it is (its tenant, even the context a handler runs in): operators only. */
  async addJob(_name: string, data: any, options: QueueJobOptions): Promise<QueueJob> {
    this.#requireAll('add jobs')
    const id = await this.#boss.send(this.#queue, data ?? {}, {
      ...(options.delay ? { startAfter: options.delay / 1000 } : {}),
      ...(options.attempts ? { retryLimit: Math.max(0, options.attempts - 1) } : {}),
    })
    // null: the queue's policy or a singletonKey deduplicated the send.
    const job = id ? await this.getJob(id) : null
    if (!job) throw new JobStateConflict(`pg-boss did not create a job on "${this.#queue}" (deduplicated by its policy)`)
    return job
  }

  async retryJob(row: JobRow, _state?: JobRetryStatus): Promise<void> {
    if (row.state !== 'failed') throw new NotSupportedByPgBoss(`only failed jobs can be retried; this job is ${row.state}`)
    const response = (await this.#boss.retry(this.#queue, row.id)) as { affected?: number }
    if (response.affected !== 1) throw new JobStateConflict(`job ${row.id} is no longer failed`)
  }

  async promoteJob(row: JobRow): Promise<void> {
    // update() with startAfter 0 is pg-boss's "run now": it moves start_after to the database's
    // now, keeps the retention window, and wakes LISTENing workers.
    const { updated } = await this.#boss.update(this.#queue, undefined, { id: row.id, startAfter: 0 })
    if (updated !== 1) throw new JobStateConflict(`job ${row.id} is no longer waiting to run`)
  }

  async removeJob(row: JobRow): Promise<void> {
    // A running job stays: its worker would settle a row that is gone. bull-board answers 409.
    if (row.state === 'active') throw new JobStateConflict(`job ${row.id} is running`)
    await this.#boss.deleteJob(this.#queue, row.id)
  }

  /** Operators only: new data could name another tenant, territory or lead. */
  async updateJobData(row: JobRow, data: Record<string, any>): Promise<void> {
    this.#requireAll('edit job data')
    const { updated } = await this.#boss.update(this.#queue, data, { id: row.id })
    if (updated !== 1) throw new NotSupportedByPgBoss(`pg-boss edits only jobs that have not started; this job is ${row.state}`)
  }

  async changeJobDelay(row: JobRow, delayMs: number): Promise<void> {
    const { updated } = await this.#boss.update(this.#queue, undefined, { id: row.id, startAfter: Math.max(0, delayMs) / 1000 })
    if (updated !== 1) throw new JobStateConflict(`job ${row.id} is no longer waiting to run`)
  }

  /** Every delayed job runnable now, one pg-boss update each (pg-boss has no bulk promote). */
  async promoteAll(): Promise<void> {
    const values: unknown[] = [this.#queue]
    const rows = await this.#query<{ id: string }>(this.#plans.idsIn('delayed', this.#inScope(values)), values)
    for (const { id } of rows) await this.#boss.update(this.#queue, undefined, { id, startAfter: 0 })
  }

  /** Deletes the jobs of a status that reached it more than `graceTimeMs` ago. */
  async clean(status: JobCleanStatus, graceTimeMs: number): Promise<void> {
    if (status === 'active') throw new NotSupportedByPgBoss('running jobs cannot be deleted; their workers still settle them')
    const boardStatus: BoardStatus = status === 'wait' ? 'waiting' : status
    // Finished jobs age from when they finished, queued ones from when they were sent.
    const since = boardStatus === 'completed' || boardStatus === 'failed' ? 'completed_on' : 'created_on'
    const values: unknown[] = [this.#queue, Math.max(0, graceTimeMs)]
    const rows = await this.#query<{ id: string }>(this.#plans.idsAgedIn(boardStatus, since, this.#inScope(values)), values)
    await this.#deleteJobs(rows.map((row) => row.id))
  }

  async #deleteJobs(ids: string[]): Promise<void> {
    for (let at = 0; at < ids.length; at += DELETE_BATCH) await this.#boss.deleteJob(this.#queue, ids.slice(at, at + DELETE_BATCH))
  }

  /** Removes the jobs waiting to run (ready, delayed, blocked), as BullMQ's drain does; a scoped caller's only. */
  async empty(): Promise<void> {
    if (this.#scope() === 'all') {
      await this.#boss.deleteQueuedJobs(this.#queue)
      return
    }
    const values: unknown[] = [this.#queue]
    const rows = await this.#query<{ id: string }>(this.#plans.queuedIds(this.#inScope(values)), values)
    await this.#deleteJobs(rows.map((row) => row.id))
  }

  async obliterate(): Promise<void> {
    throw new NotSupportedByPgBoss('queues are declared in code (lib/queues.ts); delete one with boss.deleteQueue()')
  }

  async isPaused(): Promise<boolean> {
    return false
  }

  async pause(): Promise<void> {
    throw new NotSupportedByPgBoss('a queue cannot be paused; stop its workers (boss.offWork) instead')
  }

  async resume(): Promise<void> {
    throw new NotSupportedByPgBoss('a queue cannot be paused, so there is nothing to resume')
  }

  async getJobLogs(): Promise<string[]> {
    return [] // pg-boss keeps no per-job log lines
  }

  async getMetrics(): Promise<QueueMetrics> {
    throw new NotSupportedByPgBoss('per-minute throughput history')
  }

  async getRedisInfo(): Promise<string | null> {
    return null
  }

  /** What the board's datastore panel shows; the same questions bull-board asks PostgreSQL for BullMQ. */
  async getDatastoreStats(): Promise<RedisStats | null> {
    if (this.#scope() !== 'all') return null // the database server is the platform's, not a tenant's
    const [row] = await this.#query<{ version: string; port: number; uptime: number; connected: number; blocked: number }>(POSTGRES_STATS)
    if (!row) return null
    return { backend: 'postgres', version: row.version, port: row.port, uptime: row.uptime, clients: { connected: row.connected, blocked: row.blocked } }
  }

  /**
   * Workers of live pg-boss instances on this queue, from pg-boss's instance registry. An instance
   * lists its workers from its first heartbeat on (30 s by default), so while one has not beaten
   * yet an empty list would be a false "nobody works this queue": that answers unknown (null).
   */
  async getWorkers(): Promise<QueueWorker[] | null> {
    if (this.#scope() !== 'all') return null // hosts and pids are the platform's: "unknown" to a tenant
    const live = (await this.#boss.getInstances()).filter((instance) => instance.live)
    const now = Date.now()
    const workers = live.flatMap((instance) =>
      instance.workers
        .filter((worker) => worker.queue === this.#queue)
        .map((worker) => ({
          id: worker.id,
          name: instance.name,
          addr: `${instance.host} pid ${instance.pid}`,
          age: Math.max(0, Math.round((now - new Date(instance.startedOn).getTime()) / 1000)),
        })),
    )
    const notYetReported = live.some((instance) => new Date(instance.heartbeatOn).getTime() <= new Date(instance.startedOn).getTime())
    return workers.length === 0 && notYetReported ? null : workers
  }

  async getGlobalConcurrency(): Promise<number | null> {
    return null
  }

  async setGlobalConcurrency(): Promise<void> {
    throw new NotSupportedByPgBoss('queue-wide concurrency; set localConcurrency on the workers')
  }

  // Schedules carry no tenant: a scoped caller sees none and can neither remove nor run one.
  async getJobSchedulers(): Promise<Omit<AppJobScheduler, 'queueName'>[]> {
    if (this.#scope() !== 'all') return []
    const schedules = await this.#boss.getSchedules(this.#queue)
    return schedules.map((schedule) => {
      const next = this.#nextRun(schedule.cron, schedule.timezone)
      return {
        id: schedule.key === '' ? DEFAULT_SCHEDULE_ID : schedule.key,
        name: schedule.name,
        pattern: schedule.cron,
        tz: schedule.timezone,
        ...(next ? { next } : {}),
        ...(schedule.lastJobId ? { lastRunJobId: schedule.lastJobId } : {}),
        template: { data: schedule.data, opts: schedule.options as Record<string, any> | undefined },
      }
    })
  }

  #nextRun(cron: string, tz: string): number | undefined {
    try {
      return this.#boss.previewSchedule(cron, { tz, count: 1 })[0]?.getTime()
    } catch {
      return undefined // a pattern pg-boss cannot preview is still listed
    }
  }

  async getJobSchedulersCount(): Promise<number> {
    if (this.#scope() !== 'all') return 0
    return (await this.#boss.getSchedules(this.#queue)).length
  }

  /** Stops a schedule. Schedules declared in code come back when a worker next starts. */
  async removeJobScheduler(id: string): Promise<boolean> {
    const key = id === DEFAULT_SCHEDULE_ID ? '' : id
    if (this.#scope() !== 'all') return false
    if (!(await this.#boss.getSchedule(this.#queue, key))) return false
    await this.#boss.unschedule(this.#queue, key)
    return true
  }

  get supportsJobSchedulerRun(): boolean {
    return true
  }

  async runJobSchedulerNow(id: string): Promise<QueueJob | 'not-found'> {
    if (this.#scope() !== 'all') return 'not-found'
    const schedule = await this.#boss.getSchedule(this.#queue, id === DEFAULT_SCHEDULE_ID ? '' : id)
    if (!schedule) return 'not-found'
    // The stored options are send() options plus the schedule's own (tz, key, missed).
    const { tz: _tz, key: _key, missed: _missed, ...sendOptions } = schedule.options ?? {}
    const jobId = await this.#boss.send(this.#queue, schedule.data ?? {}, sendOptions)
    const job = jobId ? await this.getJob(jobId) : null
    if (!job) throw new JobStateConflict(`pg-boss did not create a job on "${this.#queue}" (deduplicated by its policy)`)
    return job
  }

  async updateJobScheduler(): Promise<JobSchedulerUpdateResult> {
    // Never called: supportsJobSchedulerUpdate stays false, because schedules are declared in code
    // and a worker's start would silently undo an edit made here.
    return 'invalid-schedule'
  }
}
