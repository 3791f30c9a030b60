// Create: POST /api/leads through the whole service (auth, validation, normalization, the
// Idempotency-Key transaction, insert + CREATED activity), against the same SQL statements sent
// directly through pg at the same concurrency.
import { randomBytes } from 'node:crypto'
import type { RequestParams } from 'autocannon'
import pg from 'pg'
import { tokenFor } from '../../test/helpers/api.ts'
import { assertAnswered, assertClean, runLoad, type LoadResult } from '../lib/load.ts'
import { runPaced } from '../lib/paced.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'

const USER = 'bench-creator'
const RATE = 300
const TARGET_P95_MS = 7
const TARGET_SHARE = 0.5

function leadBody(run: string, n: number): Record<string, unknown> {
  return {
    companyName: `Bench Gastro ${run} ${n} GmbH`,
    contactName: 'Maria Musterfrau',
    email: `bench-${run}-${n}@example.com`,
    phone: '+49 30 1234567',
    street: 'Hauptstraße 1',
    postalCode: '10115',
    city: 'Berlin',
    source: 'WEB_FORMULAR',
    businessType: 'RESTAURANT',
  }
}

const SET_CONTEXT = `select set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true),
              set_config('app.role', $3, true), set_config('app.territories', $4, true)`
const INSERT_LEAD = `insert into "leads" ("city", "company_name", "contact_name", "country_code", "created_by", "email", "email_normalized", "name_normalized", "normalization_version", "owner_user_id", "phone", "phone_e164", "postal_code", "registered_at", "source", "stage", "status", "street", "business_type", "tenant_id", "territory") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) returning "id"`
const INSERT_ACTIVITY = `insert into "lead_activities" ("lead_id", "metadata", "occurred_at", "outcome", "summary", "tenant_id", "type", "user_id") values ($1, $2, $3, $4, $5, $6, $7, $8) returning "id"`
const INSERT_KEY = `insert into "idempotency_keys" ("body", "expires_at", "fingerprint", "headers", "key", "status_code", "tenant_id", "user_id") values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict ("tenant_id", "user_id", "key") do update set "body" = excluded."body", "expires_at" = excluded."expires_at", "fingerprint" = excluded."fingerprint", "headers" = excluded."headers", "key" = excluded."key", "status_code" = excluded."status_code", "tenant_id" = excluded."tenant_id", "user_id" = excluded."user_id"`

/** The statements the service sends for one create with an Idempotency-Key (captured from knex's query log). */
async function createDirectly(client: pg.PoolClient, run: string, n: number): Promise<void> {
  const key = `bench-sql-${run}-${n}`
  const body = leadBody(run, n)
  const email = body.email as string
  await client.query('BEGIN')
  try {
    await client.query(SET_CONTEXT, ['default', USER, 'SALES', 'DE'])
    await client.query('select pg_try_advisory_xact_lock(hashtextextended($1, 0)) as locked', [JSON.stringify(['default', USER, key])])
    await client.query(
      'select "fingerprint", "status_code", "headers", "body" from "idempotency_keys" where "tenant_id" = $1 and "user_id" = $2 and "key" = $3 and "expires_at" > $4 limit $5',
      ['default', USER, key, new Date(), 1],
    )
    await client.query('SAVEPOINT trx2')
    const now = new Date()
    const { rows } = await client.query<{ id: string }>(INSERT_LEAD, [
      body.city, body.companyName, body.contactName, 'DE', USER, email, email, `bench gastro ${run} ${n}`, 1, USER, body.phone, '+49301234567',
      body.postalCode, now, 'WEB_FORMULAR', 'VORMERKUNG', 'REGISTERED', body.street, 'RESTAURANT', 'default', 'DE',
    ])
    const leadId = rows[0]!.id
    const lead = (await client.query('select "leads".* from "leads" where "leads"."id" in ($1)', [leadId])).rows[0]
    await client.query('RELEASE SAVEPOINT trx2')
    const activity = await client.query<{ id: string }>(INSERT_ACTIVITY, [leadId, {}, now, null, 'Lead created from source WEB_FORMULAR', 'default', 'CREATED', USER])
    await client.query('select "lead_activities".* from "lead_activities" where "lead_activities"."id" in ($1)', [activity.rows[0]!.id])
    await client.query(INSERT_KEY, [
      JSON.stringify(lead), new Date(Date.now() + 86_400_000), randomBytes(32).toString('hex'), { location: `/api/leads/${leadId}`, etag: '"1"' }, key, 201, 'default', USER,
    ])
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  }
}

/** `concurrency` loops, each taking a pooled connection per lead, for `seconds` (or `amount` leads). */
async function sqlBaseline(url: string, run: string, concurrency: number, limit: { duration?: number; amount?: number }): Promise<{ throughput: number; count: number; seconds: number }> {
  const pool = new pg.Pool({ connectionString: url, max: 10, application_name: 'freshplan-bench-sql' })
  let next = 0
  let count = 0
  const started = performance.now()
  const deadline = limit.duration !== undefined ? started + limit.duration * 1000 : Number.POSITIVE_INFINITY
  const amount = limit.amount ?? Number.POSITIVE_INFINITY
  const loop = async () => {
    while (performance.now() < deadline && next < amount) {
      const n = next++
      const client = await pool.connect()
      try {
        await createDirectly(client, run, n)
      } finally {
        client.release()
      }
      count++
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, loop))
  } finally {
    await pool.end()
  }
  const seconds = (performance.now() - started) / 1000
  return { throughput: count / seconds, count, seconds }
}

const loadDetails = (r: LoadResult) => ({ requests: r.requests, ok: r.ok, seconds: r.seconds, throughput: r.throughput, p50: r.p50, p95: r.p95, p99: r.p99, max: r.max })

