import type { Queue } from 'pg-boss'

/**
 * §5 normalization backfills. One job per backfill, its singletonKey the backfill id. `stately`
 * allows one queued and one active job per key: a running slice can queue its continuation, and
 * asking again for a running backfill (POST, `npm run backfill`) never adds a second queued job,
 * nor lets two workers run the same backfill at once. Heartbeats let pg-boss retry a killed
 * worker's job within a minute; the backfill row's lock makes even a concurrent run harmless.
 */
export const BACKFILL_QUEUE = {
  name: 'leads.backfill',
  policy: 'stately',
  heartbeatSeconds: 30,
  expireInSeconds: 15 * 60,
  retryLimit: 10,
  retryDelay: 5,
  retryBackoff: true,
  retryDelayMax: 300,
} as const satisfies Queue

// Every queue the code sends to or works on, with its options. Start-up creates them all (see
// boss.ts), so a send to a queue missing from this list fails loudly instead of vanishing.
// Later issues add their queues here.
export const QUEUES: Record<string, Queue> = {
  [BACKFILL_QUEUE.name]: BACKFILL_QUEUE,
}
