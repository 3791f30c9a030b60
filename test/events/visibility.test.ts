// Issue 14 point 15: a SALES user sees a lead's events while they are the lead's CURRENT owner or a
// collaborator — the whole history then, nothing once the lead is taken away (docs/events.md).
// Checked on the catch-up page, GET /api/events/{id} and the stream's Last-Event-ID replay.
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { SseClient } from '../helpers/events.ts'
import { waitFor } from '../helpers/wait.ts'

let stack: Stack
let api: Api
const tokens: Record<string, string> = {}

test.before(async () => {
  stack = await startStack({ worker: true })
  api = apiClient(stack.baseUrl)
  tokens.manager = await tokenFor({ user: 'vis-manager', role: 'MANAGER', territories: ['DE'] })
  for (const user of ['vis-a', 'vis-b', 'vis-c']) tokens[user] = await tokenFor({ user, role: 'SALES', territories: ['DE'] })
})
test.after.always(() => stack?.stop())

interface PageEvent {
  seq: number
  event: { id: string; type: string; subject: string }
}

async function eventsOf(user: string, leadId: string): Promise<PageEvent[]> {
  const page = await api('GET', '/api/events?limit=1000', { token: tokens[user] })
  if (page.status !== 200) throw new Error(`events of ${user}: ${page.status}`)
  return (page.body.data as PageEvent[]).filter((e) => e.event.subject === leadId)
}

/** Waits until the manager sees `count` published events of the lead. */
async function published(leadId: string, count: number): Promise<PageEvent[]> {
  let events: PageEvent[] = []
  await waitFor(async () => (events = await eventsOf('manager', leadId)).length >= count, 10_000, 50)
  if (events.length < count) throw new Error(`only ${events.length} of ${count} events of ${leadId} published`)
  return events
}

async function replayed(user: string, leadId: string, count: number): Promise<string[]> {
  const client = await SseClient.connect(`${stack.baseUrl}/api/events/stream`, { token: tokens[user], lastEventId: 0 })
  try {
    const ofLead = () => client.events.filter((e: { subject: string }) => e.subject === leadId).map((e: { type: string }) => e.type)
    // The replay comes at once; wait for what should come (or a while, when nothing should).
    await client.waitFor(() => ofLead().length >= count, count === 0 ? 1000 : 10_000)
    return ofLead()
  } finally {
    await client.close()
  }
}

test.serial('reassigned: the old owner loses the lead\'s events, the new owner sees its whole history', async (t) => {
  const created = await api('POST', '/api/leads', { token: tokens.manager, body: { companyName: 'Sichtbar GmbH', ownerUserId: 'vis-a' } })
  t.is(created.status, 201)
  const leadId = created.body.id as string
  t.is((await api('POST', `/api/leads/${leadId}/activities`, { token: tokens['vis-a'], body: { type: 'CALL', summary: 'first call' } })).status, 201)
  const before = await published(leadId, 2)
  t.deepEqual((await eventsOf('vis-a', leadId)).map((e) => e.event.id), before.map((e) => e.event.id), 'the owner sees the lead\'s events')
  t.deepEqual(await eventsOf('vis-b', leadId), [], 'another SALES user sees none')
  t.is((await api('GET', `/api/events/${before[0]!.event.id}`, { token: tokens['vis-b'] })).status, 404)

  const reassigned = await api('PUT', `/api/leads/${leadId}/owner`, { token: tokens.manager, body: { ownerUserId: 'vis-b' } })
  t.is(reassigned.status, 200, JSON.stringify(reassigned.body))
  const after = await published(leadId, before.length + 1)

  t.deepEqual(await eventsOf('vis-a', leadId), [], 'the old owner sees none of them any more')
  for (const event of after) {
    t.is((await api('GET', `/api/events/${event.event.id}`, { token: tokens['vis-a'] })).status, 404, `old owner: ${event.event.type}`)
    const single = await api('GET', `/api/events/${event.event.id}`, { token: tokens['vis-b'] })
    t.is(single.status, 200, `new owner: ${event.event.type}`)
    t.is(single.body.id, event.event.id)
  }
  t.deepEqual((await eventsOf('vis-b', leadId)).map((e) => e.event.id), after.map((e) => e.event.id), 'the new owner sees the whole history, from before the hand-over too')
  t.deepEqual(await replayed('vis-a', leadId, 0), [], 'no replay for the old owner')
  t.deepEqual(await replayed('vis-b', leadId, after.length), after.map((e) => e.event.type), 'the new owner\'s replay has the history')
})

test.serial('collaborators see the history while they collaborate, and nothing after they are removed', async (t) => {
  const created = await api('POST', '/api/leads', { token: tokens.manager, body: { companyName: 'Mitarbeit AG', ownerUserId: 'vis-a' } })
  const leadId = created.body.id as string
  t.is((await api('POST', `/api/leads/${leadId}/activities`, { token: tokens['vis-a'], body: { type: 'NOTE', summary: 'note' } })).status, 201)
  await published(leadId, 2)
  t.deepEqual(await eventsOf('vis-c', leadId), [])

  t.is((await api('PUT', `/api/leads/${leadId}/collaborators/vis-c`, { token: tokens.manager })).status, 200)
  const withCollaborator = await published(leadId, 3)
  t.deepEqual((await eventsOf('vis-c', leadId)).map((e) => e.event.id), withCollaborator.map((e) => e.event.id), 'a new collaborator sees everything, from before too')
  t.deepEqual((await eventsOf('vis-a', leadId)).map((e) => e.event.id), withCollaborator.map((e) => e.event.id), 'the owner still sees everything')

  t.is((await api('DELETE', `/api/leads/${leadId}/collaborators/vis-c`, { token: tokens.manager })).status, 200)
  const all = await published(leadId, 4)
  t.deepEqual(await eventsOf('vis-c', leadId), [], 'a removed collaborator sees none')
  t.is((await api('GET', `/api/events/${all[0]!.event.id}`, { token: tokens['vis-c'] })).status, 404)
  t.is((await eventsOf('manager', leadId)).length, all.length, 'managers of the territory see all of it throughout')
})
