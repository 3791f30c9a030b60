import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import knexFactory, { type Knex } from 'knex'
import pg from 'pg'
import { fromKnex, type Db } from 'pg-boss'
import { SYSTEM_USER_ID, TERRITORIES, type Role, type Territory } from './tenancy.ts'

export type { Knex }

// BIGINT (int8) and NUMERIC arrive as strings by default; counts and sequence numbers here fit
// in a double, so read int8 as a number. NUMERIC (money) stays a string on purpose.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value))

interface CompiledQuery {
  sql: string
  bindings?: readonly unknown[]
  options?: Record<string, unknown>
}

// knex's PostgreSQL client and transaction, extended below; knex exports no types for them.
const requireKnex = createRequire(import.meta.url)
const KnexPgClient = requireKnex('knex/lib/dialects/postgres/index.js') as typeof Knex.Client
const KnexPgTransaction = requireKnex('knex/lib/dialects/postgres/execution/pg-transaction.js') as new (client: unknown, container: unknown, config?: TransactionConfig, outerTx?: unknown) => {
  begin(connection: unknown): Promise<unknown>
  commit(connection: unknown, value: unknown): Promise<unknown>
  /** Sends `sql`; status 1 then resolves the transaction with `value`, 2 rejects it with `value` (knex's own COMMIT and ROLLBACK). */
  query(connection: unknown, sql: string | LiteralQuery, status?: 1 | 2, value?: unknown): Promise<unknown>
  trxClient: { query(connection: unknown, sql: string | LiteralQuery): Promise<unknown> }
  _completed: boolean
  _resolver(value: unknown): void
}
const runQuery = (KnexPgClient.prototype as unknown as { _query(connection: unknown, query: CompiledQuery): Promise<unknown> })._query
// How pg turns a JavaScript value into a parameter's text; inlineBindings quotes that text.
const { prepareValue } = requireKnex('pg/lib/utils.js') as { prepareValue(value: unknown): string | Buffer | null }

/** Statement texts this process has decided on (a name, or null for unnamed); past the bound, further ones run unnamed (texts built from data must not grow memory). */
const MAX_PREPARED_STATEMENTS = 2_000
const statementNames = new Map<string, string | null>()

/** The name a statement is prepared under, or undefined to send it unnamed. Decided once per text: this runs for every query. */
export function preparedStatementName(sql: string, bindingCount: number, fixedResult = false): string | undefined {
  const decided = statementNames.get(sql)
  if (decided !== undefined) return decided ?? undefined
  // No parameters: DDL, transaction control and savepoints, nothing worth planning once.
  // A `*`: its result columns may follow a table, and a prepared statement whose columns change (a
  // migration adding one while this process runs) fails with "cached plan must not change result
  // type"; the application lists its columns instead (models/lead.ts). `fixedResult` marks
  // statements whose `*`s are inside, not in the result (pg-boss's, see bossDb).
  const name = bindingCount === 0 || (sql.includes('*') && !fixedResult) ? null : `fp_${createHash('sha1').update(sql).digest('base64url')}`
  if (statementNames.size < MAX_PREPARED_STATEMENTS) statementNames.set(sql, name)
  return name ?? undefined
}

/** One SQL statement with knex's `?` placeholders. */
export interface Statement {
  sql: string
  bindings: readonly Knex.RawBinding[]
}

/**
 * A statement as text with its values inlined as SQL literals, for the simple query protocol that
 * lets BEGIN or COMMIT travel with it (issue 16). Each value is the text pg would have sent as the
 * parameter (its prepareValue), quoted by pg's escapeLiteral; bytes as bytea hex. Every `?` must be
 * a placeholder.
 */
export function inlineBindings({ sql, bindings }: Statement): string {
  const parts = sql.split('?')
  if (parts.length !== bindings.length + 1) throw new Error(`inlineBindings: ${parts.length - 1} placeholders for ${bindings.length} values in: ${sql}`)
  return parts.reduce((text, part, i) => {
    const value = prepareValue(bindings[i - 1])
    const literal = value === null ? 'null' : Buffer.isBuffer(value) ? `'\\x${value.toString('hex')}'` : pg.escapeLiteral(value)
    return `${text}${literal}${part}`
  })
}

