// Merge of duplicate leads and its undo (DOMAIN.md §12), inside the caller's transaction: every
// lead write goes through lead-table.ts updateLead / insertActivity / moveActivities (the one write
// path), so the history trigger records each change, here with the action MERGED or UNMERGED.
//
// A merge keeps everything undo needs in its `merges` row: the before-image of every lead, the
// survivor's columns as the merge left them and the ids of the activities it moved. Undo restores
// the merged leads from their before-images and each survivor column the merge changed, unless the
// column has changed since (then it keeps its newer value and is reported in `conflicts`).
import { randomUUID } from 'node:crypto'
import type { Tx } from '../lib/db.ts'
import type { Deps } from '../lib/deps.ts'
import { MANAGER_ROLES } from '../lib/tenancy.ts'
import { isUuid } from './cursor.ts'
import { problems } from './errors.ts'
import { cancelFollowUps, reopenFollowUps } from './follow-ups.ts'
import { assertVersion, lockLead, type Actor, type ExpectedVersion } from './lead-commands.ts'
import { recordLeadEvent } from './lead-events.ts'
import { setHistoryAction } from './lead-history.ts'
import { EDITABLE_LEAD_FIELDS, LEAD_FIELDS, insertActivity, leadResource, moveActivities, updateLead, type EditableLeadField, type Lead, type LeadField } from './lead-table.ts'
import { insertMerge, markMergeUndone, mergeById, type LeadSnapshot, type MergeRecord } from './merges.ts'
import { normalizeLead } from './normalization.ts'

/** At most this many leads are merged into a survivor at once (five leads in all). */
export const MAX_MERGE_IDS = 4
/** A MANAGER may undo a merge for this long; an ADMIN any time. */
export const MANAGER_UNDO_DAYS = 30

export interface MergeInput {
  mergeIds: readonly string[]
  /** field → the lead (survivor or one of mergeIds) whose value wins. */
  fields?: Partial<Record<EditableLeadField, string>>
}

export interface MergeResult {
  lead: Lead
  merge: MergeRecord
}

export interface UndoResult {
  merge: MergeRecord
  survivor: Lead
  restored: Lead[]
  /** Survivor fields changed after the merge: they keep their newer value. */
  conflicts: string[]
}

// ---- snapshots --------------------------------------------------------------------------------

const TIMESTAMP_FIELDS: ReadonlySet<LeadField> = new Set(['registeredAt', 'lastActivityAt', 't3SentAt', 't7SentAt', 'createdAt', 'updatedAt', 'deletedAt'])
/** Columns no merge or undo writes: identity, and what every write sets anyway. */
const FIXED_FIELDS: ReadonlySet<LeadField> = new Set(['id', 'tenantId', 'createdAt', 'createdBy', 'version', 'updatedAt'])
const RESTORABLE_FIELDS = LEAD_FIELDS.filter((field) => !FIXED_FIELDS.has(field))
/** Columns computed from others: they follow their sources and are never a conflict of their own. */
const DERIVED_FIELDS: ReadonlySet<string> = new Set(['emailNormalized', 'nameNormalized', 'phoneE164', 'normalizationVersion', 'territory'])
const NORMALIZATION_SOURCES: readonly EditableLeadField[] = ['email', 'companyName', 'phone', 'countryCode']

const jsonValue = (value: unknown): unknown => (value instanceof Date ? value.toISOString() : value ?? null)
const columnValue = (field: string, value: unknown): unknown => (TIMESTAMP_FIELDS.has(field as LeadField) && typeof value === 'string' ? new Date(value) : value)
const same = (a: unknown, b: unknown) => JSON.stringify(jsonValue(a)) === JSON.stringify(jsonValue(b))

export function snapshotLead(lead: Lead): LeadSnapshot {
  return Object.fromEntries(LEAD_FIELDS.map((field) => [field, jsonValue(lead[field])]))
}

/** The columns in which `after` differs from `before` (both snapshots), with their new values. */
function changedColumns(before: LeadSnapshot, after: LeadSnapshot): LeadSnapshot {
  return Object.fromEntries(RESTORABLE_FIELDS.filter((field) => !same(before[field], after[field])).map((field) => [field, after[field]]))
}

