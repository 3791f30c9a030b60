// The `territories` table (§2): reference data that only migrations change. Row-level security
// shows a caller the territories of its token.
import { Model, snakeCaseMappers } from 'objection'
import type { Tx } from '../lib/db.ts'
import type { Territory as TerritoryCode } from '../lib/tenancy.ts'

export class Territory extends Model {
  static tableName = 'territories'
  static idColumn = 'code'
  static columnNameMappers = snakeCaseMappers()
  declare code: TerritoryCode
  declare name: string
  declare currency: string
  declare vatRate: string
  declare locale: string
  declare timeZone: string
}

// A deploy restarts the processes, so each reads a territory once instead of once per lead.
const cache = new Map<TerritoryCode, Territory>()

/** A territory by code, cached per process; it must be visible to the transaction's context. */
export async function territoryOf(tx: Tx, code: TerritoryCode): Promise<Territory> {
  const cached = cache.get(code)
  if (cached) return cached
  const territory = await Territory.query(tx.trx).findById(code)
  if (!territory) throw new Error(`territory ${code} is not visible in this context`)
  cache.set(code, territory)
  return territory
}

/** The territories the transaction's context may see, by code. */
export async function visibleTerritories(tx: Tx): Promise<Territory[]> {
  return Territory.query(tx.trx).orderBy('code')
}

/** The wire form of a territory. */
export function territoryResource(t: Territory): Record<string, unknown> {
  return { code: t.code, name: t.name, currency: t.currency, vatRate: Number(t.vatRate), locale: t.locale, timeZone: t.timeZone }
}