/**
 * A text with its values inlined, as a query knex sends unchanged: knex rewrites every `?` of a
 * query's text into a `$n` placeholder (a `?` inside a literal too, and a backslash before one is
 * lost), so AppPgClient sends the text kept in the options instead.
 */
function literalText(text: string): LiteralQuery {
  return { sql: text, options: { literal: text } }
}

interface LiteralQuery {
  sql: string
  options: { literal: string }
}

/**
 * BEGIN and the transaction's RLS context in one round trip (simple query protocol, so the values
 * are SQL literals), and any statements that should run first (`alsoAtBegin`, inlineBindings).
 * `set_config(..., true)` is transaction-local: a pooled connection never carries it into the next
 * transaction.
 */
export function beginWithContext(ctx: SecurityContext, alsoAtBegin: readonly Statement[] = []): string {
  return [`BEGIN; ${contextSelect(ctx)}`, ...alsoAtBegin.map(inlineBindings)].join(';\n')
}

/** `statements` and COMMIT in one round trip (simple query protocol; Tx.atCommit). */
export function commitWith(statements: readonly Statement[]): string {
  return [...statements.map(inlineBindings), 'COMMIT'].join(';\n')
}

/** The select that sets the RLS context for the rest of the transaction (transaction-local set_config). */
function contextSelect(ctx: SecurityContext): string {
  const literal = pg.escapeLiteral
  return `select set_config('app.tenant_id', ${literal(ctx.tenantId)}, true), set_config('app.user_id', ${literal(ctx.userId)}, true), ` +
    `set_config('app.role', ${literal(ctx.role)}, true), set_config('app.territories', ${literal(ctx.territories.join(','))}, true)`
}

/** The one simple query readTogether sends (the read bench's bare server sends it too). */
export function readTogetherText(ctx: SecurityContext, statements: readonly Statement[]): string {
  return [contextSelect(ctx), ...statements.map(inlineBindings)].join(';\n')
}

/**
 * A read-only transaction whose statements are known up front, in one round trip (issue 16: GET
 * /api/leads/:id): the RLS context and `statements` as one simple query, which PostgreSQL runs as
 * one implicit transaction — the context lasts until its end, each statement takes its own
 * snapshot, and an error rolls all of it back and leaves the connection idle. Returns each
 * statement's rows. For writes and anything that reads before it decides, inTransaction.
 */
export async function readTogether(knex: Knex, ctx: SecurityContext, statements: readonly Statement[]): Promise<object[][]> {
  const text = readTogetherText(ctx, statements)
  const results = (await knex.raw(text).options(literalText(text).options)) as unknown as { rows: object[] }[]
  return results.slice(1).map((result) => result.rows)
}

/** knex passes a transaction's config to its constructor; inTransaction puts the context and its round-trip sharing there. */
type TransactionConfig = Knex.TransactionConfig & { securityContext?: SecurityContext; sharing?: SharedRoundTrips }

/** What a transaction sends with its BEGIN and with its COMMIT, and what came back of the first. */
interface SharedRoundTrips {
  atBegin: readonly Statement[]
  /** The rows of each `atBegin` statement, once BEGIN has run. */
  begun?: object[][]
  atCommit: Statement[]
}

class ContextTransaction extends KnexPgTransaction {
  readonly securityContext: SecurityContext | undefined
  readonly sharing: SharedRoundTrips | undefined

  constructor(client: unknown, container: unknown, config?: TransactionConfig, outerTx?: unknown) {
    super(client, container, config, outerTx)
    this.securityContext = config?.securityContext
    this.sharing = config?.sharing
  }

