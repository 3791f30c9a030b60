// Scale: the list page must not get slower as the table grows (§4 "cost per page must not grow
// with the table size"). The same first page and a deep page (cursor at the middle of the
// filtered list) at a small and a large table, plus EXPLAIN ANALYZE of the statement the service runs.
import pg from 'pg'
import { LEAD_SELECT_LIST } from '../../models/lead-table.ts'
import { tokenFor } from '../../test/helpers/api.ts'
import type { TestDatabase } from '../../test/helpers/database.ts'
import type { RunningProcess } from '../lib/processes.ts'
import { assertClean, loadSummary, runLoad, type LoadResult } from '../lib/load.ts'
import { cursorAt, seedLeads } from '../lib/seed.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'
import { mergePaced, runPaced } from '../lib/paced.ts'
import { pacedMethod } from './create.ts'

const RATE = 200
const TARGET_RATIO = 1.5
const STATUS = 'REGISTERED'
const LIST_PATH = `/api/leads?status=${STATUS}&limit=50`
const READER = { tenantId: 'default', userId: 'bench-manager', role: 'MANAGER', territories: ['DE', 'CH'] } as const
// The statement models/leads.ts listLeads sends for this query (captured from knex's query log).
const LIST_SQL = `select ${LEAD_SELECT_LIST}, (created_at)::text as sort_value from "leads" where "tenant_id" = $1 and "status" = $2 order by created_at desc, id desc limit $3`
const DEEP_SQL = `select ${LEAD_SELECT_LIST}, (created_at)::text as sort_value from "leads" where "tenant_id" = $1 and "status" = $2 and (created_at, id) < ($3::timestamptz, $4::uuid) order by created_at desc, id desc limit $5`

interface Explained {
  executionMs: number
  plan: string
  sharedHitBlocks: number
  sharedReadBlocks: number
}

async function explain(appUrl: string, sql: string, params: unknown[]): Promise<Explained> {
  const client = new pg.Client({ connectionString: appUrl })
  await client.connect()
  try {
    await client.query('BEGIN')
    await client.query(`select set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true), set_config('app.role', $3, true), set_config('app.territories', $4, true)`, [
      READER.tenantId, READER.userId, READER.role, READER.territories.join(','),
    ])
    // Prepared, as the service runs it (lib/db.ts): PostgreSQL plans the first five executions for
    // their values and may then switch to a generic plan; executions 6–10 show the plan that stays.
    await client.query(`prepare list_page as ${sql}`)
    // EXECUTE takes no bind parameters: the values go in as literals.
    const args = params.map((value) => client.escapeLiteral(String(value))).join(', ')
    for (let i = 0; i < 5; i++) await client.query(`execute list_page(${args})`)
    let best: Explained | undefined
    // Best of five: the figure of interest is the plan's cost, not the machine's noise.
    for (let i = 0; i < 5; i++) {
      const { rows } = await client.query(`explain (analyze, buffers, format json) execute list_page(${args})`)
      const root = rows[0]['QUERY PLAN'][0]
      const nodes: string[] = []
      const walk = (node: Record<string, any>, depth: number) => {
        nodes.push(`${'  '.repeat(depth)}${node['Node Type']}${node['Index Name'] ? ` using ${node['Index Name']}` : ''} rows=${node['Actual Rows']}${node['Rows Removed by Filter'] ? ` removed=${node['Rows Removed by Filter']}` : ''}`)
        for (const child of node.Plans ?? []) walk(child, depth + 1)
      }
      walk(root.Plan, 0)
      const current = { executionMs: root['Execution Time'], plan: nodes.join('\n'), sharedHitBlocks: root.Plan['Shared Hit Blocks'], sharedReadBlocks: root.Plan['Shared Read Blocks'] }
      if (!best || current.executionMs < best.executionMs) best = current
    }
    await client.query('COMMIT')
    return best!
  } finally {
    await client.end()
  }
}

interface SizeResult {
  rows: number
  first: LoadResult
  deep: LoadResult
  explainFirst: Explained
  explainDeep: Explained
}

/** Windows per size and page; the two sizes take turns, so a noisy minute of the machine hits both alike. */
const WINDOWS = 10

interface Size {
  rows: number
  db: TestDatabase
  service: RunningProcess
  cursor: string
}

