// §12 merge and undo through the API: five leads with activities, collaborators and pending
// follow-ups; the undo gives every lead back; territories, visibility, roles and races.
// Serial: the tests share one manual clock, and one of them moves it by a month.
import test from 'ava'
import { FOLLOW_UP_QUEUE_OF, followUpSingletonKey } from '../../models/follow-ups.ts'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'

const clock = new ManualClock('2026-11-02T08:00:00.000Z')
let stack: Stack
let api: Api
let manager: string
let admin: string
let managerDE: string
let sales: Record<string, string>

test.before(async () => {
  stack = await startStack({ clock })
  api = apiClient(stack.baseUrl)
  manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
  managerDE = await tokenFor({ user: 'm2', role: 'MANAGER', territories: ['DE'] })
  admin = await tokenFor({ user: 'a1', role: 'ADMIN', territories: ['DE', 'CH'] })
  sales = {}
  for (const user of ['s1', 's2', 's3', 's4', 's5']) sales[user] = await tokenFor({ user, role: 'SALES' })
})
test.after.always(() => stack?.stop())

type Lead = Record<string, any> & { id: string; version: number }

/** Each request a second later: "most recently updated" and activity order are then well defined. */
async function call(method: string, path: string, options: Parameters<Api>[2] = {}) {
  clock.advance(1000)
  return api(method, path, options)
}

async function get(id: string, token = manager): Promise<Lead> {
  return (await api('GET', `/api/leads/${id}`, { token })).body
}
async function activities(id: string, token = manager): Promise<{ id: string; type: string; leadId: string }[]> {
  return (await api('GET', `/api/leads/${id}/activities?limit=200`, { token })).body.data
}
async function jobStates(leadId: string): Promise<string[]> {
  const states: string[] = []
  for (const kind of ['T3', 'T7'] as const) {
    const jobs = await stack.deps.boss.findJobs(FOLLOW_UP_QUEUE_OF[kind], { key: followUpSingletonKey(leadId, kind) })
    states.push(...jobs.map((job) => job.state))
  }
  return states.sort()
}
const withoutVersion = ({ version: _v, updatedAt: _u, ...rest }: Lead) => rest

let unique = 0
/** Five leads of five SALES users: the survivor lacks some values the others have; each has a note and a collaborator. */
async function fiveLeads(): Promise<Lead[]> {
  const n = ++unique
  const leads: Lead[] = []
  const bodies = [
    { companyName: `Bistro ${n}`, email: `bistro${n}@example.de`, city: null, phone: null },
    { companyName: `Bistro ${n} GmbH`, email: `b${n}.a@example.de`, city: 'Köln', phone: '0221 123456', businessType: 'RESTAURANT' },
    { companyName: `Bistro ${n} Köln`, email: `b${n}.b@example.de`, city: 'Bonn', website: 'https://bistro.example' },
    { companyName: `Bistro-${n}`, email: `b${n}.c@example.de`, notes: 'Stammkunde' },
    { companyName: `bistro ${n}`, email: `b${n}.d@example.de`, employeeCount: 12 },
  ]
  for (const [i, body] of bodies.entries()) {
    const user = `s${i + 1}`
    const created = await call('POST', '/api/leads', { token: sales[user]!, body })
    if (created.status !== 201) throw new Error(JSON.stringify(created.body))
    await call('POST', `/api/leads/${created.body.id}/activities`, { token: sales[user]!, body: { type: 'NOTE', summary: `Notiz von ${user}` } })
    await call('PUT', `/api/leads/${created.body.id}/collaborators/c${i + 1}`, { token: manager })
    leads.push(await get(created.body.id))
  }
  return leads
}

async function merge(survivor: Lead, others: Lead[], options: { token?: string; fields?: object } = {}) {
  return call('POST', `/api/leads/${survivor.id}/merge`, {
    token: options.token ?? manager,
    headers: { 'if-match': `"${survivor.version}"` },
    body: { mergeIds: others.map((lead) => lead.id), ...(options.fields && { fields: options.fields }) },
  })
}

