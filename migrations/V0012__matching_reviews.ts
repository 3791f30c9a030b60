import type { Knex } from 'knex'
import { appRoleName } from '../lib/config.ts'
import { createIndexConcurrently } from '../lib/migrate.ts'

// §11 matching and review of possible duplicates.
//
// - Match keys on leads, computed by the application on every write and by the backfill
//   (models/matching.ts matchKeyColumns, like §5's normalized columns): the company name's
//   distinctive words (trigram-indexed), the company e-mail domain (null for free-mail providers),
//   postal code and city. Indexes are built CONCURRENTLY (no write lock on a large table), so this
//   migration runs outside a transaction.
// - match_candidates(): the candidate search, a union of per-signal index probes, each with its own
//   LIMIT, so its cost does not follow the table size (models/match-candidates.ts calls it). It is
//   SECURITY DEFINER because §11 reports candidates the caller may not see (without id and name):
//   it reads the tenant's live leads past RLS, never another tenant's, and says per row whether the
//   caller may see it — the same predicate as the leads_select policy. It needs an owner that RLS
//   does not bind (superuser or BYPASSRLS), as the migration owner is.
// - reviews: a lead's OPEN review lists its candidates; RLS like leads (SALES: reviews of own
//   leads; MANAGER/ADMIN: their territories). lead_pair_decisions remembers NOT_DUPLICATE per pair.
// - matching_settings: the per-tenant review threshold (default 60) and whether writes look for
//   possible duplicates at all (default yes).
export const config = { transaction: false }

const REVIEW_STATUSES = ['OPEN', 'NOT_DUPLICATE', 'MERGED', 'DISMISSED']
const inList = (values: string[]) => values.map((v) => `'${v}'`).join(', ')

