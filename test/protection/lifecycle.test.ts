// §10 acceptance, lifecycle: a lead created through the API without progress goes REMINDER at
// deadline − 7 d (owner's mail), GRACE_PERIOD at the deadline, EXPIRED 10 days later (owner released,
// managers' mail), each once even when its job runs again; progress brings it back and moves the
// deadline, other activities do not; a stopped clock stops all of it; backdating recomputes.
// Real PostgreSQL, real pg-boss workers, a real SMTP receiver, the injectable clock.
import test from 'ava'
import { MANAGER_MAILS, OWNER_MAIL, activitiesOf, activityTypes, eventsOf, leadRow, outboxOf, protectionJobs, runExtraJob, runWaitingJob, startProtectionStack, stopProtectionStack, waitUntil, type ProtectionStack } from './support.ts'

const DAY = 24 * 60 * 60 * 1000
// Monday 2031-01-06 10:00 in Berlin (CET). Far in the future: no job becomes due on its own.
const T0 = new Date('2031-01-06T09:00:00.000Z')
let service: ProtectionStack

test.before(async () => {
  service = await startProtectionStack(T0)
})
test.after.always(() => stopProtectionStack(service))

async function createLead(companyName: string, extra: Record<string, unknown> = {}): Promise<any> {
  const response = await service.api('POST', '/api/leads', { token: service.tokens.sales, body: { companyName, countryCode: 'DE', ...extra } })
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${JSON.stringify(response.body)}`)
  return response.body
}

async function post(path: string, token: string, body?: unknown) {
  return service.api('POST', path, { token, body })
}

test.serial('without progress: REMINDER at deadline − 7 d with the owner\'s mail, GRACE_PERIOD at the deadline, EXPIRED 10 days later with the managers\' mail', async (t) => {
  const { owner } = service.stack
  service.clock.set(T0)
  const lead = await createLead('Gasthaus Ohne Fortschritt')
  // The lead resource carries the dates: 6 calendar months (CET → CEST, still 10:00 Berlin) and 60 days.
  t.like(lead, { protectionStartAt: T0.toISOString(), protectionUntil: '2031-07-06T08:00:00.000Z', progressDeadline: '2031-03-07T09:00:00.000Z', clockStoppedAt: null, stopReason: null, pausedSeconds: 0, ownerUserId: 'sales-1' })
  // Put a collaborator on it: released owners leave collaborators in place.
  t.is((await service.api('PUT', `/api/leads/${lead.id}/collaborators/sales-3`, { token: service.tokens.manager })).status, 200)

  // The REMINDER job was enqueued with the create, due 7 days before the deadline.
  const [reminderJob] = await protectionJobs(owner, lead.id, 'REMINDER')
  t.is(reminderJob!.start_after.toISOString(), '2031-02-28T09:00:00.000Z')

  // Just before it is due, a job that runs early (or twice) changes nothing.
  service.clock.set(new Date('2031-02-28T08:59:59.000Z'))
  const early = await runExtraJobOnOtherKind(lead.id)
  t.is(early.output.results[0].outcome, 'nothing-due')
  t.is((await leadRow(owner, lead.id)).status, 'REGISTERED')

  // REMINDER
  const reminder = await runWaitingJob(service, lead.id, 'REMINDER')
  t.is(reminder.state, 'completed')
  t.deepEqual(reminder.output.results[0].transitions, ['REMINDER'])
  let row = await leadRow(owner, lead.id)
  t.is(row.status, 'REMINDER')
  await waitUntil('the owner\'s warning mail', () => service.smtp.to(OWNER_MAIL).length === 1)
  const warning = service.smtp.to(OWNER_MAIL)[0]!
  t.is(warning.subject, 'Lead-Schutz läuft ab: Gasthaus Ohne Fortschritt braucht bis Freitag, 7. März 2031 um 10:00 einen Fortschritt')
  t.true(warning.text.includes(`/api/leads/${lead.id}`))
  t.false(warning.text.includes('Abmelden'), 'an internal mail: no customer footer')
  const reminderSent = (await activitiesOf(owner, lead.id, 'REMINDER_SENT'))[0]
  t.like(reminderSent.metadata, { email: 'QUEUED', cause: 'PROGRESS_DEADLINE_NEAR', progressDeadline: '2031-03-07T09:00:00.000Z' })

  // GRACE_PERIOD at the deadline
  const grace = await runWaitingJob(service, lead.id, 'GRACE_PERIOD')
  t.deepEqual(grace.output.results[0].transitions, ['GRACE_PERIOD'])
  row = await leadRow(owner, lead.id)
  t.is(row.status, 'GRACE_PERIOD')
  t.is((await activitiesOf(owner, lead.id, 'GRACE_PERIOD_STARTED'))[0].metadata.graceEndsAt, '2031-03-17T09:00:00.000Z')

  // EXPIRED 10 days later
  const expiredJob = (await protectionJobs(owner, lead.id, 'EXPIRED')).find((job) => job.state === 'created')
  t.is(expiredJob!.data.dueAt, '2031-03-17T09:00:00.000Z')
  const expired = await runWaitingJob(service, lead.id, 'EXPIRED')
  t.deepEqual(expired.output.results[0].transitions, ['EXPIRED'])
  row = await leadRow(owner, lead.id)
  t.is(row.status, 'EXPIRED')
  t.is(row.owner_user_id, null, 'the owner is released')
  t.deepEqual(row.collaborator_user_ids, ['sales-3'], 'collaborators kept')
  for (const address of MANAGER_MAILS.DE) await waitUntil(`the managers' mail to ${address}`, () => service.smtp.to(address).length === 1)
  t.is(service.smtp.to(MANAGER_MAILS.DE[0]!)[0]!.subject, 'Lead freigegeben: Gasthaus Ohne Fortschritt')
  t.true(service.smtp.to(MANAGER_MAILS.DE[0]!)[0]!.text.includes('(bisher: sales-1)'))
  t.is(service.smtp.to(MANAGER_MAILS.CH[0]!).length, 0, 'only the territory\'s managers')

  // Every job once more, late: nothing happens a second time.
  service.clock.set(new Date('2031-04-01T00:00:00.000Z'))
  for (const kind of ['REMINDER', 'GRACE_PERIOD', 'EXPIRED'] as const) {
    const again = await runExtraJob(service, lead.id, kind)
    t.is(again.output.results[0].outcome, 'nothing-due', kind)
  }
  // Activities of one transaction share their created_at: compared as a sorted list.
  t.deepEqual((await activityTypes(owner, lead.id)).filter((type) => type !== 'ASSIGNED').sort(), [
    'CREATED', 'GRACE_PERIOD_STARTED', 'PROTECTION_EXPIRED', 'REMINDER_SENT', 'STATUS_CHANGE', 'STATUS_CHANGE', 'STATUS_CHANGE',
  ])
  t.is(service.smtp.to(OWNER_MAIL).length, 1)
  t.is((await outboxOf(owner, lead.id)).length, 3, 'one warning, two manager mails')
  const transitions = (await eventsOf(owner, lead.id)).filter((event) => event.type === 'freshplan.lead.status_changed')
  t.deepEqual(transitions.map((event) => `${event.data.from}→${event.data.to}`), ['REGISTERED→REMINDER', 'REMINDER→GRACE_PERIOD', 'GRACE_PERIOD→EXPIRED'])
  t.is(transitions[2]!.owner_user_id, 'sales-1', 'the released owner still sees the expiry event')

  // The manager sees the ownerless lead through the API.
  const read = await service.api('GET', `/api/leads/${lead.id}`, { token: service.tokens.manager })
  t.like(read.body, { status: 'EXPIRED', ownerUserId: null })

  // A manager reactivates it: a new claim starts now, with its own REMINDER job.
  const reactivatedAt = new Date('2031-04-01T08:00:00.000Z')
  service.clock.set(reactivatedAt)
  const patched = await service.api('PATCH', `/api/leads/${lead.id}`, { token: service.tokens.manager, body: { status: 'ACTIVE' }, headers: { 'if-match': read.headers.get('etag')! } })
  t.is(patched.status, 200)
  t.like(patched.body, { status: 'ACTIVE', protectionStartAt: reactivatedAt.toISOString(), progressDeadline: '2031-05-31T08:00:00.000Z', registeredAt: T0.toISOString() })
  const waiting = (await protectionJobs(owner, lead.id, 'REMINDER')).filter((job) => job.state === 'created')
  t.is(waiting.length, 1)
  t.is(waiting[0]!.start_after.toISOString(), '2031-05-24T08:00:00.000Z')
})

