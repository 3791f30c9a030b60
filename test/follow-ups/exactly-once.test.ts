// §6 "each follow-up happens at most once per lead, also when a job runs twice": concurrent runs,
// a re-delivered job, and the daily sweep next to the scheduled jobs all end in one mail and one
// activity per lead and kind.
import test from 'ava'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { ManualClock, type Stack } from '../helpers/stack.ts'
import type { TestSmtpServer } from '../helpers/smtp.ts'
import { runFollowUp, scheduleFollowUps } from '../../models/follow-ups.ts'
import { activitiesOf, emailJobOf, insertLead, jobsFor, leadRow, makeDueNow, outboxOf, settled, startMailStack, stopMailStack, waitUntil } from './support.ts'

// Registered on a Sunday 10:00 CEST: T+3 is due Wednesday 10:00 (08:00 UTC), T+7 (a Sunday) Monday 09:00.
const registeredAt = new Date('2031-06-08T08:00:00.000Z')
const clock = new ManualClock('2031-06-12T08:00:00.000Z') // Thursday: T+3 due, T+7 not yet
let smtp: TestSmtpServer
let stack: Stack
/** Every lead of this file; `scheduled` ones got their jobs from scheduleFollowUps, the others rely on the sweep. */
const leads: { id: string; email: string; scheduled: boolean }[] = []

test.before(async () => {
  ;({ stack, smtp } = await startMailStack({ clock }))
})
test.after.always(() => stopMailStack({ stack, smtp }))

async function newLead(name: string, options: { scheduled: boolean }): Promise<{ id: string; email: string }> {
  const email = `${name}@kunde.example`
  const id = await insertLead(stack.owner, { registeredAt, email, emailConsent: true })
  if (options.scheduled) {
    await inTransaction(stack.deps.knex, systemContext('default'), (tx) => scheduleFollowUps(stack.deps, tx, { id, tenantId: 'default', territory: 'DE', registeredAt }))
  }
  leads.push({ id, email, ...options })
  return { id, email }
}

async function emailJobSettled(outboxId: string): Promise<void> {
  await waitUntil('the email.send job to complete', async () => (await emailJobOf(stack.owner, outboxId))?.state === 'completed')
}

/** What a worker that died after its commit but before acknowledging leaves behind: the same job, due again. */
async function redeliver(jobId: string): Promise<void> {
  await stack.owner('pgboss.job').where('id', jobId).update({ state: 'created', start_after: stack.owner.raw('now()'), started_on: null, completed_on: null, output: null })
}

/** Runs the daily sweep as the schedule would: a job on its queue. */
async function runSweep(): Promise<{ due: number; enqueued: number }> {
  let id: string | null = null
  // The queue admits one sweep at a time; should the real daily schedule fire right now, wait for it.
  await waitUntil('room for a sweep', async () => (id = await stack.deps.boss.send('follow-up.sweep', {})) !== null)
  await waitUntil('the sweep to finish', async () => (await stack.owner('pgboss.job').where('id', id!).first('state'))?.state === 'completed')
  return (await stack.owner('pgboss.job').where('id', id!).first('output')).output
}

const t3Mails = (email: string) => smtp.to(email).filter((mail) => mail.subject.includes('Starter-Box'))

test.serial('three runs of the same follow-up at the same moment: one is sent, two find it done', async (t) => {
  const { id, email } = await newLead('concurrent', { scheduled: false })
  const results = await Promise.all([1, 2, 3].map(() => runFollowUp(stack.deps, 'T3', { leadId: id, tenantId: 'default' })))
  t.deepEqual(results.map((r) => r.outcome).sort(), ['sent', 'skipped', 'skipped'])
  const [row] = await outboxOf(stack.owner, id)
  await emailJobSettled(row.id)
  t.is(t3Mails(email).length, 1)
  t.is((await outboxOf(stack.owner, id)).length, 1)
  t.is((await activitiesOf(stack.owner, id)).filter((a) => a.type === 'FOLLOW_UP_T3').length, 1)
  t.is((await leadRow(stack.owner, id)).version, 2)
})

