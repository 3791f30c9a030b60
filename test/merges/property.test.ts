// §12 property: random sequences of creates, edits, activities, merges and undos. The same sequence
// runs in two tenants of one database: world A with the merges and undos, world B without them.
// Undoing A's merges in reverse order must give every lead the state it has in B (B's edits went
// to the same leads, so "fields edited after a merge keep their newer value" is built in), and each
// undo must give the merged leads back exactly as they were before the merge (but version and
// updatedAt). No activity is lost or duplicated. The model functions run directly (no HTTP).
import test from 'ava'
import fc from 'fast-check'
import { inTransaction, type SecurityContext, type Tx } from '../../lib/db.ts'
import { addActivity, patchLead, type Actor } from '../../models/lead-commands.ts'
import { createLead } from '../../models/lead-create.ts'
import { mergeLeads, undoMerge } from '../../models/lead-merge.ts'
import { leadById, leadResource } from '../../models/lead-table.ts'
import { listActivities } from '../../models/lead-queries.ts'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'

const clock = new ManualClock('2026-10-05T08:00:00.000Z')
let stack: Stack

test.before(async () => {
  stack = await startStack({ web: false, clock })
})
test.after.always(() => stack?.stop())

type Command =
  | { kind: 'create'; owner: number; email: boolean; city: string | null }
  | { kind: 'edit'; lead: number; field: 'city' | 'notes' | 'contactName' | 'phone' }
  | { kind: 'activity'; lead: number; type: 'NOTE' | 'CALL' }
  | { kind: 'merge'; survivor: number; others: number[] }
  | { kind: 'undo' }

const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('create' as const), owner: fc.nat(2), email: fc.boolean(), city: fc.option(fc.constantFrom('Köln', 'Bonn', 'Essen'), { nil: null }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('edit' as const), lead: fc.nat(), field: fc.constantFrom('city' as const, 'notes' as const, 'contactName' as const, 'phone' as const) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('activity' as const), lead: fc.nat(), type: fc.constantFrom('NOTE' as const, 'CALL' as const) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('merge' as const), survivor: fc.nat(), others: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('undo' as const) }), weight: 1 },
)

const actor: Actor = { id: 'm1', role: 'ADMIN' }
const OWNERS = ['u1', 'u2', 'u3']
let run = 0

function world(tenantId: string) {
  const ctx: SecurityContext = { tenantId, userId: actor.id, role: actor.role, territories: ['DE'] }
  return {
    ids: [] as string[],
    in: <T>(work: (tx: Tx) => Promise<T>) => inTransaction(stack.deps.knex, ctx, work),
  }
}
type World = ReturnType<typeof world>

async function resource(w: World, id: string): Promise<Record<string, unknown>> {
  return w.in(async (tx) => leadResource((await leadById(tx.trx, id))!))
}
/** The lead's timeline without the merge's own entries, as comparable strings. */
async function timeline(w: World, id: string): Promise<string[]> {
  const page = await w.in((tx) => listActivities(tx, id, { limit: 200 }))
  return page.data.filter((a) => a.type !== 'MERGED' && a.type !== 'UNMERGED').map((a) => `${a.type}|${a.summary}|${a.occurredAt.toISOString()}|${a.userId}`).sort()
}
const comparable = ({ id: _i, tenantId: _t, version: _v, updatedAt: _u, createdAt: _c, ...rest }: Record<string, unknown>) => rest

