// The queue board's reads of pg-boss's job table, every statement here and named, as pg-boss keeps
// its own in plans.ts (server/queue-board/adapter.ts runs them; every change goes through pg-boss's
// API). How pg-boss job states appear under bull-board's fixed statuses is one table, used for
// counts, lists and a single job's state, so the three can never disagree. The predicates are
// pg-boss's own (getQueueStats): a queued job (created or retry) is exactly one of blocked,
// deferred or ready.
import type { JobStatus } from '@bull-board/api/typings/app'

/** The bull-board statuses a pg-boss queue can fill, in the order the board shows them. */
export const BOARD_STATUSES = ['active', 'waiting', 'waiting-children', 'delayed', 'completed', 'failed', 'paused'] as const satisfies readonly JobStatus[]
export type BoardStatus = (typeof BOARD_STATUSES)[number]

export type PgBossState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed'

export function isBoardStatus(value: string): value is BoardStatus {
  return (BOARD_STATUSES as readonly string[]).includes(value)
}

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

/**
 * Only jobs whose data has, at each key, one of the listed string values; '' for every job, or
 * `false` for none. Its values are appended to `values`, after the statement's own placeholders.
 */
export type DataScope = 'all' | 'none' | Readonly<Record<string, readonly string[]>>
export function scopeCondition(scope: DataScope, values: unknown[]): string {
  if (scope === 'all') return ''
  if (scope === 'none') return ' AND false'
  return Object.entries(scope)
    .map(([key, allowed]) => {
      values.push(key, [...allowed])
      return ` AND data->>($${values.length - 1}::text) = ANY($${values.length}::text[])`
    })
    .join('')
}

const JOB_COLUMNS = `id, name, data, state, priority,
  retry_count AS "retryCount", retry_limit AS "retryLimit", retry_delay AS "retryDelay", retry_backoff AS "retryBackoff",
  start_after AS "startAfter", started_on AS "startedOn", created_on AS "createdOn", completed_on AS "completedOn",
  keep_until AS "keepUntil", singleton_key AS "singletonKey", expire_seconds AS "expireInSeconds",
  dead_letter AS "deadLetter", policy, pending_dependencies AS "pendingDependencies", output,
  source_name AS "sourceName", source_id AS "sourceId"`

/** What the datastore panel shows; the same questions bull-board asks for BullMQ. */
export const POSTGRES_STATS = `
  SELECT split_part(current_setting('server_version'), ' ', 1) AS version,
         current_setting('port')::int AS port,
         extract(epoch from now() - pg_postmaster_start_time())::int AS uptime,
         (SELECT count(*) FROM pg_stat_activity)::int AS connected,
         (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock')::int AS blocked`

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/i

/**
 * The statements on one pg-boss schema's job table. Each takes the queue name as $1 (and the
 * placeholders named at it) and ends where `scoped` (scopeCondition) is appended.
 */
export function boardPlans(schema = 'pgboss') {
  if (!IDENTIFIER.test(schema)) throw new Error(`not a plain schema name: ${schema}`)
  // The partitioned parent (or, unpartitioned, the one table): `name =` prunes to the queue's partition.
  const table = `${schema}.job`
  const now = `${schema}.job_now()`
  const conditions = statusConditions(now)
  const withStatus = `${JOB_COLUMNS}, ${statusCase(now)} AS "boardStatus"`
  return {
    conditions,
    /** One row: a count per board status. */
    counts: (scoped: string) => `SELECT ${BOARD_STATUSES.map((status) => `count(*) FILTER (WHERE ${conditions[status]})::int AS "${status}"`).join(', ')} FROM ${table} WHERE name = $1${scoped}`,
    /** Jobs in any of the statuses, newest first; $2 offset, $3 limit (null: all). */
    jobs: (statuses: readonly BoardStatus[], scoped: string) =>
      `SELECT ${withStatus} FROM ${table}
        WHERE name = $1 AND (${statuses.map((status) => conditions[status]).join(' OR ')})${scoped}
        ORDER BY created_on DESC, id DESC
       OFFSET $2 LIMIT $3`,
    /** One job; $2 its id. */
    job: (scoped: string) => `SELECT ${withStatus} FROM ${table} WHERE name = $1 AND id = $2${scoped}`,
    /** Ids of the jobs of a status. */
    idsIn: (status: BoardStatus, scoped: string) => `SELECT id FROM ${table} WHERE name = $1 AND ${conditions[status]}${scoped}`,
    /** Ids of the jobs of a status that reached it more than $2 milliseconds ago (by `since`). */
    idsAgedIn: (status: BoardStatus, since: 'completed_on' | 'created_on', scoped: string) =>
      `SELECT id FROM ${table} WHERE name = $1 AND ${conditions[status]} AND ${since} <= ${now} - $2 * interval '1 millisecond'${scoped}`,
    /** Ids of the jobs waiting to run (ready, delayed, blocked). */
    queuedIds: (scoped: string) => `SELECT id FROM ${table} WHERE name = $1 AND state < 'active'${scoped}`,
  }
}
