// Create: POST /api/leads through the whole service (auth, validation, normalization, the
// Idempotency-Key transaction, insert + CREATED activity, follow-up jobs, outbox event and its
// publish job), against the same SQL statements sent directly through pg at the same concurrency.
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import type { RequestParams } from 'autocannon'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import knexFactory from 'knex'
import { beginWithContext, combineWrites, commitWith, type SecurityContext, type Statement, type Tx } from '../../lib/db.ts'
import { keyStatements, storeResponse } from '../../models/idempotency-keys.ts'
import { jobInserts, type JobToSend } from '../../lib/boss.ts'
import { executePrepared } from '../lib/prepared.ts'
import { EVENTS_PUBLISH_QUEUE, FOLLOW_UP_T3_QUEUE, FOLLOW_UP_T7_QUEUE, PROTECTION_REMINDER_QUEUE } from '../../lib/queues.ts'
import { createdActivitiesWrite, LEAD_SELECT_LIST, type Lead } from '../../models/lead-table.ts'
import { eventsWrite } from '../../models/event-outbox.ts'
import { tokenFor } from '../../test/helpers/api.ts'
import { startStack } from '../../test/helpers/stack.ts'
import { withClient, type TestDatabase } from '../../test/helpers/database.ts'
import { backendCpu, backendCpuSince } from '../lib/backend-cpu.ts'
import { assertAnswered, assertClean, loadSummary, percentile, runLoad, type LoadResult } from '../lib/load.ts'
import { pace, runPaced } from '../lib/paced.ts'
import { verdict, type BenchContext, type Figure, type Scenario } from '../lib/types.ts'

const USER = 'bench-creator'
const RATE = 300
/** Issue 16's two paced rates: a light load, where one create costs its round trips and nothing queues (p95 < 7 ms), and a heavy one (p95 ≤ 25 ms). */
const LIGHT_RATE = 50
const LIGHT_TARGET_P95_MS = 7
const HEAVY_RATE = 250
const HEAVY_TARGET_P95_MS = 25
const TARGET_P95_MS = 7
const TARGET_SHARE = 0.5

/**
 * A new business per request, as most creates are: its own phone, street, postal code and e-mail domain, so §11
 * finds no possible duplicate (a review is the exception, measured in scenarios/matching.ts). Until
 * §11 joined the create path every body had one phone and address, and each create opened a review.
 * bench/cpu-split.ts sends these too.
 */
export function leadBody(run: string, n: number): Record<string, unknown> {
  const k = createHash('sha1').update(`${run}:${n}`).digest().readUInt32BE(0)
  return {
    companyName: `Bench Gastro ${run} ${n} GmbH`,
    contactName: 'Maria Musterfrau',
    email: `bench-${run}-${n}@gastro-${k}.example`,
    phone: `+49 30 ${20_000_000 + (k % 70_000_000)}`,
    street: `Hauptstraße ${1 + (k % 300)}`,
    postalCode: String(10_000 + (k % 89_999)),
    city: 'Berlin',
    source: 'WEB_FORMULAR',
    businessType: 'RESTAURANT',
  }
}

// The statements the service sends for one create with an Idempotency-Key, as PostgreSQL's
// statement log shows them (log_statement = all): the same texts, prepared the same way.
const DAY = 86_400_000
/** The baselines' pool: the service's DB_POOL_MAX. */
const POOL_MAX = 10
const CONTEXT: SecurityContext = { tenantId: 'default', userId: USER, role: 'SALES', territories: ['DE'] }
const INSERT_LEAD = `insert into "leads" ("business_type", "city", "company_name", "contact_name", "country_code", "created_by", "email", "email_normalized", "name_normalized", "normalization_version", "owner_user_id", "phone", "phone_e164", "postal_code", "progress_deadline", "protection_next_at", "protection_next_kind", "protection_start_at", "protection_until", "registered_at", "source", "stage", "status", "street", "tenant_id", "territory") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) on conflict (tenant_id, email_normalized) where email_normalized is not null and deleted_at is null do nothing returning ${LEAD_SELECT_LIST}`
/** Compiles statements to PostgreSQL's placeholders; never connects. */
const sqlOnly = knexFactory({ client: 'pg' })

