// §11: the worker side of a hard duplicate's `duplicate_detected` event (models/reviews.ts).
import type { Deps } from '../lib/deps.ts'
import { DUPLICATE_DETECTED_QUEUE } from '../lib/queues.ts'
import { recordHardDuplicate } from '../models/reviews.ts'
import type { JobDefinition } from './definitions.ts'

export const duplicateDetectedJob: JobDefinition<{ tenantId: string; leadId: string }> = {
  queue: DUPLICATE_DETECTED_QUEUE,
  handle: async (deps: Deps, jobs) => {
    for (const job of jobs) await recordHardDuplicate(deps, job.data.tenantId, job.data.leadId)
  },
}
