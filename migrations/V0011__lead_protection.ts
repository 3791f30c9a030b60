import type { Knex } from 'knex'
import { createIndexConcurrently } from '../lib/migrate.ts'
import { appRoleName } from '../lib/config.ts'

// §10 lead protection: the dates of each lead's claim, the stop-the-clock state, the tenant's
// settings, who gets the protection mails, their templates, and the new system activities.
//
// The dates are computed in the application (models/protection-rules.ts: calendar months in the
// territory's zone) and stored, so the lead resource shows them and the daily sweep finds due leads
// through one index. Existing leads get them from the first sweep: the columns stay NULL here (adding
// nullable columns rewrites nothing on a large table), and the sweep treats a protected lead without
// `protection_next_at` as one whose job is missing.
//
// Mail addresses: the system knows users only by their token's `sub`. The owner's REMINDER mail goes
// to the address in `user_mail_addresses` (tenant, user id); the EXPIRED mail to the addresses that
// `lead_protection_settings.manager_emails` lists for the lead's territory ({"DE": ["…"], "CH": […]}).
// Both are maintained by the tenant's ADMIN (SQL or a later settings API). A missing address is
// recorded on the activity, never an error.
//
// Template keys become case-insensitive: §10 names the templates `lead_progress_warning` and
// `lead_protection_expired`.
export const config = { transaction: false }

const ACTIVITY_TYPES = [
  'QUALIFIED_CALL', 'MEETING', 'DEMO', 'ROI_PRESENTATION', 'SAMPLE_SENT', 'EMAIL', 'CALL', 'ORDER', 'NOTE', 'FOLLOW_UP',
  'SAMPLE_FEEDBACK', 'FIRST_CONTACT_DOCUMENTED', 'CREATED', 'STATUS_CHANGE', 'ASSIGNED', 'FOLLOW_UP_T3', 'FOLLOW_UP_T7',
  'REMINDER_SENT', 'DELETED',
  // §10
  'GRACE_PERIOD_STARTED', 'PROTECTION_EXPIRED', 'CLOCK_STOP_REQUESTED', 'CLOCK_STOPPED', 'CLOCK_RESUMED', 'REGISTERED_AT_CHANGED',
]
// Every event type of §7, those of §10–§14 included (so later features need not touch this constraint again).
const EVENT_TYPES = [
  'freshplan.lead.created', 'freshplan.lead.updated', 'freshplan.lead.status_changed', 'freshplan.lead.deleted',
  'freshplan.lead.activity_added', 'freshplan.lead.followup_sent', 'freshplan.lead.duplicate_detected',
  'freshplan.lead.merged', 'freshplan.lead.unmerged', 'freshplan.lead.erased', 'freshplan.lead.consent_revoked',
  'freshplan.lead.clock_stopped', 'freshplan.lead.clock_resumed',
]
/** What a SALES collaborator's activity (or clock stop request) may change on a lead it does not own. */
const COLLABORATOR_BOOKKEEPING = [
  'last_activity_at', 'version', 'updated_at', 'status',
  'protection_start_at', 'protection_until', 'progress_deadline', 'last_progress_at', 'progress_paused_seconds',
  'protection_next_kind', 'protection_next_at', 'clock_stop_status', 'stop_reason', 'clock_stop_requested_by', 'clock_stop_requested_at',
]
const PROTECTED_STATUSES = ['REGISTERED', 'ACTIVE', 'REMINDER', 'GRACE_PERIOD']
const inList = (values: string[]) => values.map((v) => `'${v}'`).join(', ')

interface TemplateSeed {
  territory: 'DE' | 'CH'
  key: 'lead_progress_warning' | 'lead_protection_expired'
  locale: string
  subject: string
  text: string
  html: string
}

