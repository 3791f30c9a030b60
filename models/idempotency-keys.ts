// The `idempotency_keys` table (§4): every statement on it, named. A stored response is scoped to
// (tenant, user, key) and written in the transaction of the request it answers.
import type { Tx } from '../lib/db.ts'

export interface StoredResponse {
  fingerprint: string
  statusCode: number
  headers: Record<string, string>
  /** The exact bytes sent (V0010: bytea), so a replay is byte-identical (§4); null without a body. */
  body: Buffer | null
}

/**
 * Takes the key's transaction-scoped advisory lock without waiting: false means another request
 * with the same key is still running.
 */
export async function tryLockKey(tx: Tx, userId: string, key: string): Promise<boolean> {
  const { rows } = await tx.trx.raw<{ rows: { locked: boolean }[] }>('select pg_try_advisory_xact_lock(hashtextextended(?, 0)) as locked', [JSON.stringify([tx.ctx.tenantId, userId, key])])
  return rows[0]!.locked
}

/** The unexpired stored response of a key, if any. */
export async function findStoredResponse(tx: Tx, userId: string, key: string, now: Date): Promise<StoredResponse | undefined> {
  const row = (await tx.trx('idempotency_keys')
    .select('fingerprint', 'status_code', 'headers', 'body')
    .where({ tenant_id: tx.ctx.tenantId, user_id: userId, key })
    .where('expires_at', '>', now)
    .first()) as { fingerprint: string; status_code: number; headers: Record<string, string>; body: Buffer | null } | undefined
  return row && { fingerprint: row.fingerprint, statusCode: row.status_code, headers: row.headers, body: row.body }
}

/** Stores (or replaces an expired) response of a key. */
export async function storeResponse(tx: Tx, userId: string, key: string, response: StoredResponse, expiresAt: Date): Promise<void> {
  await tx.trx('idempotency_keys')
    .insert({
      tenant_id: tx.ctx.tenantId,
      user_id: userId,
      key,
      fingerprint: response.fingerprint,
      status_code: response.statusCode,
      headers: response.headers,
      body: response.body,
      expires_at: expiresAt,
    })
    .onConflict(['tenant_id', 'user_id', 'key'])
    .merge()
}

/** Deletes expired keys; run in a SYSTEM context of every tenant (the policy lets SYSTEM see all keys). */
export async function deleteExpiredKeys(tx: Tx, now: Date): Promise<number> {
  return tx.trx('idempotency_keys').where('expires_at', '<=', now).delete()
}
