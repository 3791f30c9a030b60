import type { Knex } from 'knex'
import { appRoleName, SYSTEM_ROLE } from '../lib/config.ts'

// §13 consent and privacy (issue 20; decisions: docs/decisions.md "Consent and privacy").
//
// - leads.consent_revoked_at: when the recipient (or the CRM) withdrew e-mail consent.
// - email_outbox.unsubscribe_token becomes text: 256 random bits, base64url (models/email-outbox.ts);
//   a mail that will not be sent any more is CANCELLED.
// - CONSENT_REVOKED, ERASED and PSEUDONYMIZED activities; the lists keep every value of V0002, V0005,
//   V0011 (§10) and V0013 (MERGED, UNMERGED included); a later redefinition must keep these too. PSEUDONYMIZED joins the history actions.
// - Three SECURITY DEFINER functions with a fixed search_path, executable by the application role only:
//   unsubscribe_target(token): the tenant, territory and lead of a mail's token, nothing else. The
//     unsubscribe request has no login, so the web cannot read the outbox itself (SYSTEM only).
//   cancel_queued_mails(lead): QUEUED → CANCELLED for the mails of a lead of the caller's tenant and
//     territories, and only once the lead has no consent (the write path revoked it first).
//   erase_lead_traces(lead, action, reason, email_sha256): after the write path has erased (or
//     pseudonymized) the lead row, removes every value the lead's personal fields ever had (read from
//     the lead's own history) from the places the application role cannot write: the lead's history,
//     activities, events, mails, merges, stored idempotent responses and pg-boss jobs. It refuses
//     unless the lead row is already erased/pseudonymized, is of the caller's tenant and territories,
//     and the caller is MANAGER/ADMIN (erase) or a real member of SYSTEM_ROLE (pseudonymization).
export const config = { transaction: true }

const HISTORY_ACTIONS = ['CREATED', 'UPDATED', 'STATUS_CHANGED', 'DELETED', 'MERGED', 'UNMERGED', 'ERASED', 'PSEUDONYMIZED']
const ACTIVITY_TYPES = [
  'QUALIFIED_CALL', 'MEETING', 'DEMO', 'ROI_PRESENTATION', 'SAMPLE_SENT', 'EMAIL', 'CALL', 'ORDER', 'NOTE', 'FOLLOW_UP',
  'SAMPLE_FEEDBACK', 'FIRST_CONTACT_DOCUMENTED', 'CREATED', 'STATUS_CHANGE', 'ASSIGNED', 'FOLLOW_UP_T3', 'FOLLOW_UP_T7',
  'REMINDER_SENT', 'DELETED', 'MERGED', 'UNMERGED',
  // §10 (V0011), kept
  'GRACE_PERIOD_STARTED', 'PROTECTION_EXPIRED', 'CLOCK_STOP_REQUESTED', 'CLOCK_STOPPED', 'CLOCK_RESUMED', 'REGISTERED_AT_CHANGED',
  // §13
  'CONSENT_REVOKED', 'ERASED', 'PSEUDONYMIZED',
]
const EVENT_TYPES = [
  'freshplan.lead.created', 'freshplan.lead.updated', 'freshplan.lead.status_changed', 'freshplan.lead.deleted',
  'freshplan.lead.activity_added', 'freshplan.lead.followup_sent', 'freshplan.lead.duplicate_detected',
  'freshplan.lead.merged', 'freshplan.lead.unmerged', 'freshplan.lead.consent_revoked', 'freshplan.lead.erased',
  // §10 (V0011), kept
  'freshplan.lead.clock_stopped', 'freshplan.lead.clock_resumed',
]
const OUTBOX_STATUSES = ['QUEUED', 'SENT', 'FAILED', 'CANCELLED']
/** Personal columns whose every past value erasure removes; pseudonymization these first five. */
const PSEUDONYMIZED_COLUMNS = ['contact_name', 'email', 'phone', 'email_normalized', 'phone_e164']
const ERASED_COLUMNS = [...PSEUDONYMIZED_COLUMNS, 'street', 'notes', 'company_name', 'name_normalized', 'match_name', 'match_email_domain']

