// Issue 14, points 3 and 4: the runtime roles hold only what they need.
// - pg-boss: the application role (and the worker role, which inherits its rights) cannot touch
//   pgboss.bam, whose rows pg-boss runs as SQL when the owner migrates, nor the schema version, nor
//   create anything in the schema; pg-boss's runtime (send in a transaction, fetch, complete,
//   supervise, schedules, the queue board's counts) still works on those rights.
// - RLS context: the web's role cannot make itself SYSTEM or claim every tenant; only the worker role
//   (a member of freshplan_system) can. A SALES collaborator changes a lead only by adding activities.
import test from 'ava'
import type { PgBoss } from 'pg-boss'
import { createLogger } from '../../lib/logger.ts'
import { inTransaction, type Knex, type Role, type SecurityContext } from '../../lib/db.ts'
import { SYSTEM_ROLE } from '../../lib/config.ts'
import { enqueue, startBoss } from '../../lib/boss.ts'
import { PgBossAdapter } from '../../server/queue-board/index.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { withClient } from '../helpers/database.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { waitFor } from '../helpers/wait.ts'

const WORKED = 'least-privilege.worked'
const SCHEDULED = 'least-privilege.scheduled'
let stack: Stack
let api: Api
const handled: { queue: string; data: unknown }[] = []
const bossErrors: Error[] = []
const leads: Record<'defaultLead' | 'acmeLead' | 'sharedLead', string> = { defaultLead: '', acmeLead: '', sharedLead: '' }

test.before(async () => {
  stack = await startStack({
    worker: true,
    queues: [WORKED, SCHEDULED].map((name) => ({ name, retryLimit: 0 })),
    jobs: [WORKED, SCHEDULED].map((queue) => ({
      queue,
      work: { pollingIntervalSeconds: 0.5 },
      handle: async (_deps, jobs) => void handled.push(...jobs.map((job) => ({ queue, data: job.data }))),
    })),
    schedules: [],
    services: [],
  })
  stack.deps.boss.on('error', (error: Error) => bossErrors.push(error))
  api = apiClient(stack.baseUrl)
  // Two tenants' data, written by the owner: leads, an event each, an idempotency record each.
  const insertLead = async (tenant: string, owner: string, collaborators: string[] = []) =>
    (await stack.owner.raw(
      `insert into leads (tenant_id, territory, company_name, stage, owner_user_id, collaborator_user_ids, created_by)
       values (?, 'DE', ?, 'VORMERKUNG', ?, ?, ?) returning id`,
      [tenant, `${tenant} lead of ${owner}`, owner, collaborators, owner],
    )).rows[0].id as string
  leads.defaultLead = await insertLead('default', 'u-default')
  leads.acmeLead = await insertLead('acme', 'u-acme')
  for (const [tenant, lead] of [['default', leads.defaultLead], ['acme', leads.acmeLead]] as const) {
    await stack.owner.raw(
      `insert into lead_events (id, tenant_id, territory, lead_id, owner_user_id, type, idempotency_key, time, data, seq, published_at)
       values (gen_random_uuid(), ?, 'DE', ?, 'u', 'freshplan.lead.created', gen_random_uuid(), now(), '{}', nextval('lead_events_seq'), now())`,
      [tenant, lead],
    )
    await stack.owner.raw(
      `insert into idempotency_keys (tenant_id, user_id, key, fingerprint, status_code, body, expires_at) values (?, 'u-idem', 'k', 'f', 201, '{}', now() + interval '1 day')`,
      [tenant],
    )
  }
})
test.after.always(() => stack?.stop())

const runtimeRoles = () => [['web (freshplan_app)', stack.db.appUrl], ['worker (freshplan_worker)', stack.db.workerUrl]] as const

// ---- Point 3: pg-boss ------------------------------------------------------------------------

test('neither runtime role can read or write pgboss.bam, write pgboss.version, or create in schema pgboss', async (t) => {
  const refused = [
    `select * from pgboss.bam`,
    `insert into pgboss.bam (name, version, table_name, command) values ('x', 999, 'job_common', 'alter role freshplan_app superuser')`,
    `update pgboss.bam set status = 'pending'`,
    `delete from pgboss.bam`,
    // job_table_run_async is how pg-boss queues a BAM command; it runs with the caller's rights.
    `select pgboss.job_table_run_async('x', 999, 'select 1', 'job_common')`,
    `insert into pgboss.version (version) values (1)`,
    `update pgboss.version set version = version - 1`,
    `update pgboss.version set bam_on = null`,
    `delete from pgboss.version`,
    `create table pgboss.evil (id int)`,
    `create function pgboss.evil() returns int language sql as 'select 1'`,
    `truncate pgboss.job_common`,
  ]
  for (const [name, url] of runtimeRoles()) {
    await withClient(url, async (client) => {
      for (const sql of refused) {
        const error = await t.throwsAsync(client.query(sql), undefined, `${name}: ${sql}`)
        t.is((error as { code?: string }).code, '42501', `${name}: ${sql} → ${error?.message}`)
      }
      const { rows } = await client.query(`select has_schema_privilege('pgboss', 'CREATE') as can_create, has_schema_privilege('pgboss', 'USAGE') as can_use`)
      t.deepEqual(rows[0], { can_create: false, can_use: true }, name)
    })
  }
  t.is((await stack.owner.raw('select count(*)::int as n from pgboss.bam where version = 999')).rows[0].n, 0)
})

