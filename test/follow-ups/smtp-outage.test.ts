// §6 "retries with backoff": with the SMTP relay down a mail stays in the outbox and its job is
// retried until the relay is back; then it is delivered once. A relay that refuses a recipient
// for good (5xx) ends the mail FAILED without pointless retries.
import test from 'ava'
import { ManualClock, type Stack } from '../helpers/stack.ts'
import type { TestSmtpServer } from '../helpers/smtp.ts'
import { activitiesOf, emailJobOf, insertLead, outboxOf, runFollowUpJobNow, startMailStack, stopMailStack, waitUntil } from './support.ts'

const clock = new ManualClock('2031-06-12T08:00:00.000Z')
let smtp: TestSmtpServer
let stack: Stack

test.before(async () => {
  ;({ stack, smtp } = await startMailStack({ clock, smtp: { listen: false, rejectRecipient: /^refused@/ } })) // the relay is down
})
test.after.always(() => stopMailStack({ stack, smtp }))

/** The lead of the mail whose retries ran out while the relay was down. */
let exhaustedLeadId: string

test.serial('the email.send queue retries with exponential backoff (production settings)', async (t) => {
  const queue = await stack.deps.boss.getQueue('email.send')
  t.like(queue, { retryLimit: 10, retryDelay: 30, retryBackoff: true, retryDelayMax: 3600 })
})

test.serial('SMTP down past the last retry: the mail ends FAILED with its attempts and error; the job failed', async (t) => {
  // Seconds instead of minutes between attempts, and a short limit for this one mail.
  await stack.deps.boss.updateQueue('email.send', { retryBackoff: true, retryDelay: 1, retryDelayMax: 2, retryLimit: 1 })
  exhaustedLeadId = await insertLead(stack.owner, { registeredAt: new Date('2031-06-02T08:00:00.000Z'), email: 'spaet@kunde.example' })
  await runFollowUpJobNow(stack, exhaustedLeadId, 'T3')
  const [row] = await outboxOf(stack.owner, exhaustedLeadId)
  await waitUntil('the job to fail for good', async () => (await emailJobOf(stack.owner, row.id))?.state === 'failed')
  const failed = (await outboxOf(stack.owner, exhaustedLeadId))[0]
  t.like(failed, { status: 'FAILED', attempts: 2, sent_at: null })
  t.regex(failed.last_error, /ECONNREFUSED|ECONNECTION|ESOCKET/)
  await stack.deps.boss.updateQueue('email.send', { retryLimit: 10 })
})

test.serial('SMTP down: the mail waits in the outbox and is retried; once the relay is back it is delivered exactly once', async (t) => {
  const email = 'wartet@kunde.example'
  const leadId = await insertLead(stack.owner, { registeredAt: new Date('2031-06-02T08:00:00.000Z'), email })
  await runFollowUpJobNow(stack, leadId, 'T3')
  // The follow-up itself is done, whatever the relay does.
  t.is((await activitiesOf(stack.owner, leadId)).filter((a) => a.type === 'FOLLOW_UP_T3').length, 1)
  const [queued] = await outboxOf(stack.owner, leadId)

  await waitUntil('two failed attempts', async () => (await outboxOf(stack.owner, leadId))[0].attempts >= 2)
  const failing = (await outboxOf(stack.owner, leadId))[0]
  t.is(failing.status, 'QUEUED')
  t.regex(failing.last_error, /ECONNREFUSED|ECONNECTION|ESOCKET/)
  t.like(await emailJobOf(stack.owner, queued.id), { retry_backoff: true, retry_limit: 10 })
  t.true((await emailJobOf(stack.owner, queued.id))!.retry_count >= 1)
  t.is(smtp.received.length, 0)

  await smtp.start() // the relay is back
  await waitUntil('the delivery', async () => (await outboxOf(stack.owner, leadId))[0].status === 'SENT')
  await waitUntil('the job to complete', async () => (await emailJobOf(stack.owner, queued.id))?.state === 'completed')
  const sent = (await outboxOf(stack.owner, leadId))[0]
  t.true(sent.attempts > failing.attempts)
  t.is(sent.last_error, null)
  t.truthy(sent.sent_at)
  t.is(smtp.to(email).length, 1)
  t.is(smtp.to(email)[0]!.headers['message-id'], sent.message_id)
  t.is(smtp.received.length, 1)
})

test.serial('a recipient the relay refuses for good (550): FAILED after one attempt, not retried, nothing delivered', async (t) => {
  const leadId = await insertLead(stack.owner, { registeredAt: new Date('2031-06-02T08:00:00.000Z'), email: 'refused@kunde.example' })
  await runFollowUpJobNow(stack, leadId, 'T3')
  const [row] = await outboxOf(stack.owner, leadId)
  await waitUntil('the job to complete', async () => (await emailJobOf(stack.owner, row.id))?.state === 'completed')
  const failed = (await outboxOf(stack.owner, leadId))[0]
  t.like(failed, { status: 'FAILED', attempts: 1, sent_at: null })
  t.regex(failed.last_error, /550/)
  t.is((await emailJobOf(stack.owner, row.id))!.retry_count, 0)
  t.is(smtp.to('refused@kunde.example').length, 0)
})

test.serial('a FAILED mail is not lost: retrying its job from the board delivers it once the relay is back', async (t) => {
  const [row] = await outboxOf(stack.owner, exhaustedLeadId)
  await stack.deps.boss.retry('email.send', (await emailJobOf(stack.owner, row.id))!.id)
  await waitUntil('the delivery', async () => (await outboxOf(stack.owner, exhaustedLeadId))[0].status === 'SENT')
  t.is(smtp.to('spaet@kunde.example').length, 1)
  t.is((await outboxOf(stack.owner, exhaustedLeadId))[0].attempts, 3)
})