// ---- shared checks ----------------------------------------------------------------------------

function assertManager(actor: Actor): void {
  if (!MANAGER_ROLES.includes(actor.role)) throw problems.forbidden('Only managers and admins merge leads.')
}

/** Locks the leads in id order, so two merges (or a merge and a single-lead write) never deadlock. */
async function lockAll(tx: Tx, ids: readonly string[]): Promise<Map<string, Lead>> {
  const locked = new Map<string, Lead>()
  for (const id of [...ids].sort()) locked.set(id, await lockLead(tx, id))
  return locked
}

const acrossTerritories = () => problems.conflict('merge-across-territories', 'Merge across territories', 'All leads of a merge must be in the same territory.')
const undoBlocked = (detail: string, extensions?: Record<string, unknown>) => problems.conflict('merge-undo-blocked', 'Merge cannot be undone', detail, extensions)

/** Runs a lead write that may take back an e-mail address in a savepoint, so a live holder of it is a 409 instead of an aborted transaction. */
async function restoreGuarded<T>(tx: Tx, leadId: string, write: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return await tx.trx.transaction((savepoint) => write({ ...tx, trx: savepoint }))
  } catch (error) {
    const native = ((error as { nativeError?: unknown }).nativeError ?? error) as { code?: string }
    if (native.code !== '23505') throw error
    throw undoBlocked(`Lead ${leadId} cannot get its e-mail address back: another live lead uses it now.`, { leadId })
  }
}

// ---- merge --------------------------------------------------------------------------------------

/**
 * Merges `mergeIds` into the survivor (§12). The caller's transaction carries the caller's RLS
 * context: a lead it cannot see is a 404; `expectedVersion` is the survivor's If-Match.
 */
