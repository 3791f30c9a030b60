// §14 through HTTP and the real job: POST /api/imports stores the file, a pg-boss worker imports it
// in batches through createLead. Files are written by the tests (Windows-1252 CSV with `;` and a
// quoted line break, XLSX by exceljs). Imported leads are compared with what POST /api/leads makes
// of the same rows (in a second tenant, so the e-mails do not collide).
import test from 'ava'
import ExcelJS from 'exceljs'
import iconv from 'iconv-lite'
import yazl from 'yazl'
import { importJob } from '../../jobs/imports.ts'
import { IMPORT_QUEUE } from '../../lib/queues.ts'
import { startStack, type Stack } from '../helpers/stack.ts'
import { apiClient, tokenFor, type Api } from '../helpers/api.ts'
import { waitFor } from '../helpers/wait.ts'

let stack: Stack
let api: Api

test.before(async () => {
  stack = await startStack({ worker: true, jobs: [importJob], schedules: [], services: [] })
  api = apiClient(stack.baseUrl)
})
test.after.always(() => stack?.stop())

async function upload(token: string, file: Buffer, fields: Record<string, string> = {}, filename = 'leads.csv'): Promise<{ status: number; headers: Headers; body: any }> {
  const form = new FormData()
  form.set('file', new Blob([new Uint8Array(file)]), filename)
  for (const [key, value] of Object.entries(fields)) form.set(key, value)
  const response = await fetch(`${stack.baseUrl}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
  return { status: response.status, headers: response.headers, body: await response.json() }
}

async function finished(token: string, location: string): Promise<any> {
  let last: any
  const done = await waitFor(async () => {
    last = (await api('GET', location, { token })).body
    return last.status === 'COMPLETED' || last.status === 'FAILED'
  }, 60_000, 100)
  if (!done) throw new Error(`import did not finish: ${JSON.stringify(last)}`)
  return last
}

async function allErrors(token: string, location: string): Promise<any[]> {
  const errors: any[] = []
  let cursor: string | null = null
  do {
    const page: { body: { data: any[]; nextCursor: string | null } } = await api('GET', `${location}/errors?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token })
    errors.push(...page.body.data)
    cursor = page.body.nextCursor
  } while (cursor)
  return errors
}

const counts = async () => (await stack.owner.raw(`
  select (select count(*)::int from leads) as leads, (select count(*)::int from lead_activities) as activities,
         (select count(*)::int from lead_events) as events, (select count(*)::int from pgboss.job where name like 'follow-up.%') as "followUps"`)).rows[0]

// Row 2–4 valid (4 with a quoted line break), 5 invalid e-mail + HTML, 6 no company and a bad
// country, 7 the e-mail of an existing lead, 8 the e-mail of row 2 again.
const HEADER = ['Firma', 'Ansprechpartner', 'E-Mail', 'Telefon', 'Straße', 'PLZ', 'Ort', 'Land', 'Branche', 'Mitarbeiter', 'Notizen']
const ROWS = [
  ['Bäckerei Müller GmbH', 'Jürgen Groß', 'jg@mueller.example', '030 1234567', 'Hauptstraße 1', '10115', 'Berlin', 'Deutschland', 'Restaurant', '12', 'Mag frische Ware'],
  ['Café Zürich AG', 'Renée Dubois', 'rd@cafe.example', '+41 44 123 45 67', 'Bahnhofstrasse 2', '8001', 'Zürich', 'DE', 'Hotel', '', ''],
  ['Kantine Süd', '', '', '', '', '', 'München', '', 'Kantine', '1.200', 'Zeile eins\nZeile zwei; mit Semikolon'],
  ['Falsch AG', '', 'kein-email', '', '', '<b>1</b>', '', '', '', '', ''],
  ['', 'Niemand', 'niemand@example.example', '', '', '', '', 'Mars', '', '', ''],
  ['Doppelt GmbH', '', 'Existing@Example.example', '', '', '', '', '', '', '', ''],
  ['Bäckerei Müller Zwei', '', 'JG@mueller.example', '', '', '', '', '', '', '', ''],
]
// What a form would POST for rows 2–4.
const BODIES = [
  { source: 'SONSTIGES', companyName: 'Bäckerei Müller GmbH', contactName: 'Jürgen Groß', email: 'jg@mueller.example', phone: '030 1234567', street: 'Hauptstraße 1', postalCode: '10115', city: 'Berlin', countryCode: 'DE', businessType: 'RESTAURANT', employeeCount: 12, notes: 'Mag frische Ware' },
  { source: 'SONSTIGES', companyName: 'Café Zürich AG', contactName: 'Renée Dubois', email: 'rd@cafe.example', phone: '+41 44 123 45 67', street: 'Bahnhofstrasse 2', postalCode: '8001', city: 'Zürich', countryCode: 'DE', businessType: 'HOTEL' },
  { source: 'SONSTIGES', companyName: 'Kantine Süd', city: 'München', businessType: 'KANTINE', employeeCount: 1200, notes: 'Zeile eins\nZeile zwei; mit Semikolon' },
]

