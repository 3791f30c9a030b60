// §10 lead protection jobs: thin handlers over models/lead-protection.ts, which does the work under
// the lead's row lock (each transition once, whatever the number of jobs that run for it).
import type { Job } from 'pg-boss'
import type { Deps } from '../lib/deps.ts'
import { runProtection, sweepProtection, type ProtectionJobData, type ProtectionRunResult } from '../models/lead-protection.ts'
import { PROTECTION_QUEUE_OF, PROTECTION_SWEEP_QUEUE } from '../lib/queues.ts'
import type { JobDefinition, ScheduleDefinition } from './definitions.ts'

function protectionJob(queue: string): JobDefinition<ProtectionJobData> {
  return {
    queue,
    async handle(deps: Deps, jobs: Job<ProtectionJobData>[]) {
      const results: ProtectionRunResult[] = []
      for (const job of jobs) results.push(await runProtection(deps, job.data))
      return { results }
    },
  }
}

export const protectionJobs: JobDefinition<any>[] = [
  ...Object.values(PROTECTION_QUEUE_OF).map(protectionJob),
  { queue: PROTECTION_SWEEP_QUEUE, handle: (deps: Deps) => sweepProtection(deps) },
]

/** Daily at 02:30 UTC: the night before office hours in Berlin and Zurich; what it enqueues runs at once. */
export const protectionSweepSchedule: ScheduleDefinition = { queue: PROTECTION_SWEEP_QUEUE, cron: '30 2 * * *' }
