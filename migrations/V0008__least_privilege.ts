import type { Knex } from 'knex'
import { appRoleName, SYSTEM_ROLE, workerRoleName, workerRolePassword } from '../lib/config.ts'

// Least privilege for the runtime roles (issue 14, point 4; decisions: docs/decisions.md).
//
// Until now any session of the application role could write `set_config('app.role', 'SYSTEM')` or
// `set_config('app.tenant_id', '*')` and every policy believed it. From here on the SYSTEM role and
// the all-tenants marker count only for members of the NOLOGIN role SYSTEM_ROLE, which is granted
// to the worker's login role alone:
// - app_role() answers '-' (no rights) for a claimed SYSTEM, app_tenant() '-' for a claimed '*',
//   unless the session's role is a member. Every policy reads the context through these two, so all
//   of them (leads, activities, outbox, events, idempotency, backfills) are fixed at once. They stay
//   one-expression SQL functions that PostgreSQL inlines; pg_has_role runs only when SYSTEM or '*'
//   is claimed, so requests do not pay for it.
// - the worker role logs in, INHERITs the application role's table rights (one list of grants and
//   revokes for both) and is a member of SYSTEM_ROLE.
// - the web process's dashboard listener checks NOTIFYs against the outbox of every tenant: three
//   SECURITY DEFINER functions with a fixed search_path read published events for it.
// - "SALES updates own leads only": a SALES user who collaborates on a lead may still add activities
//   (§2), whose bookkeeping updates the lead (last activity, version, ACTIVE after a contact), but
//   nothing else of it; leads_guard refuses any other change by a SALES user who is not the owner.
export const config = { transaction: true }

export async function up(knex: Knex): Promise<void> {
  const app = appRoleName()
  const worker = workerRoleName()
  const password = workerRolePassword()
  const db = (await knex.raw<{ rows: { db: string; superuser: boolean }[] }>(`select current_database() as db, (select rolsuper from pg_roles where rolname = current_user) as superuser`)).rows[0]!
  await knex.raw(`
    do $$
    begin
      if not exists (select from pg_roles where rolname = '${SYSTEM_ROLE}') then
        create role ${SYSTEM_ROLE} nologin nosuperuser nocreatedb nocreaterole nobypassrls;
      end if;
      if not exists (select from pg_roles where rolname = '${worker}') then
        create role ${worker} login nosuperuser nocreatedb nocreaterole inherit nobypassrls password ${quoteLiteral(password)};
      else
        alter role ${worker} login nosuperuser nocreatedb nocreaterole inherit nobypassrls password ${quoteLiteral(password)};
      end if;
    end $$;
    grant connect on database ${quoteIdent(db.db)} to ${worker};
    grant ${app} to ${worker};
    grant ${SYSTEM_ROLE} to ${worker};
    -- A role that claimed membership through the application role would defeat the point.
    revoke ${SYSTEM_ROLE} from ${app};
  `)
  // The definer functions run as the migrating owner; when that is not a superuser, FORCEd policies
  // apply to it too and it needs the membership to read across tenants.
  if (!db.superuser) await knex.raw(`grant ${SYSTEM_ROLE} to current_user`)

  await knex.raw(`
    -- One current_setting per call; the membership is asked only when SYSTEM or '*' is claimed
    -- (coalesce evaluates its second argument only when nullif has taken the claim away).
    create or replace function app_tenant() returns text language sql stable as $$
      select coalesce(nullif(coalesce(nullif(current_setting('app.tenant_id', true), ''), '-'), '*'),
                      case when pg_has_role('${SYSTEM_ROLE}', 'MEMBER') then '*' else '-' end)
    $$;
    create or replace function app_role() returns text language sql stable as $$
      select coalesce(nullif(coalesce(nullif(current_setting('app.role', true), ''), '-'), 'SYSTEM'),
                      case when pg_has_role('${SYSTEM_ROLE}', 'MEMBER') then 'SYSTEM' else '-' end)
    $$;

    create or replace function leads_guard() returns trigger language plpgsql as $$
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
        -- A collaborator updates the lead only through an activity: its time, the version, and the
        -- move to ACTIVE that a meaningful contact makes (§3).
        if old.owner_user_id <> app_user() and (
          to_jsonb(new) - array['last_activity_at', 'version', 'updated_at', 'status'] <> to_jsonb(old) - array['last_activity_at', 'version', 'updated_at', 'status']
          or (new.status <> old.status and not (new.status = 'ACTIVE' and old.status in ('REGISTERED', 'REMINDER', 'GRACE_PERIOD')))
        ) then
          raise exception 'SALES may update own leads only; a collaborator adds activities' using errcode = 'insufficient_privilege';
        end if;
      end if;
      return new;
    end $$;

    -- The dashboard listener (server/event-listener.ts) of every web process: the outbox of all
    -- tenants, without a SYSTEM context. Published events only where it reads by position; by id it
    -- also sees an unpublished one, which it then denies (a NOTIFY that did not come from the publisher).
    create function dashboard_latest_seq() returns bigint language sql stable security definer
      set search_path = pg_catalog, pg_temp set app.role = 'SYSTEM' set app.tenant_id = '*'
      as $$ select coalesce(max(seq), 0) from public.lead_events $$;
    create function dashboard_events_after(after_seq bigint, max_rows integer) returns setof public.lead_events language sql stable security definer
      set search_path = pg_catalog, pg_temp set app.role = 'SYSTEM' set app.tenant_id = '*'
      as $$ select * from public.lead_events where seq > after_seq order by seq limit greatest(max_rows, 0) $$;
    create function dashboard_events(ids uuid[]) returns setof public.lead_events language sql stable security definer
      set search_path = pg_catalog, pg_temp set app.role = 'SYSTEM' set app.tenant_id = '*'
      as $$ select * from public.lead_events where id = any (ids) $$;
    revoke execute on function dashboard_latest_seq(), dashboard_events_after(bigint, integer), dashboard_events(uuid[]) from public;
    grant execute on function dashboard_latest_seq(), dashboard_events_after(bigint, integer), dashboard_events(uuid[]) to ${app};
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop function dashboard_latest_seq(), dashboard_events_after(bigint, integer), dashboard_events(uuid[]);
    create or replace function app_tenant() returns text language sql stable as
      $$ select coalesce(nullif(current_setting('app.tenant_id', true), ''), '-') $$;
    create or replace function app_role() returns text language sql stable as
      $$ select coalesce(nullif(current_setting('app.role', true), ''), '-') $$;
  `)
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}
function quoteIdent(value: string): string {
  return `"${value.replaceAll('"', '""')}"`
}
