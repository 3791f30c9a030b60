import type { Knex } from 'knex'
import { createIndexConcurrently } from '../lib/migrate.ts'

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
  await createIndexConcurrently(knex, 'leads_email_normalized_unique', 'on leads (tenant_id, email_normalized) where email_normalized is not null and deleted_at is null', { unique: true })
  await createIndexConcurrently(knex, 'leads_normalization_version_idx', 'on leads (normalization_version, id)')
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists leads_normalization_version_idx`)
  await knex.raw(`drop index concurrently if exists leads_email_normalized_unique`)
  await knex.raw(`alter table leads drop column email_normalized, drop column name_normalized, drop column phone_e164, drop column normalization_version`)
}
