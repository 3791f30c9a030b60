import type { Knex } from 'knex'
import { appRoleName } from '../lib/config.ts'

// §6 follow-up e-mail: the outbox that the `email.send` job delivers from, and the templates it
// renders from (German for DE and CH, each with its territory footer and unsubscribe link).
//
// Row-level security as on leads (FORCEd, tenant and territory from app_*()). The outbox holds
// personal data, so only MANAGER, ADMIN and SYSTEM may read it, and only SYSTEM (the jobs) may
// write it. The rendered mail is immutable once queued: the application role may update only the
// delivery columns, and may not delete rows, so the outbox is also the record of what was sent.
// Templates are read-only for the application role; a tenant's own template wins over the
// 'default' tenant's, which every tenant may read.
//
// The daily follow-up sweep must find due follow-ups of every tenant, and a job only ever acts
// inside one tenant's context. So a SYSTEM context whose tenant is '*' may *read* leads of all
// tenants (an additional permissive SELECT policy; updates stay bound to one tenant). Nothing
// but server code can set role SYSTEM: it is not a token role.

const TEMPLATE_KEY = `'^[A-Z][A-Z0-9_]{0,63}$'`

interface TemplateSeed {
  territory: 'DE' | 'CH'
  key: 'SAMPLE_REQUEST' | 'FOLLOW_UP' | 'FOOTER'
  locale: string
  subject: string | null
  text: string
  html: string
}

