// Events (§7): how long from a lead change's commit until a dashboard's SSE stream has it, and the
// catch-up page. `node bench/events-latency.ts` runs the latency part alone.
//
// Method: a fresh database; `node server/web.ts` and `node jobs/worker.ts` as separate processes,
// as in production. This (harness) process writes changes open-loop at a fixed rate — change i
// starts at start + i/rate whether or not earlier ones finished — each one transaction that bumps
// the lead's version and calls recordLeadEvent, as the lead service does. It notes when each commit
// returned; a MANAGER's SSE stream (real HTTP) notes when each event arrived; both on this process's
// performance.now(). Latency = arrival − commit, for every change; an event that never arrives counts
// as missing (must be 0).
import http from 'node:http'
import { tokenFor } from '../../test/helpers/api.ts'
import type { TestDatabase } from '../../test/helpers/database.ts'
import { createKnex, inTransaction, systemContext } from '../../lib/db.ts'
import { createLogger } from '../../lib/logger.ts'
import { loadConfig } from '../../lib/config.ts'
import { systemClock } from '../../lib/clock.ts'
import { startBoss } from '../../lib/boss.ts'
import { recordLeadEvent, type LeadEventSubject } from '../../models/lead-events.ts'
import { TEST_JWT_SECRET } from '../../test/helpers/stack.ts'
import { percentile } from '../lib/load.ts'
import { runPaced } from '../lib/paced.ts'
import { startWorkerProcess, type RunningProcess } from '../lib/processes.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'

export const LATENCY_TARGET_P95_MS = 100

export interface EventLatencyOptions {
  rate: number
  seconds: number
  leads: number
  log?: (message: string) => void
}

export interface EventLatencyResult {
  rate: number
  achievedRate: number
  seconds: number
  leads: number
  committed: number
  failedCommits: number
  received: number
  missing: number
  /** Milliseconds, commit returned → SSE message read. */
  latency: { p50: number; p95: number; p99: number; max: number; min: number }
  /** Milliseconds the writing transactions took (begin → commit returned). */
  commit: { p50: number; p95: number; p99: number }
}

const round = (ms: number) => Math.round(ms * 10) / 10

/** Opens a real SSE stream and records, per bench change number, when its event arrived. */
function openStream(baseUrl: string, token: string, arrived: Map<number, number>): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${baseUrl}/api/events/stream`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE stream answered ${res.statusCode}`))
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const at = performance.now()
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer.slice(0, end).split('\n').find((line) => line.startsWith('data: '))
          buffer = buffer.slice(end + 2)
          if (data) arrived.set(JSON.parse(data.slice(6)).data.bench as number, at)
        }
      })
      resolve(request)
    })
    request.on('error', reject)
  })
}

/** Measures commit → SSE latency against a running web and worker process on `db`. */
export async function measureEventLatency(db: TestDatabase, web: RunningProcess, options: EventLatencyOptions): Promise<EventLatencyResult> {
  const log = options.log ?? (() => {})
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl, APP_DATABASE_URL: db.appUrl, AUTH_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' })
  const logger = createLogger(config, 'bench')
  const knex = createKnex(config.workerDatabaseUrl!, { poolMax: 20, applicationName: 'freshplan-bench-writer' })
  const owner = createKnex(db.ownerUrl, { poolMax: 2 })
  const boss = await startBoss({ connectionString: config.appDatabaseUrl, logger, role: 'web' })
  const deps = { config, knex, boss, logger, clock: systemClock }
  const arrived = new Map<number, number>()
  const stream = await openStream(web.baseUrl, await tokenFor({ user: 'bench-manager', role: 'MANAGER', territories: ['DE'] }), arrived)
  try {
    const { rows } = await owner.raw(
      `insert into leads (territory, company_name, stage, owner_user_id, created_by)
       select 'DE', 'Bench ' || n, 'VORMERKUNG', 'bench-sales', 'bench-sales' from generate_series(1, ?) n
       returning id, tenant_id, territory, owner_user_id, collaborator_user_ids`,
      [options.leads],
    )
    const leads: Omit<LeadEventSubject, 'version'>[] = rows.map((r: any) => ({ id: r.id, tenantId: r.tenant_id, territory: r.territory, ownerUserId: r.owner_user_id, collaboratorUserIds: r.collaborator_user_ids }))
    const change = (n: number) =>
      inTransaction(knex, systemContext('default'), async (tx) => {
        const lead = leads[((n % leads.length) + leads.length) % leads.length]!
        const { rows } = await tx.trx.raw(`update leads set version = version + 1, updated_at = now() where id = ? returning version`, [lead.id])
        await recordLeadEvent(deps, tx, { type: 'freshplan.lead.updated', lead: { ...lead, version: rows[0].version }, data: { bench: n } })
      })
    // Warm-up: connections, the worker's relay, the listener; not measured.
    for (let n = -50; n < 0; n++) await change(n)
    await new Promise((resolve) => setTimeout(resolve, 1000))

    log(`events: ${options.rate} changes/s for ${options.seconds} s over ${options.leads} leads`)
    const committed = new Map<number, number>()
    const commitTimes: number[] = []
    let failedCommits = 0
    const total = Math.round(options.rate * options.seconds)
    const started = performance.now()
    const inflight: Promise<void>[] = []
    for (let n = 0; n < total; n++) {
      const wait = started + (n * 1000) / options.rate - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      const begun = performance.now()
      inflight.push(change(n).then(
        () => {
          const at = performance.now()
          committed.set(n, at)
          commitTimes.push(at - begun)
        },
        () => void failedCommits++,
      ))
    }
    await Promise.all(inflight)
    const sendSeconds = (performance.now() - started) / 1000
    const deadline = performance.now() + 15_000
    while ([...committed.keys()].some((n) => !arrived.has(n)) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))

    const latencies = [...committed].filter(([n]) => arrived.has(n)).map(([n, at]) => arrived.get(n)! - at).sort((a, b) => a - b)
    commitTimes.sort((a, b) => a - b)
    return {
      rate: options.rate,
      achievedRate: Math.round((committed.size / sendSeconds) * 10) / 10,
      seconds: options.seconds,
      leads: options.leads,
      committed: committed.size,
      failedCommits,
      received: latencies.length,
      missing: committed.size - latencies.length,
      latency: {
        p50: round(percentile(latencies, 50)), p95: round(percentile(latencies, 95)), p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? NaN), min: round(latencies[0] ?? NaN),
      },
      commit: { p50: round(percentile(commitTimes, 50)), p95: round(percentile(commitTimes, 95)), p99: round(percentile(commitTimes, 99)) },
    }
  } finally {
    stream.destroy()
    await boss.stop({ graceful: false, close: true })
    await knex.destroy()
    await owner.destroy()
  }
}