test('undoing all merges in reverse order gives back every lead; no activity lost or duplicated (fast-check, 200 runs)', async (t) => {
  const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
  t.log(`fast-check seed ${seed} (rerun with FC_SEED=${seed})`)
  console.log(`merge property: fast-check seed ${seed}`)
  let merges = 0
  let undos = 0
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 12 }), async (commands) => {
      run++
      const a = world(`pa-${run}`)
      const b = world(`pb-${run}`)
      const open: { id: string; before: Map<string, Record<string, unknown>>; mergedIds: string[] }[] = []
      let counter = 0
      // Assertions return whether they passed: a failed run also fails the property, so fast-check reports (and shrinks) it.
      let ok = true
      const start: Command[] = [{ kind: 'create', owner: 0, email: true, city: null }, { kind: 'create', owner: 1, email: true, city: 'Köln' }, { kind: 'create', owner: 2, email: false, city: 'Bonn' }]
      const live = async (index: number) => ((await resource(a, a.ids[index]!)).status !== 'DELETED' ? index : undefined)

      async function undoLatest() {
        const merge = open.pop()!
        await a.in((tx) => undoMerge(stack.deps, tx, actor, merge.id))
        undos++
        for (const id of merge.mergedIds) ok &&= t.deepEqual(comparable(await resource(a, id)), comparable(merge.before.get(id)!), `merged lead ${id} back as before the merge`)
      }

      for (const cmd of [...start, ...commands]) {
        clock.advance(1000)
        counter++
        if (cmd.kind === 'create') {
          const input = { companyName: `Firma ${run}-${counter}`, email: cmd.email ? `l${counter}@r${run}.example` : null, city: cmd.city, ownerUserId: OWNERS[cmd.owner]! }
          a.ids.push((await a.in((tx) => createLead(stack.deps, tx, actor, input))).lead.id)
          b.ids.push((await b.in((tx) => createLead(stack.deps, tx, actor, input))).lead.id)
        } else if (cmd.kind === 'edit' || cmd.kind === 'activity') {
          const index = await live(cmd.lead % a.ids.length)
          if (index === undefined) continue // merged away in A: a write there is refused (409), so B skips it too
          for (const w of [a, b]) {
            const id = w.ids[index]!
            if (cmd.kind === 'edit') {
              const value = cmd.field === 'phone' ? `030 ${100000 + counter}` : `${cmd.field} ${counter}`
              await w.in((tx) => patchLead(stack.deps, tx, actor, id, '*', { [cmd.field]: value }))
            } else {
              await w.in((tx) => addActivity(stack.deps, tx, actor, id, { type: cmd.type, summary: `${cmd.type} ${counter}` }))
            }
          }
        } else if (cmd.kind === 'merge') {
          const survivor = await live(cmd.survivor % a.ids.length)
          const others: number[] = []
          for (const n of cmd.others) {
            const index = await live(n % a.ids.length)
            if (index !== undefined && index !== survivor && !others.includes(index)) others.push(index)
          }
          if (survivor === undefined || others.length === 0) continue
          const ids = [survivor, ...others].map((i) => a.ids[i]!)
          const before = new Map<string, Record<string, unknown>>()
          for (const id of ids) before.set(id, await resource(a, id))
          const mergedIds = ids.slice(1)
          const { merge } = await a.in((tx) => mergeLeads(stack.deps, tx, actor, ids[0]!, '*', { mergeIds: mergedIds }))
          merges++
          open.push({ id: merge.id, before, mergedIds })
        } else if (open.length > 0) {
          await undoLatest()
        }
      }
      while (open.length > 0) await undoLatest()

      let activitiesA = 0
      let activitiesB = 0
      for (const [i, idA] of a.ids.entries()) {
        const idB = b.ids[i]!
        ok &&= t.deepEqual(comparable(await resource(a, idA)), comparable(await resource(b, idB)), `lead #${i} equals the run without merges`)
        const [timelineA, timelineB] = [await timeline(a, idA), await timeline(b, idB)]
        ok &&= t.deepEqual(timelineA, timelineB, `lead #${i}: same activities`)
        activitiesA += timelineA.length
        activitiesB += timelineB.length
      }
      ok &&= t.is(activitiesA, activitiesB)
      return ok
    }),
    { numRuns: 200, seed, endOnFailure: true },
  )
  t.log(`${merges} merges, ${undos} undos`)
  t.true(merges > 100, 'the runs merged something')
})
