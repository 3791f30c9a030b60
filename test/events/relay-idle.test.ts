// The outbox relay when nothing happens (issue 16): it probes the outbox at most every 2 s instead
// of every 100 ms, and a committed change still wakes it at once (a NOTIFY the writer sends after
// its commit), without any publish job being worked (the worker here has no job handlers).
import test from 'ava'
import { startStack, type Stack } from '../helpers/stack.ts'
import { ChannelSpy, insertLead, recordChange, sleep, waitUntil } from '../helpers/events.ts'

let worker: Stack
let spy: ChannelSpy

test.before(async () => {
  worker = await startStack({ web: false, worker: true, jobs: [] })
  spy = await ChannelSpy.listen(worker.db.ownerUrl)
})
test.after.always(async () => {
  await spy?.close()
  await worker?.stop()
})

const PROBE = /select exists \(select 1 from lead_events where seq is null\)/

async function probesDuring(ms: number): Promise<number> {
  let probes = 0
  const listener = (query: { sql: string }) => {
    if (PROBE.test(query.sql)) probes++
  }
  worker.deps.knex.on('query', listener)
  await sleep(ms)
  worker.deps.knex.off('query', listener)
  return probes
}

test.serial('an idle relay probes the outbox at most once a second', async (t) => {
  await sleep(3000) // past the fast polling that follows start-up
  const probes = await probesDuring(5000)
  t.log(`${probes} probes in 5 s`)
  t.true(probes <= 5, `${probes} probes in 5 s`)
})

test.serial('an idle relay is woken by a committed change and publishes it long before its next probe', async (t) => {
  await sleep(2500)
  const lead = await insertLead(worker.owner)
  const committed = performance.now()
  await recordChange(worker.deps, lead, 'freshplan.lead.created')
  t.true(await waitUntil(() => spy.on('dashboard_updates').some((e) => e.subject === lead.id), 5000, 2))
  const ms = performance.now() - committed
  t.log(`published ${Math.round(ms)} ms after the commit`)
  t.true(ms < 1500, `published ${Math.round(ms)} ms after the commit (the idle probe runs every 2 s)`)
})