const STATEMENTS = 'BEGIN with set_config, the advisory lock and the idempotency lookup (one simple query, lib/db.ts beginWithContext), insert lead (on conflict do nothing, returning its columns), then the CREATED activity, the outbox event and the T+3, T+7, protection REMINDER and publish jobs in one statement (lib/db.ts combineWrites), the idempotency record with COMMIT (one simple query); without the service\'s §11 candidate search (which the service sends in its insert\'s statement)'

/** The statements the service sends for one create with an Idempotency-Key, §11's candidate search left out (4 round trips, as the service). */
async function createDirectly(boss: PgBoss, client: pg.PoolClient, run: string, n: number): Promise<void> {
  const key = `bench-sql-${run}-${n}`
  const body = leadBody(run, n)
  const email = body.email as string
  await client.query(beginWithContext(CONTEXT, keyStatements(CONTEXT, USER, key, new Date()).statements))
  try {
    const now = new Date()
    const { rows } = await executePrepared(client, INSERT_LEAD, [
      'RESTAURANT', body.city, body.companyName, body.contactName, 'DE', USER, email, email, `bench gastro ${run} ${n}`, 1, USER, body.phone, '+49301234567',
      body.postalCode, new Date(now.getTime() + 60 * DAY), new Date(now.getTime() + 53 * DAY), 'REMINDER', now, new Date(now.getTime() + 182 * DAY),
      now, 'WEB_FORMULAR', 'VORMERKUNG', 'REGISTERED', body.street, 'default', 'DE',
    ])
    const lead = rows[0]!
    const dueAt = (days: number) => new Date(now.getTime() + days * DAY)
    const jobs: JobToSend[] = [
      { queue: FOLLOW_UP_T3_QUEUE, data: { leadId: lead.id, tenantId: 'default', territory: 'DE' }, options: { startAfter: dueAt(3), singletonKey: `${lead.id}:T3` } },
      { queue: FOLLOW_UP_T7_QUEUE, data: { leadId: lead.id, tenantId: 'default', territory: 'DE' }, options: { startAfter: dueAt(7), singletonKey: `${lead.id}:T7` } },
      // §10: the lead's first protection job (REMINDER at deadline − 7 days).
      { queue: PROTECTION_REMINDER_QUEUE, data: { leadId: lead.id, tenantId: 'default', territory: 'DE', dueAt: dueAt(53).toISOString() }, options: { startAfter: dueAt(53), singletonKey: `${lead.id}:REMINDER` } },
      { queue: EVENTS_PUBLISH_QUEUE, data: {} },
    ]
    // The CREATED activity, the outbox event and every job in one statement, built by the service's
    // own functions (lib/db.ts combineWrites), as the service sends them.
    const writes = [
      createdActivitiesWrite({ ctx: CONTEXT } as Tx, [{ lead: lead as Lead, summary: 'Lead created from source WEB_FORMULAR' }], USER, now),
      eventsWrite([{ id: randomUUID(), tenantId: 'default', territory: 'DE', leadId: lead.id, ownerUserId: USER, collaboratorUserIds: [], type: 'freshplan.lead.created', idempotencyKey: randomUUID(), time: now, data: lead }]),
      ...await jobInserts(boss, jobs),
    ]
    for (const write of combineWrites(writes)) {
      const native = sqlOnly.raw(write.sql, write.bindings).toSQL().toNative()
      await executePrepared(client, native.sql, native.bindings as unknown[], true)
    }
    // The stored response goes with COMMIT, as the service's Tx.atCommit sends it.
    const atCommit: Statement[] = []
    storeResponse({ ctx: CONTEXT, atCommit: (statement) => void atCommit.push(statement) }, USER, key, {
      fingerprint: randomBytes(32).toString('hex'), statusCode: 201, headers: { location: `/api/leads/${lead.id}`, etag: '"1"' }, body: Buffer.from(JSON.stringify(lead)),
    }, new Date(Date.now() + 86_400_000))
    await client.query(commitWith(atCommit))
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  }
}

