import type { Knex } from 'knex'
import { appRoleName } from '../lib/config.ts'

// The event outbox of DOMAIN.md §7: every lead change writes one row here in its own transaction;
// the publisher job (jobs/events.ts) later numbers it, NOTIFYs it and marks it published.
//
// Two orders live in this table, on purpose:
// - `record_no` is the order rows were written in. Transactions commit in a different order than
//   they draw numbers, so a reader that said "give me everything after record_no N" could skip a
//   row whose transaction committed late with a smaller number. It is only the publisher's work
//   order (and keeps one lead's events in order, see recordLeadEvent's per-lead lock).
// - `seq` is the delivery order that SSE ids, Last-Event-ID and `?after=` refer to. Only the
//   publisher assigns it, one publisher transaction at a time (an advisory lock), and assigning,
//   NOTIFYing and committing happen under that lock. So a reader's snapshot always holds a prefix
//   of the published seqs: no row can later appear with a seq below one already visible, and
//   "after N" never skips anything. Gaps in seq (a rolled-back publisher run) are harmless.
//
// Visibility mirrors the leads policies (V0002) with a snapshot of owner and collaborators taken
// when the event was written. The publisher, the dashboard listener and the retention job serve
// every tenant, so a SYSTEM context with the tenant marker '*' may read, publish and prune across
// tenants; no real tenant may be called '*'.

const TYPES = [
  'freshplan.lead.created', 'freshplan.lead.updated', 'freshplan.lead.status_changed', 'freshplan.lead.deleted',
  'freshplan.lead.activity_added', 'freshplan.lead.followup_sent', 'freshplan.lead.duplicate_detected',
]

export async function up(knex: Knex): Promise<void> {
  const role = appRoleName()
  await knex.raw(`
    create sequence lead_events_seq as bigint;

    create table lead_events (
      id uuid primary key,
      record_no bigint generated always as identity,
      seq bigint unique,
      tenant_id text not null check (char_length(tenant_id) between 1 and 64 and tenant_id <> '*'),
      territory text not null references territories (code),
      lead_id uuid not null,
      owner_user_id text not null,
      collaborator_user_ids text[] not null default '{}',
      type text not null check (type in (${TYPES.map((t) => `'${t}'`).join(', ')})),
      idempotency_key uuid not null unique,
      time timestamptz not null,
      data jsonb not null,
      published_at timestamptz,
      constraint lead_events_published check ((seq is null) = (published_at is null))
    );
    -- The publisher's scan: unpublished rows in write order.
    create index lead_events_pending_idx on lead_events (record_no) where seq is null;
    -- Catch-up pages and Last-Event-ID replays of one tenant.
    create index lead_events_tenant_seq_idx on lead_events (tenant_id, seq) where seq is not null;
    -- Retention.
    create index lead_events_published_at_idx on lead_events (published_at) where published_at is not null;

    alter table lead_events enable row level security;
    alter table lead_events force row level security;
    create policy lead_events_select on lead_events for select using (
      (app_role() = 'SYSTEM' and app_tenant() = '*')
      or (tenant_id = app_tenant() and territory = any (app_territories())
          and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM') or owner_user_id = app_user() or app_user() = any (collaborator_user_ids)))
    );
    create policy lead_events_insert on lead_events for insert with check (
      tenant_id = app_tenant() and territory = any (app_territories())
      and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
           or (app_role() = 'SALES' and (owner_user_id = app_user() or app_user() = any (collaborator_user_ids))))
    );
    create policy lead_events_publish on lead_events for update
      using (app_role() = 'SYSTEM' and app_tenant() = '*') with check (app_role() = 'SYSTEM' and app_tenant() = '*');
    create policy lead_events_prune on lead_events for delete using (app_role() = 'SYSTEM' and app_tenant() = '*');

    -- An event is a fact: its content never changes, and it is numbered exactly once.
    revoke update on lead_events from ${role};
    grant update (seq, published_at) on lead_events to ${role};
    create function lead_events_publish_once() returns trigger language plpgsql as $$
    begin
      if old.seq is not null then
        raise exception 'event % is already published as seq %', old.id, old.seq using errcode = 'check_violation';
      end if;
      return new;
    end $$;
    create trigger lead_events_publish_once before update on lead_events for each row execute function lead_events_publish_once();
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop table lead_events; drop function lead_events_publish_once(); drop sequence lead_events_seq;`)
}