export async function up(knex: Knex): Promise<void> {
  const role = appRoleName()
  await knex.raw(`create extension if not exists pg_trgm`)
  await knex.raw(`
    alter table leads
      add column if not exists match_name text check (char_length(match_name) <= 255),
      add column if not exists match_email_domain text check (char_length(match_email_domain) <= 255),
      add column if not exists match_postal_code text check (char_length(match_postal_code) <= 20),
      add column if not exists match_city text check (char_length(match_city) <= 255)
  `)
  await createIndexConcurrently(knex, 'leads_match_name_trgm_idx', 'on leads using gin (match_name gin_trgm_ops) where deleted_at is null')
  await createIndexConcurrently(knex, 'leads_phone_e164_idx', 'on leads (tenant_id, phone_e164) where phone_e164 is not null and deleted_at is null')
  await createIndexConcurrently(knex, 'leads_match_email_domain_idx', 'on leads (tenant_id, match_email_domain) where match_email_domain is not null and deleted_at is null')
  // With the name key and id in the index, the postal-code probe ranks a postal code's leads by an
  // index-only scan and visits the heap for the ten it keeps only.
  await createIndexConcurrently(knex, 'leads_match_postal_code_idx', 'on leads (tenant_id, match_postal_code, match_name) include (id) where match_postal_code is not null and deleted_at is null')
  await createIndexConcurrently(knex, 'leads_match_city_idx', 'on leads (tenant_id, match_city, match_name) where match_city is not null and deleted_at is null')
  await createIndexConcurrently(knex, 'leads_match_city_unplaced_idx', 'on leads (tenant_id, match_city) where match_city is not null and match_postal_code is null and deleted_at is null')
  await createIndexConcurrently(knex, 'leads_match_name_idx', 'on leads (tenant_id, match_name) where match_name is not null and deleted_at is null')

  await knex.transaction(async (trx) => {
    await trx.raw(`
      create table matching_settings (
        tenant_id text primary key check (char_length(tenant_id) between 1 and 64),
        review_threshold integer not null default 60 check (review_threshold between 1 and 100),
        -- Off: creates and updates look for possible duplicates no more (bulk loads; the benchmark's baseline).
        review_on_write boolean not null default true,
        updated_at timestamptz not null default now()
      );
      alter table matching_settings enable row level security;
      alter table matching_settings force row level security;
      create policy matching_settings_select on matching_settings for select using (tenant_id = app_tenant());
      create policy matching_settings_insert on matching_settings for insert with check (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));
      create policy matching_settings_update on matching_settings for update using (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));

      create table reviews (
        id uuid primary key default gen_random_uuid(),
        tenant_id text not null default 'default' check (char_length(tenant_id) between 1 and 64),
        territory text not null references territories (code),
        lead_id uuid not null references leads (id),
        candidates jsonb not null check (jsonb_typeof(candidates) = 'array'),
        status text not null default 'OPEN' check (status in (${inList(REVIEW_STATUSES)})),
        decided_by text check (char_length(decided_by) <= 255),
        decided_at timestamptz,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint reviews_decided check ((status = 'OPEN') = (decided_at is null))
      );
      -- One OPEN review per lead: a later write of the lead refreshes its candidates.
      create unique index reviews_one_open on reviews (tenant_id, lead_id) where status = 'OPEN';
      create index reviews_list_idx on reviews (tenant_id, status, created_at desc, id desc);
      create index reviews_all_idx on reviews (tenant_id, created_at desc, id desc);
      create index reviews_lead_idx on reviews (lead_id);

      alter table reviews enable row level security;
      alter table reviews force row level security;
      create policy reviews_select on reviews for select using (
        tenant_id = app_tenant() and territory = any (app_territories())
        and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
          or (app_role() = 'SALES' and exists (select 1 from leads l where l.id = lead_id and l.owner_user_id = app_user())))
      );
      create policy reviews_insert on reviews for insert with check (
        tenant_id = app_tenant() and territory = any (app_territories()) and exists (select 1 from leads l where l.id = lead_id)
      );
      create policy reviews_update on reviews for update using (
        tenant_id = app_tenant() and territory = any (app_territories())
        and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
          or (app_role() = 'SALES' and exists (select 1 from leads l where l.id = lead_id and l.owner_user_id = app_user())))
      ) with check (tenant_id = app_tenant() and territory = any (app_territories()));

      -- Decisions are for MANAGER/ADMIN (and SYSTEM); SALES only refreshes the candidates of an OPEN review.
      create function reviews_guard() returns trigger language plpgsql as $$
      begin
        if new.id <> old.id or new.tenant_id <> old.tenant_id or new.lead_id <> old.lead_id or new.created_at <> old.created_at then
          raise exception 'review identity columns are immutable' using errcode = 'check_violation';
        end if;
        if old.status <> 'OPEN' and new.status <> old.status then
          raise exception 'a decided review stays decided' using errcode = 'check_violation';
        end if;
        if app_role() not in ('MANAGER', 'ADMIN', 'SYSTEM') and new.status <> old.status then
          raise exception 'role % may not decide reviews', app_role() using errcode = 'insufficient_privilege';
        end if;
        return new;
      end $$;
      create trigger reviews_guard before update on reviews for each row execute function reviews_guard();

      create table lead_pair_decisions (
        tenant_id text not null check (char_length(tenant_id) between 1 and 64),
        lead_a uuid not null references leads (id),
        lead_b uuid not null references leads (id),
        decision text not null default 'NOT_DUPLICATE' check (decision = 'NOT_DUPLICATE'),
        review_id uuid references reviews (id),
        decided_by text not null,
        decided_at timestamptz not null default now(),
        primary key (tenant_id, lead_a, lead_b),
        constraint lead_pair_decisions_order check (lead_a < lead_b)
      );
      alter table lead_pair_decisions enable row level security;
      alter table lead_pair_decisions force row level security;
      create policy lead_pair_decisions_select on lead_pair_decisions for select using (tenant_id = app_tenant());
      create policy lead_pair_decisions_insert on lead_pair_decisions for insert with check (
        tenant_id = app_tenant() and app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
      );

      revoke delete on reviews, lead_pair_decisions, matching_settings from ${role};
      revoke update on lead_pair_decisions from ${role};

      create function match_candidates(p_name text, p_phone text, p_email text, p_domain text, p_postal text, p_city text, p_exclude uuid)
      returns table (
        id uuid, territory text, visible boolean, company_name text, contact_name text, email_normalized text,
        phone_e164 text, street text, postal_code text, city text, business_type text
      )
      -- plpgsql, so each session plans the statement once and keeps the plan (an SQL function's
      -- statement would be planned on every call: most of its cost, measured).
      language plpgsql stable security definer
      set search_path = public, pg_temp
      set pg_trgm.similarity_threshold = 0.5
      as $fn$
      #variable_conflict use_column
      begin
        return query
        with probe as (
          (select l.id from leads l
            where p_phone is not null and l.tenant_id = app_tenant() and l.phone_e164 = p_phone and l.deleted_at is null
              and l.id is distinct from p_exclude
            limit 10)
          union
          (select l.id from leads l
            where p_email is not null and l.tenant_id = app_tenant() and l.email_normalized = p_email::citext and l.deleted_at is null
              and l.id is distinct from p_exclude
            limit 2)
          union
          (select l.id from leads l
            where p_domain is not null and l.tenant_id = app_tenant() and l.match_email_domain = p_domain and l.deleted_at is null
              and l.id is distinct from p_exclude
            limit 10)
          union
          -- The town's leads, most similar names first: a postal code holds a bounded number of businesses.
          (select l.id from leads l
            where p_postal is not null and l.tenant_id = app_tenant() and l.match_postal_code = p_postal and l.deleted_at is null
              and l.id is distinct from p_exclude
            order by similarity(l.match_name, coalesce(p_name, '')) desc
            limit 10)
          union
          -- A city holds many postal codes: there, only the same name.
          (select l.id from leads l
            where p_city is not null and p_name is not null and l.tenant_id = app_tenant() and l.match_city = p_city
              and l.match_name = p_name and l.deleted_at is null and l.id is distinct from p_exclude
            limit 10)
          union
          -- Leads of the city entered without a postal code, most similar names first.
          (select l.id from leads l
            where p_city is not null and l.tenant_id = app_tenant() and l.match_city = p_city
              and l.match_postal_code is null and l.deleted_at is null and l.id is distinct from p_exclude
            order by similarity(l.match_name, coalesce(p_name, '')) desc
            limit 10)
          union
          -- The same name anywhere (a lead entered without its town): any 10, unordered, so a common
          -- name costs no more than a rare one.
          (select l.id from leads l
            where p_name is not null and l.tenant_id = app_tenant() and l.match_name = p_name and l.deleted_at is null
              and l.id is distinct from p_exclude
            limit 10)
          union
          -- Similar names anywhere (pg_trgm), only for a lead without a town — a form being typed,
          -- a name alone: with a town the town probes above find the similar names, and this probe's
          -- trigram matches are rechecked on the heap, which costs more the more leads share trigrams.
          (select l.id from leads l
            where p_name is not null and p_postal is null and p_city is null and l.match_name % p_name
              and l.tenant_id = app_tenant() and l.deleted_at is null and l.id is distinct from p_exclude
            limit 10)
        )
        select l.id, l.territory,
          l.territory = any (app_territories())
            and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM') or l.owner_user_id = app_user() or app_user() = any (l.collaborator_user_ids)),
          l.company_name, l.contact_name, l.email_normalized::text, l.phone_e164, l.street, l.postal_code, l.city, l.business_type
        from probe join leads l on l.id = probe.id
        where app_role() in ('SALES', 'MANAGER', 'ADMIN', 'SYSTEM')
          and not exists (
            select 1 from lead_pair_decisions d
            where p_exclude is not null and d.tenant_id = l.tenant_id
              and d.lead_a = least(l.id, p_exclude) and d.lead_b = greatest(l.id, p_exclude)
          );
      end
      $fn$;
      revoke execute on function match_candidates(text, text, text, text, text, text, uuid) from public;
      grant execute on function match_candidates(text, text, text, text, text, text, uuid) to ${role};
    `)
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop function if exists match_candidates(text, text, text, text, text, text, uuid);
    drop table if exists lead_pair_decisions;
    drop table if exists reviews;
    drop function if exists reviews_guard();
    drop table if exists matching_settings;
  `)
  for (const index of ['leads_match_city_unplaced_idx', 'leads_match_name_idx', 'leads_match_city_idx', 'leads_match_postal_code_idx', 'leads_match_email_domain_idx', 'leads_phone_e164_idx', 'leads_match_name_trgm_idx']) {
    await knex.raw(`drop index concurrently if exists ${index}`)
  }
  await knex.raw(`alter table leads drop column match_name, drop column match_email_domain, drop column match_postal_code, drop column match_city`)
}
