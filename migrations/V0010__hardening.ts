import type { Knex } from 'knex'

// Issue 14.
//
// Point 15: who may read a lead's events. V0005 decided by a snapshot of owner and collaborators
// taken when the event was written, so a SALES user who lost a lead kept reading its history (and
// the new owner saw nothing from before the hand-over). Now SALES see a lead's events while they are
// the lead's CURRENT owner or a collaborator: all of its history, and nothing once it is taken away.
// MANAGER/ADMIN/SYSTEM are unchanged (tenant and the event's territory) and never reach the lookup.
// The EXISTS is the pattern of lead_activities (V0002); the planner either probes leads' primary
// key per candidate event or hashes the caller's visible leads once per query, whichever is
// cheaper. Measured with 50,000 leads and 100,000 events, a SALES page of 1000: 166 ms as EXISTS,
// against 1.9 s for a forced per-row probe (a PL/pgSQL function) and 1.1 s for an array of the
// caller's leads (the GIN index is unusable under RLS, @> is not leakproof). The subquery also
// runs under the leads policies, which agree. The snapshot columns stay: the insert policy checks them,
// and the web process's live filter (models/events.ts maySee) uses them for events just written.
//
// Point 9: an idempotent replay must return the identical body (§4). `jsonb` reorders keys and
// re-spaces the text, so the stored response becomes the exact bytes that were sent (bytea). Rows
// stored before this migration keep jsonb's rendering of their body; they expire within
// IDEMPOTENCY_TTL_HOURS.
//
// Point 2: an event page, a stream replay and a publish batch stop once their events' `data` add up
// to EVENT_BATCH_MAX_BYTES (models/event-outbox.ts). The size of each event's data, as JSON text,
// is computed once when it is written (a stored generated column), so bounding a batch sums small
// integers instead of detoasting payloads.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table lead_events add column data_bytes integer generated always as (octet_length(data::text)) stored;

    alter table idempotency_keys alter column body type bytea using convert_to(body::text, 'UTF8');

    drop policy lead_events_select on lead_events;
    create policy lead_events_select on lead_events for select using (
      (app_role() = 'SYSTEM' and app_tenant() = '*')
      or (tenant_id = app_tenant() and territory = any (app_territories())
          and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM')
               or exists (select 1 from leads l
                           where l.id = lead_events.lead_id
                             and (l.owner_user_id = app_user() or app_user() = any (l.collaborator_user_ids)))))
    );
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table lead_events drop column data_bytes;
    alter table idempotency_keys alter column body type jsonb using convert_from(body, 'UTF8')::jsonb;

    drop policy lead_events_select on lead_events;
    create policy lead_events_select on lead_events for select using (
      (app_role() = 'SYSTEM' and app_tenant() = '*')
      or (tenant_id = app_tenant() and territory = any (app_territories())
          and (app_role() in ('MANAGER', 'ADMIN', 'SYSTEM') or owner_user_id = app_user() or app_user() = any (collaborator_user_ids)))
    );
  `)
}
