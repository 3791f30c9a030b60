// Read: GET /api/leads/{id} and a filtered list page through the service, against a bare
// node:http + pg server (bench/bare-server.ts) running the same statements.
import { tokenFor } from '../../test/helpers/api.ts'
import { assertClean, runLoad, type LoadResult, type LoadSpec } from '../lib/load.ts'
import type { RunningProcess } from '../lib/processes.ts'
import { sampleLeadIds, seedLeads } from '../lib/seed.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'
import { fixedRateMethod } from './create.ts'

const RATE = 500
const GET_TARGET_P95_MS = 3
const GET_TARGET_SHARE = 0.6
const LIST_PATH = '/api/leads?status=REGISTERED&limit=50'
const READER = { tenantId: 'default', userId: 'bench-manager', role: 'MANAGER', territories: ['DE', 'CH'] } as const

const details = (r: LoadResult) => ({ requests: r.requests, ok: r.ok, seconds: r.seconds, throughput: r.throughput, p50: r.p50, p95: r.p95, p99: r.p99, max: r.max })

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
    const measured: Record<string, { rate: LoadResult; saturated: LoadResult; bareSaturated: LoadResult; bareRate: LoadResult }> = {}
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
        const bareRate = await run(bare, 'bare fixed rate', { connections: ctx.rateConnections, rate: RATE, ...ctx.durations.fixedRate })
        const saturated = await run(service, 'saturation', ctx.durations.saturation)
        const bareSaturated = await run(bare, 'bare saturation', ctx.durations.saturation)
        measured[name] = { rate, saturated, bareSaturated, bareRate }
      }
    } finally {
      await service.stop()
      await bare.stop()
    }
    const get = measured.get!
    const list = measured.list!
    const satMethod = (what: string, r: LoadResult, b: LoadResult) =>
      `autocannon, ${ctx.connections} connections, ${r.seconds.toFixed(1)} s after a warm-up, ${what}; MANAGER token (DE, CH), ${ctx.readRows} leads. Baseline: bench/bare-server.ts (node:http + pg pool of 10, BEGIN; set_config; the same SELECT; COMMIT; no JWT verification), same load, ${b.seconds.toFixed(1)} s`
    const getShare = get.saturated.throughput / get.bareSaturated.throughput
    const listShare = list.saturated.throughput / list.bareSaturated.throughput
    return [
      {
        scenario: 'Read', figure: `get-by-id p95 at ${RATE} req/s`, value: get.rate.p95, unit: 'ms', baseline: get.bareRate.p95, ratio: get.rate.p95 / get.bareRate.p95,
        target: `≤ ${GET_TARGET_P95_MS} ms`, verdict: verdict(get.rate.p95, '<=', GET_TARGET_P95_MS),
        method: `${fixedRateMethod(RATE, ctx.rateConnections, get.rate)}; ids cycle over 1000 random DE leads of ${ctx.readRows}; baseline column: the bare server at the same rate`,
        details: { service: details(get.rate), bare: details(get.bareRate) },
      },
      {
        scenario: 'Read', figure: 'get-by-id throughput at saturation', value: get.saturated.throughput, unit: 'req/s', baseline: get.bareSaturated.throughput, ratio: getShare,
        target: `≥ ${GET_TARGET_SHARE * 100} % of bare`, verdict: verdict(getShare, '>=', GET_TARGET_SHARE),
        method: satMethod('ids cycle over 1000 random DE leads', get.saturated, get.bareSaturated),
        details: { service: details(get.saturated), bare: details(get.bareSaturated) },
      },
      {
        scenario: 'Read', figure: `list ?status=REGISTERED&limit=50 p95 at ${RATE} req/s`, value: list.rate.p95, unit: 'ms', baseline: list.bareRate.p95, ratio: list.rate.p95 / list.bareRate.p95,
        verdict: 'INFO',
        method: `${fixedRateMethod(RATE, ctx.rateConnections, list.rate)}; first page, 50 leads; baseline column: the bare server at the same rate`,
        details: { service: details(list.rate), bare: details(list.bareRate) },
      },
      {
        scenario: 'Read', figure: 'list page throughput at saturation', value: list.saturated.throughput, unit: 'req/s', baseline: list.bareSaturated.throughput, ratio: listShare,
        verdict: 'INFO',
        method: satMethod(`GET ${LIST_PATH}`, list.saturated, list.bareSaturated),
        details: { service: details(list.saturated), bare: details(list.bareSaturated) },
      },
    ]
  },
}