test.serial('pg-boss runs on these rights: send inside a request transaction, work, supervise, schedules, board counts', async (t) => {
  const boss: PgBoss = stack.deps.boss
  // Send as the web does: the application role, inside the request's transaction; a rollback sends nothing.
  const manager: SecurityContext = { tenantId: 'default', userId: 'm1', role: 'MANAGER', territories: ['DE'] }
  await inTransaction(stack.webDeps.knex, manager, (tx) => enqueue(boss, tx, WORKED, { n: 1 }))
  await t.throwsAsync(inTransaction(stack.webDeps.knex, manager, async (tx) => {
    await enqueue(boss, tx, WORKED, { n: 'rolled back' })
    throw new Error('roll back')
  }))
  t.true(await waitFor(() => handled.some((h) => h.queue === WORKED && (h.data as { n: unknown }).n === 1), 15_000))

  // Maintenance as the worker runs it (expiry, heartbeats, retention, queue counts, instances).
  await boss.supervise()
  const [queue] = await boss.getQueues([WORKED])
  t.truthy(queue)

  // A schedule is kept by the worker's timekeeper, which claims the cron pass in pgboss.version.
  await boss.schedule(SCHEDULED, '* * * * *', { scheduled: true })
  // The stack's own timekeeper claimed the pass when it started; a new one claims at once when the pass is due.
  await stack.owner.raw('update pgboss.version set cron_on = null')
  const timekeeper = await startBoss({ connectionString: stack.config.appDatabaseUrl, logger: createLogger(stack.config, 'test'), role: 'worker', queues: [] })
  timekeeper.on('error', (error: Error) => bossErrors.push(error))
  try {
    t.true(await waitFor(() => handled.some((h) => h.queue === SCHEDULED), 30_000), 'the scheduled job ran')
  } finally {
    await timekeeper.stop({ graceful: false, close: true })
  }
  t.truthy((await stack.owner.raw('select cron_on from pgboss.version')).rows[0].cron_on, 'the timekeeper moved its claim')

  // The queue board's adapter reads pg-boss's tables with the same rights.
  const counts = await new PgBossAdapter(boss, WORKED).getJobCounts()
  t.like(counts, { completed: 1, waiting: 0, delayed: 0, active: 0, failed: 0 })
  t.deepEqual(handled.filter((h) => h.queue === WORKED).map((h) => h.data), [{ n: 1 }])
  t.deepEqual(bossErrors.map((error) => error.message), [])
})

// ---- Point 4: the RLS context ----------------------------------------------------------------

const context = (tenantId: string, role: Role): SecurityContext => ({ tenantId, userId: 'system', role, territories: ['DE', 'CH'] })
const FORGED = [context('*', 'SYSTEM'), context('acme', 'SYSTEM'), context('*', 'MANAGER'), context('*', 'ADMIN')]

async function visible(knex: Knex, ctx: SecurityContext): Promise<Record<string, string[]>> {
  return inTransaction(knex, ctx, async (tx) => {
    const tenants = async (table: string) => (await tx.trx.raw(`select distinct tenant_id from ${table} order by 1`)).rows.map((r: { tenant_id: string }) => r.tenant_id)
    return { leads: await tenants('leads'), events: await tenants('lead_events'), idempotency: await tenants('idempotency_keys') }
  })
}

test('as the web role, a forged SYSTEM or all-tenants context reads nothing of another tenant and updates nothing', async (t) => {
  for (const ctx of FORGED) {
    const label = `${ctx.role}/${ctx.tenantId}`
    t.deepEqual(await visible(stack.webDeps.knex, ctx), { leads: [], events: [], idempotency: [] }, label)
    const updated = await inTransaction(stack.webDeps.knex, ctx, (tx) => tx.trx('leads').update({ company_name: 'pwned' }).where('id', leads.acmeLead))
    t.is(updated, 0, label)
    const { rows } = await inTransaction(stack.webDeps.knex, ctx, (tx) => tx.trx.raw('select app_role() as role, app_tenant() as tenant'))
    t.deepEqual(rows[0], { role: ctx.role === 'SYSTEM' ? '-' : ctx.role, tenant: ctx.tenantId === '*' ? '-' : ctx.tenantId }, label)
  }
  t.is((await stack.owner.raw('select company_name from leads where id = ?', [leads.acmeLead])).rows[0].company_name, 'acme lead of u-acme')
  // The web role cannot take the membership either.
  await withClient(stack.db.appUrl, async (client) => {
    await t.throwsAsync(client.query(`set role ${SYSTEM_ROLE}`), { code: '42501' })
    t.false((await client.query(`select pg_has_role('${SYSTEM_ROLE}', 'MEMBER') as member`)).rows[0].member)
  })
})

