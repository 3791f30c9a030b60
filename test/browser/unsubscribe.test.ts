// §13: the unsubscribe page in a real browser: the link of a mail opens a German confirmation page
// (no login, no script, the page's CSP), its button withdraws the consent; the queued mail is cancelled.
import test from 'ava'
import type { Browser } from 'playwright-core'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor } from '../helpers/api.ts'
import { launchBrowser, screenshotPath } from '../helpers/browser.ts'
import { inTransaction, systemContext } from '../../lib/db.ts'
import { queueOutboxMail, unsubscribeLink } from '../../models/email-outbox.ts'

let stack: Stack
let browser: Browser

test.before(async () => {
  stack = await startStack()
  browser = await launchBrowser()
})
test.after.always(async () => {
  await browser?.close()
  await stack?.stop()
})

test('the mail\'s link opens the confirmation page; its button unsubscribes and cancels the queued mail', async (t) => {
  const api = apiClient(stack.baseUrl)
  const created = await api('POST', '/api/leads', { token: await tokenFor({ user: 'sales-1', role: 'SALES' }), body: { companyName: 'Metzgerei Huber', email: 'info@huber.example', emailConsent: true } })
  const id = created.body.id as string
  // A mail as the follow-up job queues it (no worker here: it stays QUEUED).
  const link = unsubscribeLink({ publicBaseUrl: stack.baseUrl })
  const outboxId = await inTransaction(stack.deps.knex, systemContext('default'), (tx) => queueOutboxMail(stack.deps, tx, {
    leadId: id, territory: 'DE', templateKey: 'SAMPLE_REQUEST', dedupeKey: `follow-up:${id}:T3`, recipient: 'info@huber.example',
    subject: 'Ihre Starter-Box', text: `Abmelden: ${link.url}`, html: `<a href="${link.url}">Abmelden</a>`, unsubscribeToken: link.token,
  }))

  const page = await browser.newPage({ viewport: { width: 800, height: 520 } })
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (error) => problems.push(error.message))
  const response = await page.goto(link.url)
  t.is(response!.status(), 200)
  t.is(await page.locator('html').getAttribute('lang'), 'de')
  t.is(await page.locator('h1').textContent(), 'E-Mails von FreshPlan abbestellen')
  await page.screenshot({ path: screenshotPath('unsubscribe.png') })

  await page.click('#unsubscribe')
  await page.locator('#done').waitFor({ timeout: 5_000 })
  t.is(await page.locator('#done').textContent(), 'Sie sind abgemeldet')
  t.deepEqual(problems, [], 'no CSP violation or script error')
  const lead = await stack.owner('leads').where('id', id).first()
  t.false(lead.email_consent)
  t.is((await stack.owner('email_outbox').where('id', outboxId!).first()).status, 'CANCELLED')

  // Back and once more: the same page, still one CONSENT_REVOKED.
  await page.goBack()
  await page.click('#unsubscribe')
  await page.locator('#done').waitFor({ timeout: 5_000 })
  t.is((await stack.owner('lead_activities').where({ lead_id: id, type: 'CONSENT_REVOKED' })).length, 1)
  await page.close()
})