test.serial('the same follow-up job and e-mail job delivered a second time change nothing', async (t) => {
  const { id, email } = await newLead('redelivered', { scheduled: true })
  await makeDueNow(stack.owner, 'follow-up.t3', `${id}:T3`)
  await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
  const [row] = await outboxOf(stack.owner, id)
  await emailJobSettled(row.id)
  const sentAt = (await leadRow(stack.owner, id)).t3_sent_at

  const [job] = await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`)
  await redeliver(job!.id)
  await redeliver((await emailJobOf(stack.owner, row.id))!.id)
  await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
  await emailJobSettled(row.id)

  t.like((await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`))[0]!.output, { results: [{ outcome: 'skipped', kind: 'T3' }] })
  t.like((await emailJobOf(stack.owner, row.id))!.output, { results: [{ outcome: 'already-sent' }] })
  t.is(t3Mails(email).length, 1)
  t.like(await leadRow(stack.owner, id), { t3_sent_at: sentAt, version: 2 })
  t.is((await activitiesOf(stack.owner, id)).filter((a) => a.type === 'FOLLOW_UP_T3').length, 1)
  t.like((await outboxOf(stack.owner, id))[0], { status: 'SENT', attempts: 1 })
})

test.serial('the sweep next to a waiting scheduled job adds none; the job then sends the one mail', async (t) => {
  const { id, email } = await newLead('scheduled', { scheduled: true })
  t.deepEqual(await runSweep(), { due: 1, enqueued: 0 })
  t.deepEqual((await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`)).map((j) => j.state), ['created'])

  await makeDueNow(stack.owner, 'follow-up.t3', `${id}:T3`)
  await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
  await emailJobSettled((await outboxOf(stack.owner, id))[0].id)
  t.deepEqual(await runSweep(), { due: 0, enqueued: 0 })
  t.is(t3Mails(email).length, 1)
  t.is((await activitiesOf(stack.owner, id)).filter((a) => a.type === 'FOLLOW_UP_T3').length, 1)
})

test.serial('an imported lead without jobs: the sweep enqueues its due T+3 once, a second sweep nothing', async (t) => {
  const { id, email } = await newLead('imported', { scheduled: false })
  t.deepEqual(await runSweep(), { due: 1, enqueued: 1 })
  await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
  await emailJobSettled((await outboxOf(stack.owner, id))[0].id)
  t.deepEqual(await runSweep(), { due: 0, enqueued: 0 })
  t.is((await jobsFor(stack.owner, 'follow-up.t3', `${id}:T3`)).length, 1)
  t.deepEqual(await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`), [], 'T+7 is not due yet')
  t.is(t3Mails(email).length, 1)
})

test.serial('on the T+7 day the sweep catches up every lead without a waiting T+7 job; in the end each lead has one mail and one activity per kind', async (t) => {
  clock.set('2031-06-16T07:00:00.000Z') // Monday 09:00 CEST
  // The leads created with their jobs already have a waiting T+7 job; the sweep leaves those to them.
  t.deepEqual(await runSweep(), { due: 4, enqueued: 2 })
  for (const { id, scheduled } of leads) {
    if (scheduled) await makeDueNow(stack.owner, 'follow-up.t7', `${id}:T7`)
    await settled(stack.owner, 'follow-up.t7', `${id}:T7`)
    t.is((await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`)).length, 1)
  }
  await waitUntil('every T+7 mail', () => leads.every(({ email }) => smtp.to(email).length === 2))
  for (const { id, email } of leads) {
    t.deepEqual(smtp.to(email).map((mail) => mail.subject.includes('Starter-Box')).sort(), [false, true], email)
    const types = (await activitiesOf(stack.owner, id)).map((a) => a.type).filter((type) => type.startsWith('FOLLOW_UP'))
    t.deepEqual(types.sort(), ['FOLLOW_UP_T3', 'FOLLOW_UP_T7'], email)
  }
  t.is(smtp.received.length, 2 * leads.length)
})

test.serial('the worker registers the sweep as a daily pg-boss schedule', async (t) => {
  const schedules = await stack.deps.boss.getSchedules('follow-up.sweep')
  t.deepEqual(schedules.map((s) => [s.name, s.cron]), [['follow-up.sweep', '0 8 * * *']])
})
