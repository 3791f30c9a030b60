// How pg-boss job states appear under bull-board's fixed statuses. One table, used for counts, lists
// and a single job's state, so the three can never disagree. The predicates are pg-boss's own
// (getQueueStats): a queued job (created or retry) is exactly one of blocked, deferred or ready.
import type { JobStatus } from '@bull-board/api/typings/app'

/** The bull-board statuses a pg-boss queue can fill, in the order the board shows them. */
export const BOARD_STATUSES = ['active', 'waiting', 'waiting-children', 'delayed', 'completed', 'failed', 'paused'] as const satisfies readonly JobStatus[]
export type BoardStatus = (typeof BOARD_STATUSES)[number]

export type PgBossState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed'

/**
 * SQL conditions on a row of pg-boss's job table, one per board status. `now` is pg-boss's clock
 * function (`<schema>.job_now()`), so "delayed" means what pg-boss means by "deferred".
 */
export function statusConditions(now: string): Record<BoardStatus, string> {
  const queued = `state < 'active'`
  return {
    active: `state = 'active'`,
    waiting: `(${queued} AND NOT blocked AND start_after <= ${now})`,
    'waiting-children': `(${queued} AND blocked)`,
    delayed: `(${queued} AND NOT blocked AND start_after > ${now})`,
    completed: `state = 'completed'`,
    failed: `state = 'failed'`,
    paused: `state = 'cancelled'`,
  }
}

/** A CASE expression naming the board status of a row, built from the same conditions. */
export function statusCase(now: string): string {
  const conditions = statusConditions(now)
  return `CASE ${BOARD_STATUSES.map((status) => `WHEN ${conditions[status]} THEN '${status}'`).join(' ')} END`
}

export function isBoardStatus(value: string): value is BoardStatus {
  return (BOARD_STATUSES as readonly string[]).includes(value)
}