test.serial('merge five leads: fields, activities once each, collaborators united, jobs cancelled, e-mails free, one event', async (t) => {
  const [survivor, ...others] = await fiveLeads()
  const before = new Map<string, string[]>()
  for (const lead of [survivor!, ...others]) before.set(lead.id, (await activities(lead.id)).map((a) => a.id))
  for (const lead of others) t.deepEqual(await jobStates(lead.id), ['created', 'created'])

  const merged = await merge(survivor!, others, { fields: { companyName: others[0]!.id } })
  t.is(merged.status, 200, JSON.stringify(merged.body))
  t.is(merged.headers.get('etag'), `"${merged.body.version}"`)
  t.truthy(merged.body.mergeId)
  // Explicit choice; survivor's own value; the newest non-null value among the merged (others[1] is newer than others[0]).
  t.like(merged.body, { id: survivor!.id, companyName: others[0]!.companyName, email: survivor!.email, city: 'Bonn', phone: '0221 123456', website: 'https://bistro.example', notes: 'Stammkunde', employeeCount: 12, businessType: 'RESTAURANT', ownerUserId: 's1' })
  t.deepEqual([...merged.body.collaboratorUserIds].sort(), ['c1', 'c2', 'c3', 'c4', 'c5', 's2', 's3', 's4', 's5'])

  const after = await activities(survivor!.id)
  const ids = after.map((a) => a.id)
  t.is(new Set(ids).size, ids.length, 'no activity twice')
  for (const lead of [survivor!, ...others]) for (const id of before.get(lead.id)!) t.true(ids.includes(id), `activity ${id} of ${lead.id} on the survivor`)
  t.is(after.filter((a) => a.type === 'MERGED').length, 1)
  t.is(ids.length, [...before.values()].flat().length + 1)

  for (const lead of others) {
    const gone = await get(lead.id)
    t.like(gone, { status: 'DELETED', mergedIntoId: survivor!.id })
    t.deepEqual(await activities(lead.id), [])
    t.deepEqual(await jobStates(lead.id), ['cancelled', 'cancelled'])
    const history = (await api('GET', `/api/leads/${lead.id}/history`, { token: manager })).body.data
    t.like(history[0], { action: 'MERGED', actorUserId: 'm1' })
  }
  t.deepEqual(await jobStates(survivor!.id), ['created', 'created'], "the survivor's follow-ups stay")
  const reused = await call('POST', '/api/leads', { token: sales.s1!, body: { companyName: 'Neu', email: others[2]!.email } })
  t.is(reused.status, 201, 'a merged lead\'s e-mail is free')

  const { rows } = await stack.owner.raw(`select type, lead_id, data from lead_events where type like 'freshplan.lead.merge%' and lead_id = ?`, [survivor!.id])
  t.is(rows.length, 1)
  t.deepEqual([...rows[0].data.mergedIds].sort(), others.map((l) => l.id).sort())

  const record = await api('GET', `/api/merges/${merged.body.mergeId}`, { token: manager })
  t.is(record.status, 200)
  t.like(record.body, { survivorId: survivor!.id, mergedBy: 'm1', undone: false, fieldSources: { companyName: others[0]!.id, city: others[1]!.id } })
  // s2 owned a merged lead and is a collaborator of the survivor now; s9 has nothing to do with it.
  t.is((await api('GET', `/api/merges/${merged.body.mergeId}`, { token: sales.s2! })).status, 200)
  t.is((await api('GET', `/api/merges/${merged.body.mergeId}`, { token: await tokenFor({ user: 's9', role: 'SALES' }) })).status, 404, 'visible like the survivor')
})

