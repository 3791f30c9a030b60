// The statements of the `merges` table (V0013): one row per merge of §12, with what undo needs.
import type { Tx } from '../lib/db.ts'
import type { Territory } from '../lib/tenancy.ts'

/** A lead's columns as plain JSON (timestamps as ISO strings): what a merge saw before it changed anything. */
export type LeadSnapshot = Record<string, unknown>

export interface MergeRecord {
  id: string
  tenantId: string
  territory: Territory
  survivorId: string
  mergedIds: string[]
  /** field → the lead whose value the survivor took (only fields that came from a merged lead or were chosen explicitly). */
  fieldSources: Record<string, string>
  /** lead id → its columns before the merge (survivor and merged leads). */
  beforeImages: Record<string, LeadSnapshot>
  /** The survivor's fields the merge changed, with the values it set: undo restores a field only if it still has this value. */
  survivorAfter: LeadSnapshot
  /** merged lead id → the ids of its activities that moved to the survivor. */
  movedActivityIds: Record<string, string[]>
  mergedBy: string
  mergedAt: Date
  undoneBy: string | null
  undoneAt: Date | null
  undoConflicts: string[] | null
}

const COLUMNS = `id, tenant_id, territory, survivor_id, merged_ids, field_sources, before_images, survivor_after, moved_activity_ids, merged_by, merged_at, undone_by, undone_at, undo_conflicts`

interface MergeRow {
  id: string
  tenant_id: string
  territory: Territory
  survivor_id: string
  merged_ids: string[]
  field_sources: Record<string, string>
  before_images: Record<string, LeadSnapshot>
  survivor_after: LeadSnapshot
  moved_activity_ids: Record<string, string[]>
  merged_by: string
  merged_at: Date
  undone_by: string | null
  undone_at: Date | null
  undo_conflicts: string[] | null
}

function fromRow(row: MergeRow): MergeRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    territory: row.territory,
    survivorId: row.survivor_id,
    mergedIds: row.merged_ids,
    fieldSources: row.field_sources,
    beforeImages: row.before_images,
    survivorAfter: row.survivor_after,
    movedActivityIds: row.moved_activity_ids,
    mergedBy: row.merged_by,
    mergedAt: row.merged_at,
    undoneBy: row.undone_by,
    undoneAt: row.undone_at,
    undoConflicts: row.undo_conflicts,
  }
}

export async function insertMerge(tx: Tx, merge: Omit<MergeRecord, 'undoneBy' | 'undoneAt' | 'undoConflicts'>): Promise<void> {
  await tx.trx.raw(
    `insert into merges (id, tenant_id, territory, survivor_id, merged_ids, field_sources, before_images, survivor_after, moved_activity_ids, merged_by, merged_at)
     values (?, ?, ?, ?, ?::uuid[], ?::jsonb, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?)`,
    [
      merge.id, merge.tenantId, merge.territory, merge.survivorId, merge.mergedIds, JSON.stringify(merge.fieldSources), JSON.stringify(merge.beforeImages),
      JSON.stringify(merge.survivorAfter), JSON.stringify(merge.movedActivityIds), merge.mergedBy, merge.mergedAt,
    ],
  )
}

/** The merge as row-level security lets the caller see it (like its survivor); `forUpdate` locks it until commit. */
export async function mergeById(tx: Tx, id: string, options: { forUpdate?: boolean } = {}): Promise<MergeRecord | undefined> {
  const { rows } = await tx.trx.raw<{ rows: MergeRow[] }>(`select ${COLUMNS} from merges where id = ?${options.forUpdate ? ' for update' : ''}`, [id])
  return rows[0] === undefined ? undefined : fromRow(rows[0])
}

export async function markMergeUndone(tx: Tx, id: string, undo: { by: string; at: Date; conflicts: string[] }): Promise<void> {
  await tx.trx.raw(`update merges set undone_by = ?, undone_at = ?, undo_conflicts = ?::jsonb where id = ?`, [undo.by, undo.at, JSON.stringify(undo.conflicts), id])
}
