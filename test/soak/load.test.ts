// Issue 9, load: minutes of steady mixed traffic against the real `web` and `worker` processes,
// memory sampled every 10 s from their /metrics → no error, no growth trend. Long by design, so it
// runs only when SOAK_SECONDS is set (`npm run test:soak`, which CI runs after `npm test`).
import test from 'ava'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { apiClient, tokenFor } from '../helpers/api.ts'
import { freePort, spawnService, waitUntilReady, type ServiceProcess } from '../helpers/processes.ts'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 0)
const RATE = Number(process.env.SOAK_RATE ?? 40) // requests per second
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_MS ?? 10_000)
const HEAP_CAP_MB = 160
/** V8's default semi-space on a 64-bit machine with a heap of gigabytes. */
const SEMI_SPACE_MB = 16
const soak = SECONDS > 0 ? test : test.skip

let db: TestDatabase | undefined
test.after.always(() => db?.drop())

async function heapAndRss(port: number, service: ServiceProcess): Promise<{ heap: number; rss: number }> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (response) => response.text(),
    (error: unknown) => {
      // Which process did not answer, and what it printed: a bare "fetch failed" tells neither.
      throw new Error(`${service.entry} /metrics did not answer (${String((error as Error).cause ?? error)}, exit code ${service.child.exitCode}): ${service.output().slice(-2000)}`)
    },
  )
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN)
  return { heap: read('nodejs_heap_size_used_bytes'), rss: read('process_resident_memory_bytes') }
}

/** The mean of the lowest two samples: where the heap lands after collections. */
const floor = (values: number[]) => {
  const [a, b = a] = [...values].sort((x, y) => x - y)
  return (a! + b!) / 2
}
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)

