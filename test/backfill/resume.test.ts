// §5: a backfill survives being killed. `npm run backfill` runs in a child process and is SIGKILLed
// after a few batches; started again it resumes from the stored position, and in the end every lead
// was written exactly once (an audit trigger, created here as the owner, records each write).
import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { runBackfill } from '../../jobs/backfill.ts'
import { BACKFILL_QUEUE } from '../../lib/queues.ts'
import { startNormalizationBackfill } from '../../models/backfills.ts'
import { NORMALIZATION_VERSION } from '../../models/normalization.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

const root = path.resolve(import.meta.dirname, '../..')
const LEADS = 20_000
const DUPLICATE_EVERY = 40 // every 40th lead repeats another lead's address in capitals
const BATCH_SIZE = 500

let stack: Stack

test.before(async () => {
  stack = await startStack({ web: false })
  await stack.owner.raw(`
    create table backfill_audit (lead_id uuid not null, tenant_id text not null, written_at timestamptz not null default clock_timestamp());
    create function backfill_audit_write() returns trigger language plpgsql as $$
    begin
      insert into backfill_audit (lead_id, tenant_id) values (new.id, new.tenant_id);
      return new;
    end $$;
    create trigger leads_backfill_audit after update of normalization_version on leads
      for each row when (old.normalization_version is distinct from new.normalization_version) execute function backfill_audit_write();
  `)
})
test.after.always(() => stack?.stop())

/** Created over time with microsecond timestamps, two leads per timestamp (the keyset's id tie-break). */
async function insertStaleLeads(tenant: string, count: number): Promise<void> {
  await stack.owner.raw(
    `insert into leads (tenant_id, territory, company_name, email, phone, country_code, stage, owner_user_id, created_by, created_at, normalization_version)
     select ?, 'DE', 'Firma ' || g || ' GmbH',
            case when g % ? = 0 then 'LEAD.' || (g - 1) || '@EXAMPLE.DE' else 'lead.' || g || '@example.de' end,
            '030 ' || (100000 + g), 'DE', 'VORMERKUNG', 'u1', 'import',
            now() - interval '1 year' + (g / 2) * interval '1.000123 seconds', 0
       from generate_series(1, ?::int) g`,
    [tenant, DUPLICATE_EVERY, count],
  )
}

function startCli(args: string[] = []): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [path.join(root, 'scripts/backfill.ts'), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: stack.db.ownerUrl, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, output: () => output, exit }
}

async function backfillRow(): Promise<{ id: string; status: string; processed: number; total: number | null; last_lead_id: string | null; duplicates_found: number; failed: number } | undefined> {
  return (await stack.owner.raw(`select * from backfills where tenant_id = 'default' order by started_at desc limit 1`)).rows[0]
}

async function cliSessions(): Promise<number> {
  const { rows } = await stack.owner.raw(`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'freshplan-backfill'`)
  return rows[0].n
}

