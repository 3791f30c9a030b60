// The `idempotency_keys` table (§4): every statement on it, named. A stored response is scoped to
// (tenant, user, key) and written in the transaction of the request it answers.
import type { SecurityContext, Statement, Tx } from '../lib/db.ts'

export interface StoredResponse {
  fingerprint: string
  statusCode: number
  headers: Record<string, string>
  /** The exact bytes sent (V0010: bytea), so a replay is byte-identical (§4); null without a body. */
  body: Buffer | null
}

/** Where a request with `key` stands, as the statements that find out tell (keyStatements). */
export interface KeyState {
  /** False: another request with the same key still runs (its transaction holds the key's lock). */
  locked: boolean
  /** The unexpired stored response of the key, if any (read after the lock was taken). */
  stored: StoredResponse | undefined
}

/**
 * The statements that take the key's transaction-scoped advisory lock without waiting, then read
 * its unexpired stored response; meant for the transaction's BEGIN round trip (lib/db.ts
 * inTransaction `atBegin`, issue 16). Two statements, not one: a statement's snapshot is taken
 * before it runs, so a lookup in the lock's own statement could miss the response a request
 * holding the lock a moment earlier has just committed. `read` makes their rows a KeyState.
 */
export function keyStatements(ctx: SecurityContext, userId: string, key: string, now: Date): { statements: Statement[]; read(rows: object[][]): KeyState } {
  return {
    statements: [
      { sql: 'select pg_try_advisory_xact_lock(hashtextextended(?, 0)) as locked', bindings: [JSON.stringify([ctx.tenantId, userId, key])] },
      { sql: 'select fingerprint, status_code, headers, body from idempotency_keys where tenant_id = ? and user_id = ? and key = ? and expires_at > ?', bindings: [ctx.tenantId, userId, key, now] },
    ],
    read([lock, found]) {
      const row = found?.[0] as { fingerprint: string; status_code: number; headers: Record<string, string>; body: Buffer | null } | undefined
      return {
        locked: (lock?.[0] as { locked: boolean } | undefined)?.locked === true,
        stored: row && { fingerprint: row.fingerprint, statusCode: row.status_code, headers: row.headers, body: row.body },
      }
    },
  }
}

/** Stores (or replaces an expired) response of a key, sent with the transaction's COMMIT (Tx.atCommit). */
export function storeResponse(tx: Pick<Tx, 'ctx' | 'atCommit'>, userId: string, key: string, response: StoredResponse, expiresAt: Date): void {
  tx.atCommit({
    sql: `insert into idempotency_keys (tenant_id, user_id, key, fingerprint, status_code, headers, body, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (tenant_id, user_id, key) do update set fingerprint = excluded.fingerprint, status_code = excluded.status_code,
       headers = excluded.headers, body = excluded.body, expires_at = excluded.expires_at`,
    bindings: [tx.ctx.tenantId, userId, key, response.fingerprint, response.statusCode, JSON.stringify(response.headers), response.body, expiresAt],
  })
}

/** Deletes expired keys; run in a SYSTEM context of every tenant (the policy lets SYSTEM see all keys). */
export async function deleteExpiredKeys(tx: Tx, now: Date): Promise<number> {
  return tx.trx('idempotency_keys').where('expires_at', '<=', now).delete()
}
