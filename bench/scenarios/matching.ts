// Matching (§11): `POST /api/leads/match` must stay fast as the table grows — p95 at 100 req/s
// with 1,000,000 leads ≤ 15 ms and ≤ 1.5 × the figure at 10,000 leads — and creating a lead with
// the search for possible duplicates on must keep ≥ 80 % of the throughput without it.
// The tables hold leads with realistic match-key frequencies (bench/lib/matching-seed.ts): common
// words shared by thousands of leads at the large size, postal codes with a hundred leads each.
import type { RequestParams } from 'autocannon'
import { tokenFor } from '../../test/helpers/api.ts'
import { withClient, type TestDatabase } from '../../test/helpers/database.ts'
import { assertClean, loadSummary, runLoad, type LoadResult } from '../lib/load.ts'
import { matchBodies, seedMatchingLeads } from '../lib/matching-seed.ts'
import { mergePaced, runPaced } from '../lib/paced.ts'
import type { RunningProcess } from '../lib/processes.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'
import { pacedMethod } from './create.ts'

const RATE = 100
const TARGET_P95_MS = 15
const TARGET_RATIO = 1.5
const TARGET_CREATE_SHARE = 0.8
const WINDOWS = 6
const USER = { user: 'bench-matcher', role: 'MANAGER', territories: ['DE', 'CH'] } as const

interface Size {
  rows: number
  db: TestDatabase
  service: RunningProcess
}

/** A setupRequest that sends the bodies in turn. */
function cycling(bodies: readonly string[]): (request: RequestParams) => RequestParams {
  let next = 0
  return (request) => ({ ...request, body: bodies[next++ % bodies.length] })
}

async function setReviewOnWrite(db: TestDatabase, on: boolean): Promise<void> {
  await withClient(db.ownerUrl, (client) => client.query(
    `insert into matching_settings (tenant_id, review_on_write) values ('default', $1)
     on conflict (tenant_id) do update set review_on_write = excluded.review_on_write, updated_at = now()`,
    [on],
  ))
}