export async function mergeLeads(deps: Deps, tx: Tx, actor: Actor, survivorId: string, expectedVersion: ExpectedVersion, input: MergeInput): Promise<MergeResult> {
  assertManager(actor)
  const mergeIds = [...new Set(input.mergeIds)]
  if (mergeIds.length === 0 || mergeIds.length > MAX_MERGE_IDS || mergeIds.length !== input.mergeIds.length || mergeIds.includes(survivorId)) {
    throw problems.validation([{ pointer: '/mergeIds', message: `must name 1–${MAX_MERGE_IDS} distinct leads other than the survivor` }])
  }
  for (const [field, leadId] of Object.entries(input.fields ?? {})) {
    if (leadId !== survivorId && !mergeIds.includes(leadId)) throw problems.validation([{ pointer: `/fields/${field}`, message: 'must be the survivor or one of mergeIds' }])
  }
  const locked = await lockAll(tx, [survivorId, ...mergeIds])
  const survivor = locked.get(survivorId)!
  const merged = mergeIds.map((id) => locked.get(id)!)
  assertVersion(survivor, expectedVersion)
  if (merged.some((lead) => lead.territory !== survivor.territory)) throw acrossTerritories()
  if (survivor.status === 'DELETED') throw problems.conflict('invalid-status-transition', 'Invalid status transition', 'A deleted lead cannot be the survivor of a merge.')
  // Like DELETE (§3 any → DELETED): every lead but a deleted one can be merged away.
  const deleted = merged.find((lead) => lead.status === 'DELETED')
  if (deleted) throw problems.conflict('invalid-status-transition', 'Invalid status transition', `Lead ${deleted.id} is deleted already and cannot be merged away.`)

  const now = deps.clock.now()
  const mergeId = randomUUID()
  const beforeImages = Object.fromEntries([survivor, ...merged].map((lead) => [lead.id, snapshotLead(lead)]))

  // Field choice: an explicit source, else the survivor's value, else the newest non-null value among the merged leads.
  const newestFirst = [...merged].sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime())
  const changes: Record<string, unknown> = {}
  const fieldSources: Record<string, string> = {}
  for (const field of EDITABLE_LEAD_FIELDS) {
    const explicit = input.fields?.[field]
    const source = explicit !== undefined ? locked.get(explicit)! : survivor[field] !== null ? survivor : newestFirst.find((lead) => lead[field] !== null)
    if (source === undefined || source === survivor) continue
    fieldSources[field] = source.id
    if (!same(source[field], survivor[field])) changes[field] = source[field]
  }
  if (NORMALIZATION_SOURCES.some((field) => field in changes)) {
    Object.assign(changes, normalizeLead({ ...survivor, ...changes } as Lead, { stripPlusTag: deps.config.emailStripPlusTag }).columns)
  }
  // Everyone who worked on one of the leads keeps working on the survivor.
  const collaborators = [...new Set([...survivor.collaboratorUserIds, ...merged.flatMap((lead) => [lead.ownerUserId, ...lead.collaboratorUserIds])])].filter((user) => user !== survivor.ownerUserId)
  if (!same(collaborators, survivor.collaboratorUserIds)) changes.collaboratorUserIds = collaborators
  const lastActivityAt = [survivor, ...merged].map((lead) => lead.lastActivityAt).filter((at): at is Date => at !== null).sort((a, b) => b.getTime() - a.getTime())[0] ?? null
  if (!same(lastActivityAt, survivor.lastActivityAt)) changes.lastActivityAt = lastActivityAt

  await setHistoryAction(tx, 'MERGED')
  // The merged leads first: their e-mail addresses are free before the survivor may take one.
  const movedActivityIds: Record<string, string[]> = {}
  const cancelledJobs: Record<string, string[]> = {}
  for (const lead of merged) {
    cancelledJobs[lead.id] = (await cancelFollowUps(deps, tx, lead.id)).map((job) => job.id)
    movedActivityIds[lead.id] = await moveActivities(tx, lead.id, survivor.id)
    await updateLead(tx, lead, { status: 'DELETED', deletedAt: now, mergedIntoId: survivor.id }, now)
  }
  const updated = await updateLead(tx, survivor, changes as Partial<Lead>, now)
  const survivorAfter = changedColumns(beforeImages[survivor.id]!, snapshotLead(updated))
  await setHistoryAction(tx, null)

  const merge: MergeRecord = {
    id: mergeId,
    tenantId: survivor.tenantId,
    territory: survivor.territory,
    survivorId: survivor.id,
    mergedIds: mergeIds,
    fieldSources,
    beforeImages,
    survivorAfter,
    movedActivityIds,
    mergedBy: actor.id,
    mergedAt: now,
    undoneBy: null,
    undoneAt: null,
    undoConflicts: null,
  }
  await insertMerge(tx, merge)
  const moved = Object.values(movedActivityIds).reduce((sum, ids) => sum + ids.length, 0)
  await insertActivity(tx, updated, {
    type: 'MERGED',
    summary: `Merged ${mergeIds.length} lead(s) into this lead (${moved} activities moved): ${mergeIds.join(', ')}`,
    userId: actor.id,
    occurredAt: now,
    metadata: { mergeId, mergedIds: mergeIds, fieldSources, movedActivityIds, cancelledJobs },
  })
  await recordLeadEvent(deps, tx, { type: 'freshplan.lead.merged', lead: updated, data: { mergeId, mergedIds: mergeIds, fieldSources, lead: leadResource(updated) } })
  return { lead: updated, merge }
}

// ---- undo ---------------------------------------------------------------------------------------

export async function findMerge(tx: Tx, id: string): Promise<MergeRecord> {
  const merge = isUuid(id) ? await mergeById(tx, id) : undefined
  if (!merge) throw problems.notFound(`No merge ${id}.`)
  return merge
}

