// §13 acceptance: a follow-up mail received by a real SMTP server; its List-Unsubscribe URL POSTed
// as a mail client does (RFC 8058) withdraws the consent once; the lead's T+7 mail is not sent.
import test from 'ava'
import { ManualClock, startStack, type Stack } from '../helpers/stack.ts'
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { activitiesOf, centralEuropean, jobsFor, leadRow, makeDueNow, outboxOf, settled, waitUntil } from '../follow-ups/support.ts'

const DAY = 24 * 60 * 60 * 1000
const registeredAt = centralEuropean('2031-03-05T10:00:00', 1)
const clock = new ManualClock(registeredAt)
let smtp: TestSmtpServer
let stack: Stack
let api: Api

test.before(async () => {
  smtp = await startSmtpServer()
  stack = await startStack({ worker: true, clock, env: { SMTP_URL: smtp.url } })
  api = apiClient(stack.baseUrl)
})
test.after.always(async () => {
  await stack?.stop()
  await smtp?.stop()
})

/** What a mail client does with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 §3.1). */
async function oneClick(url: string, body = 'List-Unsubscribe=One-Click'): Promise<Response> {
  // The link names PUBLIC_BASE_URL; the service under test listens on a port of its own.
  const { pathname } = new URL(url)
  return fetch(stack.baseUrl + pathname, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, redirect: 'manual' })
}

async function countEvents(leadId: string, type: string): Promise<number> {
  const { rows } = await stack.owner.raw(`select count(*)::int as n from lead_events where lead_id = ? and type = ?`, [leadId, type])
  return rows[0].n
}

