// §6 T+7: the bulk-order offer by business type in the territory's currency, and the REMINDER
// rule (no meaningful activity in the last 7 days, lead REGISTERED or ACTIVE).
import test from 'ava'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { ManualClock, type Stack } from '../helpers/stack.ts'
import type { TestSmtpServer } from '../helpers/smtp.ts'
import { scheduleFollowUps } from '../../models/follow-ups.ts'
import { activitiesOf, centralEuropean, insertActivity, insertLead, jobsFor, leadRow, makeDueNow, outboxOf, settled, startMailStack, stopMailStack, waitUntil } from './support.ts'

const DAY = 24 * 60 * 60 * 1000
const registeredAt = centralEuropean('2031-03-05T10:00:00', 1) // a Wednesday
const t7DueAt = new Date('2031-03-12T09:00:00.000Z') // the next Wednesday, 10:00 Zurich
const clock = new ManualClock(registeredAt)
let smtp: TestSmtpServer
let stack: Stack

test.before(async () => {
  ;({ stack, smtp } = await startMailStack({ clock }))
})
test.after.always(() => stopMailStack({ stack, smtp }))

/** The start times of the T+7 jobs as scheduled, in the order of the leads. */
const t7Scheduled: string[] = []

/** A CH hotel lead with its jobs scheduled, whose T+7 then runs at its due time. */
async function runT7(lead: { email: string; status?: string; activities?: { type: string; daysBeforeDue: number }[] }): Promise<string> {
  const id = await insertLead(stack.owner, { registeredAt, territory: 'CH', businessType: 'HOTEL', companyName: 'Hotel Alpenblick', contactName: 'Urs Meier', email: lead.email, status: lead.status })
  for (const activity of lead.activities ?? []) await insertActivity(stack.owner, id, activity.type, new Date(t7DueAt.getTime() - activity.daysBeforeDue * DAY))
  await inTransaction(stack.deps.knex, systemContext('default'), (tx) => scheduleFollowUps(stack.deps, tx, { id, tenantId: 'default', territory: 'CH', registeredAt }))
  t7Scheduled.push((await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`))[0]!.start_after.toISOString())
  clock.set(t7DueAt)
  await makeDueNow(stack.owner, 'follow-up.t7', `${id}:T7`)
  await settled(stack.owner, 'follow-up.t7', `${id}:T7`)
  await waitUntil(`the mail to ${lead.email}`, () => smtp.to(lead.email).length > 0)
  return id
}
test.serial('a CH HOTEL lead gets 20 % from CHF 1\'000 in Swiss German, and REMINDER after 7 days without a meaningful activity', async (t) => {
  const email = 'empfang@alpenblick.example'
  const id = await runT7({ email })
  t.deepEqual(t7Scheduled, [t7DueAt.toISOString()])

  t.is(smtp.to(email).length, 1)
  const mail = smtp.to(email)[0]!
  t.is(mail.subject, '20 % Rabatt auf die erste Grossbestellung von Hotel Alpenblick')
  t.regex(mail.text, /20 % Rabatt auf Ihre erste Grossbestellung ab einem Bestellwert von CHF\s1['’]000\./)
  t.regex(mail.html, /<strong>CHF\s1(&#39;|’)000<\/strong>/)
  t.true(mail.text.includes('Freundliche Grüsse'))
  t.true(mail.text.includes('exkl. 8.1 % MWST') && mail.text.includes('Zürich'), 'the CH footer')
  t.false(/ß|€|EUR/.test(mail.subject + mail.text + mail.html), 'de-CH, Swiss francs')

  const lead = await leadRow(stack.owner, id)
  t.is(lead.status, 'REMINDER')
  t.is(lead.t7_sent_at.toISOString(), t7DueAt.toISOString())
  t.is(lead.t3_sent_at, null)
  t.is(lead.version, 2, 'one change of the lead, one version')
  const activities = await activitiesOf(stack.owner, id)
  t.deepEqual(activities.map((a) => a.type).sort(), ['FOLLOW_UP_T7', 'REMINDER_SENT', 'STATUS_CHANGE'])
  t.true(activities.every((a) => a.user_id === 'system' && a.occurred_at.getTime() === t7DueAt.getTime()))
  const followUp = activities.find((a) => a.type === 'FOLLOW_UP_T7')!
  t.is(followUp.summary, 'T+7 follow-up: bulk-order offer, e-mail queued')
  t.deepEqual(followUp.metadata.offer, { kind: 'T7', discountPercent: 20, minimumOrder: 1000, currency: 'CHF' })
  t.is(activities.find((a) => a.type === 'STATUS_CHANGE')!.summary, 'Status changed from REGISTERED to REMINDER')
  // The SMTP server has the message before email.send commits SENT: wait for the commit.
  await waitUntil('the outbox row to be SENT', async () => (await outboxOf(stack.owner, id))[0]?.status === 'SENT')
  t.like((await outboxOf(stack.owner, id))[0], { status: 'SENT', template_key: 'FOLLOW_UP', territory: 'CH' })
})

test.serial('no REMINDER when there was a CALL two days earlier: the mail still goes out', async (t) => {
  const email = 'direktion@alpenblick.example'
  const id = await runT7({ email, status: 'ACTIVE', activities: [{ type: 'CALL', daysBeforeDue: 2 }] })
  t.is(smtp.to(email).length, 1)
  const lead = await leadRow(stack.owner, id)
  t.is(lead.status, 'ACTIVE')
  t.truthy(lead.t7_sent_at)
  t.deepEqual((await activitiesOf(stack.owner, id)).map((a) => a.type).sort(), ['CALL', 'FOLLOW_UP_T7'])
})

test.serial('an ACTIVE lead whose last meaningful activity is 8 days old, with only a NOTE since, gets REMINDER', async (t) => {
  const email = 'kueche@alpenblick.example'
  const id = await runT7({ email, status: 'ACTIVE', activities: [{ type: 'MEETING', daysBeforeDue: 8 }, { type: 'NOTE', daysBeforeDue: 1 }] })
  const lead = await leadRow(stack.owner, id)
  t.is(lead.status, 'REMINDER')
  const change = (await activitiesOf(stack.owner, id)).filter((a) => a.type === 'STATUS_CHANGE')
  t.deepEqual(change.map((a) => a.summary), ['Status changed from ACTIVE to REMINDER'])
})

test.serial('a QUALIFIED lead gets the T+7 mail but keeps its status', async (t) => {
  const email = 'einkauf@alpenblick.example'
  const id = await runT7({ email, status: 'QUALIFIED' })
  t.is(smtp.to(email).length, 1)
  t.is((await leadRow(stack.owner, id)).status, 'QUALIFIED')
  t.deepEqual((await activitiesOf(stack.owner, id)).map((a) => a.type), ['FOLLOW_UP_T7'])
})