test.serial('undo: every merged lead as before (but version/updatedAt), survivor too except fields edited since (conflicts); jobs back; twice is 409', async (t) => {
  const [survivor, ...others] = await fiveLeads()
  const snapshot = new Map<string, Lead>()
  const timelines = new Map<string, string[]>()
  for (const lead of [survivor!, ...others]) {
    snapshot.set(lead.id, await get(lead.id))
    timelines.set(lead.id, (await activities(lead.id)).map((a) => a.id).sort())
  }
  const merged = await merge(survivor!, others)
  t.is(merged.status, 200)
  const edited = await call('PATCH', `/api/leads/${survivor!.id}`, { token: manager, headers: { 'if-match': `"${merged.body.version}"` }, body: { city: 'Aachen' } })
  t.is(edited.status, 200)
  t.is((await call('POST', `/api/merges/${merged.body.mergeId}/undo`, { token: sales.s1! })).status, 403)

  const undo = await call('POST', `/api/merges/${merged.body.mergeId}/undo`, { token: manager })
  t.is(undo.status, 200, JSON.stringify(undo.body))
  t.deepEqual(undo.body.conflicts, ['city'])
  for (const lead of others) {
    t.deepEqual(withoutVersion(await get(lead.id)), withoutVersion(snapshot.get(lead.id)!))
    t.deepEqual((await activities(lead.id)).map((a) => a.id).sort(), timelines.get(lead.id))
    t.deepEqual(await jobStates(lead.id), ['cancelled', 'cancelled', 'created', 'created'], 'follow-ups re-enqueued')
  }
  const survivorNow = await get(survivor!.id)
  t.deepEqual(withoutVersion({ ...survivorNow, city: null }), withoutVersion(snapshot.get(survivor!.id)!))
  t.is(survivorNow.city, 'Aachen', 'the newer value is kept')
  const survivorTimeline = await activities(survivor!.id)
  t.deepEqual(survivorTimeline.filter((a) => !['MERGED', 'UNMERGED', 'STATUS_CHANGE'].includes(a.type)).map((a) => a.id).sort(), timelines.get(survivor!.id))

  const again = await call('POST', `/api/merges/${merged.body.mergeId}/undo`, { token: admin })
  t.is(again.status, 409)
  t.regex(again.body.type, /merge-already-undone/)
  t.like((await api('GET', `/api/merges/${merged.body.mergeId}`, { token: manager })).body, { undone: true, undoneBy: 'm1', conflicts: ['city'] })
  const { rows } = await stack.owner.raw(`select count(*)::int as n from lead_events where type = 'freshplan.lead.unmerged' and lead_id = ?`, [survivor!.id])
  t.is(rows[0].n, 1)
  const history = (await api('GET', `/api/leads/${others[0]!.id}/history`, { token: manager })).body.data
  t.like(history[0], { action: 'UNMERGED', actorUserId: 'm1' })
})

test.serial('undo window: a MANAGER within 30 days, an ADMIN any time', async (t) => {
  const [survivor, ...others] = await fiveLeads()
  const merged = await merge(survivor!, others.slice(0, 1))
  t.is(merged.status, 200)
  clock.advance(31 * 86_400_000)
  const late = await call('POST', `/api/merges/${merged.body.mergeId}/undo`, { token: manager })
  t.is(late.status, 403)
  t.is((await call('POST', `/api/merges/${merged.body.mergeId}/undo`, { token: admin })).status, 200)
})

test.serial('a merged lead whose e-mail is taken meanwhile blocks the undo (409, nothing changed)', async (t) => {
  const [survivor, other] = await fiveLeads()
  const merged = await merge(survivor!, [other!])
  await call('POST', '/api/leads', { token: sales.s1!, body: { companyName: 'Nimmt die Adresse', email: other!.email } })
  const undo = await call('POST', `/api/merges/${merged.body.mergeId}/undo`, { token: manager })
  t.is(undo.status, 409)
  t.regex(undo.body.type, /merge-undo-blocked/)
  t.like(await get(other!.id), { status: 'DELETED', mergedIntoId: survivor!.id })
  t.false((await api('GET', `/api/merges/${merged.body.mergeId}`, { token: manager })).body.undone)
})