export const createScenario: Scenario = {
  name: 'create',
  async run(ctx: BenchContext): Promise<Figure[]> {
    const db = await ctx.freshDatabase()
    const service = await ctx.startService(db)
    const run = randomBytes(4).toString('hex')
    const token = await tokenFor({ user: USER, role: 'SALES', territories: ['DE'] })
    let n = 0
    const spec = {
      url: `${service.baseUrl}/api/leads`,
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      setupRequest: (request: RequestParams) => {
        const i = n++
        return {
          ...request,
          method: 'POST',
          path: '/api/leads',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `bench-${run}-${i}` },
          body: JSON.stringify(leadBody(run, i)),
        }
      },
    }
    let saturated: LoadResult
    let fixed: LoadResult
    let paced: LoadResult
    try {
      ctx.log(`create: warm-up, then ${ctx.connections} connections at saturation`)
      assertClean('create warm-up', await runLoad({ ...spec, connections: ctx.connections, ...ctx.durations.warmup }))
      saturated = await runLoad({ ...spec, connections: ctx.connections, ...ctx.durations.saturation })
      assertClean('create saturation', saturated)
      ctx.log(`create: ${RATE} req/s over ${ctx.rateConnections} connections`)
      fixed = await runLoad({ ...spec, connections: ctx.rateConnections, rate: RATE, ...ctx.durations.fixedRate })
      assertClean('create fixed rate', fixed)
      ctx.log(`create: ${RATE} req/s evenly paced`)
      paced = await runPaced({ ...spec, connections: 0, rate: RATE, ...ctx.durations.fixedRate })
      assertAnswered('create paced', paced)
    } finally {
      await service.stop()
    }
    ctx.log(`create: SQL baseline, ${ctx.connections} concurrent`)
    // Own run ids: the service's leads already use `run`'s e-mail addresses.
    await sqlBaseline(db.appUrl, `${run}w`, ctx.connections, ctx.durations.warmup)
    const baseline = await sqlBaseline(db.appUrl, `${run}s`, ctx.connections, ctx.durations.saturation)
    const share = saturated.throughput / baseline.throughput
    const satMethod = `autocannon, ${ctx.connections} connections, ${saturated.seconds.toFixed(1)} s after a warm-up; every request a new lead (unique Idempotency-Key and e-mail), 2xx per second`
    return [
      {
        scenario: 'Create', figure: 'throughput at saturation', value: saturated.throughput, unit: 'req/s', baseline: baseline.throughput, ratio: share,
        target: `≥ ${TARGET_SHARE * 100} % of SQL baseline`, verdict: verdict(share, '>=', TARGET_SHARE),
        method: `${satMethod}. Baseline: the 11 statements the service sends per create (BEGIN, set_config, advisory lock, idempotency lookup, SAVEPOINT, insert lead, fetch lead, RELEASE, insert + fetch activity, insert idempotency key, COMMIT) through pg from the harness, ${ctx.connections} concurrent loops over a pool of 10 (the service's DB_POOL_MAX), ${baseline.seconds.toFixed(1)} s`,
        details: { service: loadDetails(saturated), baseline },
      },
      ...latencyFigures('Create', `at ${RATE} req/s`, TARGET_P95_MS, paced, fixed, RATE, ctx.rateConnections),
    ]
  },
}

export function pacedMethod(rate: number, result: LoadResult): string {
  const overload = result.dropped ? `. OVERLOADED: ${result.dropped} of ${result.requests} requests not sent (over 64 in flight); the percentiles cover the answered ones only` : ''
  return `bench/lib/paced.ts: open loop, one request every ${(1000 / rate).toFixed(1)} ms (${rate} req/s) on keep-alive sockets, ${result.ok} answered in ${result.seconds.toFixed(1)} s after a warm-up; percentile of every response time (request sent → response complete, client side)${overload}`
}

/** p50/p95/p99 of the evenly paced run (judged), and p95 of autocannon's overallRate run (bursty, for comparison). */
export function latencyFigures(scenario: string, label: string, targetP95: number | undefined, paced: LoadResult, burst: LoadResult, rate: number, connections: number): Figure[] {
  const details = { paced: loadDetails(paced), autocannonOverallRate: loadDetails(burst) }
  return [
    { scenario, figure: `${label} p50 (paced)`, value: paced.p50, unit: 'ms', verdict: 'INFO', method: pacedMethod(rate, paced), details },
    {
      scenario, figure: `${label} p95 (paced)`, value: paced.p95, unit: 'ms', verdict: targetP95 === undefined ? 'INFO' : paced.dropped ? 'MISS' : verdict(paced.p95, '<=', targetP95),
      ...(targetP95 !== undefined && { target: `≤ ${targetP95} ms` }), method: pacedMethod(rate, paced), details,
    },
    { scenario, figure: `${label} p99 (paced)`, value: paced.p99, unit: 'ms', verdict: 'INFO', method: pacedMethod(rate, paced), details },
    {
      scenario, figure: `${label} p95 (autocannon overallRate)`, value: burst.p95, unit: 'ms', verdict: 'INFO',
      method: `${fixedRateMethod(rate, connections, burst)}; overallRate spends each connection's per-second budget back to back, then idles: a burst at ${connections} concurrent requests, not a steady rate`, details,
    },
  ]
}

export function fixedRateMethod(rate: number, connections: number, result: LoadResult): string {
  return `autocannon overallRate ${rate} req/s over ${connections} connections, ${result.ok} requests in ${result.seconds.toFixed(1)} s (achieved ${result.throughput.toFixed(0)} req/s); percentile of every response time (request written → response complete, client side)`
}