/** A job of the kind that is *not* due yet, run now: what a duplicate or early delivery looks like. */
async function runExtraJobOnOtherKind(leadId: string) {
  return runExtraJob(service, leadId, 'EXPIRED')
}

test.serial('progress at any point brings the lead back to ACTIVE and moves the deadline; a non-progress activity does not', async (t) => {
  const { owner } = service.stack
  service.clock.set(T0)
  const lead = await createLead('Hotel Fortschritt')
  const [first] = await protectionJobs(owner, lead.id, 'REMINDER')

  // A NOTE changes nothing; a MEETING on day 20 moves the deadline to day 80, and the waiting job with it.
  service.clock.set(new Date(T0.getTime() + 20 * DAY))
  t.is((await post(`/api/leads/${lead.id}/activities`, service.tokens.sales, { type: 'NOTE', summary: 'Notiz' })).status, 201)
  t.is((await leadRow(owner, lead.id)).progress_deadline.toISOString(), '2031-03-07T09:00:00.000Z')
  t.is((await post(`/api/leads/${lead.id}/activities`, service.tokens.sales, { type: 'MEETING', summary: 'Termin vor Ort' })).status, 201)
  let row = await leadRow(owner, lead.id)
  t.is(row.progress_deadline.toISOString(), '2031-03-27T09:00:00.000Z')
  t.is(row.status, 'ACTIVE')
  const jobs = await protectionJobs(owner, lead.id, 'REMINDER')
  t.is(jobs.length, 1, 'the newer deadline superseded the waiting job (same job, new time)')
  t.is(jobs[0]!.id, first!.id)
  t.is(jobs[0]!.start_after.toISOString(), '2031-03-20T09:00:00.000Z')

  // REMINDER at the new time; then a CALL (meaningful, not progress) leaves it in REMINDER.
  await runWaitingJob(service, lead.id, 'REMINDER')
  t.is((await leadRow(owner, lead.id)).status, 'REMINDER')
  t.is((await post(`/api/leads/${lead.id}/activities`, service.tokens.sales, { type: 'CALL', summary: 'Anruf, niemand erreicht' })).status, 201)
  row = await leadRow(owner, lead.id)
  t.is(row.status, 'REMINDER')
  t.is(row.progress_deadline.toISOString(), '2031-03-27T09:00:00.000Z')

  // GRACE_PERIOD, then a DEMO: ACTIVE again, deadline 60 days after the demo, next job a REMINDER.
  await runWaitingJob(service, lead.id, 'GRACE_PERIOD')
  t.is((await leadRow(owner, lead.id)).status, 'GRACE_PERIOD')
  service.clock.set(new Date('2031-03-30T08:00:00.000Z')) // Monday 10:00 CEST
  t.is((await post(`/api/leads/${lead.id}/activities`, service.tokens.sales, { type: 'DEMO', summary: 'Demo in der Küche' })).status, 201)
  row = await leadRow(owner, lead.id)
  t.is(row.status, 'ACTIVE')
  t.is(row.progress_deadline.toISOString(), '2031-05-29T08:00:00.000Z')
  t.like(row, { protection_next_kind: 'REMINDER' })
  // The EXPIRED job of the old grace period still waits: when it comes, it finds nothing due.
  const stale = await runWaitingJob(service, lead.id, 'EXPIRED')
  t.is(stale.output.results[0].outcome, 'nothing-due')
  t.is((await leadRow(owner, lead.id)).status, 'ACTIVE')
  t.is(service.smtp.to(OWNER_MAIL).length, 2, 'the first lead\'s warning and this lead\'s one')
})

