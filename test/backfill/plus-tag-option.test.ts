// Issue 14 point 13: EMAIL_STRIP_PLUS_TAG changes what normalizeEmail returns, so it is part of the
// normalization version a row carries. Switching it (either way) makes every row normalized the
// other way stale, and a backfill run with the new setting recomputes them.
import test from 'ava'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { startNormalizationBackfill, tenantsWithStaleLeads, type Backfill } from '../../models/backfills.ts'
import { normalizeNextBatch } from '../../models/backfill-batch.ts'
import { NORMALIZATION_VERSION, normalizationVersion, normalizeLead, STRIP_PLUS_TAG_VERSION_FLAG } from '../../models/normalization.ts'
import { startStack, type Stack } from '../helpers/stack.ts'

let stack: Stack
const EMAILS = ['anna+news@example.com', 'b.e.r.t+x@googlemail.com', 'carla@example.com']

test.before(async () => {
  stack = await startStack({ web: false })
  // Rows as the service wrote them so far, with the option off.
  for (const [i, email] of EMAILS.entries()) {
    const { columns } = normalizeLead({ email, companyName: `Plus ${i}`, phone: null, countryCode: 'DE' })
    await stack.owner.raw(
      `insert into leads (tenant_id, territory, company_name, email, email_normalized, name_normalized, country_code, stage, owner_user_id, created_by, normalization_version)
       values ('default', 'DE', ?, ?, ?, ?, 'DE', 'VORMERKUNG', 'u1', 'import', ?)`,
      [`Plus ${i}`, email, columns.emailNormalized, columns.nameNormalized, columns.normalizationVersion],
    )
  }
})
test.after.always(() => stack?.stop())

const stale = (stripPlusTag: boolean) => inTransaction(stack.deps.knex, systemContext('*'), (tx) => tenantsWithStaleLeads(tx, { stripPlusTag }))

async function runBackfill(stripPlusTag: boolean): Promise<Backfill> {
  const deps = { ...stack.deps, config: { ...stack.config, emailStripPlusTag: stripPlusTag } }
  const ctx = systemContext('default')
  const { backfill } = await inTransaction(deps.knex, ctx, (tx) => startNormalizationBackfill(deps, tx, { createdBy: 'test', batchSize: 2 }))
  for (let i = 0; i < 10; i++) {
    const { backfill: now } = await inTransaction(deps.knex, ctx, (tx) => normalizeNextBatch(tx, backfill.id, { stripPlusTag }))
    if (now!.status !== 'RUNNING') return now!
  }
  throw new Error('backfill did not finish')
}

const rows = async () => (await stack.owner.raw(`select email_normalized, normalization_version from leads order by company_name`)).rows as { email_normalized: string; normalization_version: number }[]

test('the version is a function of the option: off is NORMALIZATION_VERSION, on sets a flag', (t) => {
  t.is(normalizationVersion(), NORMALIZATION_VERSION)
  t.is(normalizationVersion({ stripPlusTag: false }), NORMALIZATION_VERSION)
  t.is(normalizationVersion({ stripPlusTag: true }), NORMALIZATION_VERSION | STRIP_PLUS_TAG_VERSION_FLAG)
  t.true(NORMALIZATION_VERSION < STRIP_PLUS_TAG_VERSION_FLAG)
  t.is(normalizeLead({ email: 'a+b@x.de', companyName: 'A', phone: null, countryCode: 'DE' }, { stripPlusTag: true }).columns.normalizationVersion, NORMALIZATION_VERSION | STRIP_PLUS_TAG_VERSION_FLAG)
})

test.serial('switching EMAIL_STRIP_PLUS_TAG on makes the old rows stale; the backfill strips them; switching off makes them stale again', async (t) => {
  t.deepEqual(await stale(false), [], 'with the option as it was, nothing is stale')
  t.deepEqual(await stale(true), ['default'], 'with the option on, the rows written without it are stale')

  const on = await runBackfill(true)
  t.is(on.status, 'COMPLETED', on.lastError ?? '')
  t.is(on.processed, 3)
  t.is(on.targetVersion, NORMALIZATION_VERSION | STRIP_PLUS_TAG_VERSION_FLAG)
  t.deepEqual(await rows(), [
    { email_normalized: 'anna@example.com', normalization_version: normalizationVersion({ stripPlusTag: true }) },
    { email_normalized: 'bert@gmail.com', normalization_version: normalizationVersion({ stripPlusTag: true }) },
    { email_normalized: 'carla@example.com', normalization_version: normalizationVersion({ stripPlusTag: true }) },
  ])
  t.deepEqual(await stale(true), [], 'nothing left for the option on')

  t.deepEqual(await stale(false), ['default'], 'switched off again: the stripped rows are stale')
  const off = await runBackfill(false)
  t.is(off.status, 'COMPLETED', off.lastError ?? '')
  t.is(off.processed, 3)
  t.deepEqual((await rows()).map((r) => r.email_normalized), ['anna+news@example.com', 'b.e.r.t+x@googlemail.com', 'carla@example.com'])
  t.true((await rows()).every((r) => r.normalization_version === NORMALIZATION_VERSION))
})

test.serial('a backfill started with the option off is superseded when a worker runs with it on', async (t) => {
  const ctx = systemContext('default')
  await stack.owner.raw(`update leads set normalization_version = 0`)
  const { backfill } = await inTransaction(stack.deps.knex, ctx, (tx) => startNormalizationBackfill(stack.deps, tx, { createdBy: 'test', batchSize: 2 }))
  t.is(backfill.targetVersion, NORMALIZATION_VERSION)
  const { backfill: after } = await inTransaction(stack.deps.knex, ctx, (tx) => normalizeNextBatch(tx, backfill.id, { stripPlusTag: true }))
  t.is(after!.status, 'FAILED')
  t.regex(after!.lastError ?? '', /superseded/)
})