test.serial('across territories 409; a lead the caller cannot see 404; SALES 403; If-Match 428/412; bad bodies 400', async (t) => {
  const [survivor, other] = await fiveLeads()
  const swiss = (await call('POST', '/api/leads', { token: manager, body: { companyName: 'Hotel Alpen', countryCode: 'CH' } })).body
  const across = await merge(survivor!, [swiss])
  t.is(across.status, 409)
  t.regex(across.body.type, /merge-across-territories/)
  t.is((await merge(survivor!, [swiss], { token: managerDE })).status, 404)
  t.is((await merge(survivor!, [{ id: '00000000-0000-4000-8000-000000000000' } as Lead])).status, 404)
  t.is((await merge(survivor!, [other!], { token: sales.s1! })).status, 403)
  t.is((await call('POST', `/api/leads/${survivor!.id}/merge`, { token: manager, body: { mergeIds: [other!.id] } })).status, 428)
  t.is((await merge({ ...survivor!, version: survivor!.version + 5 }, [other!])).status, 412)
  t.is((await merge(survivor!, [survivor!])).status, 400)
  t.is((await merge(survivor!, [])).status, 400)
  t.is((await call('POST', `/api/leads/${survivor!.id}/merge`, { token: manager, headers: { 'if-match': `"${survivor!.version}"` }, body: { mergeIds: [other!.id], fields: { version: other!.id } } })).status, 400)
  t.is((await merge(survivor!, [other!], { fields: { city: swiss.id } })).status, 400)
  t.like(await get(other!.id), { status: survivor!.status, mergedIntoId: null }, 'nothing merged')
})

test.serial('races (10 rounds): merge vs PATCH of the survivor, vs PATCH and activity on a merged lead: one wins, nothing lost', async (t) => {
  for (let round = 0; round < 10; round++) {
    const [survivor, a, b] = await fiveLeads()
    const [mergeResult, patchSurvivor, patchMerged, activity] = await Promise.all([
      merge(survivor!, [a!, b!]),
      api('PATCH', `/api/leads/${survivor!.id}`, { token: manager, headers: { 'if-match': `"${survivor!.version}"` }, body: { notes: `Runde ${round}` } }),
      api('PATCH', `/api/leads/${a!.id}`, { token: manager, headers: { 'if-match': `"${a!.version}"` }, body: { city: `Ort ${round}` } }),
      api('POST', `/api/leads/${b!.id}/activities`, { token: manager, body: { type: 'CALL', summary: `Anruf ${round}` } }),
    ])
    // The survivor's If-Match: exactly one of merge and PATCH wins.
    t.deepEqual([mergeResult.status, patchSurvivor.status].sort(), [200, 412], `round ${round}`)
    t.true([200, 412].includes(patchMerged.status), `round ${round}: PATCH of a merged lead ${patchMerged.status}`)
    t.true([201, 409].includes(activity.status), `round ${round}: activity ${activity.status}`)
    if (mergeResult.status === 200) {
      const survivorActivities = (await activities(survivor!.id)).map((x) => x.id)
      if (activity.status === 201) t.is(survivorActivities.filter((id) => id === activity.body.id).length, 1, 'the activity moved with its lead')
      if (patchMerged.status === 200) t.is((await get(a!.id)).city, `Ort ${round}`, 'the PATCH is in the merged lead (and its before-image)')
      t.is(new Set(survivorActivities).size, survivorActivities.length)
    } else {
      t.is((await get(survivor!.id)).notes, `Runde ${round}`)
      t.is(activity.status, 201)
      t.is(patchMerged.status, 200)
    }
  }
})

test.serial('OpenAPI documents history, merge and undo with their schemas', async (t) => {
  const doc = (await api('GET', '/openapi.json')).body
  t.truthy(doc.paths['/api/leads/{id}/history'].get)
  t.truthy(doc.paths['/api/leads/{id}/merge'].post)
  t.truthy(doc.paths['/api/merges/{id}'].get)
  t.truthy(doc.paths['/api/merges/{id}/undo'].post)
  t.is(doc.components.schemas.HistoryPage.properties.data.items.$ref, '#/components/schemas/HistoryEntry')
  t.deepEqual(doc.components.schemas.MergeRequest.required, ['mergeIds'])
  t.is(doc.components.schemas.MergeRequest.properties.mergeIds.maxItems, 4)
})