test.serial('a stopped clock stops all of it; on resume the pause extends both dates; SALES may only request', async (t) => {
  const { owner } = service.stack
  service.clock.set(T0)
  const lead = await createLead('Kantine Pause')
  const reason = 'Betriebsferien des Kunden bis Ende Februar'

  // SALES requests: 202 REQUESTED, nothing stopped yet; another SALES user does not see the lead.
  t.is((await post(`/api/leads/${lead.id}/clock/stop`, service.tokens.otherSales, { reason })).status, 404)
  t.is((await post(`/api/leads/${lead.id}/clock/stop`, service.tokens.sales, { reason: 'zu kurz' })).status, 400)
  const requested = await post(`/api/leads/${lead.id}/clock/stop`, service.tokens.sales, { reason })
  t.is(requested.status, 202)
  t.like(requested.body, { status: 'REQUESTED', reason, requestedBy: 'sales-1', stoppedAt: null })
  t.is((await post(`/api/leads/${lead.id}/clock/approve`, service.tokens.sales)).status, 403)
  t.is((await post(`/api/leads/${lead.id}/clock/resume`, service.tokens.sales)).status, 403)

  // A manager approves on day 10.
  const stoppedAt = new Date(T0.getTime() + 10 * DAY)
  service.clock.set(stoppedAt)
  const approved = await post(`/api/leads/${lead.id}/clock/approve`, service.tokens.manager)
  t.is(approved.status, 200)
  t.like(approved.body, { status: 'STOPPED', stoppedAt: stoppedAt.toISOString(), reason })
  t.like((await activitiesOf(owner, lead.id, 'CLOCK_STOPPED'))[0].metadata, { reason, requestedBy: 'sales-1', approvedBy: 'manager-1' })
  t.is((await post(`/api/leads/${lead.id}/clock/stop`, service.tokens.manager, { reason })).status, 409)

  // Far past every date, the waiting job and the sweep change nothing.
  const job = await runWaitingJob(service, lead.id, 'REMINDER')
  t.is(job.output.results[0].outcome, 'nothing-due')
  service.clock.set(new Date('2031-09-01T00:00:00.000Z'))
  await runExtraJob(service, lead.id, 'EXPIRED')
  t.is((await leadRow(owner, lead.id)).status, 'REGISTERED')

  // Resume after 90 days and 37 minutes: both dates move by exactly that.
  const before = await leadRow(owner, lead.id)
  const pauseMs = 90 * DAY + 37 * 60_000
  service.clock.set(new Date(stoppedAt.getTime() + pauseMs))
  const resumed = await post(`/api/leads/${lead.id}/clock/resume`, service.tokens.manager)
  t.is(resumed.status, 200)
  t.like(resumed.body, { status: 'RUNNING', pausedSeconds: pauseMs / 1000 })
  const after = await leadRow(owner, lead.id)
  t.is(after.protection_until.getTime() - before.protection_until.getTime(), pauseMs)
  t.is(after.progress_deadline.getTime() - before.progress_deadline.getTime(), pauseMs)
  t.is((await activitiesOf(owner, lead.id, 'CLOCK_RESUMED'))[0].summary, `Clock resumed, paused: ${pauseMs / 60_000} minutes`)
  const reminders = (await protectionJobs(owner, lead.id, 'REMINDER')).filter((j) => j.state === 'created')
  t.is(reminders[0]!.start_after.getTime(), after.progress_deadline.getTime() - 7 * DAY)
  const types = (await eventsOf(owner, lead.id)).map((event) => event.type)
  t.true(types.includes('freshplan.lead.clock_stopped') && types.includes('freshplan.lead.clock_resumed'))
  const read = await service.api('GET', `/api/leads/${lead.id}`, { token: service.tokens.sales })
  t.like(read.body, { pausedSeconds: pauseMs / 1000, clockStoppedAt: null, progressDeadline: after.progress_deadline.toISOString() })
})