// The plain-SQL baseline (issue 16): the same rows as one create — lead, CREATED activity, T+3 and
// T+7 job, outbox event, publish job, idempotency record — each a plain prepared one-row insert
// (what pgbench would send), in one transaction that begins with the RLS context. No rules, no
// duplicate check, no pg-boss: what the rows themselves cost.
const PLAIN_LEAD = `insert into leads (business_type, city, company_name, contact_name, country_code, created_by, email, email_normalized, name_normalized, normalization_version, owner_user_id, phone, phone_e164, postal_code, registered_at, source, stage, status, street, tenant_id, territory) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) returning id`
const PLAIN_ACTIVITY = 'insert into lead_activities (lead_id, occurred_at, summary, tenant_id, type, user_id) values ($1, $2, $3, $4, $5, $6)'
const PLAIN_JOB = `insert into pgboss.job (name, data, start_after, singleton_key, policy) values ($1, $2, $3, $4, $5)`
const PLAIN_EVENT = 'insert into lead_events (id, tenant_id, territory, lead_id, owner_user_id, collaborator_user_ids, type, idempotency_key, time, data) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)'
const PLAIN_KEY = 'insert into idempotency_keys (body, expires_at, fingerprint, headers, key, status_code, tenant_id, user_id) values ($1, $2, $3, $4, $5, $6, $7, $8)'
const PLAIN_STATEMENTS = 'BEGIN with set_config, then one plain prepared insert per row (lead returning id, activity, T+3 job, T+7 job, protection REMINDER job, event, publish job, idempotency record), COMMIT: 10 round trips'

async function createPlainly(_boss: PgBoss, client: pg.PoolClient, run: string, n: number): Promise<void> {
  const body = leadBody(run, n)
  const email = body.email as string
  const now = new Date()
  await client.query(beginWithContext(CONTEXT))
  try {
    const { rows } = await executePrepared(client, PLAIN_LEAD, [
      'RESTAURANT', body.city, body.companyName, body.contactName, 'DE', USER, email, email, `bench gastro ${run} ${n}`, 1, USER, body.phone, '+49301234567',
      body.postalCode, now, 'WEB_FORMULAR', 'VORMERKUNG', 'REGISTERED', body.street, 'default', 'DE',
    ])
    const id = rows[0]!.id as string
    await executePrepared(client, PLAIN_ACTIVITY, [id, now, 'Lead created from source WEB_FORMULAR', 'default', 'CREATED', USER])
    for (const [queue, days, kind] of [[FOLLOW_UP_T3_QUEUE, 3, 'T3'], [FOLLOW_UP_T7_QUEUE, 7, 'T7']] as const) {
      await executePrepared(client, PLAIN_JOB, [queue, { leadId: id, tenantId: 'default' }, new Date(now.getTime() + days * 86_400_000), `${id}:${kind}`, 'exclusive'])
    }
    await executePrepared(client, PLAIN_JOB, [PROTECTION_REMINDER_QUEUE, { leadId: id, tenantId: 'default' }, new Date(now.getTime() + 53 * DAY), `${id}:REMINDER`, 'stately'])
    await executePrepared(client, PLAIN_EVENT, [randomUUID(), 'default', 'DE', id, USER, [], 'freshplan.lead.created', randomUUID(), now, JSON.stringify(body)])
    await executePrepared(client, PLAIN_JOB, [EVENTS_PUBLISH_QUEUE, {}, now, null, 'standard'])
    await executePrepared(client, PLAIN_KEY, [JSON.stringify(body), new Date(Date.now() + 86_400_000), randomBytes(32).toString('hex'), { location: `/api/leads/${id}` }, `bench-plain-${run}-${n}`, 201, 'default', USER])
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  }
}

