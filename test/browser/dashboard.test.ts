// Issue 7: /dashboard in a real browser shows a lead created through the API within a second.
import test from 'ava'
import type { Browser } from 'playwright-core'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor } from '../helpers/api.ts'
import { launchBrowser, screenshotPath } from '../helpers/browser.ts'

let stack: Stack
let browser: Browser

test.before(async () => {
  stack = await startStack({ worker: true })
  browser = await launchBrowser()
})
test.after.always(async () => {
  await browser?.close()
  await stack?.stop()
})

test('a lead created through the API appears on the dashboard within a second, counted by type and territory', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } })
  await page.goto(`${stack.baseUrl}/dashboard`)
  await page.waitForURL(/\/login\?next=%2Fdashboard/)
  await page.fill('#token', await tokenFor({ user: 'manager-dash', role: 'MANAGER', territories: ['DE', 'CH'] }))
  await page.click('button[type=submit]')
  await page.waitForURL(/\/dashboard$/)
  await page.locator('#status.live').waitFor({ timeout: 10_000 })

  const api = apiClient(stack.baseUrl)
  const token = await tokenFor({ user: 'sales-dash', role: 'SALES', territories: ['CH'] })
  const started = Date.now()
  const created = await api('POST', '/api/leads', { token, body: { companyName: 'Hotel Bellevue Dashboard', countryCode: 'CH' } })
  t.is(created.status, 201)
  await page.locator(`#events li[data-subject="${created.body.id}"]`).waitFor({ timeout: 1_000 })
  const seenAfter = Date.now() - started
  t.log(`visible on the dashboard ${seenAfter} ms after the API call started`)
  t.true(seenAfter <= 1_000)
  t.regex((await page.locator(`#events li[data-subject="${created.body.id}"]`).textContent()) ?? '', /CH created Hotel Bellevue Dashboard/)
  t.is(await page.locator('tr[data-type="freshplan.lead.created"] td[data-territory="CH"]').textContent(), '1')
  t.is(await page.locator('tr[data-type="freshplan.lead.created"] td[data-territory="DE"]').textContent(), '0')

  // A few more changes for the screenshot: an activity and a German lead.
  await api('POST', `/api/leads/${created.body.id}/activities`, { token, body: { type: 'CALL', summary: 'Erstgespräch' } })
  await api('POST', '/api/leads', { token: await tokenFor({ user: 'sales-de', role: 'SALES', territories: ['DE'] }), body: { companyName: 'Kantine Westpark' } })
  await page.locator('#events li').nth(3).waitFor({ timeout: 5_000 })
  await page.screenshot({ path: screenshotPath('dashboard.png') })
  await page.close()
})