  override async begin(connection: unknown): Promise<unknown> {
    if (!this.securityContext) return super.begin(connection)
    const sent = (await this.query(connection, literalText(beginWithContext(this.securityContext, this.sharing?.atBegin)))) as { response?: { rows: object[] }[] } | undefined
    // knex hands back its query object; `response` is pg's result of each statement, BEGIN's and
    // the set_config select's first. Nothing when BEGIN failed (knex has rejected the transaction).
    if (this.sharing && Array.isArray(sent?.response)) this.sharing.begun = sent.response.slice(2).map((result) => result.rows)
    return sent
  }

  override async commit(connection: unknown, value: unknown): Promise<unknown> {
    const atCommit = this.sharing?.atCommit ?? []
    if (atCommit.length === 0) return super.commit(connection, value)
    try {
      await this.trxClient.query(connection, literalText(commitWith(atCommit)))
    } catch (error) {
      // The statement failed, so COMMIT never ran: roll the open transaction back before the
      // connection returns to the pool, and fail the transaction with the statement's error.
      return this.query(connection, 'ROLLBACK', 2, error)
    }
    this._completed = true
    this._resolver(value)
    return undefined
  }
}

/**
 * knex's PostgreSQL client with two changes, both saving work on every request:
 * - parameterized statements go out as named prepared statements, so PostgreSQL parses and plans
 *   each once per connection instead of on every call (planning was most of the database's CPU per
 *   lead created, bench/README.md); pg keeps them per connection, so they live as long as it;
 * - a transaction that inTransaction opens begins with its RLS context (beginWithContext).
 */
class AppPgClient extends KnexPgClient {
  override transaction(container: unknown, config?: TransactionConfig, outerTx?: unknown): Knex.Transaction {
    return new ContextTransaction(this, container, config, outerTx) as unknown as Knex.Transaction
  }

  _query(connection: unknown, query: CompiledQuery): Promise<unknown> {
    const { fixedResult, literal, ...options } = query.options ?? {}
    if (typeof literal === 'string') query.sql = literal
    const name = preparedStatementName(query.sql, query.bindings?.length ?? 0, fixedResult === true)
    // In place: knex reads the driver's response back from this very object.
    query.options = name === undefined ? options : { ...options, name }
    return runQuery.call(this, connection, query)
  }
}

/** How long a pooled connection stays open unused, in both pools of a process (knex's and pg-boss's). */
export const POOL_IDLE_TIMEOUT_MS = 60_000

export function createKnex(connectionString: string, options: { poolMax?: number; applicationName?: string } = {}): Knex {
  return knexFactory({
    client: AppPgClient,
    connection: { connectionString, application_name: options.applicationName ?? 'freshplan-leads' },
    // Idle connections close after a minute, not tarn's 30 s: a process's periodic statements (the
    // worker's every few seconds) would otherwise open a new session every so often (issue 16).
    pool: { min: 0, max: options.poolMax ?? 10, idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS },
    acquireConnectionTimeout: 10_000,
  })
}

export type { Role, Territory }

/** Who acts in a transaction; PostgreSQL's row-level security reads it back with app_*() functions. */
export interface SecurityContext {
  tenantId: string
  userId: string
  role: Role
  territories: readonly Territory[]
}

/** The context of jobs and maintenance: explicit SYSTEM rights, never RLS switched off. */
export function systemContext(tenantId: string, territories: readonly Territory[] = TERRITORIES): SecurityContext {
  return { tenantId, userId: SYSTEM_USER_ID, role: 'SYSTEM', territories }
}

export interface Tx {
  trx: Knex.Transaction
  /** pg-boss's adapter for this transaction: `boss.send(..., { db: tx.db })` commits or rolls back with the rows. */
  db: Db
  ctx: SecurityContext
  /**
   * Runs `hook` once the transaction has committed (never after a rollback). For signals that
   * must not hold anything inside the transaction, e.g. waking the outbox relay (models/lead-events.ts).
   */
  afterCommit(hook: () => void): void
  /**
   * Sends `statement` with the COMMIT, in its round trip (values inlined: inlineBindings); the
   * transaction fails and rolls back if it fails. For the last write of a request whose result
   * nobody reads (the Idempotency-Key's stored response).
   */
  atCommit(statement: Statement): void
}

