// §5: leads written before the normalized columns existed (a database at V0002) are normalized by
// the backfill job after the upgrade, with exactly what normalizeLead computes, and rows that collide
// on the unique e-mail index are kept and reported.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { migrateDatabase } from '../../lib/migrate.ts'
import { createKnex, inTransaction, systemContext, type Knex } from '../../lib/db.ts'
import { createLogger } from '../../lib/logger.ts'
import { systemClock } from '../../lib/clock.ts'
import type { Deps } from '../../lib/deps.ts'
import { releaseResources, startBoss } from '../../lib/boss.ts'
import { startWorker } from '../../jobs/worker.ts'
import { backfillJob } from '../../jobs/backfill.ts'
import { BACKFILL_QUEUE } from '../../lib/queues.ts'
import { findBackfill, startNormalizationBackfill, type Backfill } from '../../models/backfills.ts'
import { NORMALIZATION_VERSION, normalizeLead } from '../../models/normalization.ts'
import { APP_PASSWORD, APP_ROLE, SERVER_URL, urlFor, WORKER_PASSWORD, WORKER_ROLE } from '../helpers/database.ts'
import { testConfig } from '../helpers/stack.ts'

interface RawLead {
  tenant: string
  company: string
  email: string | null
  phone: string | null
  country: string
  deleted?: boolean
}

// The §5 examples, plus what makes a backfill interesting: addresses that only collide once
// normalized, a deleted lead and another tenant sharing an address (neither collides), blanks.
const HANDPICKED: RawLead[] = [
  { tenant: 'default', company: 'FreshFoodz GmbH', email: ' JoHn.Doe@EXAMPLE.COM ', phone: '030 123456', country: 'DE' },
  { tenant: 'default', company: 'Firma GmbH & Co. KG', email: 'john.doe@example.com', phone: '+49 (0)30 1234567', country: 'DE' },
  { tenant: 'default', company: 'Example e.V.', email: 'JOHN.DOE@example.com', phone: 'abc', country: 'DE' },
  { tenant: 'default', company: '  Test Company AG  ', email: '\t', phone: '0041 44 668 18 00', country: 'DE' },
  { tenant: 'default', company: 'Café Müller', email: 'test+tag@gmail.com', phone: '044 668 18 00', country: 'CH' },
  { tenant: 'default', company: 'Großküche Süd', email: 'Kueche@Sued.de', phone: null, country: 'DE' },
  { tenant: 'default', company: 'Großküche Süd (alt)', email: 'kueche@sued.de', phone: '', country: 'DE', deleted: true },
  { tenant: 'other', company: 'Mandant Zwei GmbH', email: 'John.Doe@Example.com', phone: '089 123456', country: 'AT' },
]
const GENERATED = 1200 // several batches of BATCH_SIZE
const BATCH_SIZE = 500

let admin: pg.Client
let databaseName: string
let owner: Knex
let deps: Deps

test.before(async () => {
  admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  databaseName = `fp_test_${randomBytes(6).toString('hex')}`
  await admin.query(`create database ${databaseName}`)
  const ownerUrl = urlFor(databaseName)
  // The database as the release before §5 left it: leads without normalized columns.
  await migrateDatabase({ databaseUrl: ownerUrl, appRole: APP_ROLE, includeDevRange: false, upTo: 2 })
  owner = createKnex(ownerUrl, { poolMax: 2 })
})

test.after.always(async () => {
  if (deps) await releaseResources(deps)
  await owner?.destroy()
  await admin?.query(`drop database if exists ${databaseName} with (force)`)
  await admin?.end()
})

async function insertRaw(leads: RawLead[]): Promise<void> {
  await owner('leads').insert(
    leads.map((lead) => ({
      tenant_id: lead.tenant,
      territory: lead.country === 'CH' ? 'CH' : 'DE',
      company_name: lead.company,
      email: lead.email,
      phone: lead.phone,
      country_code: lead.country,
      stage: 'VORMERKUNG',
      owner_user_id: 'u1',
      created_by: 'import',
      status: lead.deleted ? 'DELETED' : 'REGISTERED',
      deleted_at: lead.deleted ? new Date() : null,
    })),
  )
}