// Internal mails to the company's own staff: no customer footer, no unsubscribe (see models/protection-mail.ts).
// Variables: companyName, leadId, leadUrl, ownerUserId, progressDeadline, graceEndsAt, protectionUntil (formatted
// in the territory's locale and zone), warningDays, graceDays, cause (text).
const TEMPLATES: TemplateSeed[] = [
  {
    territory: 'DE', key: 'lead_progress_warning', locale: 'de-DE',
    subject: 'Lead-Schutz läuft ab: {{companyName}} braucht bis {{progressDeadline}} einen Fortschritt',
    text: `Hallo,

für Ihren Lead {{companyName}} wurde seit längerer Zeit kein Fortschritt dokumentiert (Anruf mit Qualifizierung, Termin, Demo, ROI-Präsentation oder Muster).

Fortschritts-Frist: {{progressDeadline}}
Danach beginnt eine Nachfrist von {{graceDays}} Tagen; ohne Fortschritt endet der Lead-Schutz am {{graceEndsAt}} und der Lead wird freigegeben.
Der Lead-Schutz endet spätestens am {{protectionUntil}}, wenn der Lead bis dahin nicht qualifiziert ist.

Lead öffnen: {{leadUrl}}

Ihr FreshPlan-System
`,
    html: `<p>Hallo,</p>
<p>für Ihren Lead <strong>{{companyName}}</strong> wurde seit längerer Zeit kein Fortschritt dokumentiert (Anruf mit Qualifizierung, Termin, Demo, ROI-Präsentation oder Muster).</p>
<ul>
<li>Fortschritts-Frist: <strong>{{progressDeadline}}</strong></li>
<li>Danach Nachfrist von {{graceDays}} Tagen; ohne Fortschritt endet der Lead-Schutz am {{graceEndsAt}} und der Lead wird freigegeben.</li>
<li>Der Lead-Schutz endet spätestens am {{protectionUntil}}, wenn der Lead bis dahin nicht qualifiziert ist.</li>
</ul>
<p><a href="{{leadUrl}}">Lead öffnen</a></p>
<p>Ihr FreshPlan-System</p>
`,
  },
  {
    territory: 'CH', key: 'lead_progress_warning', locale: 'de-CH',
    subject: 'Lead-Schutz läuft ab: {{companyName}} braucht bis {{progressDeadline}} einen Fortschritt',
    text: `Grüezi

Für Ihren Lead {{companyName}} wurde seit längerer Zeit kein Fortschritt erfasst (Anruf mit Qualifizierung, Termin, Demo, ROI-Präsentation oder Muster).

Fortschritts-Frist: {{progressDeadline}}
Danach beginnt eine Nachfrist von {{graceDays}} Tagen; ohne Fortschritt endet der Lead-Schutz am {{graceEndsAt}} und der Lead wird freigegeben.
Der Lead-Schutz endet spätestens am {{protectionUntil}}, wenn der Lead bis dahin nicht qualifiziert ist.

Lead öffnen: {{leadUrl}}

Ihr FreshPlan-System
`,
    html: `<p>Grüezi</p>
<p>Für Ihren Lead <strong>{{companyName}}</strong> wurde seit längerer Zeit kein Fortschritt erfasst (Anruf mit Qualifizierung, Termin, Demo, ROI-Präsentation oder Muster).</p>
<ul>
<li>Fortschritts-Frist: <strong>{{progressDeadline}}</strong></li>
<li>Danach Nachfrist von {{graceDays}} Tagen; ohne Fortschritt endet der Lead-Schutz am {{graceEndsAt}} und der Lead wird freigegeben.</li>
<li>Der Lead-Schutz endet spätestens am {{protectionUntil}}, wenn der Lead bis dahin nicht qualifiziert ist.</li>
</ul>
<p><a href="{{leadUrl}}">Lead öffnen</a></p>
<p>Ihr FreshPlan-System</p>
`,
  },
  {
    territory: 'DE', key: 'lead_protection_expired', locale: 'de-DE',
    subject: 'Lead freigegeben: {{companyName}}',
    text: `Hallo,

der Lead-Schutz für {{companyName}} ist abgelaufen ({{cause}}). Der Lead ist jetzt ohne Besitzer (bisher: {{ownerUserId}}) und kann neu zugewiesen werden.

Lead öffnen: {{leadUrl}}

Ihr FreshPlan-System
`,
    html: `<p>Hallo,</p>
<p>der Lead-Schutz für <strong>{{companyName}}</strong> ist abgelaufen ({{cause}}). Der Lead ist jetzt ohne Besitzer (bisher: {{ownerUserId}}) und kann neu zugewiesen werden.</p>
<p><a href="{{leadUrl}}">Lead öffnen</a></p>
<p>Ihr FreshPlan-System</p>
`,
  },
  {
    territory: 'CH', key: 'lead_protection_expired', locale: 'de-CH',
    subject: 'Lead freigegeben: {{companyName}}',
    text: `Grüezi

Der Lead-Schutz für {{companyName}} ist abgelaufen ({{cause}}). Der Lead hat jetzt keinen Besitzer mehr (bisher: {{ownerUserId}}) und kann neu zugeteilt werden.

Lead öffnen: {{leadUrl}}

Ihr FreshPlan-System
`,
    html: `<p>Grüezi</p>
<p>Der Lead-Schutz für <strong>{{companyName}}</strong> ist abgelaufen ({{cause}}). Der Lead hat jetzt keinen Besitzer mehr (bisher: {{ownerUserId}}) und kann neu zugeteilt werden.</p>
<p><a href="{{leadUrl}}">Lead öffnen</a></p>
<p>Ihr FreshPlan-System</p>
`,
  },
]