const inList = (values: string[]) => values.map((v) => `'${v}'`).join(', ')
const textArray = (values: string[]) => `array[${inList(values)}]::text[]`

export async function up(knex: Knex): Promise<void> {
  const app = appRoleName()
  const { rows } = await knex.raw<{ rows: { me: string }[] }>('select current_user as me')
  if (rows[0]!.me === app) throw new Error('V0014 must run as the migration owner, not as the application role')
  await knex.raw(`
    alter table leads add column consent_revoked_at timestamptz;

    alter table email_outbox alter column unsubscribe_token type text using unsubscribe_token::text;
    alter table email_outbox add constraint email_outbox_unsubscribe_token_length check (char_length(unsubscribe_token) between 32 and 64);
    alter table email_outbox drop constraint email_outbox_status_check;
    alter table email_outbox add constraint email_outbox_status_check check (status in (${inList(OUTBOX_STATUSES)}));

    alter table lead_activities drop constraint lead_activities_type_check;
    alter table lead_activities add constraint lead_activities_type_check check (type in (${inList(ACTIVITY_TYPES)})) not valid;
    alter table lead_events drop constraint lead_events_type_check;
    alter table lead_events add constraint lead_events_type_check check (type in (${inList(EVENT_TYPES)})) not valid;
    alter table lead_history drop constraint lead_history_action_check;
    alter table lead_history add constraint lead_history_action_check check (action in (${inList(HISTORY_ACTIONS)}));

    -- The history trigger (V0013) takes PSEUDONYMIZED as an action hint too.
    do $do$
    declare
      def text := pg_get_functiondef('lead_history_record()'::regprocedure);
      old_list text := $q$hint in ('MERGED', 'UNMERGED', 'ERASED')$q$;
    begin
      if position(old_list in def) = 0 then
        raise exception 'lead_history_record() does not have the hint list of V0013';
      end if;
      execute replace(def, old_list, $q$hint in ('MERGED', 'UNMERGED', 'ERASED', 'PSEUDONYMIZED')$q$);
    end $do$;

    -- A collaborator (SALES, not the owner) may withdraw consent too (§13: "the lead's users"), but
    -- never give it: leads_guard (V0008, as V0011 left it) lets email_consent true → false and
    -- consent_revoked_at pass. Patched in place so V0011's bookkeeping list stays as it is.
    do $do$
    declare
      def text := pg_get_functiondef('leads_guard()'::regprocedure);
      list_start text := $q$array['last_activity_at', $q$;
      status_rule text := $q$or (new.status <> old.status and not$q$;
    begin
      if position(list_start in def) = 0 or position(status_rule in def) = 0 then
        raise exception 'leads_guard() does not have the collaborator rule of V0008/V0011';
      end if;
      def := replace(def, list_start, $q$array['email_consent', 'consent_revoked_at', 'last_activity_at', $q$);
      def := replace(def, status_rule, $q$or (new.email_consent and not old.email_consent)
          or (new.consent_revoked_at is distinct from old.consent_revoked_at and new.email_consent)
          $q$ || status_rule);
      execute def;
    end $do$;

    -- A published event stays numbered once; its data may still be scrubbed by erase_lead_traces
    -- (the application role has no UPDATE on data: V0005's column grants).
    create or replace function lead_events_publish_once() returns trigger language plpgsql as $$
    begin
      if old.seq is not null and to_jsonb(new) - array['data', 'data_bytes'] <> to_jsonb(old) - array['data', 'data_bytes'] then
        raise exception 'event % is already published as seq %', old.id, old.seq using errcode = 'check_violation';
      end if;
      return new;
    end $$;

    -- The definer functions below run as this role; when it is not a superuser, FORCEd policies apply to it.
    create policy email_outbox_owner on email_outbox for all to current_user using (true) with check (true);
    create policy lead_history_owner_update on lead_history for update to current_user using (true) with check (true);
    create policy lead_activities_owner on lead_activities for update to current_user using (true) with check (true);
    create policy lead_events_owner on lead_events for update to current_user using (true) with check (true);
    create policy merges_owner on merges for update to current_user using (true) with check (true);
    create policy idempotency_keys_owner_update on idempotency_keys for update to current_user using (true) with check (true);
    create policy reviews_owner_update on reviews for update to current_user using (true) with check (true);

    create function unsubscribe_target(token text) returns table (tenant_id text, territory text, lead_id uuid)
      language sql stable security definer set search_path = pg_catalog, pg_temp as $$
      select o.tenant_id, o.territory, o.lead_id from public.email_outbox o where o.unsubscribe_token = token
    $$;

    create function cancel_queued_mails(p_lead uuid) returns setof uuid
      language sql security definer set search_path = pg_catalog, pg_temp as $$
      update public.email_outbox o set status = 'CANCELLED', updated_at = now()
       where o.lead_id = p_lead and o.status = 'QUEUED'
         and o.tenant_id = current_setting('app.tenant_id', true)
         and o.territory = any (string_to_array(current_setting('app.territories', true), ','))
         and exists (select 1 from public.leads l where l.id = p_lead and l.tenant_id = o.tenant_id and not l.email_consent)
      returning o.id
    $$;

    -- Replaces every occurrence of the given values inside JSON text, as JSON escapes them.
    create function scrub_json_text(t text, vals text[]) returns text
      language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
    declare
      v text;
      escaped text;
    begin
      if t is null then return null; end if;
      foreach v in array vals loop
        escaped := to_jsonb(v)::text;
        escaped := substr(escaped, 2, length(escaped) - 2);
        t := replace(t, escaped, '[erased]');
      end loop;
      return t;
    end $$;

    create function scrub_json(doc jsonb, vals text[]) returns jsonb
      language sql immutable set search_path = pg_catalog, pg_temp as $$
      select public.scrub_json_text(doc::text, vals)::jsonb
    $$;

    create function scrub_text(t text, vals text[]) returns text
      language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
    declare
      v text;
    begin
      if t is null then return null; end if;
      foreach v in array vals loop
        t := replace(t, v, '[erased]');
      end loop;
      return t;
    end $$;

    create function erase_lead_traces(p_lead uuid, p_action text, p_reason text, p_email_sha256 text) returns integer
      language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
    declare
      lead record;
      cols text[];
      vals text[];
      mail_ids uuid[];
    begin
      select l.* into lead from public.leads l where l.id = p_lead;
      if not found or lead.tenant_id <> current_setting('app.tenant_id', true)
         or not (lead.territory = any (string_to_array(current_setting('app.territories', true), ','))) then
        raise exception 'no lead %', p_lead using errcode = 'no_data_found';
      end if;
      if p_action = 'ERASED' then
        if current_setting('app.role', true) not in ('MANAGER', 'ADMIN') then
          raise exception 'only managers and admins erase leads' using errcode = 'insufficient_privilege';
        end if;
        if lead.company_name <> 'GELÖSCHT-' || lead.id::text or lead.email is not null or lead.contact_name is not null
           or lead.phone is not null or lead.street is not null or lead.notes is not null then
          raise exception 'lead % is not erased', p_lead using errcode = 'check_violation';
        end if;
        cols := ${textArray(ERASED_COLUMNS)};
      elsif p_action = 'PSEUDONYMIZED' then
        if current_setting('app.role', true) <> 'SYSTEM' or not pg_has_role(session_user, '${SYSTEM_ROLE}', 'MEMBER') then
          raise exception 'only the system pseudonymizes leads' using errcode = 'insufficient_privilege';
        end if;
        if lead.contact_name is not null or lead.phone is not null or lead.email_normalized is not null
           or lead.email is distinct from p_email_sha256 then
          raise exception 'lead % is not pseudonymized', p_lead using errcode = 'check_violation';
        end if;
        cols := ${textArray(PSEUDONYMIZED_COLUMNS)};
      else
        raise exception 'unknown action %', p_action using errcode = 'invalid_parameter_value';
      end if;

      -- Every value these columns ever had, from the lead's history (initial values and each from/to).
      select coalesce(array_agg(distinct v order by v), '{}') into vals from (
        select h.changes ->> c as v from public.lead_history h, unnest(cols) c where h.lead_id = p_lead and h.action = 'CREATED'
        union all
        select h.changes -> c ->> side from public.lead_history h, unnest(cols) c, unnest(array['from', 'to']) side
         where h.lead_id = p_lead and h.action <> 'CREATED' and jsonb_typeof(h.changes -> c) = 'object'
      ) s where v is not null and char_length(v) >= 3 and v <> 'GELÖSCHT-' || p_lead::text and v is distinct from p_email_sha256;
      -- Longest first: an address is replaced before the name inside it.
      select coalesce(array_agg(v order by char_length(v) desc), '{}') into vals from unnest(vals) v;

      update public.lead_history h set changes = public.scrub_json(h.changes - cols, vals) where h.lead_id = p_lead and h.action not in ('ERASED', 'PSEUDONYMIZED');
      update public.lead_history h set changes = jsonb_build_object('reason', jsonb_build_object('from', null, 'to', p_reason),
             'emailSha256', jsonb_build_object('from', null, 'to', p_email_sha256), 'erasedFields', jsonb_build_object('from', null, 'to', to_jsonb(cols)))
       where h.lead_id = p_lead and h.action = p_action and h.at = now();
      update public.lead_activities a set summary = public.scrub_text(a.summary, vals), metadata = public.scrub_json(a.metadata, vals) where a.lead_id = p_lead;
      update public.lead_events e set data = public.scrub_json(e.data, vals) where e.lead_id = p_lead;
      select coalesce(array_agg(o.id), '{}') into mail_ids from public.email_outbox o where o.lead_id = p_lead;
      update public.email_outbox o set recipient = 'erased@invalid', subject = public.scrub_text(o.subject, vals),
             text_body = public.scrub_text(o.text_body, vals), html_body = public.scrub_text(o.html_body, vals),
             last_error = public.scrub_text(o.last_error, vals), updated_at = now()
       where o.lead_id = p_lead;
      update public.merges m set before_images = public.scrub_json(m.before_images, vals), survivor_after = public.scrub_json(m.survivor_after, vals),
             field_sources = public.scrub_json(m.field_sources, vals)
       where m.survivor_id = p_lead or p_lead = any (m.merged_ids);
      -- Stored responses are the bytes that were sent (V0010): JSON text in UTF-8.
      update public.idempotency_keys k set body = convert_to(public.scrub_json_text(convert_from(k.body, 'UTF8'), vals), 'UTF8')
       where position(convert_to(p_lead::text, 'UTF8') in k.body) > 0;
      -- §11 reviews: the lead's own, and those of other leads that list it as a candidate.
      update public.reviews r set candidates = public.scrub_json(r.candidates, vals)
       where r.lead_id = p_lead or r.candidates::text like '%' || p_lead::text || '%';
      update pgboss.job j set data = public.scrub_json(j.data, vals), output = public.scrub_json(j.output, vals)
       where j.data ->> 'leadId' = p_lead::text or j.data ->> 'outboxId' = any (mail_ids::text[]);
      return coalesce(array_length(vals, 1), 0);
    end $$;

    revoke execute on function unsubscribe_target(text), cancel_queued_mails(uuid), erase_lead_traces(uuid, text, text, text), scrub_json(jsonb, text[]), scrub_json_text(text, text[]), scrub_text(text, text[]) from public;
    grant execute on function unsubscribe_target(text), cancel_queued_mails(uuid), erase_lead_traces(uuid, text, text, text) to ${app};
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop function erase_lead_traces(uuid, text, text, text), cancel_queued_mails(uuid), unsubscribe_target(text), scrub_json(jsonb, text[]), scrub_json_text(text, text[]), scrub_text(text, text[]);
    drop policy email_outbox_owner on email_outbox;
    drop policy lead_history_owner_update on lead_history;
    drop policy lead_activities_owner on lead_activities;
    drop policy lead_events_owner on lead_events;
    drop policy merges_owner on merges;
    drop policy idempotency_keys_owner_update on idempotency_keys;
    drop policy reviews_owner_update on reviews;
    alter table email_outbox drop constraint email_outbox_unsubscribe_token_length;
    create or replace function lead_events_publish_once() returns trigger language plpgsql as $$
    begin
      if old.seq is not null then
        raise exception 'event % is already published as seq %', old.id, old.seq using errcode = 'check_violation';
      end if;
      return new;
    end $$;
    alter table leads drop column consent_revoked_at;
  `)
}
