import type { Queue } from 'pg-boss'
import { IDEMPOTENCY_PURGE_QUEUE } from './idempotency-purge.ts'

// Every queue the code sends to or works on, with its options. Start-up creates them all (see
// boss.ts), so a send to a queue missing from this list fails loudly instead of vanishing.
// Later issues add their queues here.
export const QUEUES: Record<string, Queue> = {
  idempotencyPurge: { name: IDEMPOTENCY_PURGE_QUEUE, retryLimit: 3, retryDelay: 60, deleteAfterSeconds: 86_400 },
}
