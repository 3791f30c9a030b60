// The history of a lead (§12): rows the database writes itself (trigger `leads_history`, V0013) for
// every insert or update of a lead. This module only reads them; nothing in the code base writes
// lead_history, and the application role could not.
import type { Tx } from '../lib/db.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'
import { requireLead } from './lead-queries.ts'

export const HISTORY_ACTIONS = ['CREATED', 'UPDATED', 'STATUS_CHANGED', 'DELETED', 'MERGED', 'UNMERGED', 'ERASED', 'PSEUDONYMIZED'] as const
export type HistoryAction = (typeof HISTORY_ACTIONS)[number]

/** A transaction-local hint the history trigger reads (`app.history_action`): the action of the lead writes that follow. */
export async function setHistoryAction(tx: Tx, action: 'MERGED' | 'UNMERGED' | 'ERASED' | 'PSEUDONYMIZED' | null): Promise<void> {
  await tx.trx.raw(`select set_config('app.history_action', ?, true)`, [action ?? ''])
}

export interface HistoryEntry {
  id: number
  at: Date
  actorUserId: string | null
  action: HistoryAction
  /** `{field: {from, to}}`, field names as in the lead resource (camelCase). */
  changes: Record<string, { from: unknown; to: unknown }>
}

const camelCase = (column: string) => column.replaceAll(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/** Stored: CREATED as the initial values {column: value} (cheaper for the trigger), the rest as {column: {from, to}}. */
function wireChanges(action: HistoryAction, changes: Record<string, unknown>): HistoryEntry['changes'] {
  // §11's match keys (match_*) are index keys derived from fields the entry shows already.
  return Object.fromEntries(Object.entries(changes).filter(([column]) => !column.startsWith('match_')).map(([column, change]) => [camelCase(column), action === 'CREATED' ? { from: null, to: change } : (change as { from: unknown; to: unknown })]))
}

const HISTORY_PAGE = `select id, at, actor_user_id, action, changes from lead_history where lead_id = ? and id < ? order by id desc limit ?`

/** The lead's history, newest first (the identity id orders one lead's changes: they serialize on its row lock). 404 when the lead is hidden. */
export async function listHistory(tx: Tx, leadId: string, page: { limit?: number; cursor?: string }): Promise<{ data: HistoryEntry[]; nextCursor: string | null }> {
  await requireLead(tx, leadId)
  const limit = page.limit ?? 50
  const before = page.cursor
    ? decodeCursor(page.cursor, (value): value is { h: number } => typeof value === 'object' && value !== null && Number.isSafeInteger((value as { h?: unknown }).h)).h
    : Number.MAX_SAFE_INTEGER
  const { rows } = await tx.trx.raw<{ rows: { id: number; at: Date; actor_user_id: string | null; action: HistoryAction; changes: Record<string, unknown> }[] }>(HISTORY_PAGE, [leadId, before, limit + 1])
  const data = rows.slice(0, limit).map((row) => ({ id: row.id, at: row.at, actorUserId: row.actor_user_id, action: row.action, changes: wireChanges(row.action, row.changes) }))
  const last = data.at(-1)
  return { data, nextCursor: rows.length > limit && last ? encodeCursor({ h: last.id }) : null }
}

export function historyResource(entry: HistoryEntry): Record<string, unknown> {
  return { id: String(entry.id), at: entry.at.toISOString(), actorUserId: entry.actorUserId, action: entry.action, changes: entry.changes }
}