export const scaleScenario: Scenario = {
  name: 'scale',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const { small, large } = ctx.scaleSizes
    const token = await tokenFor({ user: READER.userId, role: READER.role, territories: READER.territories })
    const headers = { authorization: `Bearer ${token}` }
    const sizes: Size[] = []
    const windowP95 = { first: new Map<number, number[]>(), deep: new Map<number, number[]>() }
    let smallResult: SizeResult
    let largeResult: SizeResult
    try {
      for (const rows of [small, large]) {
        const db = await ctx.freshDatabase()
        ctx.log(`scale: seeding ${rows} leads (indexes rebuilt after the load, then VACUUM ANALYZE and CHECKPOINT)`)
        const seeded = await seedLeads(db.ownerUrl, 1, rows)
        ctx.log(`scale: seeded ${rows} leads in ${seeded.seconds.toFixed(1)} s`)
        const cursor = await cursorAt(db.ownerUrl, Math.floor(Math.floor(rows / 3) / 2), STATUS)
        sizes.push({ rows, db, cursor, service: await ctx.startService(db) })
      }
      const results = new Map<number, SizeResult>()
      const paced: Record<'first' | 'deep', Map<number, LoadResult[]>> = { first: new Map(), deep: new Map() }
      const pathOf = (size: Size, page: 'first' | 'deep') => (page === 'first' ? LIST_PATH : `${LIST_PATH}&cursor=${size.cursor}`)
      const windowAmount = ctx.smoke ? { amount: 40 } : { duration: 2 }
      for (const page of ['first', 'deep'] as const) {
        for (const size of sizes) {
          assertClean(`scale ${size.rows} ${page} warm-up`, await runLoad({ url: size.service.baseUrl + pathOf(size, page), headers, connections: ctx.connections, ...ctx.durations.warmup }))
        }
        ctx.log(`scale: ${page} page, ${sizes.map((s) => s.rows).join(' and ')} leads taking turns, ${WINDOWS} windows each at ${RATE} req/s`)
        for (let window = 0; window < WINDOWS; window++) {
          // Alternate which size goes first, so neither always follows the other.
          for (const size of window % 2 === 0 ? sizes : [...sizes].reverse()) {
            // No assertClean: an overloaded large table is a finding (reported with its error count), not a crash.
            const result = await runPaced({ url: size.service.baseUrl + pathOf(size, page), headers, connections: 0, rate: RATE, ...windowAmount })
            paced[page].set(size.rows, [...(paced[page].get(size.rows) ?? []), result])
          }
        }
      }
      for (const page of ['first', 'deep'] as const) {
        for (const [rows, windows] of paced[page]) windowP95[page].set(rows, windows.map((w) => Math.round(w.p95 * 100) / 100))
      }
      for (const size of sizes) {
        const { v, id } = JSON.parse(Buffer.from(size.cursor, 'base64url').toString('utf8')) as { v: string; id: string }
        results.set(size.rows, {
          rows: size.rows,
          first: mergePaced(paced.first.get(size.rows)!),
          deep: mergePaced(paced.deep.get(size.rows)!),
          explainFirst: await explain(size.db.appUrl, LIST_SQL, ['default', STATUS, 51]),
          explainDeep: await explain(size.db.appUrl, DEEP_SQL, ['default', STATUS, v, id, 51]),
        })
      }
      smallResult = results.get(small)!
      largeResult = results.get(large)!
    } finally {
      for (const size of sizes) await size.service.stop()
    }
    const method = (page: string) =>
      `${page} of GET ${LIST_PATH} (MANAGER, DE+CH, sees all), p95 at ${large.toLocaleString('en')} leads ÷ p95 at ${small.toLocaleString('en')} leads; one database and one service process per size, ` +
      `each table filled with generate_series as owner (then VACUUM ANALYZE, CHECKPOINT); after an autocannon warm-up the two sizes take turns: ${WINDOWS} windows of ${RATE} req/s evenly paced (bench/lib/paced.ts) each, percentiles over all of a size's responses`
    const figures: Figure[] = []
    for (const [page, key, explainKey] of [['first page', 'first', 'explainFirst'], ['deep page (cursor at the middle)', 'deep', 'explainDeep']] as const) {
      const s = smallResult[key]
      const l = largeResult[key]
      const failed = l.errors + l.non2xx + s.errors + s.non2xx
      const ratio = failed > 0 ? Number.POSITIVE_INFINITY : l.p95 / s.p95
      const overload = failed > 0 ? `. OVERLOADED: ${l.errors + l.non2xx} of ${l.requests} requests at ${large} and ${s.errors + s.non2xx} of ${s.requests} at ${small} were dropped (over 64 in flight) or failed; the p95 covers the answered ones only` : ''
      figures.push({
        scenario: 'Scale', figure: `list ${page} p95, ${large.toLocaleString('en')} vs ${small.toLocaleString('en')}`, value: l.p95, unit: 'ms', baseline: s.p95, ratio,
        target: `ratio ≤ ${TARGET_RATIO}`, verdict: verdict(ratio, '<=', TARGET_RATIO), method: method(page) + overload,
        details: { small: loadSummary(s), large: loadSummary(l), windowP95: { small: windowP95[key].get(small), large: windowP95[key].get(large) }, pacedSmall: pacedMethod(RATE, s), pacedLarge: pacedMethod(RATE, l) },
      })
      const es = smallResult[explainKey]
      const el = largeResult[explainKey]
      figures.push({
        scenario: 'Scale', figure: `  SQL execution, ${page}`, value: el.executionMs, unit: 'ms', baseline: es.executionMs, ratio: el.executionMs / es.executionMs,
        verdict: 'INFO',
        method: `EXPLAIN (ANALYZE, BUFFERS) EXECUTE of the service's statement, prepared and run five times first as the service's prepared statement is (so the plan shown is the one PostgreSQL keeps), as the app role with the MANAGER RLS context, best of 5, large vs small table. Plan at ${large}: ${el.plan.replace(/\n\s*/g, ' → ')}; buffers hit ${el.sharedHitBlocks}, read ${el.sharedReadBlocks}`,
        details: { small: es, large: el },
      })
    }
    return figures
  },
}
