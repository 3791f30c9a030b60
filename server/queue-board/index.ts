// A bull-board queue adapter for pg-boss: `new PgBossAdapter(boss, 'queue-name')` per queue, handed
// to createBullBoard like any other adapter. See README.md for how pg-boss states map onto the board.
export { PgBossAdapter, NotSupportedByPgBoss, JobStateConflict, OutOfScope, type JobScope, type PgBossAdapterOptions } from './adapter.ts'
export { PgBossBoardJob, CANCELLED_REASON, type JobRow } from './job.ts'
export { BOARD_STATUSES, type BoardStatus, type PgBossState } from '../../lib/queue-board-plans.ts'
