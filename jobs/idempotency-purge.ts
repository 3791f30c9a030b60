import { inTransaction, systemContext } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import type { JobDefinition, ScheduleDefinition } from './registry.ts'

export const IDEMPOTENCY_PURGE_QUEUE = 'idempotency.purge'

/** Deletes expired Idempotency-Key records of every tenant (the policy lets SYSTEM see all keys). */
export async function purgeExpiredIdempotencyKeys(deps: Pick<Deps, 'knex' | 'clock'>): Promise<number> {
  return inTransaction(deps.knex, systemContext('*'), (tx) => tx.trx('idempotency_keys').where('expires_at', '<=', deps.clock.now()).delete())
}

export const idempotencyPurgeJob: JobDefinition = {
  queue: IDEMPOTENCY_PURGE_QUEUE,
  handle: async (deps) => ({ purged: await purgeExpiredIdempotencyKeys(deps) }),
}

export const idempotencyPurgeSchedule: ScheduleDefinition = { queue: IDEMPOTENCY_PURGE_QUEUE, cron: '17 * * * *' }