test.serial('the List-Unsubscribe URL of a received follow-up revokes consent once; the T+7 mail is not sent', async (t) => {
  const email = 'kuechenchef@linde.example'
  const sales = await tokenFor({ user: 'sales-1', role: 'SALES' })
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Gasthaus Linde', contactName: 'Erika Muster', email, emailConsent: true, businessType: 'RESTAURANT' } })
  t.is(created.status, 201, JSON.stringify(created.body))
  const id = created.body.id as string

  clock.set(new Date(registeredAt.getTime() + 3 * DAY))
  await makeDueNow(stack.owner, 'follow-up.t3', `${id}:T3`)
  await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
  await waitUntil('the T+3 mail', () => smtp.to(email).length > 0)
  const mail = smtp.to(email)[0]!
  t.is(mail.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click')
  const url = /^<(.+)>$/.exec(mail.headers['list-unsubscribe']!)![1]!
  const token = url.split('/').at(-1)!
  t.regex(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  t.true(mail.text.includes(url), 'the same link in the body')

  // GET changes nothing (link scanners): the confirmation page with the button.
  const page = await fetch(stack.baseUrl + new URL(url).pathname)
  t.is(page.status, 200)
  t.regex(page.headers.get('content-security-policy')!, /default-src 'none'.*frame-ancestors 'none'/)
  t.true((await page.text()).includes('Jetzt abmelden'))
  t.true((await leadRow(stack.owner, id)).email_consent)

  // Not a one-click body: refused, nothing written.
  t.is((await oneClick(url, 'List-Unsubscribe=Yes')).status, 400)
  t.is((await fetch(stack.baseUrl + new URL(url).pathname, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"List-Unsubscribe":"One-Click"}' })).status, 400)
  t.is((await oneClick(url, `List-Unsubscribe=One-Click&pad=${'x'.repeat(2000)}`)).status, 400, 'bounded body')
  t.true((await leadRow(stack.owner, id)).email_consent)

  const first = await oneClick(url)
  t.is(first.status, 200)
  const done = await first.text()
  t.true(done.includes('Sie sind abgemeldet'))
  const lead = await leadRow(stack.owner, id)
  t.false(lead.email_consent)
  t.is(lead.consent_revoked_at.toISOString(), clock.now().toISOString())
  const again = await oneClick(url)
  t.is(again.status, 200)
  t.is(await again.text(), done, 'repeated use: the same page')
  const revoked = (await activitiesOf(stack.owner, id)).filter((a) => a.type === 'CONSENT_REVOKED')
  t.is(revoked.length, 1, 'no second activity')
  t.is(revoked[0]!.user_id, 'unsubscribe-link')
  // RFC 8058 also allows multipart/form-data: the same outcome, still one activity.
  const form = new FormData()
  form.set('List-Unsubscribe', 'One-Click')
  const multipart = await fetch(stack.baseUrl + new URL(url).pathname, { method: 'POST', body: form })
  t.is(multipart.status, 200)
  t.is(await multipart.text(), done)
  t.is((await activitiesOf(stack.owner, id)).filter((a) => a.type === 'CONSENT_REVOKED').length, 1)
  t.is(await countEvents(id, 'freshplan.lead.consent_revoked'), 1)
  const history = await stack.owner('lead_history').where('lead_id', id).orderBy('id')
  t.deepEqual(history.at(-1).changes.email_consent, { from: true, to: false })

  clock.set(new Date(registeredAt.getTime() + 7 * DAY))
  await makeDueNow(stack.owner, 'follow-up.t7', `${id}:T7`)
  await settled(stack.owner, 'follow-up.t7', `${id}:T7`)
  t.is((await jobsFor(stack.owner, 'follow-up.t7', `${id}:T7`))[0]!.state, 'completed')
  const t7 = (await activitiesOf(stack.owner, id)).find((a) => a.type === 'FOLLOW_UP_T7')!
  t.is(t7.summary, 'T+7 follow-up: bulk-order offer, no e-mail (no consent)')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.is(smtp.to(email).length, 1, 'only the T+3 mail arrived')
  t.deepEqual((await outboxOf(stack.owner, id)).map((m) => m.template_key), ['SAMPLE_REQUEST'])
})

test.serial('an unknown or malformed token: 404 page, nothing looked up beyond the function', async (t) => {
  for (const token of ['A'.repeat(43), 'not-a-token', '00000000-0000-4000-8000-000000000000']) {
    const get = await fetch(`${stack.baseUrl}/unsubscribe/${token}`)
    t.is(get.status, 404)
    t.true((await get.text()).includes('ungültig'))
    const post = await oneClick(`http://x/unsubscribe/${token}`)
    t.is(post.status, 404)
  }
})

test.serial('a queued mail is cancelled with its job when consent is withdrawn in the CRM; a second revoke changes nothing', async (t) => {
  const email = 'inhaber@rose.example'
  const sales = await tokenFor({ user: 'sales-2', role: 'SALES' })
  const created = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Café Rose', email, emailConsent: true } })
  const id = created.body.id as string
  // SMTP down: the T+3 mail stays QUEUED with its email.send job waiting for a retry.
  await smtp.stop()
  try {
    clock.set(new Date(registeredAt.getTime() + 3 * DAY))
    await makeDueNow(stack.owner, 'follow-up.t3', `${id}:T3`)
    await settled(stack.owner, 'follow-up.t3', `${id}:T3`)
    const [queued] = await outboxOf(stack.owner, id)
    t.is(queued.status, 'QUEUED')
    const other = await tokenFor({ user: 'sales-3', role: 'SALES' })
    t.is((await api('POST', `/api/leads/${id}/consent/revoke`, { token: other })).status, 404, 'not a user of this lead')
    // A collaborator (not the owner) may withdraw consent: one of the lead's users.
    t.is((await api('PUT', `/api/leads/${id}/collaborators/sales-3`, { token: sales })).status, 200)
    const revoke = await api('POST', `/api/leads/${id}/consent/revoke`, { token: other })
    t.is(revoke.status, 200, JSON.stringify(revoke.body))
    t.false(revoke.body.emailConsent)
    t.is(revoke.body.consentRevokedAt, clock.now().toISOString())
    const [cancelled] = await outboxOf(stack.owner, id)
    t.is(cancelled.status, 'CANCELLED')
    const { rows: jobs } = await stack.owner.raw(`select state from pgboss.job where name = 'email.send' and data->>'outboxId' = ?`, [cancelled.id])
    t.deepEqual(jobs.map((j: { state: string }) => j.state), ['cancelled'])
    t.is(revoke.body.consentRevokedAt, clock.now().toISOString())
    // …but cannot give it back (leads_guard), neither through the API nor directly.
    t.is((await api('PATCH', `/api/leads/${id}`, { token: other, headers: { 'If-Match': `"${revoke.body.version}"`, 'content-type': 'application/merge-patch+json' }, body: { emailConsent: true } })).status, 403)
    const direct = stack.webDeps.knex.transaction(async (trx) => {
      await trx.raw(`select set_config('app.tenant_id', 'default', true), set_config('app.user_id', 'sales-3', true), set_config('app.role', 'SALES', true), set_config('app.territories', 'DE', true)`)
      await trx('leads').where('id', id).update({ email_consent: true })
    })
    await t.throwsAsync(direct, { message: /SALES may update own leads only/ })
    const second = await api('POST', `/api/leads/${id}/consent/revoke`, { token: sales })
    t.is(second.body.version, revoke.body.version)
    t.is((await activitiesOf(stack.owner, id)).filter((a) => a.type === 'CONSENT_REVOKED').length, 1)
  } finally {
    await smtp.start()
  }
})