test('the worker role keeps SYSTEM: every tenant with the all-tenants marker, one tenant otherwise', async (t) => {
  t.deepEqual(await visible(stack.deps.knex, context('*', 'SYSTEM')), { leads: ['acme', 'default'], events: ['acme', 'default'], idempotency: ['acme', 'default'] })
  t.deepEqual((await visible(stack.deps.knex, context('acme', 'SYSTEM'))).leads, ['acme'])
  // '*' is a reading marker only: no lead is written across tenants.
  t.is(await inTransaction(stack.deps.knex, context('*', 'SYSTEM'), (tx) => tx.trx('leads').update({ notes: 'x' }).where('id', leads.acmeLead)), 0)
})

test('every policy reads the context through app_*(), so none can be fooled by a claimed SYSTEM or \'*\'', async (t) => {
  // A policy that read current_setting('app.role') itself would trust a forged SYSTEM again.
  const { rows } = await stack.owner.raw(`
    select tablename || '.' || policyname as policy from pg_policies
     where schemaname = 'public' and (coalesce(qual, '') || coalesce(with_check, '')) ~ 'current_setting'`)
  t.deepEqual(rows, [])
  t.true((await stack.owner.raw(`select count(*)::int as n from pg_policies where schemaname = 'public'`)).rows[0].n > 10)
})

test('the web listener reads the outbox of every tenant through its SECURITY DEFINER functions only', async (t) => {
  await withClient(stack.db.appUrl, async (client) => {
    const { rows } = await client.query(`select distinct tenant_id from dashboard_events_after(0, 100) order by 1`)
    t.deepEqual(rows.map((r) => r.tenant_id), ['acme', 'default'])
    for (const fn of ['dashboard_latest_seq', 'dashboard_events_after', 'dashboard_events']) {
      const { rows: [definition] } = await client.query(`select prosecdef, proconfig from pg_proc where proname = $1`, [fn])
      t.true(definition.prosecdef, fn)
      t.true((definition.proconfig as string[]).includes('search_path=pg_catalog, pg_temp'), fn)
    }
  })
})

test('SALES updates own leads only: a collaborator\'s direct UPDATE is refused by the database, an activity is not', async (t) => {
  const owner = { user: 'sales-owner', role: 'SALES', territories: ['DE'] }
  const collaborator = { user: 'sales-collab', role: 'SALES', territories: ['DE'] }
  const created = await api('POST', '/api/leads', { token: await tokenFor(owner), body: { companyName: 'Kantine Least Privilege' } })
  t.is(created.status, 201)
  const id = created.body.id as string
  t.is((await api('PUT', `/api/leads/${id}/collaborators/${collaborator.user}`, { token: await tokenFor(owner) })).status < 300, true)

  const asSales = (user: string) => ({ tenantId: 'default', userId: user, role: 'SALES' as const, territories: ['DE'] as const })
  for (const change of [{ company_name: 'Taken over' }, { status: 'QUALIFIED' }, { notes: 'mine now' }, { last_activity_at: new Date(), company_name: 'Sneaky' }]) {
    const error = await t.throwsAsync(inTransaction(stack.webDeps.knex, asSales(collaborator.user), (tx) => tx.trx('leads').update(change).where('id', id)), undefined, JSON.stringify(change))
    t.is((error as { code?: string }).code, '42501', JSON.stringify(change))
  }
  // The owner may, and the collaborator's activity (which moves the lead to ACTIVE) goes through.
  t.is(await inTransaction(stack.webDeps.knex, asSales(owner.user), (tx) => tx.trx('leads').update({ notes: 'owner note' }).where('id', id)), 1)
  const activity = await api('POST', `/api/leads/${id}/activities`, { token: await tokenFor(collaborator), body: { type: 'CALL', summary: 'Called the chef' } })
  t.is(activity.status, 201)
  const { rows } = await stack.owner.raw('select company_name, status, notes, last_activity_at from leads where id = ?', [id])
  t.like(rows[0], { company_name: 'Kantine Least Privilege', status: 'ACTIVE', notes: 'owner note' })
  t.truthy(rows[0].last_activity_at)
})