/** Undoes a merge (§12): ADMIN any time, MANAGER within MANAGER_UNDO_DAYS; a second undo is a 409. */
export async function undoMerge(deps: Deps, tx: Tx, actor: Actor, mergeId: string): Promise<UndoResult> {
  assertManager(actor)
  const merge = isUuid(mergeId) ? await mergeById(tx, mergeId, { forUpdate: true }) : undefined
  if (!merge) throw problems.notFound(`No merge ${mergeId}.`)
  if (merge.undoneAt !== null) throw problems.conflict('merge-already-undone', 'Merge already undone', `Merge ${merge.id} was undone at ${merge.undoneAt.toISOString()}.`)
  const now = deps.clock.now()
  if (actor.role !== 'ADMIN' && now.getTime() - merge.mergedAt.getTime() > MANAGER_UNDO_DAYS * 86_400_000) {
    throw problems.forbidden(`Managers may undo a merge within ${MANAGER_UNDO_DAYS} days; after that only an admin.`)
  }
  const locked = await lockAll(tx, [merge.survivorId, ...merge.mergedIds])
  const survivor = locked.get(merge.survivorId)!
  if (survivor.mergedIntoId !== null) {
    throw undoBlocked(`The survivor was merged into lead ${survivor.mergedIntoId} since; undo that merge first.`, { mergedIntoId: survivor.mergedIntoId })
  }
  for (const id of merge.mergedIds) {
    if (locked.get(id)!.mergedIntoId !== survivor.id) throw undoBlocked(`Lead ${id} is no longer merged into ${survivor.id}.`)
  }

  await setHistoryAction(tx, 'UNMERGED')
  // The survivor first: an e-mail address it took from a merged lead is free again before that lead takes it back.
  const before = merge.beforeImages[survivor.id]!
  const current = snapshotLead(survivor)
  const survivorChanges: Record<string, unknown> = {}
  const conflicts: string[] = []
  for (const [field, mergedValue] of Object.entries(merge.survivorAfter)) {
    if (same(current[field], mergedValue)) survivorChanges[field] = columnValue(field, before[field])
    else if (!DERIVED_FIELDS.has(field)) conflicts.push(field)
  }
  // A source kept (conflict) while another was restored: derive the normalized columns from what the lead now holds.
  if (NORMALIZATION_SOURCES.some((field) => conflicts.includes(field)) && NORMALIZATION_SOURCES.some((field) => field in survivorChanges)) {
    Object.assign(survivorChanges, normalizeLead({ ...survivor, ...survivorChanges } as Lead, { stripPlusTag: deps.config.emailStripPlusTag }).columns)
  }
  const restoredSurvivor = await updateLead(tx, survivor, survivorChanges as Partial<Lead>, now)

  const restored: Lead[] = []
  for (const id of merge.mergedIds) {
    const lead = locked.get(id)!
    await moveActivities(tx, survivor.id, id, merge.movedActivityIds[id] ?? [])
    const image = merge.beforeImages[id]!
    const changes = Object.fromEntries(RESTORABLE_FIELDS.map((field) => [field, columnValue(field, image[field])]))
    const back = await restoreGuarded(tx, id, (guarded) => updateLead(guarded, lead, changes as Partial<Lead>, now))
    await reopenFollowUps(deps, tx, back)
    restored.push(back)
  }
  await setHistoryAction(tx, null)

  await markMergeUndone(tx, merge.id, { by: actor.id, at: now, conflicts })
  await insertActivity(tx, restoredSurvivor, {
    type: 'UNMERGED',
    summary: `Merge undone: ${merge.mergedIds.length} lead(s) restored${conflicts.length > 0 ? `; kept newer values of ${conflicts.join(', ')}` : ''}`,
    userId: actor.id,
    occurredAt: now,
    metadata: { mergeId: merge.id, restoredIds: merge.mergedIds, conflicts },
  })
  await recordLeadEvent(deps, tx, { type: 'freshplan.lead.unmerged', lead: restoredSurvivor, data: { mergeId: merge.id, restoredIds: merge.mergedIds, conflicts, lead: leadResource(restoredSurvivor) } })
  return { merge: { ...merge, undoneBy: actor.id, undoneAt: now, undoConflicts: conflicts }, survivor: restoredSurvivor, restored, conflicts }
}

export function mergeResource(merge: MergeRecord): Record<string, unknown> {
  return {
    id: merge.id,
    territory: merge.territory,
    survivorId: merge.survivorId,
    mergedIds: merge.mergedIds,
    fieldSources: merge.fieldSources,
    movedActivityIds: merge.movedActivityIds,
    mergedBy: merge.mergedBy,
    mergedAt: merge.mergedAt.toISOString(),
    undone: merge.undoneAt !== null,
    undoneBy: merge.undoneBy,
    undoneAt: merge.undoneAt === null ? null : merge.undoneAt.toISOString(),
    conflicts: merge.undoConflicts,
  }
}