// Variables: companyName, contactName, starterBox, businessExtra, seasonalExtra (may be empty),
// discountPercent, minimumOrder (formatted in the territory's currency), vatRate, unsubscribeUrl.
// `{{#name}}…{{/name}}` renders only when the variable has a value. CH wording is de-CH: no ß.
// Addresses and register numbers are placeholders for the operator to replace with the company's.
const TEMPLATES: TemplateSeed[] = [
  {
    territory: 'DE',
    key: 'SAMPLE_REQUEST',
    locale: 'de-DE',
    subject: 'Ihre kostenlose {{starterBox}} für {{companyName}}',
    text: `Guten Tag{{#contactName}} {{contactName}}{{/contactName}},

vielen Dank für Ihr Interesse an FreshFoodz. Wir möchten Sie von unserer Küche überzeugen und senden {{companyName}} gerne kostenlos unsere {{starterBox}}.

Passend zu Ihrem Betrieb legen wir dazu: {{businessExtra}}.
{{#seasonalExtra}}Zur Saison obendrauf: {{seasonalExtra}}.
{{/seasonalExtra}}
Antworten Sie einfach auf diese E-Mail mit Ihrer Lieferadresse und einem Wunschtermin – wir kümmern uns um den Rest.

Mit freundlichen Grüßen
Ihr FreshFoodz-Team
`,
    html: `<p>Guten Tag{{#contactName}} {{contactName}}{{/contactName}},</p>
<p>vielen Dank für Ihr Interesse an FreshFoodz. Wir möchten Sie von unserer Küche überzeugen und senden {{companyName}} gerne kostenlos unsere <strong>{{starterBox}}</strong>.</p>
<ul>
<li>Passend zu Ihrem Betrieb: {{businessExtra}}</li>
{{#seasonalExtra}}<li>Zur Saison obendrauf: {{seasonalExtra}}</li>
{{/seasonalExtra}}</ul>
<p>Antworten Sie einfach auf diese E-Mail mit Ihrer Lieferadresse und einem Wunschtermin – wir kümmern uns um den Rest.</p>
<p>Mit freundlichen Grüßen<br>Ihr FreshFoodz-Team</p>
`,
  },
  {
    territory: 'CH',
    key: 'SAMPLE_REQUEST',
    locale: 'de-CH',
    subject: 'Ihre kostenlose {{starterBox}} für {{companyName}}',
    text: `Guten Tag{{#contactName}} {{contactName}}{{/contactName}},

besten Dank für Ihr Interesse an FreshFoodz. Gerne überzeugen wir Sie von unserer Küche und senden {{companyName}} kostenlos unsere {{starterBox}}.

Passend zu Ihrem Betrieb legen wir bei: {{businessExtra}}.
{{#seasonalExtra}}Zur Saison obendrauf: {{seasonalExtra}}.
{{/seasonalExtra}}
Antworten Sie einfach auf diese E-Mail mit Ihrer Lieferadresse und einem Wunschtermin – wir kümmern uns um den Rest.

Freundliche Grüsse
Ihr FreshFoodz-Team
`,
    html: `<p>Guten Tag{{#contactName}} {{contactName}}{{/contactName}},</p>
<p>besten Dank für Ihr Interesse an FreshFoodz. Gerne überzeugen wir Sie von unserer Küche und senden {{companyName}} kostenlos unsere <strong>{{starterBox}}</strong>.</p>
<ul>
<li>Passend zu Ihrem Betrieb: {{businessExtra}}</li>
{{#seasonalExtra}}<li>Zur Saison obendrauf: {{seasonalExtra}}</li>
{{/seasonalExtra}}</ul>
<p>Antworten Sie einfach auf diese E-Mail mit Ihrer Lieferadresse und einem Wunschtermin – wir kümmern uns um den Rest.</p>
<p>Freundliche Grüsse<br>Ihr FreshFoodz-Team</p>
`,
  },
  {
    territory: 'DE',
    key: 'FOLLOW_UP',
    locale: 'de-DE',
    subject: '{{discountPercent}} % Rabatt auf die erste Großbestellung von {{companyName}}',
    text: `Guten Tag{{#contactName}} {{contactName}}{{/contactName}},

vor einer Woche haben Sie FreshFoodz kennengelernt. Für den Einstieg haben wir ein Angebot für {{companyName}}: {{discountPercent}} % Rabatt auf Ihre erste Großbestellung ab einem Bestellwert von {{minimumOrder}}.

Ihr persönlicher Ansprechpartner stellt Ihnen gerne das passende Sortiment für Ihren Betrieb zusammen. Antworten Sie einfach auf diese E-Mail.

Mit freundlichen Grüßen
Ihr FreshFoodz-Team
`,
    html: `<p>Guten Tag{{#contactName}} {{contactName}}{{/contactName}},</p>
<p>vor einer Woche haben Sie FreshFoodz kennengelernt. Für den Einstieg haben wir ein Angebot für {{companyName}}: <strong>{{discountPercent}} % Rabatt</strong> auf Ihre erste Großbestellung ab einem Bestellwert von <strong>{{minimumOrder}}</strong>.</p>
<p>Ihr persönlicher Ansprechpartner stellt Ihnen gerne das passende Sortiment für Ihren Betrieb zusammen. Antworten Sie einfach auf diese E-Mail.</p>
<p>Mit freundlichen Grüßen<br>Ihr FreshFoodz-Team</p>
`,
  },
  {
    territory: 'CH',
    key: 'FOLLOW_UP',
    locale: 'de-CH',
    subject: '{{discountPercent}} % Rabatt auf die erste Grossbestellung von {{companyName}}',
    text: `Guten Tag{{#contactName}} {{contactName}}{{/contactName}},

vor einer Woche haben Sie FreshFoodz kennengelernt. Für den Einstieg haben wir eine Offerte für {{companyName}}: {{discountPercent}} % Rabatt auf Ihre erste Grossbestellung ab einem Bestellwert von {{minimumOrder}}.

Ihre persönliche Ansprechperson stellt Ihnen gerne das passende Sortiment für Ihren Betrieb zusammen. Antworten Sie einfach auf diese E-Mail.

Freundliche Grüsse
Ihr FreshFoodz-Team
`,
    html: `<p>Guten Tag{{#contactName}} {{contactName}}{{/contactName}},</p>
<p>vor einer Woche haben Sie FreshFoodz kennengelernt. Für den Einstieg haben wir eine Offerte für {{companyName}}: <strong>{{discountPercent}} % Rabatt</strong> auf Ihre erste Grossbestellung ab einem Bestellwert von <strong>{{minimumOrder}}</strong>.</p>
<p>Ihre persönliche Ansprechperson stellt Ihnen gerne das passende Sortiment für Ihren Betrieb zusammen. Antworten Sie einfach auf diese E-Mail.</p>
<p>Freundliche Grüsse<br>Ihr FreshFoodz-Team</p>
`,
  },
  {
    territory: 'DE',
    key: 'FOOTER',
    locale: 'de-DE',
    subject: null,
    text: `
--
FreshFoodz GmbH · Musterstraße 1 · 10115 Berlin · Deutschland
Amtsgericht Berlin-Charlottenburg HRB 000000 · USt-IdNr. DE000000000
Alle Preise zzgl. {{vatRate}} % MwSt.
Sie erhalten diese E-Mail, weil Sie dem Empfang zugestimmt haben. Abmelden: {{unsubscribeUrl}}
`,
    html: `<hr>
<p style="font-size:12px;color:#666">FreshFoodz GmbH · Musterstraße 1 · 10115 Berlin · Deutschland<br>
Amtsgericht Berlin-Charlottenburg HRB 000000 · USt-IdNr. DE000000000<br>
Alle Preise zzgl. {{vatRate}} % MwSt.<br>
Sie erhalten diese E-Mail, weil Sie dem Empfang zugestimmt haben. <a href="{{unsubscribeUrl}}">Abmelden</a></p>
`,
  },
  {
    territory: 'CH',
    key: 'FOOTER',
    locale: 'de-CH',
    subject: null,
    text: `
--
FreshFoodz Schweiz AG · Musterstrasse 1 · 8001 Zürich · Schweiz
UID CHE-000.000.000 MWST
Alle Preise exkl. {{vatRate}} % MWST.
Sie erhalten diese E-Mail, weil Sie dem Empfang zugestimmt haben. Abmelden: {{unsubscribeUrl}}
`,
    html: `<hr>
<p style="font-size:12px;color:#666">FreshFoodz Schweiz AG · Musterstrasse 1 · 8001 Zürich · Schweiz<br>
UID CHE-000.000.000 MWST<br>
Alle Preise exkl. {{vatRate}} % MWST.<br>
Sie erhalten diese E-Mail, weil Sie dem Empfang zugestimmt haben. <a href="{{unsubscribeUrl}}">Abmelden</a></p>
`,
  },
]