export async function up(knex: Knex): Promise<void> {
  const role = appRoleName()
  await knex.raw(`
    alter table leads
      add column protection_start_at timestamptz,
      add column protection_until timestamptz,
      add column progress_deadline timestamptz,
      add column last_progress_at timestamptz,
      add column paused_seconds integer not null default 0 check (paused_seconds >= 0),
      add column progress_paused_seconds integer not null default 0 check (progress_paused_seconds >= 0),
      add column clock_stop_status text check (clock_stop_status in ('REQUESTED', 'STOPPED')),
      add column clock_stopped_at timestamptz,
      add column stop_reason text check (char_length(stop_reason) between 10 and 500),
      add column clock_stop_requested_by text check (char_length(clock_stop_requested_by) <= 255),
      add column clock_stop_requested_at timestamptz,
      -- The next timed transition and when it is due (what the job was enqueued for; the sweep's index).
      add column protection_next_kind text check (protection_next_kind in ('REMINDER', 'GRACE_PERIOD', 'EXPIRED')),
      add column protection_next_at timestamptz,
      -- A lead released at expiry has no owner (§10).
      alter column owner_user_id drop not null,
      add constraint leads_clock_stopped check ((clock_stop_status = 'STOPPED') = (clock_stopped_at is not null)),
      add constraint leads_clock_reason check (clock_stop_status is null or stop_reason is not null);

    -- Events of an ownerless (expired) lead have no owner either.
    alter table lead_events alter column owner_user_id drop not null;
    alter table lead_events drop constraint lead_events_type_check;
    alter table lead_events add constraint lead_events_type_check check (type in (${inList(EVENT_TYPES)})) not valid;
    alter table lead_events validate constraint lead_events_type_check;

    alter table lead_activities drop constraint lead_activities_type_check;
    alter table lead_activities add constraint lead_activities_type_check check (type in (${inList(ACTIVITY_TYPES)})) not valid;
    alter table lead_activities validate constraint lead_activities_type_check;

    alter table email_templates drop constraint email_templates_template_key_check;
    alter table email_templates add constraint email_templates_template_key_check check (template_key ~ '^[A-Za-z][A-Za-z0-9_]{0,63}$');
    alter table email_outbox drop constraint email_outbox_template_key_check;
    alter table email_outbox add constraint email_outbox_template_key_check check (template_key ~ '^[A-Za-z][A-Za-z0-9_]{0,63}$') not valid;
    alter table email_outbox validate constraint email_outbox_template_key_check;

    -- SALES may request a stop of their own lead's clock; stopping, resuming and backdating are for
    -- MANAGER/ADMIN (and the system). Checked here as well as in the application.
    create function leads_protection_guard() returns trigger language plpgsql as $$
    begin
      if app_role() = 'SALES' and (
        new.registered_at <> old.registered_at or new.protection_start_at is distinct from old.protection_start_at
        or new.clock_stopped_at is distinct from old.clock_stopped_at or new.paused_seconds <> old.paused_seconds
        or new.clock_stop_status is not distinct from 'STOPPED' and old.clock_stop_status is distinct from 'STOPPED'
      ) then
        raise exception 'role % may not stop the clock or backdate a lead', app_role() using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$;
    create trigger leads_protection_guard before update on leads for each row execute function leads_protection_guard();

    -- V0008's guard with §10's bookkeeping: a SALES collaborator's progress activity moves the lead's
    -- protection dates and its next job, and a collaborator may request a clock stop; nothing else.
    create or replace function leads_guard() returns trigger language plpgsql as $$
    begin
      if new.id <> old.id or new.tenant_id <> old.tenant_id or new.created_at <> old.created_at or new.created_by <> old.created_by then
        raise exception 'lead identity columns are immutable' using errcode = 'check_violation';
      end if;
      if app_role() = 'SALES' then
        if new.deleted_at is distinct from old.deleted_at or new.owner_user_id is distinct from old.owner_user_id then
          raise exception 'role % may not delete or reassign leads', app_role() using errcode = 'insufficient_privilege';
        end if;
        if new.collaborator_user_ids <> old.collaborator_user_ids and old.owner_user_id is distinct from app_user() then
          raise exception 'only the owner may change collaborators' using errcode = 'insufficient_privilege';
        end if;
        if old.owner_user_id is distinct from app_user() and (
          to_jsonb(new) - array[${inList(COLLABORATOR_BOOKKEEPING)}] <> to_jsonb(old) - array[${inList(COLLABORATOR_BOOKKEEPING)}]
          or (new.status <> old.status and not (new.status = 'ACTIVE' and old.status in ('REGISTERED', 'REMINDER', 'GRACE_PERIOD')))
        ) then
          raise exception 'SALES may update own leads only; a collaborator adds activities' using errcode = 'insufficient_privilege';
        end if;
      end if;
      return new;
    end $$;

    create table lead_protection_settings (
      tenant_id text primary key check (char_length(tenant_id) between 1 and 64),
      protection_months integer not null default 6 check (protection_months between 1 and 60),
      progress_days integer not null default 60 check (progress_days between 1 and 365),
      grace_days integer not null default 10 check (grace_days between 0 and 90),
      warning_days integer not null default 7 check (warning_days between 0 and 90),
      -- {"DE": ["vertrieb-de@…"], "CH": […]}: who gets the lead_protection_expired mail per territory.
      manager_emails jsonb not null default '{}' check (jsonb_typeof(manager_emails) = 'object' and pg_column_size(manager_emails) <= 16384),
      updated_at timestamptz not null default now()
    );

    create table user_mail_addresses (
      tenant_id text not null check (char_length(tenant_id) between 1 and 64),
      user_id text not null check (char_length(user_id) between 1 and 255),
      email text not null check (char_length(email) between 3 and 320),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, user_id)
    );

    alter table lead_protection_settings enable row level security;
    alter table lead_protection_settings force row level security;
    create policy lead_protection_settings_select on lead_protection_settings for select using (tenant_id = app_tenant());
    create policy lead_protection_settings_insert on lead_protection_settings for insert with check (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));
    create policy lead_protection_settings_update on lead_protection_settings for update using (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));

    alter table user_mail_addresses enable row level security;
    alter table user_mail_addresses force row level security;
    create policy user_mail_addresses_select on user_mail_addresses for select using (tenant_id = app_tenant() and (app_role() in ('ADMIN', 'SYSTEM') or user_id = app_user()));
    create policy user_mail_addresses_insert on user_mail_addresses for insert with check (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));
    create policy user_mail_addresses_update on user_mail_addresses for update using (tenant_id = app_tenant() and app_role() in ('ADMIN', 'SYSTEM'));
    create policy user_mail_addresses_delete on user_mail_addresses for delete using (tenant_id = app_tenant() and app_role() = 'ADMIN');

    revoke delete on lead_protection_settings from ${role};
  `)
  await knex('email_templates').insert(
    TEMPLATES.map((t) => ({ tenant_id: 'default', territory: t.territory, template_key: t.key, locale: t.locale, subject: t.subject, text_body: t.text, html_body: t.html })),
  )
  // The sweep's candidates: protected leads with a running clock, by due time; NULL (never computed:
  // imported or older leads) sorts first.
  await createIndexConcurrently(knex, 'leads_protection_due_idx',
    `on leads ((coalesce(protection_next_at, '-infinity'::timestamptz)), id) where status in (${inList(PROTECTED_STATUSES)}) and clock_stopped_at is null`)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index concurrently if exists leads_protection_due_idx`)
  await knex.raw(`
    delete from email_templates where template_key in ('lead_progress_warning', 'lead_protection_expired');
    drop table user_mail_addresses;
    drop table lead_protection_settings;
    drop trigger leads_protection_guard on leads;
    drop function leads_protection_guard();
    alter table leads drop constraint leads_clock_reason, drop constraint leads_clock_stopped,
      alter column owner_user_id set not null,
      drop column protection_next_at, drop column protection_next_kind, drop column clock_stop_requested_at, drop column clock_stop_requested_by,
      drop column stop_reason, drop column clock_stopped_at, drop column clock_stop_status, drop column progress_paused_seconds,
      drop column paused_seconds, drop column last_progress_at, drop column progress_deadline, drop column protection_until, drop column protection_start_at;
  `)
}
