import type { Knex } from 'knex'

// Data quality (§5): normalized copies of e-mail, company name and phone, computed by the
// application on every write and by the backfill for older rows (normalization_version tells which
// rows are stale: 0 = never normalized). The unique index is built CONCURRENTLY, so this migration
// runs outside a transaction and does not lock a large production table for writes. Rows present
// before it have no normalized e-mail yet, so the index cannot fail on them; the backfill fills them
// in and reports collisions instead of losing rows.
export const config = { transaction: false }

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table leads
      add column if not exists email_normalized citext,
      add column if not exists name_normalized text,
      add column if not exists phone_e164 text,
      add column if not exists normalization_version integer not null default 0
  `)
  // A failed concurrent build leaves an INVALID index behind; drop it so a rerun starts clean.
  await knex.raw(`
    do $$ begin
      if exists (select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'leads_email_normalized_unique' and not i.indisvalid) then
        drop index leads_email_normalized_unique;
      end if;
    end $$`)
  await knex.raw(`
    create unique index concurrently if not exists leads_email_normalized_unique
      on leads (tenant_id, email_normalized) where email_normalized is not null and deleted_at is null
  `)
  await knex.raw(`create index concurrently if not exists leads_normalization_version_idx on leads (normalization_version, id)`)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists leads_normalization_version_idx`)
  await knex.raw(`drop index concurrently if exists leads_email_normalized_unique`)
  await knex.raw(`alter table leads drop column email_normalized, drop column name_normalized, drop column phone_e164, drop column normalization_version`)
}
