import type { Knex } from 'knex'

// Idempotency-Key records (§4): the response of a completed POST/PATCH, per tenant, user and key,
// written in the same transaction as the request's own writes. Each user sees only their own keys;
// SYSTEM (the purge job) sees all, across tenants: the records hold no lead data of their own
// beyond the response the user already received.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table idempotency_keys (
      tenant_id text not null,
      user_id text not null,
      key text not null check (char_length(key) between 1 and 255),
      fingerprint text not null,
      status_code integer not null,
      headers jsonb not null default '{}',
      body jsonb,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      primary key (tenant_id, user_id, key)
    );
    create index idempotency_keys_expiry_idx on idempotency_keys (expires_at);
    alter table idempotency_keys enable row level security;
    alter table idempotency_keys force row level security;
    create policy idempotency_keys_owner on idempotency_keys
      using ((tenant_id = app_tenant() and user_id = app_user()) or app_role() = 'SYSTEM')
      with check (tenant_id = app_tenant() and user_id = app_user());
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table idempotency_keys')
}