test.serial('backdating recomputes every date, and transitions now due happen at once', async (t) => {
  const { owner } = service.stack
  service.clock.set(T0)
  const lead = await createLead('Catering Altbestand')
  const body = { registeredAt: new Date(T0.getTime() - 62 * DAY).toISOString(), reason: 'Import eines Altbestands' }
  t.is((await service.api('PUT', `/api/leads/${lead.id}/registered-at`, { token: service.tokens.sales, body })).status, 403)
  t.is((await service.api('PUT', `/api/leads/${lead.id}/registered-at`, { token: service.tokens.manager, body: { ...body, registeredAt: '2031-02-01T00:00:00Z' } })).status, 400)
  const changed = await service.api('PUT', `/api/leads/${lead.id}/registered-at`, { token: service.tokens.manager, body })
  t.is(changed.status, 200)
  t.like(changed.body, { registeredAt: body.registeredAt, protectionStartAt: body.registeredAt, progressDeadline: '2031-01-04T09:00:00.000Z' })
  t.like((await activitiesOf(owner, lead.id, 'REGISTERED_AT_CHANGED'))[0].metadata, { to: body.registeredAt, reason: body.reason })
  // The REMINDER job was moved to the new due time, before the clock's now: it runs at once (the test's
  // 2031 is ahead of PostgreSQL's own time, so the job is released by hand) and goes on to GRACE_PERIOD.
  const [job] = await protectionJobs(owner, lead.id, 'REMINDER')
  t.is(job!.start_after.toISOString(), '2030-12-28T09:00:00.000Z')
  await owner('pgboss.job').where({ id: job!.id }).update({ start_after: owner.raw('now()') })
  await waitUntil('the backdated lead to reach GRACE_PERIOD', async () => (await leadRow(owner, lead.id)).status === 'GRACE_PERIOD')
  t.deepEqual((await activityTypes(owner, lead.id)).filter((type) => type !== 'CREATED').sort(), ['GRACE_PERIOD_STARTED', 'REGISTERED_AT_CHANGED', 'REMINDER_SENT', 'STATUS_CHANGE', 'STATUS_CHANGE'])
})

test.serial('a SALES collaborator\'s progress moves the deadline and it may request a clock stop (the database guard allows exactly that)', async (t) => {
  const { owner } = service.stack
  service.clock.set(T0)
  const lead = await createLead('Bäckerei Mitarbeit')
  t.is((await service.api('PUT', `/api/leads/${lead.id}/collaborators/sales-2`, { token: service.tokens.manager })).status, 200)
  service.clock.set(new Date(T0.getTime() + 10 * DAY))
  t.is((await post(`/api/leads/${lead.id}/activities`, service.tokens.otherSales, { type: 'SAMPLE_SENT', summary: 'Muster geschickt' })).status, 201)
  t.is((await leadRow(owner, lead.id)).progress_deadline.toISOString(), '2031-03-17T09:00:00.000Z', '60 days after the sample')
  const requested = await post(`/api/leads/${lead.id}/clock/stop`, service.tokens.otherSales, { reason: 'Kunde zieht um, erst im Mai erreichbar' })
  t.is(requested.status, 202)
  t.like(requested.body, { status: 'REQUESTED', requestedBy: 'sales-2' })
})