type CreateFn = typeof createDirectly

/** Runs `work` with a function that creates lead `n` directly (pool of 10, the service's DB_POOL_MAX). */
async function withSqlBaseline<T>(url: string, run: string, work: (createOne: (n: number) => Promise<void>, pool: pg.Pool) => Promise<T>, how: CreateFn = createDirectly): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX, application_name: 'freshplan-bench-sql' })
  // Only to build pg-boss's statements (its queue cache); every statement goes through `pool`.
  const boss = new PgBoss({ connectionString: url, max: 1, migrate: false, createSchema: false, schedule: false, supervise: false })
  await boss.start()
  const createOne = async (n: number) => {
    const client = await pool.connect()
    try {
      await how(boss, client, run, n)
    } finally {
      client.release()
    }
  }
  try {
    return await work(createOne, pool)
  } finally {
    await pool.end()
    await boss.stop({ graceful: false, close: true })
  }
}

/**
 * `concurrency` loops creating leads one after another, for `seconds` (or `amount` leads), as the
 * app role, and the CPU of the database's backends per create (the pool's connections opened first).
 */
async function sqlBaseline(db: TestDatabase, run: string, concurrency: number, limit: { duration?: number; amount?: number }, how: CreateFn = createDirectly): Promise<{ throughput: number; count: number; seconds: number; postgresCpuMs: number }> {
  return withSqlBaseline(db.appUrl, run, async (createOne, pool) => {
    let next = 0
    let count = 0
    const clients = await Promise.all(Array.from({ length: POOL_MAX }, () => pool.connect()))
    for (const client of clients) client.release()
    const cpuBefore = await backendCpu(db.ownerUrl, db.name)
    const started = performance.now()
    const deadline = limit.duration !== undefined ? started + limit.duration * 1000 : Number.POSITIVE_INFINITY
    const amount = limit.amount ?? Number.POSITIVE_INFINITY
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && next < amount) {
        await createOne(next++)
        count++
      }
    }))
    const seconds = (performance.now() - started) / 1000
    return { throughput: count / seconds, count, seconds, postgresCpuMs: (1000 * backendCpuSince(cpuBefore)) / count }
  }, how)
}

/** The same creates, open loop at `rate` (bench/lib/paced.ts pace): what the statements alone cost at that rate. */
function sqlBaselinePaced(url: string, run: string, rate: number, total: number): Promise<LoadResult> {
  return withSqlBaseline(url, run, (createOne) => {
    let next = 0
    return pace({ rate, total }, async () => {
      await createOne(next++)
      return 'ok'
    })
  })
}

/**
 * One database round trip (a prepared `select $1`) back to back, and with 50 ms pauses between
 * them, as a lightly loaded service makes them: the second shows what waking an idle process costs
 * on this machine, which a create pays for each of its round trips when nothing else runs.
 */
async function roundTrips(url: string, count: number): Promise<{ busy: LoadResult; idle: LoadResult }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const measure = async (pauseMs: number): Promise<LoadResult> => {
    const samples: number[] = []
    const started = performance.now()
    for (let i = 0; i < count; i++) {
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs))
      const sentAt = performance.now()
      await client.query({ name: 'bench_round_trip', text: 'select $1::int as one', values: [i] })
      samples.push(performance.now() - sentAt)
    }
    samples.sort((a, b) => a - b)
    const seconds = (performance.now() - started) / 1000
    return { throughput: count / seconds, requests: count, ok: count, errors: 0, non2xx: 0, seconds, p50: percentile(samples, 50), p95: percentile(samples, 95), p99: percentile(samples, 99), max: samples.at(-1)! }
  }
  try {
    await measure(0)
    return { busy: await measure(0), idle: await measure(50) }
  } finally {
    await client.end()
  }
}

