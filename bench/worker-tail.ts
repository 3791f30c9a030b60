// `node bench/worker-tail.ts [--rate N] [--rounds N] [--settle S]` (issue 16): does a worker process beside web
// put a tail on get-by-id? At a rate well below saturation (the read scenario's 500 req/s is past
// it on a busy machine), paced get-by-id for 10 s without and with `node jobs/worker.ts` running
// on the same database, taking turns for several rounds — the worker measured in its first seconds
// and again once settled (pg-boss's start-up maintenance done, S seconds more); prints p50/p95/p99.
import { parseArgs } from 'node:util'
import { createTestDatabase } from '../test/helpers/database.ts'
import { tokenFor } from '../test/helpers/api.ts'
import { runPaced } from './lib/paced.ts'
import { startService, startWorkerProcess, workerSettled } from './lib/processes.ts'
import { sampleLeadIds, seedLeads } from './lib/seed.ts'

const { values } = parseArgs({ options: { rate: { type: 'string', default: '150' }, rounds: { type: 'string', default: '3' }, settle: { type: 'string', default: '2' } } })
const rate = Number(values.rate)
const db = await createTestDatabase()
try {
  await seedLeads(db.ownerUrl, 1, 10_000)
  const ids = await sampleLeadIds(db.ownerUrl, 1000)
  const token = await tokenFor({ user: 'bench-manager', role: 'MANAGER', territories: ['DE', 'CH'] })
  const service = await startService(db)
  let n = 0
  const get = () => runPaced({ url: `${service.baseUrl}/api/leads/${ids[0]}`, headers: { authorization: `Bearer ${token}` }, setupRequest: (r) => ({ ...r, path: `/api/leads/${ids[n++ % ids.length]}` }), connections: 0, rate, duration: 10 })
  try {
    await get() // warm-up
    for (let round = 1; round <= Number(values.rounds); round++) {
      const alone = await get()
      const worker = await startWorkerProcess(db)
      await new Promise((resolve) => setTimeout(resolve, 2000))
      const starting = await get() // its first seconds: compiling, pg-boss's start-up maintenance
      await workerSettled(db, Number(values.settle) * 1000)
      const beside = await get()
      await worker.stop()
      const f = (r: typeof alone) => `p50 ${r.p50.toFixed(2)} p95 ${r.p95.toFixed(2)} p99 ${r.p99.toFixed(2)} ms (${r.ok} ok${r.dropped ? `, ${r.dropped} dropped` : ''})`
      console.log(`round ${round} at ${rate}/s: web alone ${f(alone)} | worker starting ${f(starting)} | worker beside, settled ${f(beside)}`)
    }
  } finally {
    await service.stop()
  }
} finally {
  await db.drop()
}