export const eventsScenario: Scenario = {
  name: 'events',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const db = await ctx.freshDatabase()
    const web = await ctx.startService(db)
    const worker = await startWorkerProcess(db)
    let latency: EventLatencyResult
    let page: Awaited<ReturnType<typeof runPaced>>
    const rate = 100
    try {
      latency = await measureEventLatency(db, web, { rate, seconds: ctx.smoke ? 3 : 30, leads: 50, log: ctx.log })
      ctx.log('events: catch-up page GET /api/events?after= at 200 req/s')
      const token = await tokenFor({ user: 'bench-manager', role: 'MANAGER', territories: ['DE'] })
      const newest = latency.committed
      page = await runPaced({
        url: `${web.baseUrl}/api/events?after=0&limit=100`, headers: { authorization: `Bearer ${token}` }, connections: 0, rate: 200, ...ctx.durations.fixedRate,
        setupRequest: (request) => ({ ...request, path: `/api/events?after=${Math.floor(Math.random() * newest)}&limit=100` }),
      })
    } finally {
      await worker.stop()
      await web.stop()
    }
    const method = `${latency.committed} lead changes (bump version + recordLeadEvent, one transaction each) paced at ${rate}/s (achieved ${latency.achievedRate}/s) over ${latency.leads} leads; web and worker in their own processes; latency = a MANAGER's SSE stream read the event − the writer's commit returned, same clock; ${latency.received} received, ${latency.missing} missing; writer commit p50/p95 ${latency.commit.p50}/${latency.commit.p95} ms`
    return [
      { scenario: 'Events', figure: `write → SSE delivery latency p50 at ${rate}/s`, value: latency.latency.p50, unit: 'ms', verdict: 'INFO', method, details: { ...latency } },
      {
        scenario: 'Events', figure: `write → SSE delivery latency p95 at ${rate}/s`, value: latency.latency.p95, unit: 'ms', target: `≤ ${LATENCY_TARGET_P95_MS} ms`,
        verdict: latency.missing > 0 ? 'MISS' : verdict(latency.latency.p95, '<=', LATENCY_TARGET_P95_MS), method, details: { ...latency },
      },
      { scenario: 'Events', figure: `write → SSE delivery latency p99 at ${rate}/s`, value: latency.latency.p99, unit: 'ms', verdict: 'INFO', method, details: { ...latency } },
      {
        scenario: 'Events', figure: 'catch-up page GET /api/events?after= p95 at 200 req/s', value: page.p95, unit: 'ms', verdict: 'INFO',
        method: `paced 200 req/s, limit=100 after a random seq among ${latency.committed} events, MANAGER token; ${page.ok} of ${page.requests} answered 2xx`,
        details: { p50: page.p50, p95: page.p95, p99: page.p99, max: page.max, dropped: page.dropped },
      },
    ]
  },
}
