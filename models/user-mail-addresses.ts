// The `user_mail_addresses` table (§10): the mail address a tenant keeps for a user, whom the
// system otherwise knows only by the token's subject. Every statement on it, named.
import type { Tx } from '../lib/db.ts'

const USER_ADDRESS = 'select email from user_mail_addresses where tenant_id = ? and user_id = ?'

/** The mail address the tenant keeps for a user (the token knows only the user's id), or none. */
export async function userMailAddress(tx: Tx, tenantId: string, userId: string): Promise<string | null> {
  const { rows } = await tx.trx.raw<{ rows: { email: string }[] }>(USER_ADDRESS, [tenantId, userId])
  return rows[0]?.email ?? null
}
