// The `lead_protection_settings` table (§10): a tenant's protection periods and the managers'
// addresses per territory. Every statement on it, named.
import type { Tx } from '../lib/db.ts'
import { DEFAULT_PROTECTION_SETTINGS, type ProtectionSettings } from './protection-rules.ts'

const SETTINGS = 'select protection_months, progress_days, grace_days, warning_days, manager_emails from lead_protection_settings where tenant_id = ?'

export interface TenantProtection {
  settings: ProtectionSettings
  /** Territory code → addresses that get the lead_protection_expired mail. */
  managerEmails: Readonly<Record<string, readonly string[]>>
}

// Settings change rarely and are read by every lead create: each process keeps a tenant's for a
// minute instead of reading them once per lead (an admin's change applies within that minute).
const SETTINGS_TTL_MS = 60_000
const cache = new Map<string, { readAt: number; value: TenantProtection }>()

/** Drops the cached settings (tests, and a settings change in this process). */
export function forgetProtectionSettings(): void {
  cache.clear()
}

/** The tenant's settings, §10's defaults when it has none. */
export async function tenantProtection(tx: Tx, tenantId: string): Promise<TenantProtection> {
  const cached = cache.get(tenantId)
  // Process time, not the injectable clock: this is a cache lifetime, not a domain date.
  if (cached && performance.now() - cached.readAt < SETTINGS_TTL_MS) return cached.value
  const { rows } = await tx.trx.raw<{ rows: { protection_months: number; progress_days: number; grace_days: number; warning_days: number; manager_emails: Record<string, unknown> }[] }>(SETTINGS, [tenantId])
  const row = rows[0]
  const value: TenantProtection = row
    ? {
        settings: { protectionMonths: row.protection_months, progressDays: row.progress_days, graceDays: row.grace_days, warningDays: row.warning_days },
        managerEmails: Object.fromEntries(Object.entries(row.manager_emails).map(([territory, list]) => [territory, Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string') : []])),
      }
    : { settings: { ...DEFAULT_PROTECTION_SETTINGS }, managerEmails: {} }
  cache.set(tenantId, { readAt: performance.now(), value })
  return value
}
