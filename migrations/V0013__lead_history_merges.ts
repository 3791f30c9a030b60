import type { Knex } from 'knex'
import { appRoleName } from '../lib/config.ts'

// §12 history, merge and undo.
//
// lead_history is written by the database itself: an AFTER INSERT OR UPDATE trigger on `leads`
// records every change of a lead (field-level {from, to} of the changed columns), whoever makes it:
// the API, a job, the backfill, or a direct `update leads` of the application role. The trigger
// function is SECURITY DEFINER, owned by the migration owner with a fixed search_path, so it can
// insert history while the application role itself can only read it (no INSERT, UPDATE or DELETE):
// history cannot be forged, altered or removed from the application.
//
// Action: CREATED on insert; else a transaction-local `app.history_action` (set by the merge and
// undo code, later by erasure) wins when it names a known action; else DELETED when the status
// becomes DELETED, STATUS_CHANGED when the status changes, UPDATED otherwise. Bookkeeping columns
// (version, updated_at, normalization_version) are left out of `changes`; an update that changed
// nothing else (an activity that only bumps the version) writes no row. The actor is the
// transaction's `app.user_id` (lib/db.ts inTransaction sets it).
//
// History is as visible as its lead (an EXISTS under the leads policies, like lead_activities).
// Cost (measured with EXPLAIN ANALYZE on 5,000-row inserts, docs/decisions.md): the trigger is one
// insert plus one to_jsonb on INSERT; the diff query runs on UPDATE only. lead_id has no foreign
// key (leads are never deleted; the key check would be a second lookup per write).
// CREATED rows store the initial values as {column: value}; every other row {column: {from, to}}.
//
// merges: one row per merge of §12, with everything undo needs (before-images of all leads, the
// survivor's fields as the merge left them, the moved activity ids). Visible like its survivor;
// only undone_by/undone_at/undo_conflicts may change afterwards.
//
// Moving activities needs UPDATE of lead_activities.lead_id (and of nothing else), for MANAGER,
// ADMIN and SYSTEM only, between leads the transaction can see.
//
// The lists below extend the CHECKs of V0002 (activity types) and V0005 (event types) by the
// types of §12; a later migration that redefines either CHECK must keep them.

const HISTORY_ACTIONS = ['CREATED', 'UPDATED', 'STATUS_CHANGED', 'DELETED', 'MERGED', 'UNMERGED', 'ERASED']
const ACTIVITY_TYPES = [
  'QUALIFIED_CALL', 'MEETING', 'DEMO', 'ROI_PRESENTATION', 'SAMPLE_SENT', 'EMAIL', 'CALL', 'ORDER', 'NOTE', 'FOLLOW_UP',
  'SAMPLE_FEEDBACK', 'FIRST_CONTACT_DOCUMENTED', 'CREATED', 'STATUS_CHANGE', 'ASSIGNED', 'FOLLOW_UP_T3', 'FOLLOW_UP_T7',
  'REMINDER_SENT', 'DELETED', 'MERGED', 'UNMERGED',
  // §10 (V0011), kept
  'GRACE_PERIOD_STARTED', 'PROTECTION_EXPIRED', 'CLOCK_STOP_REQUESTED', 'CLOCK_STOPPED', 'CLOCK_RESUMED', 'REGISTERED_AT_CHANGED',
]
const EVENT_TYPES = [
  'freshplan.lead.created', 'freshplan.lead.updated', 'freshplan.lead.status_changed', 'freshplan.lead.deleted',
  'freshplan.lead.activity_added', 'freshplan.lead.followup_sent', 'freshplan.lead.duplicate_detected',
  'freshplan.lead.merged', 'freshplan.lead.unmerged',
  // §10 (V0011) and the rest of §7's list that V0011 allowed, kept
  'freshplan.lead.erased', 'freshplan.lead.consent_revoked', 'freshplan.lead.clock_stopped', 'freshplan.lead.clock_resumed',
]
/** Columns that change with every write and say nothing about the lead. */
const BOOKKEEPING = ['version', 'updated_at', 'normalization_version']

const inList = (values: string[]) => values.map((v) => `'${v}'`).join(', ')

