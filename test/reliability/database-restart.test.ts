// Issue 9, database restart: PostgreSQL (a server this test owns) restarts under sustained API load.
// While it is down, requests fail fast with 503 problems (no hang, no crash); the service recovers
// by itself within seconds; the dashboard listener reconnects and catches up; no lead whose create
// answered 201 is lost, and a dashboard stream receives each of their events exactly once.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import test from 'ava'
import pg from 'pg'
import { startEmbeddedPostgres, type EmbeddedServer } from '../../lib/embedded-postgres.ts'
import { migrateDatabase } from '../../lib/migrate.ts'
import { tokenFor } from '../helpers/api.ts'
import { APP_PASSWORD, APP_ROLE } from '../helpers/database.ts'
import { freePort, spawnService, waitUntilReady } from '../helpers/processes.ts'
import { SseClient } from '../helpers/events.ts'

const CLIENTS = 8
const OUTAGE_MS = 3_000

interface Result {
  status: number // 0: no HTTP answer
  ms: number
  at: number
  id?: string
  problem?: string
}

test('a database restart under load: fast 503s while it is down, recovery without help, nothing committed lost', async (t) => {
  t.timeout(180_000)
  const dataDir = await mkdtemp(path.join(tmpdir(), 'freshplan-restart-'))
  const pgPort = await freePort()
  const webPort = await freePort()
  let server: EmbeddedServer | undefined = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: pgPort })
  const ownerUrl = server.url.replace(/\/postgres$/, '/restart')
  const admin = new pg.Client({ connectionString: server.url })
  await admin.connect()
  await admin.query('create database restart')
  await admin.end()
  await migrateDatabase({ databaseUrl: ownerUrl, appRole: APP_ROLE, includeDevRange: false })
  const appUrl = Object.assign(new URL(ownerUrl), { username: APP_ROLE, password: APP_PASSWORD }).href
  const web = spawnService('server/web.ts', { DATABASE_URL: ownerUrl, APP_DATABASE_URL: appUrl, PORT: String(webPort), DB_POOL_MAX: '10' })
  const worker = spawnService('jobs/worker.ts', { DATABASE_URL: ownerUrl, APP_DATABASE_URL: appUrl })
  let stream: SseClient | undefined
  try {
    await waitUntilReady(webPort, web)
    const token = await tokenFor({ user: 'restart', role: 'MANAGER', territories: ['DE'] })
    stream = await SseClient.connect(`http://127.0.0.1:${webPort}/api/events/stream`, { token })
    const results: Result[] = []
    let running = true
    let n = 0
    const client = async () => {
      while (running) {
        const started = Date.now()
        const name = `Restart ${n++}`
        let result: Result
        try {
          const response = await fetch(`http://127.0.0.1:${webPort}/api/leads`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ companyName: name }),
            signal: AbortSignal.timeout(10_000),
          })
          const body = (await response.json()) as { id?: string; type?: string }
          result = { status: response.status, ms: Date.now() - started, at: started, id: body.id, problem: response.headers.get('content-type') === 'application/problem+json' ? body.type : undefined }
        } catch {
          result = { status: 0, ms: Date.now() - started, at: started }
        }
        results.push(result)
        if (result.status !== 201) await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    const clients = Array.from({ length: CLIENTS }, client)
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    const downAt = Date.now()
    await server.stop()
    server = undefined
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
    server = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: pgPort })
    const upAt = Date.now()
    // Recovery: the first 201 after the database is back.
    let recoveredAt = 0
    while (!recoveredAt && Date.now() - upAt < 30_000) {
      recoveredAt = results.find((r) => r.at >= upAt && r.status === 201)?.at ?? 0
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    running = false
    await Promise.all(clients)

    const during = results.filter((r) => r.at >= downAt + 200 && r.at < upAt)
    const failures = results.filter((r) => r.status !== 201)
    const unexpected = failures.filter((r) => r.status !== 503)
    t.log(`${results.length} requests: ${results.length - failures.length} × 201, ${failures.length - unexpected.length} × 503, ${unexpected.length} other; outage ${upAt - downAt} ms, recovered ${recoveredAt - upAt} ms after the database was back`)
    t.log(`during the outage: ${during.length} requests, slowest ${Math.max(...during.map((r) => r.ms))} ms`)
    t.true(during.length > 0, 'requests were made while the database was down')
    t.deepEqual(unexpected.map((r) => r.status), [], 'every failure is a 503 (never a 500, a hang or a dropped connection)')
    t.true(failures.every((r) => r.problem === 'https://freshplan.example/problems/service-unavailable'))
    t.true(during.every((r) => r.ms < 2_000), 'requests fail fast while the database is down')
    t.true(recoveredAt > 0 && recoveredAt - upAt < 10_000, 'the service recovers by itself within seconds')
    t.is(web.child.exitCode, null, 'the web process did not crash')
    const ready = await fetch(`http://127.0.0.1:${webPort}/health/ready`)
    t.is(ready.status, 200)

    const created = results.filter((r) => r.status === 201).map((r) => r.id!)
    t.true(worker.child.exitCode === null, 'the worker did not crash')
    const createdEvents = () => stream!.messages.filter((m) => m.event === 'freshplan.lead.created').map((m) => JSON.parse(m.data).subject as string)
    const allArrived = await stream!.waitFor(() => created.every((id) => createdEvents().includes(id)), 30_000)
    t.true(allArrived, `${created.length - created.filter((id) => createdEvents().includes(id)).length} created events missing on the stream after the restart`)
    t.is(new Set(createdEvents()).size, createdEvents().length, 'no event twice')
    t.log(`stream: ${createdEvents().length} created events, each once, across the restart`)
    const check = new pg.Client({ connectionString: ownerUrl })
    await check.connect()
    try {
      const { rows } = await check.query('select count(*)::int as n from leads where id = any($1::uuid[])', [created])
      t.is(rows[0].n, created.length, 'every lead that answered 201 is in the database')
    } finally {
      await check.end()
    }
  } finally {
    await stream?.close()
    web.child.kill('SIGKILL')
    worker.child.kill('SIGKILL')
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
})