/**
 * pg-boss's adapter for a transaction. pg-boss's statements return fixed columns (`returning id`;
 * their `*`s are inner) and change only with pg-boss itself, so they are prepared like ours.
 */
function bossDb(trx: Knex.Transaction): Db {
  const raw = (sql: string, bindings: readonly Knex.RawBinding[]) => trx.raw(sql, bindings).options({ fixedResult: true })
  return fromKnex({ raw } as unknown as Knex.Transaction)
}

/**
 * The one transaction helper of the code base: opens a transaction with the RLS context set for it
 * alone (beginWithContext) and hands out the pg-boss adapter, so "write rows + enqueue jobs" is
 * one atomic unit. `atBegin`: statements sent in BEGIN's round trip, after the context is set,
 * each with a snapshot of its own; `work` gets their rows (`begun`).
 */
export async function inTransaction<T>(knex: Knex, ctx: SecurityContext, work: (tx: Tx, begun: object[][]) => Promise<T>, atBegin: readonly Statement[] = []): Promise<T> {
  const hooks: (() => void)[] = []
  const sharing: SharedRoundTrips = { atBegin, atCommit: [] }
  const result = await knex.transaction(async (trx) => {
    return work({ trx, db: bossDb(trx), ctx, afterCommit: (hook) => hooks.push(hook), atCommit: (statement) => sharing.atCommit.push(statement) }, sharing.begun ?? [])
  }, { securityContext: ctx, sharing } as TransactionConfig)
  for (const hook of hooks) hook()
  return result
}

/** A write whose result nobody reads: one INSERT with knex's `?` placeholders, to send with others. */
export type PendingWrite = Statement

/**
 * Writes as the statements to send: every plain INSERT as a data-modifying CTE of one statement,
 * after the others (a statement with a WITH of its own) one by one. The combined statement's
 * result is fixed (`select 1`; its `*`s are inside, in pg-boss's recordsets), so it is prepared
 * like pg-boss's own (`fixedResult`).
 */
export function combineWrites(writes: readonly PendingWrite[]): (PendingWrite & { fixedResult?: boolean })[] {
  const combinable = writes.filter((write) => /^\s*insert\b/i.test(write.sql))
  const statements: (PendingWrite & { fixedResult?: boolean })[] = writes.filter((write) => !combinable.includes(write))
  if (combinable.length === 1) statements.push(combinable[0]!)
  if (combinable.length > 1) {
    statements.push({
      sql: `with ${combinable.map((write, i) => `w${i} as (${write.sql})`).join(',\n')}\nselect 1`,
      bindings: combinable.flatMap((write) => write.bindings),
      fixedResult: true,
    })
  }
  return statements
}

/**
 * Sends writes in one round trip, whatever their number (a create's activity, events, reviews and
 * jobs, issue 16; see combineWrites). They all see the transaction as it was before the statement,
 * so none may need another's rows.
 */
export async function writeTogether(tx: Pick<Tx, 'trx'>, writes: readonly PendingWrite[]): Promise<void> {
  for (const { sql, bindings, fixedResult } of combineWrites(writes)) await tx.trx.raw(sql, bindings).options({ fixedResult: fixedResult === true })
}

/**
 * A savepoint inside `tx`: when `work` throws, its rows and jobs roll back alone and `tx` goes on.
 * For writes that may fail for reasons of their own (an import row, a dry run that undoes itself).
 */
export async function inSavepoint<T>(tx: Tx, work: (savepoint: Tx) => Promise<T>): Promise<T> {
  // After-commit hooks wait for the outer transaction; one of a rolled-back savepoint only wakes
  // the outbox relay for nothing.
  return tx.trx.transaction((trx) => work({
    trx,
    db: bossDb(trx),
    ctx: tx.ctx,
    afterCommit: tx.afterCommit,
    // It would run with the outer COMMIT even when this savepoint rolls back.
    atCommit: () => {
      throw new Error('atCommit belongs to the outermost transaction, not a savepoint')
    },
  }))
}
