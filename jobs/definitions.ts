// What the worker process runs, as types: a job handler per queue, cron schedules and background
// services. jobs/registry.ts lists the instances.
import type { Job, WorkOptions } from 'pg-boss'
import type { Deps } from '../lib/deps.ts'

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
