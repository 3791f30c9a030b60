import type { Job, WorkOptions } from 'pg-boss'
import type { Deps } from '../lib/deps.ts'
import { emailSendJob } from './email.ts'
import { followUpJobs, followUpSweepSchedule } from './follow-ups.ts'
import { idempotencyPurgeJob, idempotencyPurgeSchedule } from './idempotency-purge.ts'

/** A worker: the queue it drains and what it does with a batch of jobs. Handlers must be idempotent. */
export interface JobDefinition<T extends object = object> {
  queue: string
  work?: WorkOptions
  handle(deps: Deps, jobs: Job<T>[]): Promise<unknown>
}

/** A cron schedule pg-boss keeps in the database (one row per name, whatever the number of workers). */
export interface ScheduleDefinition {
  queue: string
  cron: string
  data?: object
}

// Every worker and schedule of the service; later issues add theirs here.
export const JOBS: JobDefinition<any>[] = [idempotencyPurgeJob, ...followUpJobs, emailSendJob]
export const SCHEDULES: ScheduleDefinition[] = [idempotencyPurgeSchedule, followUpSweepSchedule]
