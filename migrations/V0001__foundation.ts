import type { Knex } from 'knex'
import { appRoleName, appRolePassword } from '../lib/config.ts'

// The application role: logs in, owns nothing, cannot bypass RLS. Tables get their rights through
// default privileges, so every later migration's tables are reachable without a grant list to
// forget; a migration tightens them where a table must stay append-only.
// app_*() read the per-transaction context that lib/db.ts inTransaction() sets.
export async function up(knex: Knex): Promise<void> {
  const role = appRoleName()
  const password = appRolePassword()
  await knex.raw(`create extension if not exists citext`)
  await knex.raw(`create extension if not exists pg_trgm`)
  await knex.raw(`
    do $$
    begin
      if not exists (select from pg_roles where rolname = ${quoteLiteral(role)}) then
        create role ${role} login nosuperuser nocreatedb nocreaterole noinherit nobypassrls password ${quoteLiteral(password)};
      else
        alter role ${role} login nosuperuser nocreatedb nocreaterole noinherit nobypassrls password ${quoteLiteral(password)};
      end if;
    end $$;
  `)
  await knex.raw(`grant connect on database ${quoteIdent(await currentDatabase(knex))} to ${role}`)
  await knex.raw(`grant usage on schema public to ${role}`)
  await knex.raw(`alter default privileges in schema public grant select, insert, update, delete on tables to ${role}`)
  await knex.raw(`alter default privileges in schema public grant usage, select on sequences to ${role}`)
  await knex.raw(`
    create function app_tenant() returns text language sql stable as
      $$ select coalesce(nullif(current_setting('app.tenant_id', true), ''), '-') $$;
    create function app_user() returns text language sql stable as
      $$ select coalesce(nullif(current_setting('app.user_id', true), ''), '-') $$;
    create function app_role() returns text language sql stable as
      $$ select coalesce(nullif(current_setting('app.role', true), ''), '-') $$;
    create function app_territories() returns text[] language sql stable as
      $$ select coalesce(string_to_array(nullif(current_setting('app.territories', true), ''), ','), '{}') $$;
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function if exists app_tenant(), app_user(), app_role(), app_territories()`)
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}
function quoteIdent(value: string): string {
  return `"${value.replaceAll('"', '""')}"`
}
async function currentDatabase(knex: Knex): Promise<string> {
  const { rows } = await knex.raw<{ rows: { db: string }[] }>('select current_database() as db')
  return rows[0]!.db
}
