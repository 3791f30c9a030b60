// Issue 14 point 5 in a real browser: after login, ?next= leads only to a path of this origin.
// `/\evil.example` and `/%09/evil.example` pass a naive "starts with one slash" check, and the
// browser then navigates to //evil.example; the login page must send those to the dashboard.
import test from 'ava'
import type { Browser } from 'playwright-core'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { launchBrowser } from '../helpers/browser.ts'

let stack: Stack
let browser: Browser
let token: string

test.before(async () => {
  stack = await startStack()
  browser = await launchBrowser()
  token = await tokenFor({ user: 'a-next', role: 'ADMIN', territories: ['DE'] })
})
test.after.always(async () => {
  await browser?.close()
  await stack?.stop()
})

/** Logs in on /login?next=<raw> and returns where the browser asked to go next. */
async function landingAfterLogin(rawNext: string): Promise<string> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const requested: string[] = []
  // Nothing may leave for another host; record the navigation instead of resolving it.
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.host !== new URL(stack.baseUrl).host) {
      if (route.request().isNavigationRequest()) requested.push(route.request().url())
      return route.abort()
    }
    return route.continue()
  })
  const errors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  await page.goto(`${stack.baseUrl}/login?next=${rawNext}`)
  await page.fill('#token', token)
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/login')).catch(() => undefined), page.click('button[type=submit]')])
  await page.waitForTimeout(300)
  const landed = requested[0] ?? page.url()
  if (errors.some((text) => /Content Security Policy/i.test(text))) throw new Error(`CSP blocked the login page: ${errors.join('; ')}`)
  await context.close()
  return landed
}

for (const rawNext of ['/\\evil.example', '/%09/evil.example', '%2F%2Fevil.example', 'https://evil.example/x', '/%5Cevil.example', 'javascript:alert(1)']) {
  test.serial(`next=${rawNext} stays on this site (the dashboard)`, async (t) => {
    const landed = new URL(await landingAfterLogin(rawNext))
    t.is(landed.origin, stack.baseUrl)
    t.is(landed.pathname, '/dashboard')
  })
}

test.serial('a same-origin next path with a query is followed', async (t) => {
  const landed = new URL(await landingAfterLogin(encodeURIComponent('/admin/queues/queue/follow-up.t3?status=delayed')))
  t.is(landed.origin, stack.baseUrl)
  t.is(landed.pathname + landed.search, '/admin/queues/queue/follow-up.t3?status=delayed')
})
