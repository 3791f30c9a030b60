import type { Knex } from 'knex'

// Development/test data (the V10000+ range production skips): a handful of leads in both
// territories, so a fresh `npm start` has something to list. Owned by the users of the README's
// token examples (u1 in DE, u2 in CH).
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    insert into leads (tenant_id, territory, company_name, contact_name, email, city, country_code, source, business_type, stage, owner_user_id, created_by, email_consent)
    values
      ('default', 'DE', 'Gasthaus zur Linde', 'Anna Berger', 'anna@linde.example', 'Freiburg', 'DE', 'WEB_FORMULAR', 'RESTAURANT', 'VORMERKUNG', 'u1', 'seed', true),
      ('default', 'DE', 'Kantine Nordhafen', 'Jens Ohm', 'einkauf@nordhafen.example', 'Hamburg', 'DE', 'EMPFEHLUNG', 'KANTINE', 'VORMERKUNG', 'u1', 'seed', false),
      ('default', 'CH', 'Hotel Seeblick', 'Urs Meier', 'urs@seeblick.example', 'Luzern', 'CH', 'PARTNER', 'HOTEL', 'VORMERKUNG', 'u2', 'seed', true)
  `)
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`delete from lead_activities where lead_id in (select id from leads where created_by = 'seed'); delete from leads where created_by = 'seed'`)
}