soak(`${SECONDS} s of mixed traffic at ${RATE} req/s: no error, no memory growth in web or worker`, async (t) => {
  t.timeout((SECONDS + 120) * 1000)
  db = await createTestDatabase()
  const [webPort, workerMetricsPort] = [await freePort(), await freePort()]
  const env = { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, PORT: String(webPort), WORKER_METRICS_PORT: String(workerMetricsPort) }
  // A small old generation makes V8 collect often, so the sampled heap tracks what is really live,
  // and a leak ends in an out-of-memory crash instead of hiding in a heap that is allowed to grow.
  // The young generation keeps production's size: V8 derives it from the heap cap, and at 160 MB
  // it was so small that the worker spent 73 % and web 34 % of their CPU scavenging (CPU
  // profiles of a soak), two cores saturated and the web's pool timed out in bursts (503s).
  const nodeArgs = [`--max-old-space-size=${HEAP_CAP_MB}`, `--max-semi-space-size=${SEMI_SPACE_MB}`]
  const processes: ServiceProcess[] = [spawnService('server/web.ts', env, nodeArgs), spawnService('jobs/worker.ts', env, nodeArgs)]
  try {
    // Both, before the first memory sample: the worker opens its metrics port only once its queues
    // and schedules are registered, which on a busy machine comes after web is ready.
    await Promise.all([waitUntilReady(webPort, processes[0]!), waitUntilReady(workerMetricsPort, processes[1]!)])
    const api = apiClient(`http://127.0.0.1:${webPort}`)
    const tokens = await Promise.all(['SALES', 'MANAGER'].map((role, i) => tokenFor({ user: `soak-${i}`, role, territories: ['DE', 'CH'] })))
    const counts: Record<string, number> = {}
    const errors: string[] = []
    // When the errors came and how slow each kind got: a failure should say whether it was a burst
    // (the database or the pool stalled) or a request kind that slowed down.
    const errorSeconds: number[] = []
    const slowest: Record<string, number> = {}
    const leads: { id: string; version: number }[] = []
    let sequence = 0
    const operation = async () => {
      const n = sequence++
      const token = tokens[n % 2]!
      const kind = leads.length < 20 || n % 5 === 0 ? 'create' : (['get', 'list', 'patch', 'activity'] as const)[n % 4]!
      const lead = leads[n % Math.max(1, leads.length)]
      let response
      const began = performance.now()
      if (kind === 'create') response = await api('POST', '/api/leads', { token: tokens[1]!, body: { companyName: `Soak ${n}`, email: `soak${n}@load.example`, countryCode: n % 3 ? 'DE' : 'CH', emailConsent: true } })
      else if (kind === 'get') response = await api('GET', `/api/leads/${lead!.id}`, { token: tokens[1]! })
      else if (kind === 'list') response = await api('GET', `/api/leads?limit=20&q=Soak`, { token })
      else if (kind === 'patch') response = await api('PATCH', `/api/leads/${lead!.id}`, { token: tokens[1]!, body: { notes: `n${n}` }, headers: { 'if-match': '*' } })
      else response = await api('POST', `/api/leads/${lead!.id}/activities`, { token: tokens[1]!, body: { type: 'NOTE', summary: `note ${n}` } })
      slowest[kind] = Math.max(slowest[kind] ?? 0, Math.round(performance.now() - began))
      counts[`${kind} ${response.status}`] = (counts[`${kind} ${response.status}`] ?? 0) + 1
      if (response.status >= 300) {
        errors.push(`${kind} → ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`)
        errorSeconds.push(Math.round((Date.now() - started) / 1000))
      }
      if (kind === 'create' && response.status === 201) leads.push({ id: response.body.id, version: 1 })
    }
    const samples: { at: number; web: { heap: number; rss: number }; worker: { heap: number; rss: number } }[] = []
    const started = Date.now()
    const inFlight = new Set<Promise<void>>()
    let nextSample = started
    for (let i = 0; Date.now() - started < SECONDS * 1000; i++) {
      const due = started + (i * 1000) / RATE
      const wait = due - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      const p = operation().catch((error) => void errors.push(String(error))).finally(() => inFlight.delete(p))
      inFlight.add(p)
      if (Date.now() >= nextSample) {
        samples.push({ at: Date.now() - started, web: await heapAndRss(webPort, processes[0]!), worker: await heapAndRss(workerMetricsPort, processes[1]!) })
        nextSample += SAMPLE_MS
      }
    }
    await Promise.all(inFlight)
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    t.log(`${total} requests in ${SECONDS} s (${(total / SECONDS).toFixed(1)}/s): ${JSON.stringify(counts)}`)
    t.log(`slowest response per kind (ms): ${JSON.stringify(slowest)}`)
    if (errors.length > 0) {
      t.log(`errors at (s since start): ${[...new Set(errorSeconds)].join(' ')}`)
      for (const p of processes) t.log(`${p.entry} output (last 3000 characters): ${p.output().slice(-3000)}`)
    }
    for (const s of samples) t.log(`t=${Math.round(s.at / 1000)}s web heap ${mb(s.web.heap)} MB rss ${mb(s.web.rss)} MB · worker heap ${mb(s.worker.heap)} MB rss ${mb(s.worker.rss)} MB`)
    t.deepEqual(errors.slice(0, 5), [], `${errors.length} errors`)
    t.true(samples.length >= 6, 'at least six memory samples')
    // Trend: after warm-up, the heap's floor (its lowest samples, right after collections) must not
    // rise from the middle third to the last third.
    const third = Math.floor(samples.length / 3)
    for (const processName of ['web', 'worker'] as const) {
      const middle = floor(samples.slice(third, 2 * third).map((s) => s[processName].heap))
      const last = floor(samples.slice(2 * third).map((s) => s[processName].heap))
      t.log(`${processName}: heap floor ${mb(middle)} MB (middle third) → ${mb(last)} MB (last third)`)
      t.true(last < middle * 1.25 + 5 * 1024 * 1024, `${processName} heap grows: ${mb(middle)} → ${mb(last)} MB`)
    }
    t.true(processes.every((p) => p.child.exitCode === null), 'no process died')
  } finally {
    for (const p of processes) p.child.kill('SIGTERM')
    await Promise.all(processes.map((p) => p.exited))
  }
})
