import type { Job, WorkOptions } from 'pg-boss'
import type { Deps } from '../lib/deps.ts'
import { backfillJob } from './backfill.ts'
import { importJob } from './imports.ts'
import { emailSendJob } from './email.ts'
import { followUpJobs, followUpSweepSchedule } from './follow-ups.ts'
import { idempotencyPurgeJob, idempotencyPurgeSchedule } from './idempotency-purge.ts'
import { EVENT_JOBS, EVENT_SCHEDULES, EVENT_SERVICES } from './events.ts'

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

/** A loop the worker process runs beside pg-boss's workers; stopped before pg-boss when the worker drains. */
export interface ServiceDefinition {
  name: string
  start(deps: Deps): { stop(): Promise<void> }
}

// Every worker, schedule and service of the worker process; later issues add theirs here.
export const JOBS: JobDefinition<any>[] = [idempotencyPurgeJob, ...followUpJobs, emailSendJob, ...EVENT_JOBS, backfillJob, importJob]
export const SCHEDULES: ScheduleDefinition[] = [idempotencyPurgeSchedule, followUpSweepSchedule, ...EVENT_SCHEDULES]
export const SERVICES: ServiceDefinition[] = [...EVENT_SERVICES]
