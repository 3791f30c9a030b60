// Issue 15: the worker answers its Kubernetes probes on the port that serves /metrics
// (WORKER_METRICS_PORT), as deploy/k8s/worker.yaml declares; a real `node jobs/worker.ts` process.
import test from 'ava'
import { createTestDatabase } from '../helpers/database.ts'
import { freePort, spawnService, waitUntilReady } from '../helpers/processes.ts'

test('worker: /health/live and /health/ready next to /metrics; SIGTERM exits 0', async (t) => {
  t.timeout(60_000)
  const db = await createTestDatabase()
  const port = await freePort()
  const worker = spawnService('jobs/worker.ts', { DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, WORKER_METRICS_PORT: String(port) })
  try {
    await waitUntilReady(port, worker)
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`)
    t.deepEqual(await ready.json(), { status: 'UP', checks: { database: 'UP', queue: 'UP' } })
    const live = await fetch(`http://127.0.0.1:${port}/health/live`)
    t.is(live.status, 200)
    t.deepEqual(await live.json(), { status: 'UP' })
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
    t.is(metrics.status, 200)
    t.regex(await metrics.text(), /^# HELP /m)
    worker.child.kill('SIGTERM')
    t.is(await worker.exited, 0, worker.output())
  } finally {
    worker.child.kill('SIGKILL')
    await db.drop()
  }
})
