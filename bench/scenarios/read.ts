// Read: GET /api/leads/{id} and a filtered list page through the service, against a bare
// node:http + pg server (bench/bare-server.ts) running the same statements.
import { tokenFor } from '../../test/helpers/api.ts'
import { assertAnswered, assertClean, loadSummary, runLoad, type LoadResult, type LoadSpec } from '../lib/load.ts'
import { startWorkerProcess, workerSettled, type RunningProcess } from '../lib/processes.ts'
import { sampleLeadIds, seedLeads } from '../lib/seed.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'
import { runPaced } from '../lib/paced.ts'
import { latencyFigures } from './create.ts'

const RATE = 500
const GET_TARGET_P95_MS = 3
const GET_TARGET_SHARE = 0.75 // issue 16 (was 0.6, issue 8)
/** How long the worker beside web runs after its start-up maintenance before the measured window. */
const WORKER_SETTLE_MS = 10_000
const LIST_PATH = '/api/leads?status=REGISTERED&limit=50'
const READER = { tenantId: 'default', userId: 'bench-manager', role: 'MANAGER', territories: ['DE', 'CH'] } as const

/** The paced p95 line gets the bare server's paced p95 at the same rate as its baseline. */
function withBaseline(figures: Figure[], bare: LoadResult, what: string): Figure[] {
  return figures.map((f) =>
    f.figure.endsWith('p95 (paced)')
      ? { ...f, baseline: bare.p95, ratio: f.value! / bare.p95, method: `${f.method}; ${what}; baseline column: the bare server, same paced load`, details: { ...f.details, barePaced: loadSummary(bare) } }
      : { ...f, method: `${f.method}; ${what}` },
  )
}

