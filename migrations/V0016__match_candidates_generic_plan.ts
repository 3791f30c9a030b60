import type { Knex } from 'knex'

// match_candidates() (V0012), restated with two changes, both about its plan:
// - It always uses its generic plan. PL/pgSQL keeps the plan of its statement, but under
//   plan_cache_mode = auto PostgreSQL compared it with custom plans and planned the eight-probe
//   statement anew on every call: 0.3 ms of a 0.35 ms call (500 calls: 310 ms, with the generic plan
//   24 ms). The generic plan is the one the probes are written for: each switched on or off by
//   whether its parameter is null, each an index scan bounded by its LIMIT, whatever the values.
// - The e-mail probe compares text (`email_normalized::text = p_email`; both sides are §5's
//   normalized lower-case address), which only the (tenant_id, email_normalized::text) index of
//   V0007 answers in full. With citext equality the unique (tenant_id, email_normalized) index and
//   that one tied for a planner without statistics (a table that autovacuum has not analyzed yet: a
//   new database filling up, or a server running without autovacuum, as the CI machine's does), and
//   the plan kept for the session scanned the tenant's whole index on every call.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
  create or replace function match_candidates(p_name text, p_phone text, p_email text, p_domain text, p_postal text, p_city text, p_exclude uuid)
  returns table (
    id uuid, territory text, visible boolean, company_name text, contact_name text, email_normalized text,
    phone_e164 text, street text, postal_code text, city text, business_type text
  )
  -- plpgsql, so each session plans the statement once and keeps the plan (an SQL function's
  -- statement would be planned on every call: most of its cost, measured).
  language plpgsql stable security definer
  set search_path = public, pg_temp
  set pg_trgm.similarity_threshold = 0.5
  set plan_cache_mode = force_generic_plan
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
        where p_email is not null and l.tenant_id = app_tenant() and l.email_normalized::text = p_email and l.deleted_at is null
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
  `)
}

// Back to the per-call plans; the e-mail probe keeps comparing text (the same rows).
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    alter function match_candidates(text, text, text, text, text, text, uuid) reset plan_cache_mode
  `)
}
