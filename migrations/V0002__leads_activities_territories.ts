import type { Knex } from 'knex'
import { appRoleName } from '../lib/config.ts'

// The lead data model of DOMAIN.md §2–§3 and its row-level security.
//
// Who sees a lead is decided here, in PostgreSQL, for the application role (see V0001): tenant and
// territory always; within a territory SALES sees own leads and leads they collaborate on, MANAGER,
// ADMIN and SYSTEM all. Collaborators are an array on the lead, so the policy needs no join (and no
// second table whose policy would have to reference this one). A trigger keeps what SALES may not do
// (delete, reassign, change collaborators of someone else's lead, move a lead between tenants) out of reach even if the
// application forgot a check. The application role may not DELETE rows: deletion is soft.

const STATUSES = ['REGISTERED', 'ACTIVE', 'REMINDER', 'GRACE_PERIOD', 'QUALIFIED', 'CONVERTED', 'LOST', 'EXPIRED', 'DELETED']
const STAGES = ['VORMERKUNG', 'REGISTRIERUNG', 'QUALIFIZIERT']
const SOURCES = ['MESSE', 'EMPFEHLUNG', 'TELEFON', 'WEB_FORMULAR', 'PARTNER', 'SONSTIGES']
const BUSINESS_TYPES = ['RESTAURANT', 'HOTEL', 'CATERING', 'KANTINE', 'GROSSHANDEL', 'LEH', 'BILDUNG', 'GESUNDHEIT', 'SONSTIGES']
const KITCHEN_SIZES = ['KLEIN', 'MITTEL', 'GROSS', 'SEHR_GROSS']
const ACTIVITY_TYPES = [
  'QUALIFIED_CALL', 'MEETING', 'DEMO', 'ROI_PRESENTATION', 'SAMPLE_SENT', 'EMAIL', 'CALL', 'ORDER', 'NOTE', 'FOLLOW_UP',
  'SAMPLE_FEEDBACK', 'FIRST_CONTACT_DOCUMENTED', 'CREATED', 'STATUS_CHANGE', 'ASSIGNED', 'FOLLOW_UP_T3', 'FOLLOW_UP_T7',
  'REMINDER_SENT', 'DELETED',
]
const OUTCOMES = ['SUCCESSFUL', 'UNSUCCESSFUL', 'NO_ANSWER', 'CALLBACK_REQUESTED', 'INFO_SENT', 'QUALIFIED', 'DISQUALIFIED']

