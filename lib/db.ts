import knexFactory, { type Knex } from 'knex'
import pg from 'pg'
import { fromKnex, type Db } from 'pg-boss'

export type { Knex }

// BIGINT (int8) and NUMERIC arrive as strings by default; counts and sequence numbers here fit
// in a double, so read int8 as a number. NUMERIC (money) stays a string on purpose.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value))

export function createKnex(connectionString: string, options: { poolMax?: number; applicationName?: string } = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString, application_name: options.applicationName ?? 'freshplan-leads' },
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
  })
}

export type Role = 'SALES' | 'MANAGER' | 'ADMIN' | 'SYSTEM'
export type Territory = 'DE' | 'CH'

/** Who acts in a transaction; PostgreSQL's row-level security reads it back with app_*() functions. */
export interface SecurityContext {
  tenantId: string
  userId: string
  role: Role
  territories: readonly Territory[]
}

/** The context of jobs and maintenance: explicit SYSTEM rights, never RLS switched off. */
export function systemContext(tenantId: string, territories: readonly Territory[] = ['DE', 'CH']): SecurityContext {
  return { tenantId, userId: 'system', role: 'SYSTEM', territories }
}

export interface Tx {
  trx: Knex.Transaction
  /** pg-boss's adapter for this transaction: `boss.send(..., { db: tx.db })` commits or rolls back with the rows. */
  db: Db
  ctx: SecurityContext
}

/**
 * The one transaction helper of the code base: opens a transaction, sets the RLS context for it
 * alone (`set_config(..., true)` is transaction-local, so a pooled connection never leaks it), and
 * hands out the pg-boss adapter so "write rows + enqueue jobs" is one atomic unit.
 */
export async function inTransaction<T>(knex: Knex, ctx: SecurityContext, work: (tx: Tx) => Promise<T>): Promise<T> {
  return knex.transaction(async (trx) => {
    await trx.raw(
      `select set_config('app.tenant_id', ?, true), set_config('app.user_id', ?, true),
              set_config('app.role', ?, true), set_config('app.territories', ?, true)`,
      [ctx.tenantId, ctx.userId, ctx.role, ctx.territories.join(',')],
    )
    return work({ trx, db: fromKnex(trx), ctx })
  })
}
