import type { Knex } from 'knex'
import { appRoleName } from '../lib/config.ts'

// Lead-list imports (§14). The uploaded file is stored here (bytea), not on a disk, so any worker
// can take the job; it is dropped (set null) once the import is finished. The job works the parsed
// rows in fixed batches (batch n = data rows n·size … (n+1)·size − 1, the size stored on the
// import), each one transaction that writes its leads, its row errors, the counters and its row in
// import_batches together: import_batches is the resume position. A killed worker's successor
// works the batches that have no row; a batch's primary key makes a second runner of the same
// batch wait for the first and then skip it, so no lead is created twice, also when batches run in
// parallel.
//
// The job acts as the importing user (actor_role, actor_territories as the upload's token said), so
// every row passes the same row-level security and rules as POST /api/leads. Visibility: the
// creator, and MANAGER/ADMIN of the tenant; only the creator's context (the job) or SYSTEM advances
// an import. Row errors are as visible as their import. History is never deleted by the app role.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table imports (
      id uuid primary key default gen_random_uuid(),
      tenant_id text not null check (char_length(tenant_id) between 1 and 64),
      created_by text not null check (char_length(created_by) between 1 and 255),
      actor_role text not null check (actor_role in ('SALES', 'MANAGER', 'ADMIN')),
      actor_territories text[] not null check (cardinality(actor_territories) between 1 and 10),
      status text not null default 'QUEUED' check (status in ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED')),
      file bytea check (octet_length(file) <= 10485760),
      filename text check (char_length(filename) <= 255),
      content_type text check (char_length(content_type) <= 255),
      file_type text check (file_type in ('CSV', 'XLSX')),
      file_size integer not null check (file_size >= 0),
      options jsonb not null default '{}' check (jsonb_typeof(options) = 'object' and octet_length(options::text) <= 65536),
      total integer check (total >= 0),
      processed integer not null default 0 check (processed >= 0),
      created integer not null default 0 check (created >= 0),
      duplicates integer not null default 0 check (duplicates >= 0),
      failed integer not null default 0 check (failed >= 0),
      batch_size integer not null check (batch_size between 1 and 10000),
      failure_reason text check (char_length(failure_reason) <= 2000),
      created_at timestamptz not null default now(),
      started_at timestamptz,
      updated_at timestamptz not null default now(),
      finished_at timestamptz,
      constraint imports_finished check ((status in ('COMPLETED', 'FAILED')) = (finished_at is not null)),
      constraint imports_failed check ((status = 'FAILED') = (failure_reason is not null))
    );
    create index imports_created_idx on imports (tenant_id, created_at desc, id);

    create table import_errors (
      id bigint generated always as identity primary key,
      import_id uuid not null references imports (id),
      tenant_id text not null,
      row integer not null check (row >= 1),
      "column" text check (char_length("column") <= 255),
      message text not null check (char_length(message) between 1 and 2000),
      duplicate_of uuid,
      created_at timestamptz not null default now()
    );
    create index import_errors_import_idx on import_errors (import_id, row, id);

    create table import_batches (
      import_id uuid not null references imports (id),
      tenant_id text not null,
      batch integer not null check (batch >= 0),
      committed_at timestamptz not null default now(),
      primary key (import_id, batch)
    );

    alter table imports enable row level security;
    alter table imports force row level security;
    create policy imports_select on imports for select using (
      tenant_id = app_tenant() and (created_by = app_user() or app_role() in ('MANAGER', 'ADMIN', 'SYSTEM'))
    );
    create policy imports_insert on imports for insert with check (
      tenant_id = app_tenant() and created_by = app_user() and actor_role = app_role()
    );
    create policy imports_update on imports for update using (
      tenant_id = app_tenant() and (created_by = app_user() or app_role() = 'SYSTEM')
    ) with check (tenant_id = app_tenant());

    alter table import_errors enable row level security;
    alter table import_errors force row level security;
    -- The subqueries run under the imports policies.
    create policy import_errors_select on import_errors for select using (
      tenant_id = app_tenant() and exists (select 1 from imports i where i.id = import_id)
    );
    create policy import_errors_insert on import_errors for insert with check (
      tenant_id = app_tenant() and exists (select 1 from imports i where i.id = import_id and (i.created_by = app_user() or app_role() = 'SYSTEM'))
    );

    alter table import_batches enable row level security;
    alter table import_batches force row level security;
    create policy import_batches_select on import_batches for select using (
      tenant_id = app_tenant() and exists (select 1 from imports i where i.id = import_id)
    );
    create policy import_batches_insert on import_batches for insert with check (
      tenant_id = app_tenant() and exists (select 1 from imports i where i.id = import_id and (i.created_by = app_user() or app_role() = 'SYSTEM'))
    );

    revoke delete on imports, import_errors, import_batches from ${appRoleName()};
    revoke update on import_errors, import_batches from ${appRoleName()};
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop table import_batches; drop table import_errors; drop table imports;`)
}