export const matchingScenario: Scenario = {
  name: 'matching',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const { small, large } = ctx.scaleSizes
    const token = await tokenFor(USER)
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const sizes: Size[] = []
    const paced = new Map<number, LoadResult[]>()
    const creates: Record<'on' | 'off', LoadResult[]> = { on: [], off: [] }
    try {
      for (const rows of [small, large]) {
        const db = await ctx.freshDatabase()
        ctx.log(`matching: seeding ${rows} leads with match keys`)
        const seeded = await seedMatchingLeads(db.ownerUrl, 1, rows)
        ctx.log(`matching: seeded ${rows} leads in ${seeded.seconds.toFixed(1)} s`)
        sizes.push({ rows, db, service: await ctx.startService(db) })
      }
      const windowAmount = ctx.smoke ? { amount: 50 } : { duration: 3 }
      for (const size of sizes) {
        const bodies = matchBodies(2_000, size.rows, size.rows)
        assertClean(`matching ${size.rows} warm-up`, await runLoad({ url: `${size.service.baseUrl}/api/leads/match`, method: 'POST', headers, setupRequest: cycling(bodies), connections: ctx.connections, ...ctx.durations.warmup }))
      }
      ctx.log(`matching: POST /api/leads/match, ${sizes.map((s) => s.rows).join(' and ')} leads taking turns, ${WINDOWS} windows each at ${RATE} req/s`)
      for (let window = 0; window < WINDOWS; window++) {
        for (const size of window % 2 === 0 ? sizes : [...sizes].reverse()) {
          const bodies = matchBodies(1_000, 1_000 * window + size.rows, size.rows)
          const result = await runPaced({ url: `${size.service.baseUrl}/api/leads/match`, method: 'POST', headers, setupRequest: cycling(bodies), connections: 0, rate: RATE, ...windowAmount })
          paced.set(size.rows, [...(paced.get(size.rows) ?? []), result])
        }
      }
      // Create throughput on the large table, matching on and off taking turns (saturation, autocannon).
      const largeSize = sizes.find((s) => s.rows === large)!
      let run = 0
      for (let turn = 0; turn < (ctx.smoke ? 2 : 6); turn++) {
        for (const mode of turn % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
          await setReviewOnWrite(largeSize.db, mode === 'on')
          const prefix = `b${turn}${mode}${run++}`
          const bodies = matchBodies(5_000, 7_000 + turn, largeSize.rows).map((body, n) => {
            const lead = JSON.parse(body) as Record<string, unknown>
            // Unique addresses: a create, not a hard duplicate.
            lead.email = `${prefix}-${n}@bench-create.example`
            return JSON.stringify(lead)
          })
          const result = await runLoad({ url: `${largeSize.service.baseUrl}/api/leads`, method: 'POST', headers, setupRequest: cycling(bodies), connections: ctx.connections, ...ctx.durations.saturation })
          assertClean(`matching create ${mode}`, result)
          creates[mode].push(result)
        }
      }
    } finally {
      for (const size of sizes) await size.service.stop()
    }
    const s = mergePaced(paced.get(small)!)
    const l = mergePaced(paced.get(large)!)
    const failed = s.errors + s.non2xx + l.errors + l.non2xx
    const ratio = failed > 0 ? Number.POSITIVE_INFINITY : l.p95 / s.p95
    const method =
      `POST /api/leads/match (MANAGER, DE+CH) with create-like bodies drawn like the seeded leads (half common names, postal codes that exist, 30 % a known phone, 50 % an e-mail); ` +
      `one database and one service per size, seeded by generate_series with match keys (bench/lib/matching-seed.ts), VACUUM ANALYZE, CHECKPOINT; the sizes take turns, ${WINDOWS} windows of ${RATE} req/s evenly paced each`
    const share = (mode: 'on' | 'off') => creates[mode].reduce((sum, r) => sum + r.throughput, 0) / creates[mode].length
    const createShare = share('on') / share('off')
    return [
      {
        scenario: 'Matching', figure: `match p95 at ${large.toLocaleString('en')} leads, ${RATE} req/s`, value: l.p95, unit: 'ms',
        target: `≤ ${TARGET_P95_MS} ms`, verdict: failed > 0 ? 'MISS' : verdict(l.p95, '<=', TARGET_P95_MS), method: `${method}. ${pacedMethod(RATE, l)}`,
        details: { large: loadSummary(l), windowP95: paced.get(large)!.map((w) => Math.round(w.p95 * 100) / 100) },
      },
      {
        scenario: 'Matching', figure: `match p95, ${large.toLocaleString('en')} vs ${small.toLocaleString('en')}`, value: l.p95, unit: 'ms', baseline: s.p95, ratio,
        target: `ratio ≤ ${TARGET_RATIO}`, verdict: verdict(ratio, '<=', TARGET_RATIO), method,
        details: { small: loadSummary(s), large: loadSummary(l), windowP95: { small: paced.get(small)!.map((w) => Math.round(w.p95 * 100) / 100), large: paced.get(large)!.map((w) => Math.round(w.p95 * 100) / 100) } },
      },
      {
        scenario: 'Matching', figure: `create throughput, matching on ÷ off (${large.toLocaleString('en')} leads)`, value: share('on'), unit: 'req/s', baseline: share('off'), ratio: createShare,
        target: `≥ ${TARGET_CREATE_SHARE * 100} %`, verdict: verdict(createShare, '>=', TARGET_CREATE_SHARE),
        method: `POST /api/leads at saturation (autocannon, ${ctx.connections} connections), same service and table, matching_settings.review_on_write on and off taking turns (${creates.on.length} runs each), bodies like the match bodies with unique e-mails; mean throughput`,
        details: { on: creates.on.map(loadSummary), off: creates.off.map(loadSummary) },
      },
    ]
  },
}
