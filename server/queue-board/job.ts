// One pg-boss job as bull-board's QueueJob. Reads come from a row of pg-boss's job table; every
// change is delegated to the adapter, which goes through pg-boss's API.
import type { JobRetryStatus, JobState, QueueJob, QueueJobJson } from '@bull-board/api/typings/app'
import type { BoardStatus, PgBossState } from '../../lib/queue-board-plans.ts'

/** The columns the adapter selects for a job (pg-boss's names, camel-cased like findJobs()). */
export interface JobRow {
  id: string
  name: string
  data: unknown
  state: PgBossState
  boardStatus: BoardStatus
  priority: number
  retryCount: number
  retryLimit: number
  retryDelay: number
  retryBackoff: boolean
  startAfter: Date
  startedOn: Date | null
  createdOn: Date
  completedOn: Date | null
  keepUntil: Date
  singletonKey: string | null
  expireInSeconds: number
  deadLetter: string | null
  policy: string
  pendingDependencies: number
  output: unknown
  sourceName: string | null
  sourceId: string | null
}

/** What a job asks its adapter to do; each goes through pg-boss's API. */
export interface JobActions {
  retryJob(row: JobRow, state?: JobRetryStatus): Promise<void>
  promoteJob(row: JobRow): Promise<void>
  removeJob(row: JobRow): Promise<void>
  updateJobData(row: JobRow, data: Record<string, any>): Promise<void>
  changeJobDelay(row: JobRow, delayMs: number): Promise<void>
}

export const CANCELLED_REASON = 'Cancelled: pg-boss will not run this job unless it is resumed (boss.resume).'

/** The message of what pg-boss stored in `output` when an attempt failed or timed out. */
export function errorMessage(output: unknown): string | undefined {
  if (output === null || output === undefined) return undefined
  if (typeof output !== 'object') return String(output)
  const record = output as { message?: unknown; value?: unknown }
  if (typeof record.message === 'string') return record.message
  if (typeof record.value === 'string') return record.value
  const inner = record.value as { message?: unknown } | undefined
  if (inner && typeof inner === 'object' && typeof inner.message === 'string') return inner.message
  return JSON.stringify(output)
}

function stackOf(output: unknown): string[] | null {
  const stack = (output as { stack?: unknown } | null)?.stack
  return typeof stack === 'string' ? [stack] : null
}

export class PgBossBoardJob implements QueueJob {
  readonly id: string
  readonly opts: { delay?: number }
  readonly #row: JobRow
  readonly #actions: JobActions

  constructor(row: JobRow, actions: JobActions) {
    this.#row = row
    this.#actions = actions
    this.id = row.id
    this.opts = { delay: this.#delay() }
  }

  /** The pg-boss row behind this job, for callers that need more than bull-board shows. */
  get row(): JobRow {
    return this.#row
  }

  #delay(): number | undefined {
    const ms = this.#row.startAfter.getTime() - this.#row.createdOn.getTime()
    return this.#row.boardStatus === 'delayed' && ms > 0 ? ms : undefined
  }

  /**
   * The reason shown in red: the error of the last failed attempt (pg-boss keeps it in `output`,
   * also while a retry waits), or that the job was cancelled. A completed job's output is its result.
   */
  #failedReason(): string {
    const { state, output } = this.#row
    if (state === 'cancelled') return [CANCELLED_REASON, errorMessage(output)].filter(Boolean).join(' Last error: ')
    if (state === 'failed' || state === 'retry') return errorMessage(output) ?? ''
    return ''
  }

  toJSON(): QueueJobJson {
    const row = this.#row
    // pg-boss increments retryCount when it claims a job again, so started attempts are retryCount + 1;
    // all of them have ended except the one a worker may be running now.
    const attemptsStarted = row.startedOn ? row.retryCount + 1 : 0
    return {
      id: row.id,
      name: row.name,
      progress: 0, // pg-boss does not track progress
      attemptsMade: row.state === 'active' ? attemptsStarted - 1 : attemptsStarted,
      attemptsStarted,
      timestamp: row.createdOn.getTime(),
      processedOn: row.startedOn?.getTime() ?? null,
      finishedOn: row.completedOn?.getTime() ?? null,
      delay: this.opts.delay,
      failedReason: this.#failedReason(),
      stacktrace: row.state === 'completed' ? null : stackOf(row.output),
      data: row.data,
      returnvalue: row.state === 'completed' ? row.output : null,
      priority: row.priority || undefined,
      deduplicationId: row.singletonKey ?? undefined,
      opts: {
        // bull-board draws "will run at" from timestamp + opts.delay and flags "delay changed"
        // when opts.delay differs from delay: the same value, since start_after is the run time.
        delay: this.opts.delay,
        pgBossState: row.state,
        priority: row.priority,
        retryLimit: row.retryLimit,
        retryDelay: row.retryDelay,
        retryBackoff: row.retryBackoff,
        expireInSeconds: row.expireInSeconds,
        startAfter: row.startAfter.toISOString(),
        keepUntil: row.keepUntil.toISOString(),
        singletonKey: row.singletonKey ?? undefined,
        deadLetter: row.deadLetter ?? undefined,
        policy: row.policy,
        pendingDependencies: row.pendingDependencies || undefined,
        sourceQueue: row.sourceName ?? undefined,
        sourceJobId: row.sourceId ?? undefined,
      },
    }
  }

  async getState(): Promise<JobState> {
    return this.#row.boardStatus
  }

  retry(state?: JobRetryStatus): Promise<void> {
    return this.#actions.retryJob(this.#row, state)
  }

  promote(): Promise<void> {
    return this.#actions.promoteJob(this.#row)
  }

  remove(): Promise<void> {
    return this.#actions.removeJob(this.#row)
  }

  updateData(data: Record<string, any>): Promise<void> {
    return this.#actions.updateJobData(this.#row, data)
  }

  changeDelay(delayMs: number): Promise<void> {
    return this.#actions.changeJobDelay(this.#row, delayMs)
  }
}