export const readScenario: Scenario = {
  name: 'read',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const db = await ctx.freshDatabase()
    ctx.log(`read: seeding ${ctx.readRows} leads`)
    await seedLeads(db.ownerUrl, 1, ctx.readRows)
    const ids = await sampleLeadIds(db.ownerUrl, 1000)
    const token = await tokenFor({ user: READER.userId, role: READER.role, territories: READER.territories })
    const headers = { authorization: `Bearer ${token}` }
    let n = 0
    const getSpec = (base: RunningProcess): Omit<LoadSpec, 'connections'> => ({
      url: `${base.baseUrl}/api/leads/${ids[0]}`,
      headers,
      setupRequest: (request) => ({ ...request, path: `/api/leads/${ids[n++ % ids.length]}` }),
    })
    const listSpec = (base: RunningProcess): Omit<LoadSpec, 'connections'> => ({ url: base.baseUrl + LIST_PATH, headers })

    const service = await ctx.startService(db)
    const bare = await ctx.startBare(db, READER)
    const measured: Record<string, { rate: LoadResult; paced: LoadResult; barePaced: LoadResult; saturated: LoadResult; bareSaturated: LoadResult }> = {}
    let withWorker: LoadResult
    let withWorkerBare: LoadResult
    try {
      for (const [name, spec] of [['get', getSpec], ['list', listSpec]] as const) {
        ctx.log(`read ${name}: service and bare, ${RATE} req/s and saturation`)
        const run = async (target: RunningProcess, label: string, extra: Partial<LoadSpec>) => {
          const result = await runLoad({ ...spec(target), connections: ctx.connections, ...extra })
          assertClean(`read ${name} ${label}`, result)
          return result
        }
        await run(service, 'warm-up', ctx.durations.warmup)
        await run(bare, 'bare warm-up', ctx.durations.warmup)
        const rate = await run(service, 'fixed rate', { connections: ctx.rateConnections, rate: RATE, ...ctx.durations.fixedRate })
        const paced = await runPaced({ ...spec(service), connections: 0, rate: RATE, ...ctx.durations.fixedRate })
        assertAnswered(`read ${name} paced`, paced)
        const barePaced = await runPaced({ ...spec(bare), connections: 0, rate: RATE, ...ctx.durations.fixedRate })
        assertAnswered(`read ${name} bare paced`, barePaced)
        const saturated = await run(service, 'saturation', ctx.durations.saturation)
        const bareSaturated = await run(bare, 'bare saturation', ctx.durations.saturation)
        measured[name] = { rate, paced, barePaced, saturated, bareSaturated }
      }
      // The production topology (and `npm start`): a worker process beside web, idle but running
      // its ready-queues poll, pg-boss's supervision and the outbox relay — once settled: its
      // start-up (compiling, pg-boss's maintenance of every queue) comes once per deploy and put a
      // tail of its own on the first seconds (bench/worker-tail.ts shows both).
      ctx.log(`read get: ${RATE} req/s paced with a worker process running beside web`)
      const worker = await startWorkerProcess(db)
      try {
        await workerSettled(db, ctx.smoke ? 1000 : WORKER_SETTLE_MS)
        withWorker = await runPaced({ ...getSpec(service), connections: 0, rate: RATE, ...ctx.durations.fixedRate })
        assertAnswered('read get paced with worker', withWorker)
        withWorkerBare = await runPaced({ ...getSpec(bare), connections: 0, rate: RATE, ...ctx.durations.fixedRate })
        assertAnswered('read get bare paced with worker', withWorkerBare)
      } finally {
        await worker.stop()
      }
    } finally {
      await service.stop()
      await bare.stop()
    }
    const get = measured.get!
    const list = measured.list!
    const satMethod = (what: string, r: LoadResult, b: LoadResult) =>
      `autocannon, ${ctx.connections} connections, ${r.seconds.toFixed(1)} s after a warm-up, ${what}; MANAGER token (DE, CH), ${ctx.readRows} leads. Baseline: bench/bare-server.ts (node:http + pg pool of 10, the statements the service sends, sent the same way — a read by id: the RLS context and the SELECT as one simple query; a list: BEGIN with set_config in one round trip, the same prepared SELECT, COMMIT; no JWT verification), same load, ${b.seconds.toFixed(1)} s`
    const getShare = get.saturated.throughput / get.bareSaturated.throughput
    const listShare = list.saturated.throughput / list.bareSaturated.throughput
    return [
      ...withBaseline(latencyFigures('Read', `get-by-id at ${RATE} req/s`, GET_TARGET_P95_MS, get.paced, get.rate, RATE, ctx.rateConnections), get.barePaced, `ids cycle over 1000 random DE leads of ${ctx.readRows}`),
      {
        scenario: 'Read', figure: 'get-by-id throughput at saturation', value: get.saturated.throughput, unit: 'req/s', baseline: get.bareSaturated.throughput, ratio: getShare,
        target: `≥ ${GET_TARGET_SHARE * 100} % of bare`, verdict: verdict(getShare, '>=', GET_TARGET_SHARE),
        method: satMethod('ids cycle over 1000 random DE leads', get.saturated, get.bareSaturated),
        details: { service: loadSummary(get.saturated), bare: loadSummary(get.bareSaturated) },
      },
      {
        scenario: 'Read', figure: `get-by-id at ${RATE} req/s p95 (paced, worker beside web)`, value: withWorker.p95, unit: 'ms', baseline: withWorkerBare.p95, ratio: withWorker.p95 / withWorkerBare.p95,
        target: `≤ ${GET_TARGET_P95_MS} ms`, verdict: withWorker.dropped ? 'MISS' : verdict(withWorker.p95, '<=', GET_TARGET_P95_MS),
        method: `as the paced line above, with \`node jobs/worker.ts\` running beside the web process on the same database (idle: no jobs due, no events), measured once settled (pg-boss's start-up maintenance of every queue done, then ${WORKER_SETTLE_MS / 1000} s); p50 ${withWorker.p50.toFixed(2)} ms, p99 ${withWorker.p99.toFixed(2)} ms; baseline column: the bare server, same load, same worker beside it`,
        details: { service: loadSummary(withWorker), bare: loadSummary(withWorkerBare) },
      },
      ...withBaseline(latencyFigures('Read', `list ?status=REGISTERED&limit=50 at ${RATE} req/s`, undefined, list.paced, list.rate, RATE, ctx.rateConnections), list.barePaced, 'first page, 50 leads'),
      {
        scenario: 'Read', figure: 'list page throughput at saturation', value: list.saturated.throughput, unit: 'req/s', baseline: list.bareSaturated.throughput, ratio: listShare,
        verdict: 'INFO',
        method: satMethod(`GET ${LIST_PATH}`, list.saturated, list.bareSaturated),
        details: { service: loadSummary(list.saturated), bare: loadSummary(list.bareSaturated) },
      },
    ]
  },
}