/**
 * Round trips per request from a counting client: an in-process web (test/helpers/stack.ts) whose
 * knex emits 'query' for every statement it sends (BEGIN with the context and COMMIT included),
 * `count` creates with an Idempotency-Key (what the load sends) and `count` reads by id, after one
 * warm-up each. test/foundation/round-trips.test.ts pins the same numbers.
 */
async function countRoundTrips(count: number): Promise<{ create: number; get: number; wakeUpsOutsideTransactions: number }> {
  const stack = await startStack()
  try {
    const token = await tokenFor({ user: USER, role: 'SALES', territories: ['DE'] })
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const create = async (i: number) => {
      const response = await fetch(`${stack.baseUrl}/api/leads`, { method: 'POST', headers: { ...headers, 'idempotency-key': `count-${i}` }, body: JSON.stringify(leadBody('count', i)) })
      if (response.status !== 201) throw new Error(`counting create answered ${response.status}`)
      return ((await response.json()) as { id: string }).id
    }
    const read = async (id: string) => {
      const response = await fetch(`${stack.baseUrl}/api/leads/${id}`, { headers })
      if (response.status !== 200) throw new Error(`counting read answered ${response.status}`)
      await response.arrayBuffer()
    }
    const id = await create(-1)
    await read(id)
    // Statements of the requests' transactions; the relay's wake-up (after the commit, at most
    // every 250 ms per process, models/lead-events.ts) is counted on its own.
    let statements = 0
    let wakes = 0
    const listener = (query: { __knexTxId?: string }) => {
      if (query.__knexTxId !== undefined) statements++
      else wakes++
    }
    stack.webDeps.knex.on('query', listener)
    const ids: string[] = []
    for (let i = 0; i < count; i++) ids.push(await create(i))
    const [creates, createWakes] = [statements, wakes]
    // A read by id is one implicit transaction outside knex's (lib/db.ts readTogether) and wakes
    // no relay: everything sent while reading counts.
    for (const lead of ids) await read(lead)
    stack.webDeps.knex.off('query', listener)
    return { create: creates / count, get: (statements - creates + wakes - createWakes) / count, wakeUpsOutsideTransactions: createWakes }
  } finally {
    await stack.stop()
  }
}

/** Rows a create writes, per table (pg-boss jobs per queue): the baseline must write what the service writes. */
async function rowsWritten(ownerUrl: string): Promise<Record<string, number>> {
  const { rows } = await withClient(ownerUrl, (client) => client.query<{ what: string; n: number }>(
    `select 'leads' as what, count(*)::int as n from leads union all
     select 'lead_activities', count(*)::int from lead_activities union all
     select 'lead_events', count(*)::int from lead_events union all
     select 'idempotency_keys', count(*)::int from idempotency_keys union all
     select 'job ' || name, count(*)::int from pgboss.job where name = any($1) group by name`,
    [[FOLLOW_UP_T3_QUEUE, FOLLOW_UP_T7_QUEUE, PROTECTION_REMINDER_QUEUE, EVENTS_PUBLISH_QUEUE]],
  ))
  return Object.fromEntries(rows.map((r) => [r.what, r.n]))
}

