// §6 T+3: scheduled with the lead at its due time (weekend → Monday 09:00 territory time), and
// when it runs, one sample-offer mail through a real SMTP server, the mark and one activity.
import test from 'ava'
import { inTransaction, systemContext, type SecurityContext } from '../../lib/db.ts'
import { ManualClock, type Stack } from '../helpers/stack.ts'
import type { TestSmtpServer } from '../helpers/smtp.ts'
import { scheduleFollowUps } from '../../models/follow-ups.ts'
import { activitiesOf, centralEuropean, insertLead, jobsFor, leadRow, makeDueNow, outboxOf, settled, startMailStack, stopMailStack, waitUntil } from './support.ts'

const registeredAt = centralEuropean('2031-02-26T10:00:00', 1) // a Wednesday in winter (CET)
const clock = new ManualClock(registeredAt)
let smtp: TestSmtpServer
let stack: Stack

test.before(async () => {
  ;({ stack, smtp } = await startMailStack({ clock, env: { PUBLIC_BASE_URL: 'https://leads.freshplan.example', MAIL_FROM: 'FreshFoodz <verkauf@freshfoodz.example>' } }))
})
test.after.always(() => stopMailStack({ stack, smtp }))

test.serial('a RESTAURANT lead registered on a Wednesday: T+3 (a Saturday) waits until Monday 09:00 Berlin, then sends one sample-offer mail', async (t) => {
  const email = 'kueche@linde.example'
  const id = await insertLead(stack.owner, { registeredAt, territory: 'DE', businessType: 'RESTAURANT', email, emailConsent: true, companyName: 'Gasthaus Zur Linde', contactName: 'Erika Muster' })
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) => scheduleFollowUps(stack.deps, tx, { id, tenantId: 'default', territory: 'DE', registeredAt }))

  const [t3] = await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`)
  t.is(t3?.state, 'created')
  t.is(t3?.start_after.toISOString(), '2031-03-03T08:00:00.000Z') // Monday 09:00 CET
  const [t7] = await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`)
  t.is(t7?.start_after.toISOString(), '2031-03-05T09:00:00.000Z') // the next Wednesday, 10:00 CET like the registration

  // Monday morning: the job's time has come (the clock decides the season: March is asparagus time).
  clock.set('2031-03-03T08:00:00.000Z')
  await makeDueNow(stack.owner, 'follow-up.t3', `${id}:T3`)
  await waitUntil('the sample-offer mail', () => smtp.to(email).length > 0)
  await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
  await waitUntil('the outbox row to be SENT', async () => (await outboxOf(stack.owner, id))[0]?.status === 'SENT')

  t.is(smtp.to(email).length, 1)
  const mail = smtp.to(email)[0]!
  t.is(mail.subject, 'Ihre kostenlose Cook&Fresh® Starter-Box für Gasthaus Zur Linde')
  t.regex(mail.headers.from ?? '', /verkauf@freshfoodz\.example/)
  t.true(mail.text.startsWith('Guten Tag Erika Muster,'))
  t.true(mail.text.includes('kostenlos unsere Cook&Fresh® Starter-Box'))
  t.true(mail.text.includes('Passend zu Ihrem Betrieb legen wir dazu: Feinkost-Saucen-Set.'), 'the restaurant extra')
  t.true(mail.text.includes('Zur Saison obendrauf: Spargel-Saisonpaket'), 'the March extra')
  t.false(/Oktoberfest|Weihnacht/.test(mail.text))
  t.true(mail.text.includes('USt-IdNr.') && mail.text.includes('zzgl. 19 % MwSt.'), 'the DE footer')
  const unsubscribe = /https:\/\/leads\.freshplan\.example\/unsubscribe\/[A-Za-z0-9_-]{43}/.exec(mail.text)?.[0]
  t.truthy(unsubscribe)
  t.is(mail.headers['list-unsubscribe'], `<${unsubscribe}>`)
  t.true(mail.html.includes('<strong>Cook&amp;Fresh® Starter-Box</strong>'))
  t.true(mail.html.includes(`<a href="${unsubscribe}">Abmelden</a>`))

  const lead = await leadRow(stack.owner, id)
  t.is(lead.t3_sent_at.toISOString(), '2031-03-03T08:00:00.000Z')
  t.is(lead.t7_sent_at, null)
  t.is(lead.version, 2)
  t.is(lead.status, 'REGISTERED')
  const followUps = (await activitiesOf(stack.owner, id)).filter((a) => a.type === 'FOLLOW_UP_T3')
  t.is(followUps.length, 1)
  t.is(followUps[0]!.user_id, 'system')
  t.is(followUps[0]!.summary, 'T+3 follow-up: sample offer, e-mail queued')
  t.like(followUps[0]!.metadata, { kind: 'T3', email: 'QUEUED', offer: { businessExtra: { key: 'FEINKOST_SAUCEN' }, seasonalExtra: { key: 'ASPARAGUS' } } })
  const [row] = await outboxOf(stack.owner, id)
  t.like(row, { status: 'SENT', attempts: 1, recipient: email, template_key: 'SAMPLE_REQUEST', dedupe_key: `follow-up:${id}:T3`, last_error: null })
  t.is(mail.headers['message-id'], row.message_id)
  t.is(followUps[0]!.metadata.outboxId, row.id)
  // T+7 is still waiting for its own day.
  t.is((await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`))[0]?.state, 'created')
})

test.serial('a CH lead registered the Wednesday before the clocks go forward: Monday 09:00 Zurich is then 07:00 UTC', async (t) => {
  const wednesday = centralEuropean('2031-03-26T10:00:00', 1)
  const id = await insertLead(stack.owner, { registeredAt: wednesday, territory: 'CH' })
  // The caller's own context, as in lead creation: a SALES user of territory CH.
  const sales: SecurityContext = { tenantId: 'default', userId: 'sales-1', role: 'SALES', territories: ['CH'] }
  await inTransaction(stack.deps.knex, sales, (tx) => scheduleFollowUps(stack.deps, tx, { id, tenantId: 'default', territory: 'CH', registeredAt: wednesday }))
  t.is((await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`))[0]?.start_after.toISOString(), '2031-03-31T07:00:00.000Z')
  t.is((await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`))[0]?.start_after.toISOString(), '2031-04-02T08:00:00.000Z')
})

test.serial('the jobs are part of the caller\'s transaction: a rolled-back lead creation leaves none', async (t) => {
  const id = await insertLead(stack.owner, { registeredAt })
  await t.throwsAsync(
    inTransaction(stack.deps.knex, systemContext('default'), async (tx) => {
      await scheduleFollowUps(stack.deps, tx, { id, tenantId: 'default', territory: 'DE', registeredAt })
      throw new Error('lead creation failed later')
    }),
    { message: 'lead creation failed later' },
  )
  t.deepEqual(await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`), [])
  t.deepEqual(await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`), [])
})

test.serial('scheduling the same lead twice keeps one job per kind', async (t) => {
  const id = await insertLead(stack.owner, { registeredAt })
  for (let i = 0; i < 2; i++) {
    await inTransaction(stack.deps.knex, systemContext('default'), (tx) => scheduleFollowUps(stack.deps, tx, { id, tenantId: 'default', territory: 'DE', registeredAt }))
  }
  t.is((await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`)).length, 1)
  t.is((await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`)).length, 1)
})

test.serial('issue 14 (8): a company called "Cafe {{contactName}}" gets its T+3 mail, the name as text', async (t) => {
  const email = 'hallo@cafe-mustache.example'
  const id = await insertLead(stack.owner, { registeredAt, territory: 'DE', businessType: 'RESTAURANT', email, emailConsent: true, companyName: 'Cafe {{contactName}} & <Bar>', contactName: '{{#x}}Ann{{/x}}' })
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) => scheduleFollowUps(stack.deps, tx, { id, tenantId: 'default', territory: 'DE', registeredAt }))
  clock.set('2031-03-03T08:00:00.000Z')
  await makeDueNow(stack.owner, 'follow-up.t3', `${id}:T3`)
  await waitUntil('the sample-offer mail', () => smtp.to(email).length > 0)
  await waitUntil('the outbox row to be SENT', async () => (await outboxOf(stack.owner, id))[0]?.status === 'SENT')
  const mail = smtp.to(email)[0]!
  t.is(mail.subject, 'Ihre kostenlose Cook&Fresh® Starter-Box für Cafe {{contactName}} & <Bar>')
  t.true(mail.text.startsWith('Guten Tag {{#x}}Ann{{/x}},'), mail.text.slice(0, 80))
  t.true(mail.html.includes('Cafe {{contactName}} &amp; &lt;Bar&gt;'))
  t.truthy((await leadRow(stack.owner, id)).t3_sent_at)
})
