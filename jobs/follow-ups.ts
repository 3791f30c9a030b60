// §6 follow-up jobs: T+3 and T+7 per lead, and the daily sweep; what they do is models/follow-ups.ts.
import type { Job } from 'pg-boss'
import type { Deps } from '../lib/deps.ts'
import { FOLLOW_UP_SWEEP_QUEUE } from '../lib/queues.ts'
import type { FollowUpKind } from '../models/follow-up-rules.ts'
import { FOLLOW_UP_QUEUE_OF, runFollowUp, sweepDueFollowUps, type FollowUpJobData, type FollowUpResult } from '../models/follow-ups.ts'
import type { JobDefinition, ScheduleDefinition } from './definitions.ts'

function followUpJob(kind: FollowUpKind): JobDefinition<FollowUpJobData> {
  return {
    queue: FOLLOW_UP_QUEUE_OF[kind],
    async handle(deps: Deps, jobs: Job<FollowUpJobData>[]) {
      const results: FollowUpResult[] = []
      for (const job of jobs) results.push(await runFollowUp(deps, kind, job.data))
      // The job's output in pg-boss (and the board): what happened to each job of the batch.
      return { results }
    },
  }
}

export const followUpJobs: JobDefinition<any>[] = [
  followUpJob('T3'),
  followUpJob('T7'),
  { queue: FOLLOW_UP_SWEEP_QUEUE, handle: (deps: Deps) => sweepDueFollowUps(deps) },
]

/** Daily at 08:00 UTC (09:00 or 10:00 in Berlin and Zurich): what the sweep enqueues goes out in office hours. */
export const followUpSweepSchedule: ScheduleDefinition = { queue: FOLLOW_UP_SWEEP_QUEUE, cron: '0 8 * * *' }
