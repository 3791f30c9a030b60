// §6: a follow-up without consent or without an address is still a follow-up (mark and activity),
// only without the mail; a CONVERTED, LOST, EXPIRED or DELETED lead gets nothing at all.
import test from 'ava'
import { ManualClock, type Stack } from '../helpers/stack.ts'
import type { TestSmtpServer } from '../helpers/smtp.ts'
import { activitiesOf, insertLead, leadRow, outboxOf, runFollowUpJobNow, startMailStack, stopMailStack, waitUntil } from './support.ts'

const registeredAt = new Date('2031-06-02T08:00:00.000Z')
const clock = new ManualClock('2031-06-12T08:00:00.000Z') // both follow-ups are due
let smtp: TestSmtpServer
let stack: Stack

test.before(async () => {
  ;({ stack, smtp } = await startMailStack({ clock }))
})
test.after.always(() => stopMailStack({ stack, smtp }))

test.serial('without consent: T+3 and T+7 are marked and written to the timeline, but no mail is queued', async (t) => {
  const id = await insertLead(stack.owner, { registeredAt, email: 'no-consent@kunde.example', emailConsent: false })
  t.is((await runFollowUpJobNow(stack, id, 'T3')).state, 'completed')
  t.is((await runFollowUpJobNow(stack, id, 'T7')).state, 'completed')
  const lead = await leadRow(stack.owner, id)
  t.truthy(lead.t3_sent_at)
  t.truthy(lead.t7_sent_at)
  const followUps = (await activitiesOf(stack.owner, id)).filter((a) => a.type.startsWith('FOLLOW_UP'))
  t.deepEqual(followUps.map((a) => [a.type, a.summary]), [
    ['FOLLOW_UP_T3', 'T+3 follow-up: sample offer, no e-mail (no consent)'],
    ['FOLLOW_UP_T7', 'T+7 follow-up: bulk-order offer, no e-mail (no consent)'],
  ])
  t.deepEqual(await outboxOf(stack.owner, id), [])
})

test.serial('without an e-mail address: marked and written to the timeline, no mail', async (t) => {
  const id = await insertLead(stack.owner, { registeredAt, email: null, emailConsent: true })
  await runFollowUpJobNow(stack, id, 'T3')
  t.truthy((await leadRow(stack.owner, id)).t3_sent_at)
  t.deepEqual((await activitiesOf(stack.owner, id)).map((a) => [a.type, a.metadata.email]), [['FOLLOW_UP_T3', 'NO_ADDRESS']])
  t.deepEqual(await outboxOf(stack.owner, id), [])
})

for (const status of ['CONVERTED', 'LOST', 'EXPIRED', 'DELETED']) {
  test.serial(`${status === 'EXPIRED' ? 'an' : 'a'} ${status} lead gets neither follow-up: no mark, no activity, no mail, no new version`, async (t) => {
    const id = await insertLead(stack.owner, { registeredAt, status, email: `${status.toLowerCase()}@kunde.example`, emailConsent: true })
    for (const kind of ['T3', 'T7'] as const) {
      const job = await runFollowUpJobNow(stack, id, kind)
      t.is(job.state, 'completed')
      t.like(job.output, { results: [{ outcome: 'skipped', kind, status }] })
    }
    const lead = await leadRow(stack.owner, id)
    t.like(lead, { status, t3_sent_at: null, t7_sent_at: null, version: 1 })
    t.deepEqual(await activitiesOf(stack.owner, id), [])
    t.deepEqual(await outboxOf(stack.owner, id), [])
  })
}

test.serial('only the lead with consent and address got a mail (checked after all the others have run)', async (t) => {
  const email = 'consent@kunde.example'
  const id = await insertLead(stack.owner, { registeredAt, email, emailConsent: true })
  await runFollowUpJobNow(stack, id, 'T3')
  await waitUntil('the one mail', () => smtp.received.length > 0)
  await waitUntil('the outbox row to be SENT', async () => (await outboxOf(stack.owner, id))[0]?.status === 'SENT')
  t.deepEqual(smtp.received.map((mail) => mail.envelopeTo), [[email]])
})