async function waitUntilFinished(knex: Knex, tenantId: string, id: string): Promise<Backfill> {
  const until = Date.now() + 60_000
  for (;;) {
    const backfill = (await inTransaction(knex, systemContext(tenantId), (tx) => findBackfill(tx, id)))!
    if (backfill.status !== 'RUNNING' || Date.now() > until) return backfill
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

test.serial('leads from before V0003 are normalized by the backfill job exactly as normalizeLead does', async (t) => {
  const before = await owner.raw(`select count(*)::int as n from information_schema.columns where table_name = 'leads' and column_name = 'email_normalized'`)
  t.is(before.rows[0].n, 0, 'the database starts without the normalized columns')
  const generated: RawLead[] = Array.from({ length: GENERATED }, (_, i) => ({
    tenant: 'default',
    company: `${i % 2 ? 'Hotel' : 'Kantine'} Nummer ${i} ${['GmbH', 'AG', 'UG (haftungsbeschränkt)', 'e.K.'][i % 4]}`,
    // Every 100th repeats an earlier address in other letters: a collision once normalized.
    email: i % 100 === 99 ? ` Lead.${i - 50}@Example.DE` : `lead.${i}@example.de`,
    phone: i % 3 === 0 ? `0${30 + (i % 60)} ${100000 + i}` : null,
    country: i % 5 === 0 ? 'CH' : 'DE',
  }))
  await insertRaw(HANDPICKED)
  await insertRaw(generated)

  await migrateDatabase({ databaseUrl: urlFor(databaseName), appRole: APP_ROLE, includeDevRange: false })
  const stale = await owner.raw(`select count(*)::int as n from leads where normalization_version = 0 and email_normalized is null and name_normalized is null`)
  t.is(stale.rows[0].n, HANDPICKED.length + GENERATED, 'after the upgrade every old lead is stale and unnormalized')

  const config = testConfig({ name: databaseName, ownerUrl: urlFor(databaseName), appUrl: urlFor(databaseName, { user: APP_ROLE, password: APP_PASSWORD }), workerUrl: urlFor(databaseName, { user: WORKER_ROLE, password: WORKER_PASSWORD }), drop: async () => {} })
  const logger = createLogger(config, 'test')
  const knex = createKnex(config.workerDatabaseUrl!, { poolMax: 4 })
  const boss = await startBoss({ connectionString: config.appDatabaseUrl, logger, role: 'worker' })
  deps = { config, knex, boss, logger, clock: systemClock }
  await startWorker(deps, [backfillJob], [], [])

  const results: Record<string, Backfill> = {}
  for (const tenant of ['default', 'other']) {
    const { backfill } = await inTransaction(knex, systemContext(tenant), (tx) => startNormalizationBackfill(deps, tx, { createdBy: 'test', batchSize: BATCH_SIZE }))
    results[tenant] = await waitUntilFinished(knex, tenant, backfill.id)
  }

  const rows = (
    await owner.raw(`select id, tenant_id, company_name, email, phone, country_code, postal_code, city, deleted_at, email_normalized, name_normalized, phone_e164, match_name, match_email_domain, match_postal_code, match_city, normalization_version from leads order by created_at, id`)
  ).rows as { id: string; tenant_id: string; company_name: string; email: string | null; phone: string | null; country_code: string; postal_code: string | null; city: string | null; deleted_at: Date | null; email_normalized: string | null; name_normalized: string | null; phone_e164: string | null; match_name: string | null; match_email_domain: string | null; match_postal_code: string | null; match_city: string | null; normalization_version: number }[]
  // Expected: normalizeLead's columns; of live leads of one tenant sharing an address, the oldest
  // (by created_at, then id: the backfill's order) keeps it and the others collide with it.
  const keeper = new Map<string, string>()
  const expectedCollisions = new Map<string, { email: string; existing: string }>()
  let mismatches = 0
  for (const row of rows) {
    const { columns } = normalizeLead({ email: row.email, companyName: row.company_name, phone: row.phone, countryCode: row.country_code, postalCode: row.postal_code, city: row.city })
    let email = columns.emailNormalized
    if (email !== null && row.deleted_at === null) {
      const key = `${row.tenant_id}|${email}`
      const existing = keeper.get(key)
      if (existing === undefined) keeper.set(key, row.id)
      else {
        expectedCollisions.set(row.id, { email, existing })
        email = null
      }
    }
    const same = row.email_normalized === email && row.name_normalized === columns.nameNormalized && row.phone_e164 === columns.phoneE164 && row.normalization_version === NORMALIZATION_VERSION &&
      // §11's match keys, computed by the same function.
      row.match_name === columns.matchName && row.match_email_domain === columns.matchEmailDomain && row.match_postal_code === columns.matchPostalCode && row.match_city === columns.matchCity
    if (!same) mismatches++
  }
  t.is(mismatches, 0, 'every lead carries exactly the columns normalizeLead computes')

  const collisions = (await owner.raw(`select lead_id, email_normalized, existing_lead_id, backfill_id from backfill_collisions order by lead_id`)).rows as { lead_id: string; email_normalized: string; existing_lead_id: string; backfill_id: string }[]
  t.deepEqual(
    collisions.map((c) => [c.lead_id, c.email_normalized, c.existing_lead_id]),
    [...expectedCollisions].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, c]) => [id, c.email, c.existing]),
    'exactly the expected leads collide, each with the lead that keeps the address',
  )
  t.is(expectedCollisions.size, 2 + GENERATED / 100, 'the two John Does and every 100th generated lead collide')
  t.true(collisions.every((c) => c.backfill_id === results.default!.id))

  const byCompany = new Map(rows.map((row) => [row.company_name, row]))
  t.like(byCompany.get('FreshFoodz GmbH'), { name_normalized: 'freshfoodz', phone_e164: '+4930123456' })
  t.like(byCompany.get('  Test Company AG  '), { name_normalized: 'test company', email_normalized: null, phone_e164: '+41446681800' })
  t.like(byCompany.get('Café Müller'), { name_normalized: 'cafe muller', email_normalized: 'test+tag@gmail.com', phone_e164: '+41446681800' })
  t.like(byCompany.get('Example e.V.'), { name_normalized: 'example', phone_e164: null })
  t.like(byCompany.get('Großküche Süd (alt)'), { email_normalized: 'kueche@sued.de' }, 'a deleted lead keeps its address and collides with nobody')
  t.like(byCompany.get('Mandant Zwei GmbH'), { email_normalized: 'john.doe@example.com' }, 'another tenant may hold the same address')

  t.like(results.default, { status: 'COMPLETED', processed: HANDPICKED.length - 1 + GENERATED, total: HANDPICKED.length - 1 + GENERATED, duplicatesFound: expectedCollisions.size, failed: 0 })
  t.like(results.other, { status: 'COMPLETED', processed: 1, total: 1, duplicatesFound: 0, failed: 0 })

  // The job reports its progress as its output (what the queue board shows).
  const jobs = await boss.findJobs<object>(BACKFILL_QUEUE.name, { key: results.default!.id })
  const completed = jobs.filter((job) => job.state === 'completed')
  t.true(completed.length >= 1)
  t.like(completed.at(-1)!.output, { backfillId: results.default!.id, status: 'COMPLETED', processed: results.default!.processed, duplicatesFound: expectedCollisions.size })
})
