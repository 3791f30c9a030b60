import test from 'ava'
import { inTransaction, type SecurityContext } from '../../lib/db.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

let stack: Stack
const de: SecurityContext = { tenantId: 'default', userId: 'u1', role: 'SALES', territories: ['DE'] }

test.before(async () => {
  stack = await startStack({ web: false })
  // A FORCEd policy on a test table, created by the owner like every migration does.
  await stack.owner.raw(`
    create table rls_probe (id serial primary key, territory text not null, secret text not null);
    alter table rls_probe enable row level security;
    alter table rls_probe force row level security;
    create policy rls_probe_territory on rls_probe using (territory = any (app_territories())) with check (territory = any (app_territories()));
    insert into rls_probe (territory, secret) values ('DE', 'de-1'), ('DE', 'de-2'), ('CH', 'ch-1');
  `)
})
test.after.always(() => stack?.stop())

test('the runtime roles (web and worker) own nothing and have no BYPASSRLS or superuser rights', async (t) => {
  for (const [knex, role] of [[stack.webDeps.knex, 'freshplan_app'], [stack.deps.knex, 'freshplan_worker']] as const) {
    const { rows } = await knex.raw(`select current_user as role, rolbypassrls, rolsuper from pg_roles where rolname = current_user`)
    t.deepEqual(rows[0], { role, rolbypassrls: false, rolsuper: false })
    const owned = await knex.raw(`select count(*)::int as n from pg_class where relowner = (select oid from pg_roles where rolname = current_user)`)
    t.is(owned.rows[0].n, 0)
  }
})

test('a FORCEd policy hides rows of other territories from the runtime role', async (t) => {
  const secrets = await inTransaction(stack.deps.knex, de, async (tx) => (await tx.trx('rls_probe').select('secret').orderBy('secret')).map((r) => r.secret))
  t.deepEqual(secrets, ['de-1', 'de-2'])
  const updated = await inTransaction(stack.deps.knex, de, (tx) => tx.trx('rls_probe').update({ secret: 'pwned' }).where('territory', 'CH'))
  t.is(updated, 0)
  const { rows } = await stack.owner.raw(`select secret from rls_probe where territory = 'CH'`)
  t.deepEqual(rows, [{ secret: 'ch-1' }])
})

test('without a context the runtime role sees nothing', async (t) => {
  const rows = await stack.deps.knex('rls_probe').select()
  t.deepEqual(rows, [])
})

test('the runtime role cannot switch RLS off or take the table over', async (t) => {
  await t.throwsAsync(stack.deps.knex.raw('alter table rls_probe disable row level security'), { message: /must be owner/ })
  await t.throwsAsync(stack.deps.knex.raw('alter table rls_probe no force row level security'), { message: /must be owner/ })
  await t.throwsAsync(stack.deps.knex.raw('set role postgres'), { message: /permission denied/ })
  // row_security = off makes PostgreSQL raise instead of filtering silently for a role subject to RLS.
  await t.throwsAsync(
    stack.deps.knex.transaction(async (trx) => {
      await trx.raw('set local row_security = off')
      await trx('rls_probe').select()
    }),
    { message: /row-level security/ },
  )
})

test('a row for another territory cannot be written', async (t) => {
  await t.throwsAsync(
    inTransaction(stack.deps.knex, de, (tx) => tx.trx('rls_probe').insert({ territory: 'CH', secret: 'smuggled' })),
    { message: /row-level security/ },
  )
})
