// Bulk lead data for the read and scale scenarios, inserted as the owner with generate_series.
// Large loads drop the secondary indexes of `leads` first and rebuild them from their own
// definitions afterwards (one sorted build is far cheaper than a million incremental GIN/btree
// inserts); the primary key stays, lead_activities references it. VACUUM ANALYZE and a CHECKPOINT follow every load.
import type pg from 'pg'
import { withClient } from '../../test/helpers/database.ts'

const BULK_THRESHOLD = 50_000

/**
 * Inserts leads number `from`..`to` (inclusive). Higher numbers are older (created_at steps back
 * 30 s per lead), so a later, larger load lands behind the first page of a smaller one. Statuses
 * cycle through six values, two of them REGISTERED (a third of the table); a fifth of the leads are
 * in CH, the rest in DE; owners cycle over 50 sales users.
 */
export async function seedLeads(ownerUrl: string, from: number, to: number): Promise<{ seconds: number }> {
  return bulkLoadLeads(ownerUrl, from, to, async (client) => {
    await client.query(
      `insert into leads (tenant_id, territory, country_code, company_name, contact_name, email, phone, city, source, status, stage,
                          owner_user_id, created_by, created_at, updated_at, registered_at,
                          email_normalized, name_normalized, phone_e164, normalization_version)
       select 'default',
              case when i % 5 = 0 then 'CH' else 'DE' end,
              case when i % 5 = 0 then 'CH' else 'DE' end,
              'Bench Company ' || i,
              'Contact ' || i,
              'lead' || i || '@bench.example',
              '+49 30 ' || (1000000 + i),
              (array['Berlin', 'Hamburg', 'München', 'Köln', 'Zürich'])[1 + i % 5],
              'WEB_FORMULAR',
              (array['REGISTERED', 'ACTIVE', 'REMINDER', 'REGISTERED', 'QUALIFIED', 'LOST'])[1 + i % 6],
              'VORMERKUNG',
              'sales-' || (i % 50),
              'bench-seed',
              ts, ts, ts,
              'lead' || i || '@bench.example',
              'bench company ' || i,
              '+49301' || (1000000 + i),
              1
         from generate_series($1::int, $2::int) as i,
              lateral (select now() - make_interval(secs => i * 30) as ts) as t`,
      [from, to],
    )
  })
}

/**
 * Runs `insert` — leads `from`..`to` (inclusive), inserted as the owner — as a bulk load: at
 * BULK_THRESHOLD leads or more the secondary indexes are dropped first and rebuilt after; then
 * VACUUM ANALYZE and a CHECKPOINT.
 */
export async function bulkLoadLeads(ownerUrl: string, from: number, to: number, insert: (client: pg.Client) => Promise<unknown>): Promise<{ seconds: number }> {
  const started = performance.now()
  await withClient(ownerUrl, async (client) => {
    await client.query(`set synchronous_commit = off`)
    await client.query(`set maintenance_work_mem = '256MB'`)
    let indexes: string[] = []
    if (to - from + 1 >= BULK_THRESHOLD) {
      const { rows } = await client.query<{ name: string; definition: string }>(
        `select i.relname as name, pg_get_indexdef(i.oid) as definition
           from pg_index x join pg_class i on i.oid = x.indexrelid
          where x.indrelid = 'leads'::regclass and not x.indisprimary`,
      )
      indexes = rows.map((r) => r.definition)
      for (const row of rows) await client.query(`drop index ${row.name}`)
    }
    await insert(client)
    for (const definition of indexes) await client.query(definition)
    // The load's aftermath — autovacuum setting hint and visibility bits, a checkpoint writing
    // the new pages — would otherwise fall into the first measured window (seen: run 5).
    await client.query('vacuum (analyze) leads')
    await client.query('checkpoint')
  })
  return { seconds: (performance.now() - started) / 1000 }
}

/** Ids of leads visible to everyone with DE access (for get-by-id), spread over the table. */
export async function sampleLeadIds(ownerUrl: string, count: number): Promise<string[]> {
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ id: string }>(`select id from leads where territory = 'DE' order by random() limit $1`, [count])
    return rows.map((r) => r.id)
  })
}

/**
 * A cursor for the page after the lead at `offset` in the service's default order (-createdAt),
 * built the way models/leads.ts encodes it (base64url JSON of sort, sort value as PostgreSQL text, id).
 */
export async function cursorAt(ownerUrl: string, offset: number, status: string | undefined): Promise<string> {
  return withClient(ownerUrl, async (client) => {
    const { rows } = await client.query<{ v: string; id: string }>(
      `select created_at::text as v, id from leads where tenant_id = 'default' and ($2::text is null and status <> 'DELETED' or status = $2)
        order by created_at desc, id desc offset $1 limit 1`,
      [offset, status ?? null],
    )
    if (!rows[0]) throw new Error(`no lead at offset ${offset}`)
    return Buffer.from(JSON.stringify({ s: '-createdAt', v: rows[0].v, id: rows[0].id })).toString('base64url')
  })
}