test.serial('npm run backfill killed with SIGKILL mid-way resumes where it stopped: every lead written exactly once', async (t) => {
  t.timeout(110_000)
  await insertStaleLeads('default', LEADS)

  const first = startCli(['--batch-size', String(BATCH_SIZE)])
  let atKill: Awaited<ReturnType<typeof backfillRow>>
  const until = Date.now() + 60_000
  for (;;) {
    atKill = await backfillRow()
    if (atKill && atKill.processed >= 3 * BATCH_SIZE) break
    if (Date.now() > until) t.fail(`no progress within 60 s:\n${first.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  first.child.kill('SIGKILL')
  t.is(await first.exit, null, 'killed, not exited')
  // PostgreSQL rolls back the batch that was in flight once it notices the connection is gone.
  while ((await cliSessions()) > 0) await new Promise((resolve) => setTimeout(resolve, 20))

  const killed = (await backfillRow())!
  t.is(killed.status, 'RUNNING')
  t.true(killed.processed >= 3 * BATCH_SIZE && killed.processed < LEADS, `stopped mid-way at ${killed.processed}`)
  t.is(killed.processed % BATCH_SIZE, 0, 'only whole batches count')
  const written = await stack.owner.raw(`select count(*)::int as n from backfill_audit`)
  t.is(written.rows[0].n, killed.processed, 'what was written is exactly what the counters say, nothing of the lost batch')
  const last = await stack.owner.raw(`select a.lead_id from backfill_audit a join leads l on l.id = a.lead_id order by l.created_at desc, l.id desc limit 1`)
  t.is(last.rows[0].lead_id, killed.last_lead_id, 'and it ends at the stored keyset position')
  const killedAt = (await stack.owner.raw(`select clock_timestamp() as at`)).rows[0].at as Date

  // Another tenant's old leads meanwhile: without --tenant the CLI does every tenant with stale leads.
  await insertStaleLeads('second', 1000)
  const second = startCli()
  t.is(await second.exit, 0, second.output())
  t.regex(second.output(), /started backfill [0-9a-f-]{36} of tenant second/)
  t.regex(second.output(), new RegExp(`resuming backfill ${killed.id} of tenant default at ${killed.processed.toLocaleString('en-US')}/${LEADS.toLocaleString('en-US')} leads`))
  t.regex(second.output(), /COMPLETED: [\d,]+ leads in \d+/)

  const done = (await backfillRow())!
  t.like(done, { id: killed.id, status: 'COMPLETED', processed: LEADS, total: LEADS, duplicates_found: LEADS / DUPLICATE_EVERY, failed: 0 })
  // The keyset is (created_at, id): what lies up to the position was written before the kill, the rest after it.
  const audit = await stack.owner.raw(`
    with position as (select created_at, id from leads where id = ?)
    select count(*)::int as writes, count(distinct a.lead_id)::int as leads,
           count(*) filter (where a.written_at > ? and (l.created_at, l.id) <= (p.created_at, p.id))::int as rewritten_before_position,
           count(*) filter (where a.written_at < ? and (l.created_at, l.id) > (p.created_at, p.id))::int as written_after_position_before_kill
      from backfill_audit a join leads l on l.id = a.lead_id cross join position p
     where a.tenant_id = 'default'`, [killed.last_lead_id, killedAt, killedAt])
  t.deepEqual(audit.rows[0], { writes: LEADS, leads: LEADS, rewritten_before_position: 0, written_after_position_before_kill: 0 })
  const stale = await stack.owner.raw(`select count(*)::int as n from leads where normalization_version <> ?`, [NORMALIZATION_VERSION])
  t.is(stale.rows[0].n, 0, 'both tenants are done')

  // Each duplicate is listed once, with the lead that holds its address.
  const collisions = await stack.owner.raw(`
    select count(*)::int as n, count(*) filter (where h.email_normalized = c.email_normalized and l.email_normalized is null)::int as consistent
      from backfill_collisions c join leads l on l.id = c.lead_id join leads h on h.id = c.existing_lead_id
     where c.backfill_id = ?`, [killed.id])
  t.deepEqual(collisions.rows[0], { n: LEADS / DUPLICATE_EVERY, consistent: LEADS / DUPLICATE_EVERY })

  const third = startCli()
  t.is(await third.exit, 0)
  t.regex(third.output(), /nothing to backfill: every lead is at normalization version \d+/)
})

test.serial('two runners of one backfill take turns: still every lead exactly once, and its job is queued only once', async (t) => {
  await insertStaleLeads('other', 3000)
  const ctx = systemContext('other')
  const start = () => inTransaction(stack.deps.knex, ctx, (tx) => startNormalizationBackfill(stack.deps, tx, { createdBy: 'test', batchSize: 200 }))
  const first = await start()
  const second = await start()
  t.true(first.created)
  t.false(second.created, 'a second start returns the running backfill')
  t.is(second.backfill.id, first.backfill.id)
  const jobs = await stack.deps.boss.findJobs(BACKFILL_QUEUE.name, { key: first.backfill.id })
  t.is(jobs.length, 1, 'the stately queue keeps one queued job per backfill')

  const ref = { backfillId: first.backfill.id, tenantId: 'other' }
  const [a, b] = await Promise.all([runBackfill(stack.deps, ref), runBackfill(stack.deps, ref)])
  t.true(a.finished && b.finished)
  t.is(a.processed + b.processed, 3000, 'the runners split the work')
  t.true(a.processed > 0 && b.processed > 0, 'both did some of it')
  t.like(a.backfill ?? b.backfill, { status: 'COMPLETED' })
  const audit = await stack.owner.raw(`select count(*)::int as writes, count(distinct lead_id)::int as leads from backfill_audit where tenant_id = 'other'`)
  t.deepEqual(audit.rows[0], { writes: 3000, leads: 3000 })
})
