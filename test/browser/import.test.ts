// §14: /import in a real browser — sign in, upload a CSV the test writes, watch the import finish,
// see the rows that were not imported with row, column and message. Screenshot: docs/import.png.
import test from 'ava'
import { writeFile, mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import iconv from 'iconv-lite'
import type { Browser } from 'playwright-core'
import { importJob } from '../../jobs/imports.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { tokenFor } from '../helpers/api.ts'
import { launchBrowser, screenshotPath } from '../helpers/browser.ts'

let stack: Stack
let browser: Browser

test.before(async () => {
  stack = await startStack({ worker: true, jobs: [importJob], schedules: [], services: [] })
  browser = await launchBrowser()
})
test.after.always(async () => {
  await browser?.close()
  await stack?.stop()
})

test('upload a Windows-1252 CSV on /import and watch it complete, with the rejected rows listed', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'import-page-'))
  const file = path.join(dir, 'messe-2026.csv')
  const lines = [
    'Firma;Ansprechpartner;E-Mail;Ort;Land;Branche',
    'Bäckerei Müller GmbH;Jürgen Groß;jg@mueller.example;Berlin;Deutschland;Restaurant',
    'Hotel Alpenblick;Renée Dubois;info@alpenblick.example;Zürich;Schweiz;Hotel',
    'Kantine Süd;;kantine@sued.example;München;DE;Kantine',
    ';Niemand;niemand@example.example;;;',
    'Falsche Adresse AG;;keine-adresse;Köln;DE;Catering',
    'Bäckerei Müller Filiale;;JG@mueller.example;Potsdam;DE;Restaurant',
  ]
  await writeFile(file, iconv.encode(lines.join('\r\n'), 'win1252'))

  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } })
  await page.goto(`${stack.baseUrl}/import`)
  await page.waitForURL(/\/login\?next=%2Fimport/)
  await page.fill('#token', await tokenFor({ user: 'sales-import', role: 'SALES', territories: ['DE', 'CH'] }))
  await page.click('button[type=submit]')
  await page.waitForURL(/\/import$/)

  await page.setInputFiles('#file', file)
  await page.selectOption('#source', 'EMPFEHLUNG')
  await page.click('#upload button[type=submit]')
  await page.locator('#status.COMPLETED').waitFor({ timeout: 30_000 })
  t.is(await page.locator('#total').textContent(), '6')
  t.is(await page.locator('#created').textContent(), '3')
  t.is(await page.locator('#failed').textContent(), '2')
  t.is(await page.locator('#duplicates').textContent(), '1')
  await page.locator('#errors:not([hidden]) tbody tr').nth(2).waitFor({ timeout: 5_000 })
  const rows = await page.locator('#errors tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
  t.deepEqual(rows.map((cells) => cells.slice(0, 2)), [['5', 'Firma'], ['6', 'E-Mail'], ['7', 'E-Mail']])

  const leads = (await stack.owner.raw(`select company_name, source, owner_user_id from leads order by company_name`)).rows
  t.deepEqual(leads.map((l: any) => [l.company_name, l.source, l.owner_user_id]), [
    ['Bäckerei Müller GmbH', 'EMPFEHLUNG', 'sales-import'], ['Hotel Alpenblick', 'EMPFEHLUNG', 'sales-import'], ['Kantine Süd', 'EMPFEHLUNG', 'sales-import'],
  ])
  await page.screenshot({ path: screenshotPath('import.png'), fullPage: true })

  // An unreadable upload is answered on the page, not silently dropped.
  const importsBefore = Number((await stack.owner.raw('select count(*) as n from imports')).rows[0].n)
  const bad = path.join(dir, 'bild.png')
  await writeFile(bad, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))
  await page.setInputFiles('#file', bad)
  await page.click('#upload button[type=submit]')
  await page.locator('#problem', { hasText: 'neither CSV nor XLSX' }).waitFor({ timeout: 5_000 })
  t.regex((await page.locator('#problem').textContent()) ?? '', /neither CSV nor XLSX/)
  t.is(Number((await stack.owner.raw('select count(*) as n from imports')).rows[0].n), importsBefore, 'a refused upload stores no import')
  await page.close()
})