const inList = (values: string[]) => values.map((v) => `'${v}'`).join(', ')

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table territories (
      code text primary key check (code ~ '^[A-Z]{2}$'),
      name text not null,
      currency text not null check (currency ~ '^[A-Z]{3}$'),
      vat_rate numeric(5,2) not null check (vat_rate >= 0),
      locale text not null,
      time_zone text not null
    );
    insert into territories (code, name, currency, vat_rate, locale, time_zone) values
      ('DE', 'Deutschland', 'EUR', 19.00, 'de-DE', 'Europe/Berlin'),
      ('CH', 'Schweiz', 'CHF', 8.10, 'de-CH', 'Europe/Zurich');

    create table leads (
      id uuid primary key default gen_random_uuid(),
      tenant_id text not null default 'default' check (char_length(tenant_id) between 1 and 64),
      territory text not null references territories (code),
      company_name text not null check (char_length(company_name) between 1 and 255),
      contact_name text check (char_length(contact_name) <= 255),
      email text check (char_length(email) <= 320),
      phone text check (char_length(phone) <= 64),
      website text check (char_length(website) <= 2048),
      street text check (char_length(street) <= 255),
      postal_code text check (char_length(postal_code) <= 20),
      city text check (char_length(city) <= 255),
      country_code text not null default 'DE' check (country_code ~ '^[A-Z]{2}$'),
      source text not null default 'WEB_FORMULAR' check (source in (${inList(SOURCES)})),
      source_campaign text check (char_length(source_campaign) <= 255),
      business_type text check (business_type in (${inList(BUSINESS_TYPES)})),
      kitchen_size text check (kitchen_size in (${inList(KITCHEN_SIZES)})),
      employee_count integer check (employee_count >= 0),
      estimated_volume numeric(14,2) check (estimated_volume >= 0),
      email_consent boolean not null default false,
      notes text check (char_length(notes) <= 10000),
      status text not null default 'REGISTERED' check (status in (${inList(STATUSES)})),
      stage text not null check (stage in (${inList(STAGES)})),
      owner_user_id text not null check (char_length(owner_user_id) between 1 and 255),
      collaborator_user_ids text[] not null default '{}',
      registered_at timestamptz not null default now(),
      last_activity_at timestamptz,
      t3_sent_at timestamptz,
      t7_sent_at timestamptz,
      version integer not null default 1 check (version >= 1),
      created_at timestamptz not null default now(),
      created_by text not null,
      updated_at timestamptz not null default now(),
      deleted_at timestamptz,
      constraint leads_deleted_status check ((status = 'DELETED') = (deleted_at is not null))
    );

    -- Keyset pagination: one index per sort key, id as the tie-breaker (cost per page independent of table size).
    create index leads_created_at_idx on leads (tenant_id, created_at, id);
    create index leads_updated_at_idx on leads (tenant_id, updated_at, id);
    create index leads_company_name_idx on leads (tenant_id, company_name, id);
    create index leads_status_idx on leads (tenant_id, status, id);
    create index leads_last_activity_idx on leads (tenant_id, (coalesce(last_activity_at, '-infinity'::timestamptz)), id);
    create index leads_owner_idx on leads (tenant_id, owner_user_id, created_at, id);
    -- The most common filtered list (a status, newest first) reads one page of index entries.
    create index leads_status_created_at_idx on leads (tenant_id, status, created_at, id);
    create index leads_collaborators_idx on leads using gin (collaborator_user_ids);
    create index leads_search_idx on leads using gin (
      (coalesce(company_name, '') || ' ' || coalesce(contact_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(city, '')) gin_trgm_ops
    );

    create table lead_activities (
      id uuid primary key default gen_random_uuid(),
      tenant_id text not null default 'default',
      lead_id uuid not null references leads (id),
      type text not null check (type in (${inList(ACTIVITY_TYPES)})),
      occurred_at timestamptz not null default now(),
      summary text not null check (char_length(summary) between 1 and 1000),
      outcome text check (outcome in (${inList(OUTCOMES)})),
      user_id text not null,
      metadata jsonb not null default '{}',
      created_at timestamptz not null default now()
    );
    create index lead_activities_lead_idx on lead_activities (lead_id, occurred_at desc, id desc);

    alter table territories enable row level security;
    alter table territories force row level security;
    create policy territories_visible on territories for select using (code = any (app_territories()));

    alter table leads enable row level security;
    alter table leads force row level security;
    create policy leads_select on leads for select using (
      tenant_id = app_tenant() and territory = any (app_territories())
      and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM') or owner_user_id = app_user() or app_user() = any (collaborator_user_ids))
    );
    create policy leads_insert on leads for insert with check (
      tenant_id = app_tenant() and territory = any (app_territories())
      and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM') or (app_role() = 'SALES' and owner_user_id = app_user()))
    );
    create policy leads_update on leads for update using (
      tenant_id = app_tenant() and territory = any (app_territories())
      and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM') or owner_user_id = app_user() or app_user() = any (collaborator_user_ids))
    ) with check (
      tenant_id = app_tenant() and territory = any (app_territories())
    );

    alter table lead_activities enable row level security;
    alter table lead_activities force row level security;
    -- An activity is as visible as its lead; the subquery runs under the leads policies.
    create policy lead_activities_select on lead_activities for select using (
      tenant_id = app_tenant() and exists (select 1 from leads l where l.id = lead_id)
    );
    create policy lead_activities_insert on lead_activities for insert with check (
      tenant_id = app_tenant() and exists (select 1 from leads l where l.id = lead_id)
    );

    -- What only MANAGER/ADMIN/SYSTEM may change, and what nobody may change, checked on every row.
    create function leads_guard() returns trigger language plpgsql as $$
    begin
      if new.id <> old.id or new.tenant_id <> old.tenant_id or new.created_at <> old.created_at or new.created_by <> old.created_by then
        raise exception 'lead identity columns are immutable' using errcode = 'check_violation';
      end if;
      -- SALES is the one restricted role; without a context the app role sees no rows at all.
      if app_role() = 'SALES' then
        if new.deleted_at is distinct from old.deleted_at or new.owner_user_id <> old.owner_user_id then
          raise exception 'role % may not delete or reassign leads', app_role() using errcode = 'insufficient_privilege';
        end if;
        -- Collaborators are managed by managers and by the lead's owner (§4).
        if new.collaborator_user_ids <> old.collaborator_user_ids and old.owner_user_id <> app_user() then
          raise exception 'only the owner may change collaborators' using errcode = 'insufficient_privilege';
        end if;
      end if;
      return new;
    end $$;
    create trigger leads_guard before update on leads for each row execute function leads_guard();

    revoke delete on leads, lead_activities, territories from ${appRoleName()};
    revoke insert, update on territories from ${appRoleName()};
    revoke update on lead_activities from ${appRoleName()};
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop table lead_activities; drop table leads; drop function leads_guard(); drop table territories;`)
}