function csv(rows: string[][], delimiter: string): string {
  const quote = (cell: string) => (/[";,\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell)
  return rows.map((row) => row.map(quote).join(delimiter)).join('\r\n') + '\r\n'
}

const VOLATILE = ['id', 'tenantId', 'createdAt', 'updatedAt', 'registeredAt', 'lastActivityAt', 'warnings']
const stable = (lead: Record<string, unknown>) => Object.fromEntries(Object.entries(lead).filter(([key]) => !VOLATILE.includes(key)))

test.serial('a Windows-1252 CSV: valid rows become leads equal to POST /api/leads; invalid and duplicate rows are listed by row and column; a dry run before writes nothing and reports the same', async (t) => {
  t.timeout(120_000)
  const sales = await tokenFor({ user: 'u1', role: 'SALES', territories: ['DE'] })
  const existing = await api('POST', '/api/leads', { token: sales, body: { companyName: 'Existing', email: 'existing@example.example' } })
  t.is(existing.status, 201)
  const file = iconv.encode(csv([HEADER, ...ROWS], ';'), 'win1252')
  t.is(file.indexOf(Buffer.from('Müller', 'utf8')), -1, 'the file is single-byte encoded')

  // Dry run first: nothing written, the report of the real import below.
  const before = await counts()
  const dry = await upload(sales, file, { dryRun: 'true' })
  t.is(dry.status, 202, JSON.stringify(dry.body))
  const dryDone = await finished(sales, dry.headers.get('location')!)
  t.like(dryDone, { status: 'COMPLETED', dryRun: true, total: 7, processed: 7, created: 3, failed: 2, duplicates: 2, progress: 1 })
  const dryErrors = await allErrors(sales, dry.headers.get('location')!)
  t.deepEqual(await counts(), before, 'a dry run writes no lead, activity, event or job')

  const real = await upload(sales, file)
  t.is(real.status, 202)
  t.regex(real.headers.get('location')!, /^\/api\/imports\/[0-9a-f-]{36}$/)
  t.like(real.body, { status: 'QUEUED', dryRun: false, source: 'SONSTIGES', total: null })
  const done = await finished(sales, real.headers.get('location')!)
  t.like(done, { status: 'COMPLETED', dryRun: false, total: 7, processed: 7, created: 3, failed: 2, duplicates: 2, progress: 1, failureReason: null })

  const errors = await allErrors(sales, real.headers.get('location')!)
  const summary = errors.map((e) => [e.row, e.column, e.message])
  t.deepEqual(summary, [
    [5, 'E-Mail', 'must match format "email"'],
    [5, 'PLZ', 'must not contain HTML'],
    [6, 'Firma', 'is required'],
    [6, 'Land', 'must be an ISO 3166 alpha-2 code'],
    [7, 'E-Mail', 'A live lead with this e-mail address exists already.'],
    [8, 'E-Mail', 'A live lead with this e-mail address exists already.'],
  ])
  t.is(errors[4].duplicateOf, existing.body.id)
  t.deepEqual(dryErrors.map((e) => [e.row, e.column, e.message]), summary, 'the dry run reported the same')

  // Every valid row is the lead POST /api/leads makes of the same body (same user, another tenant).
  const other = await tokenFor({ user: 'u1', role: 'SALES', territories: ['DE'], tenant: 'other' })
  const list = await api('GET', '/api/leads?sort=createdAt&limit=50', { token: sales })
  const imported = list.body.data.filter((lead: any) => lead.id !== existing.body.id)
  t.is(imported.length, 3)
  for (const body of BODIES) {
    const posted = await api('POST', '/api/leads', { token: other, body })
    t.is(posted.status, 201, JSON.stringify(posted.body))
    const mine = imported.find((lead: any) => lead.companyName === body.companyName)
    t.truthy(mine, body.companyName)
    t.deepEqual(stable((await api('GET', `/api/leads/${mine.id}`, { token: sales })).body), stable(posted.body), body.companyName)
    const activities = async (token: string, id: string) => (await api('GET', `/api/leads/${id}/activities`, { token })).body.data.map((a: any) => [a.type, a.summary, a.userId])
    t.deepEqual(await activities(sales, mine.id), await activities(other, posted.body.id))
    // The same follow-up jobs, with the same options and due times, as for the posted lead.
    const followUps = async (id: string) => (await stack.owner.raw(
      `select j.name, j.state, (j.start_after - l.registered_at)::text as due_after_registration, j.retry_limit, j.retry_delay, j.retry_backoff, j.retry_delay_max,
              j.expire_seconds, j.heartbeat_seconds, j.policy, j.data->>'tenantId' as tenant
         from pgboss.job j join leads l on l.id = (j.data->>'leadId')::uuid where j.singleton_key like ? order by j.name`, [`${id}:%`])).rows
    const importedJobs = await followUps(mine.id)
    t.deepEqual(importedJobs.map((r: any) => r.name), ['follow-up.t3', 'follow-up.t7'])
    t.deepEqual(importedJobs.map((r: any) => ({ ...r, tenant: undefined })), (await followUps(posted.body.id)).map((r: any) => ({ ...r, tenant: undefined })))
    const events = await stack.owner.raw(`select type from lead_events where lead_id = ?`, [mine.id])
    t.deepEqual(events.rows.map((r: any) => r.type), ['freshplan.lead.created'])
  }
  // Nothing of the invalid rows was written.
  const names = (await stack.owner.raw(`select company_name from leads where tenant_id = 'default' order by company_name`)).rows.map((r: any) => r.company_name)
  t.deepEqual(names, ['Bäckerei Müller GmbH', 'Café Zürich AG', 'Existing', 'Kantine Süd'])

  // The queue board's job output carries the progress.
  const jobs = await stack.deps.boss.findJobs<object>(IMPORT_QUEUE.name, { key: real.body.id })
  t.like(jobs.at(-1)!.output, { importId: real.body.id, status: 'COMPLETED', processed: 7, created: 3, progress: 1 })
  t.is((await stack.owner.raw(`select file from imports where id = ?`, [real.body.id])).rows[0].file, null, 'the file is dropped once imported')
})

test.serial('XLSX by a manager: mapping override, owner column and option, source MESSE with the first contact column', async (t) => {
  const manager = await tokenFor({ user: 'm1', role: 'MANAGER', territories: ['DE', 'CH'] })
  const workbook = new ExcelJS.Workbook()
  const sheet = workbook.addWorksheet('Messe')
  sheet.addRow(['Kunde', 'Mail', 'Land', 'Besitzer', 'Erstkontakt', 'Intern'])
  sheet.addRow(['Hotel Alpenblick', 'info@alpenblick.example', 'Schweiz', 's7', 'Am Stand, will Muster', 'x'])
  sheet.addRow(['Mensa Nord', 'mensa@nord.example', 'Deutschland', '', 'Gespräch mit Küchenchef', 'y'])
  sheet.addRow(['Ohne Kontakt', 'ohne@kontakt.example', 'DE', '', '', 'z'])
  const file = Buffer.from(await workbook.xlsx.writeBuffer())
  const response = await upload(manager, file, { source: 'MESSE', ownerUserId: 's5', mapping: JSON.stringify({ Kunde: 'companyName', Mail: 'email', Intern: null }) }, 'messe.xlsx')
  t.is(response.status, 202, JSON.stringify(response.body))
  const done = await finished(manager, response.headers.get('location')!)
  t.like(done, { status: 'COMPLETED', fileType: 'XLSX', total: 3, created: 2, failed: 1, source: 'MESSE', ownerUserId: 's5' })
  const errors = await allErrors(manager, response.headers.get('location')!)
  t.deepEqual(errors.map((e) => [e.row, e.column]), [[4, 'Erstkontakt']])
  const leads = (await stack.owner.raw(`select company_name, owner_user_id, territory, source, stage from leads where created_by = 'm1' order by company_name`)).rows
  t.deepEqual(leads, [
    { company_name: 'Hotel Alpenblick', owner_user_id: 's7', territory: 'CH', source: 'MESSE', stage: 'REGISTRIERUNG' },
    { company_name: 'Mensa Nord', owner_user_id: 's5', territory: 'DE', source: 'MESSE', stage: 'REGISTRIERUNG' },
  ])
  const contact = await stack.owner.raw(`select a.summary from lead_activities a join leads l on l.id = a.lead_id where l.company_name = 'Mensa Nord' and a.type = 'FIRST_CONTACT_DOCUMENTED'`)
  t.deepEqual(contact.rows, [{ summary: 'Gespräch mit Küchenchef' }])
})

test.serial('bad files: a clear 4xx, or a FAILED import with its reason; nothing written', async (t) => {
  const sales = await tokenFor({ user: 'u9', role: 'SALES', territories: ['DE'] })
  const before = (await stack.owner.raw(`select count(*)::int as n from leads`)).rows[0].n
  const big = await upload(sales, Buffer.alloc(11 * 1024 * 1024, 'a'))
  t.like(big, { status: 413, body: { type: 'https://freshplan.example/problems/payload-too-large' } })
  const png = await upload(sales, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), {}, 'x.csv')
  t.like(png, { status: 415, body: { detail: 'The file is neither CSV nor XLSX.' } })
  const empty = await upload(sales, Buffer.alloc(0))
  t.is(empty.status, 415)
  t.like(await upload(sales, Buffer.from('Firma\nA\n'), { dryRun: 'maybe' }), { status: 400 })
  t.like(await upload(sales, Buffer.from('Firma\nA\n'), { mapping: '{' }), { status: 400, body: { errors: [{ pointer: '/mapping' }] } })
  t.like(await upload(sales, Buffer.from('Firma\nA\n'), { mapping: '{"Firma":"id"}' }), { status: 400 })
  t.like(await upload(sales, Buffer.from('Firma\nA\n'), { ownerUserId: 'someone-else' }), { status: 403 })
  const noFile = await fetch(`${stack.baseUrl}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${sales}`, 'content-type': 'application/json' }, body: '{}' })
  t.is(noFile.status, 415)

  // A workbook whose sheet inflates to 300 MB of zeros (a few hundred KB on the wire).
  const bombZip = new yazl.ZipFile()
  bombZip.addBuffer(Buffer.from('<workbook/>'), 'xl/workbook.xml')
  bombZip.addBuffer(Buffer.alloc(300 * 1024 * 1024), 'xl/worksheets/sheet1.xml')
  bombZip.end()
  const chunks: Buffer[] = []
  for await (const chunk of bombZip.outputStream) chunks.push(chunk as Buffer)
  const bomb = Buffer.concat(chunks)
  t.true(bomb.length < 1024 * 1024)

  const failing: [Buffer, RegExp][] = [
    [bomb, /zip bomb/],
    [Buffer.from('Firma;E-Mail\r\n'), /header but no data rows/],
    [Buffer.from('Name;E-Mail\r\nA;a@b.example\r\n'), /No column for the company name/],
    [Buffer.from('PK\x03\x04 not really a zip'), /not a readable zip/],
  ]
  for (const [file, reason] of failing) {
    const response = await upload(sales, file)
    t.is(response.status, 202)
    const done = await finished(sales, response.headers.get('location')!)
    t.is(done.status, 'FAILED')
    t.regex(done.failureReason, reason)
    t.is(done.processed, 0)
  }
  t.is((await stack.owner.raw(`select count(*)::int as n from leads`)).rows[0].n, before)
})

test.serial('an import is visible to its creator and to managers of the tenant, not to other sales people', async (t) => {
  const creator = await tokenFor({ user: 'c1', role: 'SALES' })
  const response = await upload(creator, Buffer.from('Firma\nSichtbar GmbH\n'))
  const location = response.headers.get('location')!
  await finished(creator, location)
  t.is((await api('GET', location, { token: await tokenFor({ user: 'c2', role: 'SALES' }) })).status, 404)
  t.is((await api('GET', `${location}/errors`, { token: await tokenFor({ user: 'c2', role: 'SALES' }) })).status, 404)
  t.is((await api('GET', location, { token: await tokenFor({ user: 'm2', role: 'MANAGER' }) })).status, 200)
  t.is((await api('GET', location, { token: await tokenFor({ user: 'c1', role: 'SALES', tenant: 'other' }) })).status, 404)
  t.is((await api('GET', `${location}/errors?cursor=nope`, { token: creator })).status, 400)
})
