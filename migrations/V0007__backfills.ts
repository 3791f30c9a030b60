import type { Knex } from 'knex'
import { createIndexConcurrently } from '../lib/migrate.ts'
import { appRoleName } from '../lib/config.ts'

// Normalization backfills (§5). A backfill belongs to one tenant, because row-level security scopes
// every transaction to one tenant: the job works through that tenant's stale leads with a SYSTEM
// context, never with RLS off. The keyset position is (last_created_at, last_lead_id), the last
// lead a committed batch handled, in creation order (models/backfills.ts says why not uuid order);
// it and the counters change in the same transaction as the leads of a batch, so a crash resumes
// exactly there.
//
// Leads whose normalized e-mail collides with another live lead keep their row (email_normalized
// stays NULL, so the unique index holds) and are listed in backfill_collisions.
//
// Finding the live lead that holds an address must use an index under RLS. The unique index is
// on citext, and citext's equality is not LEAKPROOF, so PostgreSQL may not use it as an index
// condition beneath a policy and scans the tenant's whole index instead. Text equality is
// leakproof: this index on the text of the (already lower-cased) address serves the lookup. It is
// built CONCURRENTLY, so this migration runs outside a transaction; the DDL of the tables is one
// multi-statement query, which PostgreSQL runs as one implicit transaction.
//
// ADMIN and SYSTEM only. Reading collisions additionally needs the lead to be visible (the subquery
// runs under the leads policies), so an admin of one territory learns nothing about another's
// leads. Only SYSTEM (the job, `npm run backfill`) advances a backfill or records collisions. The
// app role gets its table rights from V0001's default privileges; history is never deleted.
export const config = { transaction: false }

export async function up(knex: Knex): Promise<void> {
  await createIndexConcurrently(knex, 'leads_email_normalized_text_idx', 'on leads (tenant_id, (email_normalized::text)) where email_normalized is not null and deleted_at is null')
  await knex.raw(`
    create table backfills (
      id uuid primary key default gen_random_uuid(),
      tenant_id text not null default 'default' check (char_length(tenant_id) between 1 and 64),
      kind text not null default 'NORMALIZATION' check (kind in ('NORMALIZATION')),
      target_version integer not null check (target_version >= 1),
      status text not null default 'RUNNING' check (status in ('RUNNING', 'COMPLETED', 'FAILED')),
      batch_size integer not null check (batch_size between 1 and 10000),
      last_lead_id uuid,
      last_created_at timestamptz,
      processed bigint not null default 0 check (processed >= 0),
      total bigint check (total >= 0),
      duplicates_found bigint not null default 0 check (duplicates_found >= 0),
      failed bigint not null default 0 check (failed >= 0),
      last_error text,
      created_by text not null check (char_length(created_by) between 1 and 255),
      started_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      finished_at timestamptz,
      constraint backfills_finished check ((status = 'RUNNING') = (finished_at is null)),
      constraint backfills_position check ((last_lead_id is null) = (last_created_at is null))
    );
    -- One running backfill of a kind per tenant: a second start finds and resumes it.
    create unique index backfills_one_running on backfills (tenant_id, kind) where status = 'RUNNING';
    create index backfills_started_idx on backfills (tenant_id, started_at desc, id);

    create table backfill_collisions (
      backfill_id uuid not null references backfills (id),
      lead_id uuid not null references leads (id),
      tenant_id text not null,
      email_normalized citext not null,
      existing_lead_id uuid not null references leads (id),
      detected_at timestamptz not null default now(),
      primary key (backfill_id, lead_id)
    );

    alter table backfills enable row level security;
    alter table backfills force row level security;
    create policy backfills_select on backfills for select using (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));
    create policy backfills_insert on backfills for insert with check (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));
    create policy backfills_update on backfills for update using (tenant_id = app_tenant() and app_role() = 'SYSTEM');

    alter table backfill_collisions enable row level security;
    alter table backfill_collisions force row level security;
    create policy backfill_collisions_select on backfill_collisions for select using (
      tenant_id = app_tenant() and (app_role() = 'SYSTEM' or (app_role() = 'ADMIN' and exists (select 1 from leads l where l.id = lead_id)))
    );
    create policy backfill_collisions_insert on backfill_collisions for insert with check (tenant_id = app_tenant() and app_role() = 'SYSTEM');

    revoke delete on backfills, backfill_collisions from ${appRoleName()};
    revoke update on backfill_collisions from ${appRoleName()};
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop table backfill_collisions; drop table backfills;`)
  await knex.raw(`drop index concurrently if exists leads_email_normalized_text_idx`)
}