/** Rows per create between two counts, rounded to 2 places. */
function perCreate(before: Record<string, number>, after: Record<string, number>, creates: number): Record<string, number> {
  return Object.fromEntries(Object.keys(after).sort().map((k) => [k, Math.round((100 * (after[k]! - (before[k] ?? 0))) / creates) / 100]))
}


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
    let light: LoadResult
    let heavy: LoadResult
    let postgresCpuMs: number
    try {
      ctx.log(`create: warm-up, then ${ctx.connections} connections at saturation`)
      assertClean('create warm-up', await runLoad({ ...spec, connections: ctx.connections, ...ctx.durations.warmup }))
      const cpuBefore = await backendCpu(db.ownerUrl, db.name)
      saturated = await runLoad({ ...spec, connections: ctx.connections, ...ctx.durations.saturation })
      postgresCpuMs = (1000 * backendCpuSince(cpuBefore)) / saturated.ok
      assertClean('create saturation', saturated)
      ctx.log(`create: ${RATE} req/s over ${ctx.rateConnections} connections`)
      fixed = await runLoad({ ...spec, connections: ctx.rateConnections, rate: RATE, ...ctx.durations.fixedRate })
      assertClean('create fixed rate', fixed)
      ctx.log(`create: ${RATE} req/s evenly paced`)
      paced = await runPaced({ ...spec, connections: 0, rate: RATE, ...ctx.durations.fixedRate })
      assertAnswered('create paced', paced)
      ctx.log(`create: ${LIGHT_RATE} req/s evenly paced`)
      light = await runPaced({ ...spec, connections: 0, rate: LIGHT_RATE, ...(ctx.smoke ? { amount: 40 } : { duration: 10 }) })
      assertAnswered('create light', light)
      ctx.log(`create: ${HEAVY_RATE} req/s evenly paced`)
      heavy = await runPaced({ ...spec, connections: 0, rate: HEAVY_RATE, ...ctx.durations.fixedRate })
      assertAnswered('create heavy', heavy)
    } finally {
      await service.stop()
    }
    const afterService = await rowsWritten(db.ownerUrl)
    const serviceRows = perCreate({}, afterService, afterService.leads!)
    ctx.log(`create: SQL baseline, ${ctx.connections} concurrent`)
    // Own run ids: the service's leads already use `run`'s e-mail addresses.
    const warm = await sqlBaseline(db, `${run}w`, ctx.connections, ctx.durations.warmup)
    const baseline = await sqlBaseline(db, `${run}s`, ctx.connections, ctx.durations.saturation)
    ctx.log(`create: SQL baseline, ${RATE} creates/s evenly paced`)
    const sqlPaced = await sqlBaselinePaced(db.appUrl, `${run}p`, RATE, ctx.smoke ? 150 : RATE * 10)
    assertAnswered('create SQL baseline paced', sqlPaced)
    ctx.log(`create: SQL baseline, ${LIGHT_RATE} creates/s evenly paced`)
    const sqlLight = await sqlBaselinePaced(db.appUrl, `${run}q`, LIGHT_RATE, ctx.smoke ? 40 : LIGHT_RATE * 10)
    assertAnswered('create SQL baseline light', sqlLight)
    const trips = await roundTrips(db.appUrl, ctx.smoke ? 20 : 200)
    const baselineRows = perCreate(afterService, await rowsWritten(db.ownerUrl), warm.count + baseline.count + sqlPaced.ok + sqlLight.ok)
    // The ratio means something only if both wrote the same rows per lead.
    if (!isDeepStrictEqual(serviceRows, baselineRows)) {
      throw new Error(`the SQL baseline writes other rows per create than the service: ${JSON.stringify(baselineRows)} vs ${JSON.stringify(serviceRows)}`)
    }
    ctx.log(`create: plain-SQL baseline (the same rows, one insert each), ${ctx.connections} concurrent`)
    const beforePlain = await rowsWritten(db.ownerUrl)
    const plainWarm = await sqlBaseline(db, `${run}pw`, ctx.connections, ctx.durations.warmup, createPlainly)
    const plain = await sqlBaseline(db, `${run}pl`, ctx.connections, ctx.durations.saturation, createPlainly)
    const plainRows = perCreate(beforePlain, await rowsWritten(db.ownerUrl), plainWarm.count + plain.count)
    if (!isDeepStrictEqual(serviceRows, plainRows)) {
      throw new Error(`the plain-SQL baseline writes other rows per create than the service: ${JSON.stringify(plainRows)} vs ${JSON.stringify(serviceRows)}`)
    }
    ctx.log('create: round trips per request (counting client)')
    const counted = await countRoundTrips(ctx.smoke ? 5 : 50)
    const share = saturated.throughput / baseline.throughput
    const satMethod = `autocannon, ${ctx.connections} connections, ${saturated.seconds.toFixed(1)} s after a warm-up; every request a new lead (unique Idempotency-Key and e-mail), 2xx per second`
    return [
      {
        scenario: 'Create', figure: 'throughput at saturation', value: saturated.throughput, unit: 'req/s', baseline: baseline.throughput, ratio: share,
        target: `≥ ${TARGET_SHARE * 100} % of SQL baseline`, verdict: verdict(share, '>=', TARGET_SHARE),
        method: `${satMethod}. Baseline: the 4 round trips the service makes per create with an Idempotency-Key (its §11 search, which travels in the insert's statement, left out) (${STATEMENTS}), same texts, prepared like the service's, through pg from the harness, ${ctx.connections} concurrent loops over a pool of 10 (the service's DB_POOL_MAX), ${baseline.seconds.toFixed(1)} s; both wrote the same rows per lead (${Object.entries(serviceRows).map(([k, v]) => `${k} ${v}`).join(', ')})`,
        details: { service: loadSummary(saturated), baseline, rowsPerCreate: { service: serviceRows, baseline: baselineRows } },
      },
      {
        scenario: 'Create', figure: 'throughput vs plain-SQL transaction of the same rows', value: saturated.throughput, unit: 'req/s', baseline: plain.throughput, ratio: saturated.throughput / plain.throughput,
        target: `≥ ${TARGET_SHARE * 100} % of plain SQL`, verdict: verdict(saturated.throughput / plain.throughput, '>=', TARGET_SHARE),
        method: `service as above; baseline: ${PLAIN_STATEMENTS}; through pg from the harness, ${ctx.connections} concurrent loops over a pool of 10, ${plain.seconds.toFixed(1)} s after a warm-up; same rows per lead`,
        details: { plain, rowsPerCreate: plainRows },
      },
      {
        scenario: 'Create', figure: 'round trips per create (counting client)', value: counted.create, unit: '', target: '≤ 4', verdict: verdict(counted.create, '<=', 4),
        method: 'an in-process web (test/helpers/stack.ts) counting the statements its knex sends (knex \'query\' events in the request\'s transaction, BEGIN+context and COMMIT included; the outbox relay\'s wake-up after the commit, at most one per 250 ms per process, is counted apart in the JSON) over sequential creates with an Idempotency-Key, as the load sends them; pinned by test/foundation/round-trips.test.ts',
        details: counted,
      },
      {
        scenario: 'Read', figure: 'round trips per get-by-id (counting client)', value: counted.get, unit: '', verdict: 'INFO',
        method: 'as the line above, sequential GET /api/leads/:id', details: counted,
      },
      {
        scenario: 'Create', figure: 'PostgreSQL CPU per create at saturation', value: postgresCpuMs, unit: 'ms', baseline: plain.postgresCpuMs, ratio: postgresCpuMs / plain.postgresCpuMs,
        target: '≤ 0.7 ms', verdict: verdict(postgresCpuMs, '<=', 0.7),
        method: `user+system CPU (/proc/<pid>/stat) of the PostgreSQL backends connected to the bench database (the service's pools, after the warm-up) over the saturation run, ÷ creates answered. pg_stat_statements is not loaded on this shared server (shared_preload_libraries needs a restart), so this is CPU per backend, not per statement; it excludes the WAL writer and checkpointer. Baseline column: the plain-SQL transaction of the same rows (line above), measured the same way over its saturation run (its pool's ${POOL_MAX} backends); the service's own statements without HTTP and without the §11 search: ${baseline.postgresCpuMs.toFixed(2)} ms`,
        details: { service: postgresCpuMs, serviceStatements: baseline.postgresCpuMs, plainSql: plain.postgresCpuMs },
      },
      ...latencyFigures('Create', `at ${RATE} req/s`, TARGET_P95_MS, paced, fixed, RATE, ctx.rateConnections).map((f) =>
        f.figure.endsWith('p95 (paced)')
          ? {
              ...f, baseline: sqlPaced.p95, ratio: f.value! / sqlPaced.p95,
              method: `${f.method}; baseline column: the SQL baseline's creates (same statements, no HTTP) paced the same way, ${sqlPaced.ok} in ${sqlPaced.seconds.toFixed(1)} s, p50 ${sqlPaced.p50.toFixed(2)} ms`,
              details: { ...f.details, sqlBaselinePaced: loadSummary(sqlPaced) },
            }
          : f),
      {
        scenario: 'Create', figure: `at ${HEAVY_RATE} req/s p95 (paced)`, value: heavy.p95, unit: 'ms', target: `≤ ${HEAVY_TARGET_P95_MS} ms`, verdict: verdict(heavy.p95, '<=', HEAVY_TARGET_P95_MS),
        method: `${pacedMethod(HEAVY_RATE, heavy)}; p50 ${heavy.p50.toFixed(2)} ms, p99 ${heavy.p99.toFixed(2)} ms`, details: { heavy: loadSummary(heavy) },
      },
      {
        scenario: 'Create', figure: `at ${LIGHT_RATE} req/s p95 (paced, light load)`, value: light.p95, unit: 'ms', baseline: sqlLight.p95, ratio: light.p95 / sqlLight.p95,
        target: `< ${LIGHT_TARGET_P95_MS} ms`, verdict: verdict(light.p95, '<', LIGHT_TARGET_P95_MS),
        method: `${pacedMethod(LIGHT_RATE, light)}; p50 ${light.p50.toFixed(2)} ms: one create with nothing queued (${counted.create} database round trips in one transaction); baseline column: the SQL baseline's creates (the service's statements without HTTP and without the §11 search) paced the same way, ${sqlLight.ok} in ${sqlLight.seconds.toFixed(1)} s, p50 ${sqlLight.p50.toFixed(2)} ms`,
        details: { light: loadSummary(light), sqlBaselineLight: loadSummary(sqlLight) },
      },
      {
        scenario: 'Create', figure: 'one database round trip p50, idle vs back to back', value: trips.idle.p50, unit: 'ms', baseline: trips.busy.p50, ratio: trips.idle.p50 / trips.busy.p50, verdict: 'INFO',
        method: `a prepared \`select $1\` through pg as the app role, ${trips.idle.requests} times with a 50 ms pause before each (p95 ${trips.idle.p95.toFixed(2)} ms) vs ${trips.busy.requests} times back to back (baseline column, p95 ${trips.busy.p95.toFixed(2)} ms): what an idle process's wake-up adds to each of a create's round trips at light load`,
        details: { idle: loadSummary(trips.idle), busy: loadSummary(trips.busy) },
      },
    ]
  },
}

export function pacedMethod(rate: number, result: LoadResult): string {
  const overload = result.dropped ? `. OVERLOADED: ${result.dropped} of ${result.requests} requests not sent (over 64 in flight); the percentiles cover the answered ones only` : ''
  return `bench/lib/paced.ts: open loop, one request every ${(1000 / rate).toFixed(1)} ms (${rate} req/s) on keep-alive sockets, ${result.ok} answered in ${result.seconds.toFixed(1)} s after a warm-up; percentile of every response time (request sent → response complete, client side)${overload}`
}

/** p50/p95/p99 of the evenly paced run (judged), and p95 of autocannon's overallRate run (bursty, for comparison). */
export function latencyFigures(scenario: string, label: string, targetP95: number | undefined, paced: LoadResult, burst: LoadResult, rate: number, connections: number): Figure[] {
  const details = { paced: loadSummary(paced), autocannonOverallRate: loadSummary(burst) }
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