export async function up(knex: Knex): Promise<void> {
  const role = appRoleName()
  await knex.raw(`
    alter table leads add column merged_into_id uuid references leads (id);

    alter table lead_activities drop constraint lead_activities_type_check;
    alter table lead_activities add constraint lead_activities_type_check check (type in (${inList(ACTIVITY_TYPES)}));
    alter table lead_events drop constraint lead_events_type_check;
    alter table lead_events add constraint lead_events_type_check check (type in (${inList(EVENT_TYPES)}));

    create table lead_history (
      id bigint generated always as identity primary key,
      tenant_id text not null,
      territory text not null,
      lead_id uuid not null,
      at timestamptz not null default now(),
      actor_user_id text,
      action text not null check (action in (${inList(HISTORY_ACTIONS)})),
      changes jsonb not null
    );
    create index lead_history_lead_idx on lead_history (lead_id, id desc);

    alter table lead_history enable row level security;
    alter table lead_history force row level security;
    create policy lead_history_select on lead_history for select using (
      tenant_id = app_tenant() and exists (select 1 from leads l where l.id = lead_id)
    );
    -- Only the trigger function's owner (this migration's role) writes history.
    create policy lead_history_insert on lead_history for insert to current_user with check (true);
    revoke insert, update, delete, truncate on lead_history from ${role};
    grant select on lead_history to ${role};

    create function lead_history_record() returns trigger
      language plpgsql security definer set search_path = pg_catalog, public, pg_temp as $$
    declare
      diff jsonb;
      before jsonb;
      act text;
      hint text := nullif(current_setting('app.history_action', true), '');
    begin
      if tg_op = 'INSERT' then
        -- The initial values as {column: value}: one expression, no query (models/lead-history.ts
        -- presents them as {from: null, to}). Creating leads is the hot path.
        diff := jsonb_strip_nulls(to_jsonb(new)) - ${BOOKKEEPING.map((c) => `'${c}'`).join(' - ')};
        act := 'CREATED';
      else
        before := to_jsonb(old);
        select jsonb_object_agg(n.key, jsonb_build_object('from', before -> n.key, 'to', n.value)) into diff
          from jsonb_each(to_jsonb(new)) n
         where n.value is distinct from before -> n.key and n.key not in (${inList(BOOKKEEPING)});
        if diff is null then
          return null;
        end if;
        act := case
          when hint in ('MERGED', 'UNMERGED', 'ERASED') then hint
          when new.status = 'DELETED' and old.status <> 'DELETED' then 'DELETED'
          when new.status <> old.status then 'STATUS_CHANGED'
          else 'UPDATED'
        end;
      end if;
      insert into public.lead_history (tenant_id, territory, lead_id, actor_user_id, action, changes)
        values (new.tenant_id, new.territory, new.id, nullif(current_setting('app.user_id', true), ''), act, diff);
      return null;
    end $$;
    revoke all on function lead_history_record() from public;
    create trigger leads_history after insert or update on leads for each row execute function lead_history_record();

    grant update (lead_id) on lead_activities to ${role};
    create policy lead_activities_move on lead_activities for update using (
      tenant_id = app_tenant() and app_role() in ('MANAGER', 'ADMIN', 'SYSTEM') and exists (select 1 from leads l where l.id = lead_id)
    ) with check (
      tenant_id = app_tenant() and exists (select 1 from leads l where l.id = lead_id)
    );

    create table merges (
      id uuid primary key default gen_random_uuid(),
      tenant_id text not null check (char_length(tenant_id) between 1 and 64),
      territory text not null references territories (code),
      survivor_id uuid not null references leads (id),
      merged_ids uuid[] not null check (cardinality(merged_ids) between 1 and 4),
      field_sources jsonb not null,
      before_images jsonb not null,
      survivor_after jsonb not null,
      moved_activity_ids jsonb not null,
      merged_by text not null,
      merged_at timestamptz not null,
      undone_by text,
      undone_at timestamptz,
      undo_conflicts jsonb,
      constraint merges_undone check ((undone_by is null) = (undone_at is null))
    );
    create index merges_survivor_idx on merges (survivor_id, merged_at desc);

    alter table merges enable row level security;
    alter table merges force row level security;
    create policy merges_select on merges for select using (
      tenant_id = app_tenant() and territory = any (app_territories()) and exists (select 1 from leads l where l.id = survivor_id)
    );
    create policy merges_insert on merges for insert with check (
      tenant_id = app_tenant() and territory = any (app_territories()) and app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
    );
    create policy merges_update on merges for update using (
      tenant_id = app_tenant() and territory = any (app_territories()) and app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
    );
    revoke update, delete, truncate on merges from ${role};
    grant update (undone_by, undone_at, undo_conflicts) on merges to ${role};
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop table merges;
    drop policy lead_activities_move on lead_activities;
    revoke update (lead_id) on lead_activities from ${appRoleName()};
    drop trigger leads_history on leads;
    drop function lead_history_record();
    drop table lead_history;
    alter table leads drop column merged_into_id;
  `)
}
