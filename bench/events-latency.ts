// Event latency benchmark (not a test): commit of a lead change → receipt on an SSE stream.
//
//   node bench/events-latency.ts [--rate 100] [--seconds 30] [--leads 50]
//
// Prints p50/p95/p99 (target p95 ≤ 100 ms) and writes bench/results/events-latency.json. The method
// is described in bench/scenarios/events.ts; `npm run bench -- --only=events` runs the same
// measurement inside the harness, with the catch-up page figure.
import { writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createTestDatabase } from '../test/helpers/database.ts'
import { ROOT, startService, startWorkerProcess } from './lib/processes.ts'
import { LATENCY_TARGET_P95_MS, measureEventLatency } from './scenarios/events.ts'

const { values } = parseArgs({ options: { rate: { type: 'string', default: '100' }, seconds: { type: 'string', default: '30' }, leads: { type: 'string', default: '50' } } })

const db = await createTestDatabase()
try {
  const web = await startService(db)
  const worker = await startWorkerProcess(db)
  try {
    const result = await measureEventLatency(db, web, {
      rate: Number(values.rate), seconds: Number(values.seconds), leads: Number(values.leads), log: (line) => console.error(line),
    })
    const { latency } = result
    console.log(`commit → SSE latency, ${result.committed} changes at ${result.achievedRate}/s (paced ${result.rate}/s) over ${result.leads} leads:`)
    console.log(`  p50 ${latency.p50} ms   p95 ${latency.p95} ms   p99 ${latency.p99} ms   max ${latency.max} ms   (target p95 ≤ ${LATENCY_TARGET_P95_MS} ms)`)
    console.log(`  received ${result.received}, missing ${result.missing}, failed commits ${result.failedCommits}; writer commit p50 ${result.commit.p50} ms, p95 ${result.commit.p95} ms`)
    await mkdir(path.join(ROOT, 'bench', 'results'), { recursive: true })
    await writeFile(path.join(ROOT, 'bench', 'results', 'events-latency.json'), JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2))
    if (result.missing > 0 || result.failedCommits > 0) process.exitCode = 1
  } finally {
    await worker.stop()
    await web.stop()
  }
} finally {
  await db.drop()
}
