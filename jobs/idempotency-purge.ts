import { inTransaction, systemContext } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { IDEMPOTENCY_PURGE_QUEUE } from '../lib/queues.ts'
import { ALL_TENANTS } from '../lib/tenancy.ts'
import { deleteExpiredKeys } from '../models/idempotency-keys.ts'
import type { JobDefinition, ScheduleDefinition } from './definitions.ts'

/** Deletes expired Idempotency-Key records of every tenant. */
export async function purgeExpiredIdempotencyKeys(deps: Pick<Deps, 'knex' | 'clock'>): Promise<number> {
  return inTransaction(deps.knex, systemContext(ALL_TENANTS), (tx) => deleteExpiredKeys(tx, deps.clock.now()))
}

export const idempotencyPurgeJob: JobDefinition = {
  queue: IDEMPOTENCY_PURGE_QUEUE,
  handle: async (deps) => ({ purged: await purgeExpiredIdempotencyKeys(deps) }),
}

export const idempotencyPurgeSchedule: ScheduleDefinition = { queue: IDEMPOTENCY_PURGE_QUEUE, cron: '17 * * * *' }