export async function up(knex: Knex): Promise<void> {
  const role = appRoleName()
  await knex.raw(`
    create table email_templates (
      tenant_id text not null default 'default' check (char_length(tenant_id) between 1 and 64),
      territory text not null references territories (code),
      template_key text not null check (template_key ~ ${TEMPLATE_KEY}),
      locale text not null,
      -- FOOTER is a fragment appended to every mail of its territory; only whole mails have a subject.
      subject text check (char_length(subject) <= 998),
      text_body text not null,
      html_body text not null,
      updated_at timestamptz not null default now(),
      primary key (tenant_id, territory, template_key),
      constraint email_templates_subject check ((subject is null) = (template_key = 'FOOTER'))
    );

    create table email_outbox (
      id uuid primary key default gen_random_uuid(),
      tenant_id text not null default 'default' check (char_length(tenant_id) between 1 and 64),
      lead_id uuid not null references leads (id),
      territory text not null references territories (code),
      template_key text not null check (template_key ~ ${TEMPLATE_KEY}),
      -- What this mail is, once: 'follow-up:<leadId>:T3'. A second insert for it is a no-op.
      dedupe_key text not null check (char_length(dedupe_key) between 1 and 255),
      recipient text not null check (char_length(recipient) between 3 and 320),
      subject text not null,
      text_body text not null,
      html_body text not null,
      headers jsonb not null default '{}',
      -- The unsubscribe link carries this random token, not the lead id.
      unsubscribe_token uuid not null unique,
      status text not null default 'QUEUED' check (status in ('QUEUED', 'SENT', 'FAILED')),
      attempts integer not null default 0 check (attempts >= 0),
      last_error text check (char_length(last_error) <= 2000),
      message_id text,
      sent_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint email_outbox_dedupe unique (tenant_id, dedupe_key),
      constraint email_outbox_sent check ((status = 'SENT') = (sent_at is not null))
    );
    create index email_outbox_lead_idx on email_outbox (lead_id, created_at);
    -- What operators look at: mails not delivered yet.
    create index email_outbox_queued_idx on email_outbox (created_at) where status = 'QUEUED';

    -- The sweep's candidates: leads with a follow-up still open (most leads have both sent after a week).
    create index leads_follow_up_open_idx on leads (registered_at, id) where t3_sent_at is null or t7_sent_at is null;

    alter table email_templates enable row level security;
    alter table email_templates force row level security;
    create policy email_templates_select on email_templates for select using (
      tenant_id in (app_tenant(), 'default') and territory = any (app_territories())
    );

    alter table email_outbox enable row level security;
    alter table email_outbox force row level security;
    create policy email_outbox_select on email_outbox for select using (
      tenant_id = app_tenant() and territory = any (app_territories()) and app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
    );
    create policy email_outbox_insert on email_outbox for insert with check (
      tenant_id = app_tenant() and territory = any (app_territories()) and app_role() = 'SYSTEM'
    );
    create policy email_outbox_update on email_outbox for update using (
      tenant_id = app_tenant() and territory = any (app_territories()) and app_role() = 'SYSTEM'
    ) with check (
      tenant_id = app_tenant() and territory = any (app_territories()) and app_role() = 'SYSTEM'
    );

    create policy leads_select_all_tenants_for_system on leads for select using (
      app_role() = 'SYSTEM' and app_tenant() = '*' and territory = any (app_territories())
    );

    revoke insert, update, delete on email_templates from ${role};
    revoke update, delete on email_outbox from ${role};
    grant update (status, attempts, last_error, message_id, sent_at, updated_at) on email_outbox to ${role};
  `)
  await knex('email_templates').insert(
    TEMPLATES.map((t) => ({ tenant_id: 'default', territory: t.territory, template_key: t.key, locale: t.locale, subject: t.subject, text_body: t.text, html_body: t.html })),
  )
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop policy leads_select_all_tenants_for_system on leads;
    drop index leads_follow_up_open_idx;
    drop table email_outbox;
    drop table email_templates;
  `)
}
